package kiosk

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// Default timeouts of the Flow.
const (
	DefaultConfirmTimeout = 60 * time.Second  // confirm screen → idle
	DefaultResultTimeout  = 20 * time.Second  // success and see_staff → idle
	DefaultHelpTimeout    = 120 * time.Second // help → idle
	// DefaultConfirmHold is how long a confirm screen that replaced another
	// screen than idle ignores its buttons: long enough for a finger already
	// on its way to the earlier screen, short beside reading one's name.
	DefaultConfirmHold = time.Second
)

// Flow is the check-in state machine. One goroutine, Run's, owns all of its
// state: the card being confirmed, the screen, the timer. Everything else
// talks to it through the channels given to Run, and reads the current view
// with View.
//
// The rule it exists to keep: the success screen is shown only after
// Store.Commit has returned without error, for the card whose name the
// person confirmed. So a tap counts only on the screen it was made on
// (Action.Rev), and a confirm screen that replaced another holds its
// buttons a moment (View.Armed).
//
// A scan while someone's confirm screen is up: the same card again changes
// nothing; another card replaces it, as the person at the scanner is the
// one in front of the screen. The earlier card is dropped unrecorded (its
// holder had not confirmed), and a tap made on its screen is ignored.
//
// Out of service (SetOutOfService, a commit that failed, or the enclosure
// open: SetEnclosureOpen): the kiosk takes no card. A screen in progress
// runs its course (a confirm may still commit: the disk is low, not yet
// full), and then the flow shows out_of_service instead of idle, until it
// is told it is back in service. Help is offered throughout.
//
// Without a working scanner (SetScannerReady) the idle screen asks the
// person to see staff instead of to scan, with ReasonScannerUnavailable.
type Flow struct {
	Verifier CardVerifier
	Store    Store
	Prior    PriorLookup      // nil: no same-day duplicate check
	Notices  NoticeSource     // nil: no notices
	Printer  ReceiptPrinter   // nil: no receipts
	Sinks    []ViewSink       // told of every view, in order
	Log      *slog.Logger     // nil: discard
	Now      func() time.Time // screen timeouts; nil: time.Now
	// Clock is the time cards are verified against and check-ins are
	// recorded at; nil: the system clock, unsynchronized.
	Clock TimeSource

	// Challenge asks for the person's date of birth after "Yes, this is
	// me" and before the check-in is recorded (ScreenChallenge); a wrong
	// answer sends them to staff. A card without a date of birth (a
	// minimal reference card) is not challenged.
	Challenge bool
	// ScanLatency, if set, is told how long each scan took from its last
	// byte (Scan.At) to the screen it led to, on the flow's goroutine: for
	// the metrics. It must not block.
	ScanLatency func(time.Duration)
	// Liveness, if set, is told when Run leaves its select for work
	// (Busy) and when it is back waiting (Idle), for the daemon's
	// watchdog: a flow stuck at work (a commit that never returns) stops
	// the watchdog's pings, and systemd restarts the daemon. Its methods
	// must not block.
	Liveness interface {
		Busy()
		Idle()
	}

	ConfirmTimeout time.Duration // 0: DefaultConfirmTimeout
	ResultTimeout  time.Duration // 0: DefaultResultTimeout
	HelpTimeout    time.Duration // 0: DefaultHelpTimeout
	ConfirmHold    time.Duration // 0: DefaultConfirmHold

	mu   sync.Mutex
	view View

	// The timeouts of the latest SetTimeouts, which replace the fields
	// above: Run's goroutine reads them while a reload sets them.
	timeouts atomic.Pointer[Timeouts]

	outageMu   sync.Mutex
	outageSet  conditions    // the latest SetOutOfService, SetEnclosureOpen, SetScannerReady
	outageKick chan struct{} // tells Run of them; capacity 1

	// Owned by Run's goroutine.
	pending *card.Card // the verified card on the confirm (and challenge) screen
	// household is everyone checked in this session: "Check in another
	// family member" keeps it, and the end of the session clears it.
	household []Member
	notice    *card.Notice // the person's notice, while the success screen shows it
	cond      conditions   // what Run last applied
	storage   Reason       // why the outbox cannot record; "" when it can
	receipts  chan receiptDone
}

// conditions are what the flow is told of the world outside it, which
// decide between idle and out_of_service.
type conditions struct {
	storage       Reason // the latest SetOutOfService
	storageCalls  uint64 // SetOutOfService calls: each one clears a failed commit's outage
	enclosureOpen bool
	maintenance   bool
	scannerDown   bool
}

