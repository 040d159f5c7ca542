package devices

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/drivers/printer"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

var receipt = kiosk.Receipt{
	Code: "7KQ2-M9XD", At: time.Date(2026, 12, 3, 14, 5, 0, 0, time.UTC), Seq: 42, ID: "0193-…", Lang: "es",
}

func receipts(p Printer, offline bool) *Receipts {
	return &Receipts{Printer: p, Office: "Oficina de Nueva York", KioskID: "lobby-1", Text: ui.Text,
		Offline: func() bool { return offline }, Location: time.UTC, Log: slog.New(slog.DiscardHandler)}
}

func TestReceiptInTheLanguage(t *testing.T) {
	r := receipts(printer.NewSim(printer.Options{}), false)
	got := r.Receipt(receipt)
	want := printer.Receipt{
		Title: "Comprobante de registro", Office: "Oficina de Nueva York", When: "2026-12-03 14:05 UTC",
		CodeLabel: "Código de confirmación", Code: "7KQ2-M9XD", QR: "urn:checkin:lobby-1:42:7KQ2-M9XD",
		Footer: "Guarde este recibo. Muestra que usted se registró.",
	}
	if got != want {
		t.Errorf("Receipt() =\n%+v\nwant\n%+v", got, want)
	}
	// Offline: the note, in the language.
	if got := receipts(printer.NewSim(printer.Options{}), true).Receipt(receipt); got.Note != ui.Text("es", "receipt_offline") || got.Note == "" {
		t.Errorf("offline note = %q; want the Spanish one", got.Note)
	}
}

// A script the printer cannot render: the whole receipt in English, never
// half of it.
func TestReceiptFallsBackToEnglish(t *testing.T) {
	p := printer.NewSim(printer.Options{})
	for _, lang := range []string{"ar", "zh", "hi"} {
		r := receipt
		r.Lang = lang
		got := receipts(p, true).Receipt(r)
		if got.Title != "Proof of check-in" || got.Note != ui.Text("en", "receipt_offline") || got.CodeLabel != "Confirmation code" {
			t.Errorf("%s: %+v; want it all in English", lang, got)
		}
	}
	for _, lang := range []string{"ru", "uk", "fr", "pt", "ht"} {
		r := receipt
		r.Lang = lang
		if got := receipts(p, true).Receipt(r); got.Title != ui.Text(lang, "receipt_title") || got.Note != ui.Text(lang, "receipt_offline") {
			t.Errorf("%s: %+v; want it in %s", lang, got, lang)
		}
	}
}

// The flow is answered: printed, or not (paper out), and a printer that
// never answers in time is not printed; the flow never waits.
func TestReceiptsPrint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := printer.NewSim(printer.Options{})
		var log bytes.Buffer
		r := receipts(p, false)
		r.Log = slog.New(slog.NewTextHandler(&log, nil))
		r.Timeout = 5 * time.Second
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go r.Run(ctx)

		answers := make(chan bool, 8)
		done := func(ok bool) { answers <- ok }
		r.Print(receipt, done)
		if ok := <-answers; !ok || len(p.Receipts()) != 1 {
			t.Fatalf("printed %v, %d receipts; want printed, 1", ok, len(p.Receipts()))
		}
		if b := p.Receipts()[0]; !bytes.Contains(b, []byte("7KQ2-M9XD")) {
			t.Errorf("the receipt's bytes lack the code")
		}

		p.SetPaperOut(true)
		r.Print(receipt, done)
		if ok := <-answers; ok {
			t.Error("paper out: printed; want not")
		}
		if !strings.Contains(log.String(), "receipt not printed") || strings.Contains(log.String(), "7KQ2") {
			t.Errorf("log %q; want the failure, without the code", log.String())
		}
		p.SetPaperOut(false)

		p.SetStuck(true)
		start := time.Now()
		r.Print(receipt, done)
		if ok := <-answers; ok || time.Since(start) != 5*time.Second {
			t.Errorf("stuck printer: printed %v after %v; want not, after the 5 s timeout", ok, time.Since(start))
		}
	})
}

// With the queue full, a receipt is answered at once: not printed.
func TestReceiptsQueueFull(t *testing.T) {
	p := printer.NewSim(printer.Options{})
	r := receipts(p, false) // not running: nothing leaves the queue
	var mu sync.Mutex
	var answers []bool
	got := make(chan struct{}, 1)
	for range receiptQueue + 1 {
		r.Print(receipt, func(ok bool) {
			mu.Lock()
			defer mu.Unlock()
			answers = append(answers, ok)
			got <- struct{}{}
		})
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the receipt over the queue was not answered")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(answers) != 1 || answers[0] {
		t.Errorf("answers %v; want one: not printed", answers)
	}
}
