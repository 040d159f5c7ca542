package kiosk_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/kiosktest"
)

var person = card.Card{
	Issuer: "SDC-TEST", Serial: "0102030405060708",
	ANumber: "012345678", GivenName: "Amina", FamilyName: "Haddad",
	DateOfBirth: "1990-01-02", Office: "NYC",
}

// other is a second person, whose card is scanned while the first one's
// screen is up.
var other = card.Card{
	Issuer: "SDC-TEST", Serial: "1112131415161718",
	ANumber: "087654321", GivenName: "Tomás", FamilyName: "Quispe",
	DateOfBirth: "1985-06-07", Office: "NYC",
}

func verifier() kiosktest.Verifier {
	c, o := person, other
	return kiosktest.Verifier{
		"valid":   {Status: card.Valid, Stage: card.StageDone, SignatureOK: true, Card: &c},
		"other":   {Status: card.Valid, Stage: card.StageDone, SignatureOK: true, Card: &o},
		"expired": {Status: card.Expired, Stage: card.StageValidity, SignatureOK: true, Card: &c},
		"revoked": {Status: card.Revoked, Stage: card.StageRevocation, SignatureOK: true, Card: &c},
		"forged":  {Status: card.BadSignature, Stage: card.StageSignature},
		"unknown": {Status: card.UnknownIssuer, Stage: card.StageKID},
		"nocard":  {Status: card.NotACard, Stage: card.StageClaim, SignatureOK: true},
		"hc1":     {Status: card.WrongContext, Stage: card.StagePrefix},
		"early":   {Status: card.NotYetValid, Stage: card.StageValidity, SignatureOK: true, Card: &c},
		"stale":   {Status: card.StaleLists, Stage: card.StageRevocation, SignatureOK: true, Card: &c},
	}
}

const (
	confirmTimeout = 30 * time.Second
	resultTimeout  = 10 * time.Second
	helpTimeout    = 60 * time.Second
)

// harness runs a Flow; tests call start inside a synctest bubble so that
// timeouts pass without waiting.
type harness struct {
	t       *testing.T
	store   *kiosktest.Store
	sink    *kiosktest.Sink
	scans   chan kiosk.Scan
	actions chan kiosk.Action
	flow    *kiosk.Flow
	last    kiosk.View // the view want returned last: what the page shows
}

// start runs a flow on store, adjusted by opts, and waits for its idle
// screen.
func start(t *testing.T, store *kiosktest.Store, opts ...func(*kiosk.Flow)) *harness {
	t.Helper()
	h := run(t, store, opts...)
	h.want(kiosk.ScreenIdle)
	return h
}

// run runs a flow on store, adjusted by opts.
func run(t *testing.T, store *kiosktest.Store, opts ...func(*kiosk.Flow)) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		store:   store,
		sink:    kiosktest.NewSink(64),
		scans:   make(chan kiosk.Scan),
		actions: make(chan kiosk.Action),
	}
	f := &kiosk.Flow{
		Verifier:       verifier(),
		Store:          store,
		Prior:          store,
		Sinks:          []kiosk.ViewSink{h.sink},
		ConfirmTimeout: confirmTimeout,
		ResultTimeout:  resultTimeout,
		HelpTimeout:    helpTimeout,
	}
	for _, o := range opts {
		o(f)
	}
	h.flow = f
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, h.scans, h.actions) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil", err)
		}
	})
	return h
}

func (h *harness) scan(text string) { h.scans <- kiosk.Scan{Text: text, At: time.Now()} }

// act taps name on the screen want returned last, as the page does.
func (h *harness) act(name string) { h.actAt(name, h.last.Rev) }

// actAt taps name as made on the screen of revision rev.
func (h *harness) actAt(name string, rev uint64) {
	h.actions <- kiosk.Action{Name: name, Rev: rev}
}

// want waits for the flow to settle and returns the one view it showed,
// failing unless it is on screen s.
func (h *harness) want(s kiosk.Screen) kiosk.View {
	h.t.Helper()
	synctest.Wait()
	select {
	case v := <-h.sink.C:
		if v.Screen != s {
			h.t.Fatalf("screen = %q (%+v); want %q", v.Screen, v, s)
		}
		h.last = v
		return v
	default:
		h.t.Fatalf("no view shown; want %q", s)
	}
	return kiosk.View{}
}