// receiptDone is a printer's answer for the success screen showing code.
type receiptDone struct {
	code    string
	printed bool
}

// Timeouts are how long the Flow's screens stay up; 0 is the default.
type Timeouts struct {
	Confirm time.Duration // the confirm screen
	Result  time.Duration // success, already checked in, see staff
	Help    time.Duration // help
}

// SetTimeouts replaces ConfirmTimeout, ResultTimeout and HelpTimeout: the
// next screen shown waits the new time, one already up keeps its expiry.
// It may be called from any goroutine, before or during Run: a reload of
// the configuration calls it while people check in.
func (f *Flow) SetTimeouts(t Timeouts) { f.timeouts.Store(&t) }

// SetOutOfService tells the flow whether it can take check-ins: "" means it
// can, any other reason (ReasonStorageLow, ReasonRecordFailed) that it
// cannot. It never blocks, and may be called before Run and from any
// goroutine; the latest call wins. Call it again whenever the answer is
// known, even if unchanged: a commit that fails puts the flow out of
// service by itself, and only this call brings it back.
func (f *Flow) SetOutOfService(r Reason) {
	f.setConditions(func(c *conditions) { c.storage, c.storageCalls = r, c.storageCalls+1 })
}

// SetEnclosureOpen tells the flow whether the enclosure is open (the
// panel's tamper switch). While it is, the kiosk is out of service
// (ReasonEnclosureOpen): someone may be at its insides, and a person must
// not be asked to trust it. It is back in service once the enclosure is
// shut, if nothing else keeps it out. Like SetOutOfService, it never
// blocks and the latest call wins.
func (f *Flow) SetEnclosureOpen(open bool) {
	f.setConditions(func(c *conditions) { c.enclosureOpen = open })
}

// SetMaintenance puts the kiosk in maintenance mode (staff, from the
// dashboard) or takes it out: out of service (ReasonMaintenance) while on,
// a session under way finishing first. Like SetOutOfService, it never
// blocks and the latest call wins.
func (f *Flow) SetMaintenance(on bool) {
	f.setConditions(func(c *conditions) { c.maintenance = on })
}

// SetScannerReady tells the flow whether the scanner can read a card.
// Without one the idle screen says so and offers staff
// (ReasonScannerUnavailable) instead of asking for a card that cannot be
// read. Like SetOutOfService, it never blocks and the latest call wins.
func (f *Flow) SetScannerReady(ready bool) {
	f.setConditions(func(c *conditions) { c.scannerDown = !ready })
}

func (f *Flow) setConditions(set func(*conditions)) {
	f.outageMu.Lock()
	defer f.outageMu.Unlock()
	set(&f.outageSet)
	select {
	case f.kick() <- struct{}{}:
	default: // Run has a kick waiting; it reads the latest conditions
	}
}

// kick returns the channel SetOutOfService signals Run on. Requires outageMu.
func (f *Flow) kick() chan struct{} {
	if f.outageKick == nil {
		f.outageKick = make(chan struct{}, 1)
	}
	return f.outageKick
}

// latestOutage returns the conditions of the latest Set calls and the
// channel that signals the next one.
func (f *Flow) latestOutage() (conditions, <-chan struct{}) {
	f.outageMu.Lock()
	defer f.outageMu.Unlock()
	return f.outageSet, f.kick()
}

// View returns the view on screen now. It is safe to call from any goroutine.
func (f *Flow) View() View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view
}

// Run drives the flow until ctx ends, and then returns nil. It reads scans
// and actions from channels the caller owns; a closed channel is simply no
// longer read.
func (f *Flow) Run(ctx context.Context, scans <-chan Scan, actions <-chan Action) error {
	var outages <-chan struct{}
	f.cond, outages = f.latestOutage()
	f.storage = f.cond.storage
	f.receipts = make(chan receiptDone)
	f.idle()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var timeout <-chan time.Time
		if exp := f.View().Expires; !exp.IsZero() {
			timer.Reset(exp.Sub(f.now()))
			timeout = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-scans:
			if !ok {
				scans = nil
				break
			}
			f.busy()
			f.scan(ctx, s)
		case a, ok := <-actions:
			if !ok {
				actions = nil
				break
			}
			f.busy()
			f.act(ctx, a)
		case <-timeout:
			f.busy()
			f.expire()
		case <-outages:
			f.busy()
			c, _ := f.latestOutage()
			f.setConditions1(c)
		case r := <-f.receipts:
			f.busy()
			f.receiptDone(r)
		}
		if f.Liveness != nil {
			f.Liveness.Idle()
		}
		timer.Stop()
	}
}

