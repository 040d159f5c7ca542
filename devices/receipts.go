package devices

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/drivers/printer"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// Printer is the receipt printer as the daemon holds it.
type Printer interface {
	Print(ctx context.Context, r printer.Receipt) error
	CanRender(text string) bool
	State() printer.State
}

var _ Printer = (printer.Device)(nil) // whatever printer.Open returns

// Receipts prints the person's receipt (kiosk.ReceiptPrinter) on a
// goroutine of its own (Run): the flow hands it a receipt and goes on, and
// the answer comes back to the success screen. A printer that is out of
// paper, unplugged or stuck never delays a check-in, which is recorded
// before the receipt is asked for.
//
// The receipt is in the person's language when the printer can render its
// script, and in English otherwise (printer.CanRender): Latin and Cyrillic
// print, Arabic, Chinese and Hindi fall back.
type Receipts struct {
	Printer Printer
	Office  string // the office's name, printed at the top; "" for none
	KioskID string // in the QR code, with the record's seq
	// Offline reports whether check-ins cannot be sent now: the receipt
	// then says the check-in is kept on the kiosk until they can. Nil:
	// never offline.
	Offline func() bool
	// Text returns a catalog string (ui.Text).
	Text func(lang, key string) string
	// Location is the time zone of the printed time; nil: time.Local.
	Location *time.Location
	// Timeout bounds one receipt, from the flow's request to the
	// printer's answer; 0: DefaultReceiptTimeout.
	Timeout time.Duration
	Log     *slog.Logger

	once sync.Once
	jobs chan receiptJob
}

// DefaultReceiptTimeout is how long a receipt may take: a thermal printer
// prints one in a second or two.
const DefaultReceiptTimeout = 15 * time.Second

// receiptQueue is how many receipts may wait for the printer. More would
// come out long after their people had left.
const receiptQueue = 4

type receiptJob struct {
	r    kiosk.Receipt
	done func(bool)
}

var _ kiosk.ReceiptPrinter = (*Receipts)(nil)

func (p *Receipts) init() { p.once.Do(func() { p.jobs = make(chan receiptJob, receiptQueue) }) }

// Print implements kiosk.ReceiptPrinter: it queues r and returns at once.
// With the queue full, done is told at once that r did not print.
func (p *Receipts) Print(r kiosk.Receipt, done func(bool)) {
	p.init()
	select {
	case p.jobs <- receiptJob{r, done}:
	default:
		p.Log.Warn("receipt not printed: the printer is behind", "queued", receiptQueue)
		go done(false)
	}
}

// Run prints the queued receipts until ctx ends.
func (p *Receipts) Run(ctx context.Context) error {
	p.init()
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-p.jobs:
			j.done(p.print(ctx, j.r))
		}
	}
}

// print prints r and reports whether it printed. The error is logged:
// it names the printer's trouble ("paper out"), never the person.
func (p *Receipts) print(ctx context.Context, r kiosk.Receipt) bool {
	ctx, cancel := context.WithTimeout(ctx, orDefault(p.Timeout, DefaultReceiptTimeout))
	defer cancel()
	if err := p.Printer.Print(ctx, p.Receipt(r)); err != nil {
		p.Log.Warn("receipt not printed", "err", err)
		return false
	}
	return true
}

// Receipt returns what the printer prints for r: in r's language if the
// printer can render every word of it, else in English.
func (p *Receipts) Receipt(r kiosk.Receipt) printer.Receipt {
	pr := p.receiptIn(r, r.Lang)
	for _, s := range []string{pr.Title, pr.Office, pr.When, pr.CodeLabel, pr.Note, pr.Footer} {
		if !p.Printer.CanRender(s) {
			return p.receiptIn(r, "en")
		}
	}
	return pr
}

func (p *Receipts) receiptIn(r kiosk.Receipt, lang string) printer.Receipt {
	t := func(key string) string { return p.Text(lang, key) }
	loc := p.Location
	if loc == nil {
		loc = time.Local
	}
	pr := printer.Receipt{
		Title:     t("receipt_title"),
		Office:    p.Office,
		When:      r.At.In(loc).Format("2006-01-02 15:04 MST"), // the same in every language, and unambiguous
		CodeLabel: t("receipt_code"),
		Code:      r.Code,
		QR:        ReceiptQR(p.KioskID, r),
		Footer:    t("receipt_keep"),
	}
	if p.Offline != nil && p.Offline() {
		pr.Note = t("receipt_offline")
	}
	return pr
}

// ReceiptQR is the text of a receipt's QR code: the kiosk, the record's
// seq and the confirmation code, as "urn:checkin:KIOSK:SEQ:CODE". Staff
// scanning it find the record at the upstream by (kiosk, seq); it names no
// one.
func ReceiptQR(kioskID string, r kiosk.Receipt) string {
	return fmt.Sprintf("urn:checkin:%s:%d:%s", kioskID, r.Seq, r.Code)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