// none fails if the flow showed anything.
func (h *harness) none() {
	h.t.Helper()
	synctest.Wait()
	select {
	case v := <-h.sink.C:
		h.t.Fatalf("unexpected view %+v", v)
	default:
	}
}

func TestFlowCheckIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		v := h.want(kiosk.ScreenConfirm)
		if v.Name != "Amina Haddad" {
			t.Errorf("confirm name = %q; want %q", v.Name, "Amina Haddad")
		}
		if got, want := v.Expires, time.Now().Add(confirmTimeout); !got.Equal(want) {
			t.Errorf("confirm expires = %v; want %v", got, want)
		}
		if h.store.Len() != 0 {
			t.Fatalf("committed before confirmation")
		}
		h.act(kiosk.ActionConfirm)
		v = h.want(kiosk.ScreenSuccess)
		if h.store.Len() != 1 {
			t.Fatalf("success shown with %d check-ins committed; want 1", h.store.Len())
		}
		if want := kiosk.ConfirmationCode("fake-1"); v.Code != want {
			t.Errorf("code = %q; want %q", v.Code, want)
		}
		if v.Name != "" {
			t.Errorf("success view carries the name %q", v.Name)
		}
		got := h.store.CheckIns[0]
		if got.Card != person || got.Outcome != kiosk.OutcomeCheckedIn || !got.At.Equal(v.At) {
			t.Errorf("committed %+v; want card %+v at %v", got, person, v.At)
		}
		// A second tap on a stale confirm button records nothing more.
		h.act(kiosk.ActionConfirm)
		h.none()
		time.Sleep(resultTimeout)
		h.want(kiosk.ScreenIdle)
		if h.store.Len() != 1 {
			t.Errorf("check-ins = %d; want 1", h.store.Len())
		}
	})
}

func TestFlowRefusals(t *testing.T) {
	for _, tc := range []struct {
		scan string
		want kiosk.Reason
	}{
		{"expired", kiosk.ReasonCardExpired},
		{"revoked", kiosk.ReasonCardRevoked},
		{"forged", kiosk.ReasonCardBadSignature},
		{"unknown", kiosk.ReasonCardUnknownIssuer},
		{"nocard", kiosk.ReasonNotACard},
		{"hc1", kiosk.ReasonCardWrongContext},
		{"early", kiosk.ReasonCardNotYetValid},
		{"stale", kiosk.ReasonListsStale},
		{"garbage \x00\xff", kiosk.ReasonCardUnreadable},
	} {
		t.Run(tc.scan, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, &kiosktest.Store{})
				h.scan(tc.scan)
				v := h.want(kiosk.ScreenSeeStaff)
				if v.Reason != tc.want || v.Name != "" {
					t.Errorf("scan %q: view %+v; want reason %q and no name", tc.scan, v, tc.want)
				}
				// Confirming a refused card does nothing.
				h.act(kiosk.ActionConfirm)
				h.none()
				time.Sleep(resultTimeout)
				h.want(kiosk.ScreenIdle)
				if h.store.Len() != 0 {
					t.Errorf("scan %q recorded %d check-ins; want 0", tc.scan, h.store.Len())
				}
			})
		})
	}
}

func TestFlowDeny(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionDeny)
		if v := h.want(kiosk.ScreenSeeStaff); v.Reason != kiosk.ReasonPersonDenied {
			t.Errorf("reason = %q; want %q", v.Reason, kiosk.ReasonPersonDenied)
		}
		h.act(kiosk.ActionConfirm)
		h.none()
		if h.store.Len() != 0 {
			t.Errorf("denied card recorded")
		}
	})
}

func TestFlowStoreFailureIsNeverSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{Err: errors.New("disk I/O error")})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		if v := h.want(kiosk.ScreenSeeStaff); v.Reason != kiosk.ReasonRecordFailed || v.Code != "" {
			t.Errorf("view = %+v; want see_staff/%s without a code", v, kiosk.ReasonRecordFailed)
		}
	})
}

func TestFlowConfirmTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		time.Sleep(confirmTimeout - time.Second)
		h.none()
		h.act(kiosk.ActionExtend)
		v := h.want(kiosk.ScreenConfirm)
		if want := time.Now().Add(confirmTimeout + time.Second); !v.Expires.Equal(want) {
			t.Errorf("extended expiry = %v; want %v", v.Expires, want)
		}
		time.Sleep(confirmTimeout)
		h.none()
		time.Sleep(time.Second)
		h.want(kiosk.ScreenIdle)
		// The person walked away: a late tap must not record their card.
		h.act(kiosk.ActionConfirm)
		h.none()
		if h.store.Len() != 0 {
			t.Errorf("timed-out card recorded")
		}
	})
}

func TestFlowRescanReplacesCard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.scan("revoked")
		h.want(kiosk.ScreenSeeStaff)
		h.act(kiosk.ActionConfirm)
		h.none()
		if h.store.Len() != 0 {
			t.Errorf("replaced card recorded")
		}
	})
}

func TestFlowHelpAndLanguage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.actions <- kiosk.Action{Name: kiosk.ActionLanguage, Lang: "es"}
		if v := h.want(kiosk.ScreenIdle); v.Lang != "es" {
			t.Errorf("lang = %q; want es", v.Lang)
		}
		h.scan("valid")
		if v := h.want(kiosk.ScreenConfirm); v.Lang != "es" {
			t.Errorf("confirm lang = %q; want es", v.Lang)
		}
		h.act(kiosk.ActionHelp)
		if v := h.want(kiosk.ScreenHelp); v.Name != "" || v.Lang != "es" {
			t.Errorf("help view = %+v; want no name, lang es", v)
		}
		h.act(kiosk.ActionConfirm)
		h.none()
		time.Sleep(helpTimeout)
		// Back to idle, the next person starts in the default language.
		if v := h.want(kiosk.ScreenIdle); v.Lang != "" {
			t.Errorf("idle lang = %q; want default", v.Lang)
		}
		if h.store.Len() != 0 {
			t.Errorf("help recorded a check-in")
		}
	})
}

func TestFlowDoneAndRev(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		c := h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		s := h.want(kiosk.ScreenSuccess)
		h.act(kiosk.ActionDone)
		i := h.want(kiosk.ScreenIdle)
		if !(c.Rev < s.Rev && s.Rev < i.Rev) {
			t.Errorf("revs %d, %d, %d; want increasing", c.Rev, s.Rev, i.Rev)
		}
	})
}

func TestConfirmationCode(t *testing.T) {
	a := kiosk.ConfirmationCode("0190f3a2-7c1e-7000-8000-000000000001")
	b := kiosk.ConfirmationCode("0190f3a2-7c1e-7000-8000-000000000002")
	if len(a) != 9 || a[4] != '-' || a == b {
		t.Errorf("ConfirmationCode = %q, %q; want distinct XXXX-XXXX", a, b)
	}
	if a != kiosk.ConfirmationCode("0190f3a2-7c1e-7000-8000-000000000001") {
		t.Errorf("ConfirmationCode is not deterministic")
	}
}

type fixedClock struct {
	t     time.Time
	state kiosk.ClockState
}

func (c fixedClock) Now() (time.Time, kiosk.ClockState) { return c.t, c.state }

// atVerifier records the time it was asked to verify at.
type atVerifier struct {
	kiosktest.Verifier
	at *time.Time
}

func (v atVerifier) Verify(payload string, at time.Time) card.Result {
	*v.at = at
	return v.Verifier.Verify(payload, at)
}

func TestFlowUsesTrustedClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		trusted := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		var verifiedAt time.Time
		store := &kiosktest.Store{}
		sink := kiosktest.NewSink(8)
		f := &kiosk.Flow{
			Verifier: atVerifier{verifier(), &verifiedAt},
			Store:    store,
			Sinks:    []kiosk.ViewSink{sink},
			Clock:    fixedClock{trusted, kiosk.ClockImplausible},
		}
		scans, actions := make(chan kiosk.Scan), make(chan kiosk.Action)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go f.Run(ctx, scans, actions)
		scans <- kiosk.Scan{Text: "valid"}
		synctest.Wait()
		actions <- kiosk.Action{Name: kiosk.ActionConfirm, Rev: f.View().Rev}
		synctest.Wait()
		if !verifiedAt.Equal(trusted) {
			t.Errorf("verified at %v; want the clock's %v", verifiedAt, trusted)
		}
		if store.Len() != 1 {
			t.Fatalf("check-ins = %d; want 1", store.Len())
		}
		if got := store.CheckIns[0]; !got.At.Equal(trusted) || got.Clock != kiosk.ClockImplausible {
			t.Errorf("recorded at %v (%s); want %v (implausible)", got.At, got.Clock, trusted)
		}
	})
}

func TestFlowAlreadyCheckedIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		first := h.want(kiosk.ScreenSuccess)
		h.act(kiosk.ActionDone)
		h.want(kiosk.ScreenIdle)

		// The same card later the same day: proof of the first check-in,
		// nothing recorded again.
		time.Sleep(2 * time.Hour)
		h.scan("valid")
		v := h.want(kiosk.ScreenAlready)
		if v.Code != first.Code || !v.At.Equal(first.At) || v.Name != "" {
			t.Errorf("already view = %+v; want code %s at %v, no name", v, first.Code, first.At)
		}
		h.act(kiosk.ActionConfirm)
		h.none()
		if h.store.Len() != 1 {
			t.Errorf("check-ins = %d; want 1", h.store.Len())
		}

		// The next day it is a new check-in.
		time.Sleep(24 * time.Hour)
		h.want(kiosk.ScreenIdle)
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
	})
}

// noticeFor gives every card the same notice.
type noticeFor card.Notice

func (n noticeFor) Notice(card.Card) (card.Notice, bool) { return card.Notice(n), true }

func TestFlowNotice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		appointment := time.Date(2026, 12, 24, 9, 30, 0, 0, time.UTC)
		n := noticeFor{Text: map[string]string{"en": "Please go to window 3", "es": "Vaya a la ventanilla 3"}, Appointment: appointment}
		withNotice := true
		h := start(t, &kiosktest.Store{}, func(f *kiosk.Flow) {
			v := verifier()
			other := person
			other.ANumber, other.Serial = "A000000002", "00000000000000ff"
			v["other"] = card.Result{Status: card.Valid, Stage: card.StageDone, SignatureOK: true, Card: &other}
			f.Verifier = v
			f.Notices = noticeSourceFunc(func(c card.Card) (card.Notice, bool) {
				if !withNotice {
					return card.Notice{}, false
				}
				return n.Notice(c)
			})
		})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		if v := h.want(kiosk.ScreenSuccess); v.Notice != n.Text["en"] || !v.Appointment.Equal(appointment) {
			t.Errorf("success: notice %q, appointment %v; want %q, %v", v.Notice, v.Appointment, n.Text["en"], appointment)
		}
		h.actions <- kiosk.Action{Name: kiosk.ActionLanguage, Lang: "es"}
		if v := h.want(kiosk.ScreenSuccess); v.Notice != n.Text["es"] || !v.Appointment.Equal(appointment) {
			t.Errorf("success in es: notice %q, appointment %v; want %q, %v", v.Notice, v.Appointment, n.Text["es"], appointment)
		}
		h.act(kiosk.ActionDone)
		if v := h.want(kiosk.ScreenIdle); v.Notice != "" || !v.Appointment.IsZero() {
			t.Errorf("idle after the notice: %+v; want no notice, no appointment", v)
		}
		// The next person, with no notice, sees none of the last one's,
		// even in another language.
		withNotice = false
		h.scan("other")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		h.actions <- kiosk.Action{Name: kiosk.ActionLanguage, Lang: "es"}
		if v := h.want(kiosk.ScreenSuccess); v.Notice != "" || !v.Appointment.IsZero() {
			t.Errorf("success without a notice: %+v; want no notice, no appointment", v)
		}
	})
}

type noticeSourceFunc func(card.Card) (card.Notice, bool)

func (f noticeSourceFunc) Notice(c card.Card) (card.Notice, bool) { return f(c) }