// busy tells Liveness that Run is at work.
func (f *Flow) busy() {
	if f.Liveness != nil {
		f.Liveness.Busy()
	}
}

// setConditions1 applies what the Set calls said. An idle or
// out-of-service screen changes at once; any other runs its course.
func (f *Flow) setConditions1(c conditions) {
	was, wasDown := f.outage(), f.cond.scannerDown
	if c.enclosureOpen != f.cond.enclosureOpen {
		if c.enclosureOpen {
			f.log().Warn("enclosure opened")
		} else {
			f.log().Info("enclosure shut")
		}
	}
	if c.scannerDown != wasDown {
		if c.scannerDown {
			f.log().Warn("scanner unavailable")
		} else {
			f.log().Info("scanner ready")
		}
	}
	if c.storageCalls != f.cond.storageCalls {
		f.storage = c.storage // a failed commit's outage stays until told otherwise
	}
	f.cond = c
	now := f.outage()
	if now == was && c.scannerDown == wasDown {
		return
	}
	if now != was {
		if now == "" {
			f.log().Info("back in service", "was", was)
		} else {
			f.log().Warn("out of service", "reason", now)
		}
	}
	switch f.View().Screen {
	case ScreenIdle, ScreenOutOfService:
		f.idle()
	}
}

// outage is why the kiosk is out of service; "" when it is in service.
// An open enclosure comes first: it needs staff at the kiosk, whatever
// else is wrong; maintenance, which staff chose, last.
func (f *Flow) outage() Reason {
	switch {
	case f.cond.enclosureOpen:
		return ReasonEnclosureOpen
	case f.storage != "":
		return f.storage
	case f.cond.maintenance:
		return ReasonMaintenance
	}
	return ""
}

func (f *Flow) scan(ctx context.Context, s Scan) {
	if f.ScanLatency != nil && !s.At.IsZero() {
		defer func() { f.ScanLatency(time.Since(s.At)) }()
	}
	cur := f.View()
	if r := f.outage(); r != "" {
		// A card it cannot record is not taken: the person at the
		// scanner sees out_of_service (and the help button) at once.
		f.log().Info("scan while out of service", "reason", r)
		f.idle()
		return
	}
	if s.Rejected != "" {
		// Something was scanned that cannot be a card (too long, control
		// bytes): the person is told it could not be read.
		f.log().Info("scan rejected by the scanner", "why", s.Rejected)
		f.pending = nil
		f.showFor(View{Screen: ScreenSeeStaff, Reason: ReasonCardUnreadable}, f.resultTimeout())
		return
	}
	at, _ := f.clock()
	r := f.Verifier.Verify(s.Text, at)
	if r.Status != card.Valid || r.Card == nil {
		f.log().Info("card refused", "status", r.Status, "stage", r.Stage, "err", r.Err)
		f.pending = nil
		f.showFor(View{Screen: ScreenSeeStaff, Reason: ReasonFor(r.Status)}, f.resultTimeout())
		return
	}
	c := *r.Card
	if cur.Screen == ScreenConfirm && f.pending != nil && sameCard(*f.pending, c) {
		f.log().Info("card scanned again on its confirm screen")
		return
	}
	if p, ok := f.prior(ctx, c, at); ok {
		f.pending = nil
		f.log().Info("already checked in today", "seq", p.Seq)
		code := ConfirmationCode(p.ID)
		f.checkedIn(Member{Name: c.DisplayName(), Code: code})
		f.showFor(View{Screen: ScreenAlready, Code: code, At: p.At, Household: slices.Clone(f.household)}, f.resultTimeout())
		return
	}
	f.pending = &c
	f.log().Info("card accepted", "issuer", c.Issuer)
	v := View{Screen: ScreenConfirm, Name: c.DisplayName()}
	if cur.Screen != ScreenIdle {
		// It replaces a screen someone may be tapping on.
		v.Armed = f.now().Add(f.confirmHold())
	}
	f.showFor(v, f.confirmTimeout())
}

// sameCard reports whether a and b are the same card: the same serial from
// the same issuer.
func sameCard(a, b card.Card) bool {
	return a.Issuer == b.Issuer && a.Serial == b.Serial
}

