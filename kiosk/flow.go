package kiosk

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// Default timeouts of the Flow.
const (
	DefaultConfirmTimeout = 60 * time.Second  // confirm screen → idle
	DefaultResultTimeout  = 20 * time.Second  // success and see_staff → idle
	DefaultHelpTimeout    = 120 * time.Second // help → idle
)

// Flow is the check-in state machine. One goroutine, Run's, owns all of its
// state: the card being confirmed, the screen, the timer. Everything else
// talks to it through the channels given to Run, and reads the current view
// with View.
//
// The rule it exists to keep: the success screen is shown only after
// Store.Commit has returned without error.
type Flow struct {
	Verifier CardVerifier
	Store    Store
	Prior    PriorLookup      // nil: no same-day duplicate check
	Notices  NoticeSource     // nil: no notices
	Sinks    []ViewSink       // told of every view, in order
	Log      *slog.Logger     // nil: discard
	Now      func() time.Time // screen timeouts; nil: time.Now
	// Clock is the time cards are verified against and check-ins are
	// recorded at; nil: the system clock, unsynchronized.
	Clock TimeSource

	ConfirmTimeout time.Duration // 0: DefaultConfirmTimeout
	ResultTimeout  time.Duration // 0: DefaultResultTimeout
	HelpTimeout    time.Duration // 0: DefaultHelpTimeout

	mu   sync.Mutex
	view View

	// Owned by Run's goroutine.
	pending *card.Card   // the verified card on the confirm screen
	notice  *card.Notice // the person's notice, while the success screen shows it
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
	f.show(View{Screen: ScreenIdle})
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
			f.scan(ctx, s)
		case a, ok := <-actions:
			if !ok {
				actions = nil
				break
			}
			f.act(ctx, a)
		case <-timeout:
			f.expire()
		}
		timer.Stop()
	}
}

func (f *Flow) scan(ctx context.Context, s Scan) {
	at, _ := f.clock()
	r := f.Verifier.Verify(s.Text, at)
	if r.Status != card.Valid || r.Card == nil {
		f.log().Info("card refused", "status", r.Status, "stage", r.Stage, "err", r.Err)
		f.pending = nil
		f.showFor(View{Screen: ScreenSeeStaff, Reason: ReasonFor(r.Status)}, f.resultTimeout())
		return
	}
	c := *r.Card
	if p, ok := f.prior(ctx, c, at); ok {
		f.pending = nil
		f.log().Info("already checked in today", "seq", p.Seq)
		f.showFor(View{Screen: ScreenAlready, Code: ConfirmationCode(p.ID), At: p.At}, f.resultTimeout())
		return
	}
	f.pending = &c
	f.log().Info("card accepted", "issuer", c.Issuer)
	f.showFor(View{Screen: ScreenConfirm, Name: c.DisplayName()}, f.confirmTimeout())
}

func (f *Flow) act(ctx context.Context, a Action) {
	cur := f.View()
	switch a.Name {
	case ActionConfirm:
		if cur.Screen != ScreenConfirm || f.pending == nil {
			break
		}
		f.commit(ctx)
		return
	case ActionDeny:
		if cur.Screen != ScreenConfirm {
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
	case ActionDone, ActionAnother:
		switch cur.Screen {
		case ScreenSuccess, ScreenAlready, ScreenSeeStaff, ScreenHelp:
			f.idle()
			return
		}
	}
	f.log().Debug("action ignored", "action", a.Name, "screen", cur.Screen)
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
		f.showFor(View{Screen: ScreenSeeStaff, Reason: ReasonRecordFailed}, f.resultTimeout())
		return
	}
	f.log().Info("check-in recorded", "seq", got.Seq, "id", got.ID)
	v := View{Screen: ScreenSuccess, Code: ConfirmationCode(got.ID), At: at}
	var notice *card.Notice
	if f.Notices != nil {
		if n, ok := f.Notices.Notice(c); ok {
			notice = &n
			v.Notice, v.Appointment = n.In(f.View().Lang), n.Appointment
		}
	}
	f.showFor(v, f.resultTimeout())
	f.notice = notice // nil without one: no earlier person's notice stays
}

func (f *Flow) expire() {
	f.pending = nil
	f.idle()
}

func (f *Flow) idle() {
	f.pending = nil
	f.show(View{Screen: ScreenIdle})
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

func (f *Flow) confirmTimeout() time.Duration {
	return orDefault(f.ConfirmTimeout, DefaultConfirmTimeout)
}
func (f *Flow) resultTimeout() time.Duration { return orDefault(f.ResultTimeout, DefaultResultTimeout) }
func (f *Flow) helpTimeout() time.Duration   { return orDefault(f.HelpTimeout, DefaultHelpTimeout) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