// A tap made on person A's confirm screen, arriving after person B's card
// replaced it, must not check B in (nor tell A they are checked in).
func TestFlowStaleTapIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		a := h.want(kiosk.ScreenConfirm)
		if !a.Armed.IsZero() {
			t.Errorf("confirm from idle armed at %v; want at once", a.Armed)
		}
		h.scan("other")
		b := h.want(kiosk.ScreenConfirm)
		if b.Name != "Tomás Quispe" || b.Rev == a.Rev {
			t.Fatalf("second confirm %+v; want Tomás Quispe under a new rev", b)
		}
		if want := time.Now().Add(kiosk.DefaultConfirmHold); !b.Armed.Equal(want) {
			t.Errorf("replacing confirm armed at %v; want %v", b.Armed, want)
		}
		for _, action := range []string{kiosk.ActionConfirm, kiosk.ActionDeny, kiosk.ActionExtend, kiosk.ActionDone, kiosk.ActionAnother} {
			h.actAt(action, a.Rev) // A's tap, made on A's screen
			h.none()
			h.actAt(action, 0) // no rev at all
			h.none()
		}
		// B's own tap, before the screen's buttons count: nothing.
		h.actAt(kiosk.ActionConfirm, b.Rev)
		h.none()
		if h.store.Len() != 0 {
			t.Fatalf("%d check-ins recorded by stale taps; want 0", h.store.Len())
		}
		time.Sleep(kiosk.DefaultConfirmHold)
		h.actAt(kiosk.ActionConfirm, b.Rev)
		h.want(kiosk.ScreenSuccess)
		if h.store.Len() != 1 || h.store.CheckIns[0].Card != other {
			t.Fatalf("recorded %+v; want one check-in of the second card", h.store.CheckIns)
		}
	})
}

func TestFlowSameCardAgainKeepsScreen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		v := h.want(kiosk.ScreenConfirm)
		h.scan("valid")
		h.none()
		h.actAt(kiosk.ActionConfirm, v.Rev)
		h.want(kiosk.ScreenSuccess)
	})
}

func TestFlowHelpKeepsWorkingWithoutRev(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.actAt(kiosk.ActionHelp, 0) // the panel's help button
		h.want(kiosk.ScreenHelp)
	})
}

func TestFlowOutOfService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.flow.SetOutOfService(kiosk.ReasonStorageLow)
		if v := h.want(kiosk.ScreenOutOfService); v.Reason != kiosk.ReasonStorageLow {
			t.Errorf("out of service reason = %q; want %q", v.Reason, kiosk.ReasonStorageLow)
		}
		// The same news again changes nothing.
		h.flow.SetOutOfService(kiosk.ReasonStorageLow)
		h.none()
		// A card it cannot record is not taken.
		h.scan("valid")
		h.want(kiosk.ScreenOutOfService)
		h.act(kiosk.ActionConfirm)
		h.none()
		// A human is still offered, and after help the kiosk is still out.
		h.act(kiosk.ActionHelp)
		h.want(kiosk.ScreenHelp)
		time.Sleep(helpTimeout)
		h.want(kiosk.ScreenOutOfService)
		h.flow.SetOutOfService("")
		h.want(kiosk.ScreenIdle)
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		if h.store.Len() != 1 {
			t.Errorf("check-ins = %d; want 1", h.store.Len())
		}
	})
}

// Put out of service while someone confirms: their check-in goes ahead
// (the disk is low, not full), and the next screen is out_of_service.
func TestFlowOutOfServiceLetsSessionFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.flow.SetOutOfService(kiosk.ReasonStorageLow)
		h.none()
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		h.act(kiosk.ActionDone)
		h.want(kiosk.ScreenOutOfService)
	})
}

func TestFlowOutOfServiceBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := run(t, &kiosktest.Store{}, func(f *kiosk.Flow) { f.SetOutOfService(kiosk.ReasonStorageLow) })
		h.want(kiosk.ScreenOutOfService)
		h.none()
	})
}

// A commit that fails puts the kiosk out of service until it is told the
// store works again.
func TestFlowCommitFailureTakesOutOfService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &kiosktest.Store{Err: errors.New("database or disk is full")}
		h := start(t, store)
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSeeStaff)
		time.Sleep(resultTimeout)
		if v := h.want(kiosk.ScreenOutOfService); v.Reason != kiosk.ReasonRecordFailed {
			t.Errorf("reason = %q; want %q", v.Reason, kiosk.ReasonRecordFailed)
		}
		h.scan("valid")
		h.want(kiosk.ScreenOutOfService)
		h.flow.SetOutOfService("")
		h.want(kiosk.ScreenIdle)
	})
}