func (f *Flow) act(ctx context.Context, a Action) {
	cur := f.View()
	if AnswersScreen(a.Name) && !cur.Answers(a.Rev) {
		// Made on a screen no longer shown: it answers someone else's
		// question, or none.
		f.log().Info("tap on an earlier screen ignored", "action", a.Name, "rev", a.Rev, "current", cur.Rev)
		return
	}
	switch a.Name {
	case ActionConfirm:
		if cur.Screen != ScreenConfirm || f.pending == nil || f.holding(cur) {
			break
		}
		if f.Challenge && f.pending.DateOfBirth != "" {
			f.showFor(View{Screen: ScreenChallenge}, f.confirmTimeout())
			return
		}
		f.commit(ctx)
		return
	case ActionAnswer:
		if cur.Screen != ScreenChallenge || f.pending == nil {
			break
		}
		if a.Answer != f.pending.DateOfBirth {
			// Which part was wrong is not said, to the person or the log:
			// staff check the card by hand.
			f.pending = nil
			f.log().Info("challenge not passed")
			f.showFor(View{Screen: ScreenSeeStaff, Reason: ReasonChallengeFailed}, f.resultTimeout())
			return
		}
		f.commit(ctx)
		return
	case ActionDeny:
		if cur.Screen != ScreenConfirm || f.holding(cur) {
			break
		}
		f.pending = nil
		f.showFor(View{Screen: ScreenSeeStaff, Reason: ReasonPersonDenied}, f.resultTimeout())
		return
	case ActionHelp:
		f.pending = nil
		f.log().Info("help requested", "screen", cur.Screen)
		f.showFor(View{Screen: ScreenHelp}, f.helpTimeout())
		return
	case ActionExtend:
		if cur.Expires.IsZero() {
			break
		}
		v := cur
		v.Expires = cur.Expires.Add(f.timeoutOf(cur.Screen))
		f.show(v)
		return
	case ActionLanguage:
		v := cur
		v.Lang = a.Lang
		if f.notice != nil { // the success screen: its notice in the new language
			v.Notice = f.notice.In(a.Lang)
		}
		f.show(v)
		return
	case ActionPresence:
		if cur.Screen == ScreenIdle {
			f.show(cur) // afresh: a new Rev, the same screen
		}
		return
	case ActionAnother:
		switch cur.Screen {
		case ScreenSuccess, ScreenAlready:
			// The next family member: their card, in the same language,
			// the household kept for the success screen.
			f.showFor(View{Screen: ScreenIdle, Household: slices.Clone(f.household)}, f.resultTimeout())
			return
		case ScreenSeeStaff, ScreenHelp:
			f.idle()
			return
		}
	case ActionDone:
		switch cur.Screen {
		case ScreenSuccess, ScreenAlready, ScreenSeeStaff, ScreenHelp:
			f.idle()
			return
		}
	}
	f.log().Debug("action ignored", "action", a.Name, "screen", cur.Screen)
}

// holding reports whether v's buttons do not count yet (View.Armed).
func (f *Flow) holding(v View) bool {
	return !v.Armed.IsZero() && f.now().Before(v.Armed)
}

// prior looks for the person's check-in earlier the same day. A failing
// lookup is logged and treated as none: the worst outcome is a second
// record, which the upstream sees as two check-ins, never a lost one.
func (f *Flow) prior(ctx context.Context, c card.Card, at time.Time) (Prior, bool) {
	if f.Prior == nil {
		return Prior{}, false
	}
	p, ok, err := f.Prior.LastCheckIn(ctx, c, at)
	if err != nil {
		f.log().Error("same-day check-in lookup failed", "err", err)
		return Prior{}, false
	}
	return p, ok
}

// commit records the pending check-in and only then shows success.
func (f *Flow) commit(ctx context.Context) {
	c := *f.pending
	f.pending = nil
	at, state := f.clock()
	// A confirmed tap is recorded or refused whole: shutdown must not cut a
	// commit short and turn it into a failure the person never sees.
	got, err := f.Store.Commit(context.WithoutCancel(ctx), CheckIn{At: at, Clock: state, Outcome: OutcomeCheckedIn, Card: c})
	if err != nil {
		f.log().Error("check-in not recorded", "err", err)
		// The person is told, and sent to staff; the next person is not
		// offered a check-in that would fail the same way. The kiosk is
		// back in service when SetOutOfService says so.
		if f.storage == "" {
			if f.outage() == "" {
				f.log().Warn("out of service", "reason", ReasonRecordFailed)
			}
			f.storage = ReasonRecordFailed
		}
		f.showFor(View{Screen: ScreenSeeStaff, Reason: ReasonRecordFailed}, f.resultTimeout())
		return
	}
	f.log().Info("check-in recorded", "seq", got.Seq, "id", got.ID)
	code := ConfirmationCode(got.ID)
	f.checkedIn(Member{Name: c.DisplayName(), Code: code})
	v := View{Screen: ScreenSuccess, Code: code, At: at, Household: slices.Clone(f.household)}
	var notice *card.Notice
	if f.Notices != nil {
		if n, ok := f.Notices.Notice(c); ok {
			notice = &n
			v.Notice, v.Appointment = n.In(f.View().Lang), n.Appointment
		}
	}
	if f.Printer != nil {
		v.Receipt = ReceiptPrinting
	}
	f.showFor(v, f.resultTimeout())
	f.notice = notice // nil without one: no earlier person's notice stays
	if f.Printer != nil {
		f.print(ctx, Receipt{Code: v.Code, At: at, Clock: state, Seq: got.Seq, ID: got.ID, Lang: f.View().Lang})
	}
}

// checkedIn adds m to the session's household, once: a card scanned
// again in the same session is one person.
func (f *Flow) checkedIn(m Member) {
	if !slices.Contains(f.household, m) {
		f.household = append(f.household, m)
	}
}

// print hands r to the printer; its answer comes back to Run.
func (f *Flow) print(ctx context.Context, r Receipt) {
	done := f.receipts
	f.Printer.Print(r, func(printed bool) {
		select {
		case done <- receiptDone{code: r.Code, printed: printed}:
		case <-ctx.Done():
		}
	})
}

// receiptDone shows what became of a receipt, if its success screen is
// still up.
func (f *Flow) receiptDone(r receiptDone) {
	cur := f.View()
	if !r.printed {
		f.log().Warn("receipt not printed")
	}
	if cur.Screen != ScreenSuccess || cur.Code != r.code {
		return
	}
	cur.Receipt = ReceiptPrinted
	if !r.printed {
		cur.Receipt = ReceiptFailed
	}
	f.show(cur)
}

func (f *Flow) expire() {
	f.pending = nil
	f.idle()
}

// idle ends a session: the idle screen, or out_of_service when the kiosk
// cannot take check-ins.
func (f *Flow) idle() {
	f.pending = nil
	f.household = nil // the session is over
	if r := f.outage(); r != "" {
		f.show(View{Screen: ScreenOutOfService, Reason: r})
		return
	}
	v := View{Screen: ScreenIdle}
	if f.cond.scannerDown {
		v.Reason = ReasonScannerUnavailable
	}
	f.show(v)
}

// showFor shows v until d from now, keeping the person's language.
func (f *Flow) showFor(v View, d time.Duration) {
	v.Expires = f.now().Add(d)
	v.Lang = f.View().Lang
	f.show(v)
}

func (f *Flow) show(v View) {
	if v.Screen != ScreenSuccess {
		f.notice = nil // personal: kept no longer than its screen
	}
	f.mu.Lock()
	v.Rev = f.view.Rev + 1
	if v.Since == 0 { // a new screen; an update in place (v from View) keeps its Since
		v.Since = v.Rev
	}
	f.view = v
	f.mu.Unlock()
	for _, s := range f.Sinks {
		s.Show(v)
	}
}

func (f *Flow) timeoutOf(s Screen) time.Duration {
	switch s {
	case ScreenConfirm:
		return f.confirmTimeout()
	case ScreenHelp:
		return f.helpTimeout()
	}
	return f.resultTimeout()
}

func (f *Flow) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Flow) clock() (time.Time, ClockState) {
	if f.Clock != nil {
		return f.Clock.Now()
	}
	return time.Now(), ClockUnsynced
}

func (f *Flow) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.New(slog.DiscardHandler)
}

// screenTimeouts returns the timeouts in force: the latest SetTimeouts, or
// else the fields.
func (f *Flow) screenTimeouts() Timeouts {
	if t := f.timeouts.Load(); t != nil {
		return *t
	}
	return Timeouts{Confirm: f.ConfirmTimeout, Result: f.ResultTimeout, Help: f.HelpTimeout}
}

func (f *Flow) confirmTimeout() time.Duration {
	return orDefault(f.screenTimeouts().Confirm, DefaultConfirmTimeout)
}
func (f *Flow) resultTimeout() time.Duration {
	return orDefault(f.screenTimeouts().Result, DefaultResultTimeout)
}
func (f *Flow) helpTimeout() time.Duration {
	return orDefault(f.screenTimeouts().Help, DefaultHelpTimeout)
}
func (f *Flow) confirmHold() time.Duration { return orDefault(f.ConfirmHold, DefaultConfirmHold) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
