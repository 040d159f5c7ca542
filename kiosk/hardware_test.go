package kiosk_test

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/kiosktest"
)

// What the hardware tells the flow: the enclosure's tamper switch, the
// scanner's state, the presence sensor, a scan the scanner rejected and
// the receipt printer's answer.

func TestFlowEnclosureOpenTakesOutOfService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.flow.SetEnclosureOpen(true)
		if v := h.want(kiosk.ScreenOutOfService); v.Reason != kiosk.ReasonEnclosureOpen {
			t.Errorf("reason = %q; want %q", v.Reason, kiosk.ReasonEnclosureOpen)
		}
		h.scan("valid")
		h.want(kiosk.ScreenOutOfService) // no card taken
		// Low storage too: the open enclosure is what staff must see first.
		h.flow.SetOutOfService(kiosk.ReasonStorageLow)
		h.none()
		h.flow.SetEnclosureOpen(false)
		if v := h.want(kiosk.ScreenOutOfService); v.Reason != kiosk.ReasonStorageLow {
			t.Errorf("shut, storage low: reason = %q; want %q", v.Reason, kiosk.ReasonStorageLow)
		}
		h.flow.SetOutOfService("")
		h.want(kiosk.ScreenIdle)
		if h.store.Len() != 0 {
			t.Errorf("check-ins = %d; want 0", h.store.Len())
		}
	})
}

// The enclosure opened mid-session: the person finishes, and the next
// screen is out_of_service.
func TestFlowEnclosureOpenLetsSessionFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.flow.SetEnclosureOpen(true)
		h.none()
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		h.act(kiosk.ActionDone)
		h.want(kiosk.ScreenOutOfService)
	})
}

func TestFlowScannerUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := run(t, &kiosktest.Store{}, func(f *kiosk.Flow) { f.SetScannerReady(false) })
		if v := h.want(kiosk.ScreenIdle); v.Reason != kiosk.ReasonScannerUnavailable {
			t.Errorf("idle without a scanner: reason = %q; want %q", v.Reason, kiosk.ReasonScannerUnavailable)
		}
		h.flow.SetScannerReady(true)
		if v := h.want(kiosk.ScreenIdle); v.Reason != "" {
			t.Errorf("scanner back: reason = %q; want none", v.Reason)
		}
		// Unplugged mid-session: the screen runs its course.
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.flow.SetScannerReady(false)
		h.none()
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		h.act(kiosk.ActionDone)
		if v := h.want(kiosk.ScreenIdle); v.Reason != kiosk.ReasonScannerUnavailable {
			t.Errorf("after the session: reason = %q; want %q", v.Reason, kiosk.ReasonScannerUnavailable)
		}
		// Out of service wins over the scanner.
		h.flow.SetEnclosureOpen(true)
		h.want(kiosk.ScreenOutOfService)
	})
}

func TestFlowRejectedScan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scans <- kiosk.Scan{Rejected: "too long", At: time.Now()}
		if v := h.want(kiosk.ScreenSeeStaff); v.Reason != kiosk.ReasonCardUnreadable {
			t.Errorf("reason = %q; want %q", v.Reason, kiosk.ReasonCardUnreadable)
		}
		// It replaces a confirm screen, as any scan does, and drops its card.
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.scans <- kiosk.Scan{Rejected: "control byte", At: time.Now()}
		h.want(kiosk.ScreenSeeStaff)
		h.actAt(kiosk.ActionConfirm, h.last.Rev)
		h.none()
		if h.store.Len() != 0 {
			t.Errorf("check-ins = %d; want 0", h.store.Len())
		}
	})
}

func TestFlowPresenceWakesIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		before := h.last.Rev
		h.actions <- kiosk.Action{Name: kiosk.ActionPresence}
		if v := h.want(kiosk.ScreenIdle); v.Rev <= before {
			t.Errorf("rev %d after presence; want above %d", v.Rev, before)
		}
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.actions <- kiosk.Action{Name: kiosk.ActionPresence}
		h.none() // someone else walking by changes no one's screen
	})
}

// printer is a ReceiptPrinter whose answers the test gives.
type printer struct {
	mu   sync.Mutex
	jobs []kiosk.Receipt
	done []func(bool)
}

func (p *printer) Print(r kiosk.Receipt, done func(bool)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jobs, p.done = append(p.jobs, r), append(p.done, done)
}

// answer answers job i from a goroutine of its own, as a printer does.
func (p *printer) answer(i int, printed bool) {
	p.mu.Lock()
	done := p.done[i]
	p.mu.Unlock()
	go done(printed)
}

func TestFlowReceipt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &printer{}
		store := &kiosktest.Store{}
		h := start(t, store, func(f *kiosk.Flow) { f.Printer = p })
		h.actions <- kiosk.Action{Name: kiosk.ActionLanguage, Lang: "es"}
		h.want(kiosk.ScreenIdle)
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		v := h.want(kiosk.ScreenSuccess)
		if v.Receipt != kiosk.ReceiptPrinting {
			t.Errorf("receipt = %q; want printing", v.Receipt)
		}
		if len(p.jobs) != 1 {
			t.Fatalf("print jobs = %d; want 1", len(p.jobs))
		}
		j := p.jobs[0]
		if j.Code != v.Code || !j.At.Equal(v.At) || j.Lang != "es" || j.Seq != 1 || j.ID == "" {
			t.Errorf("receipt %+v; want code %s at %v in es, seq 1, an id", j, v.Code, v.At)
		}
		p.answer(0, false)
		got := h.want(kiosk.ScreenSuccess)
		if got.Receipt != kiosk.ReceiptFailed || got.Code != v.Code || got.Rev <= v.Rev {
			t.Errorf("after a failed print: %+v; want the same code, receipt failed, a later rev", got)
		}
		h.act(kiosk.ActionDone) // a tap on the updated screen counts
		h.want(kiosk.ScreenIdle)

		// A receipt that prints after its screen is gone changes nothing.
		h.scan("other")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		h.act(kiosk.ActionDone)
		h.want(kiosk.ScreenIdle)
		p.answer(1, true)
		h.none()
		if store.Len() != 2 {
			t.Errorf("check-ins = %d; want 2", store.Len())
		}
	})
}

func TestFlowReceiptPrinted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &printer{}
		h := start(t, &kiosktest.Store{}, func(f *kiosk.Flow) { f.Printer = p })
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		p.answer(0, true)
		if v := h.want(kiosk.ScreenSuccess); v.Receipt != kiosk.ReceiptPrinted {
			t.Errorf("receipt = %q; want printed", v.Receipt)
		}
	})
}

// Without a printer, the success screen says nothing of a receipt.
func TestFlowNoPrinter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		if v := h.want(kiosk.ScreenSuccess); v.Receipt != "" {
			t.Errorf("receipt = %q; want none", v.Receipt)
		}
	})
}

// "Check in another family member": the next card in the same language,
// and the success screen lists everyone checked in this session; the end
// of the session forgets them.
func TestFlowHousehold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.actions <- kiosk.Action{Name: kiosk.ActionLanguage, Lang: "es"}
		h.want(kiosk.ScreenIdle)
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		a := h.want(kiosk.ScreenSuccess)
		if len(a.Household) != 1 || a.Household[0] != (kiosk.Member{Name: "Amina Haddad", Code: a.Code}) {
			t.Errorf("first success: household %+v; want Amina and her code", a.Household)
		}
		h.act(kiosk.ActionAnother)
		next := h.want(kiosk.ScreenIdle)
		if next.Lang != "es" || len(next.Household) != 1 || next.Expires.IsZero() {
			t.Errorf("next member's idle: %+v; want Spanish, the household so far, a timeout", next)
		}
		h.actions <- kiosk.Action{Name: kiosk.ActionPresence} // someone walks by: the same screen afresh
		if v := h.want(kiosk.ScreenIdle); len(v.Household) != 1 || v.Rev <= next.Rev {
			t.Errorf("presence on the next member's idle: %+v; want the household kept, a new rev", v)
		}
		h.scan("other")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		b := h.want(kiosk.ScreenSuccess)
		want := []kiosk.Member{{Name: "Amina Haddad", Code: a.Code}, {Name: "Tomás Quispe", Code: b.Code}}
		if !slices.Equal(b.Household, want) || b.Lang != "es" {
			t.Errorf("second success: household %+v, lang %q; want %+v in es", b.Household, b.Lang, want)
		}
		// Amina again, the same session: already, and listed once.
		h.act(kiosk.ActionAnother)
		h.want(kiosk.ScreenIdle)
		h.scan("valid")
		if v := h.want(kiosk.ScreenAlready); !slices.Equal(v.Household, want) {
			t.Errorf("already: household %+v; want %+v", v.Household, want)
		}
		h.act(kiosk.ActionDone)
		if v := h.want(kiosk.ScreenIdle); len(v.Household) != 0 || !v.Expires.IsZero() {
			t.Errorf("after the session: %+v; want a plain idle screen", v)
		}
		if h.store.Len() != 2 {
			t.Errorf("check-ins = %d; want 2", h.store.Len())
		}
	})
}

// The next member's idle screen times out like any result: the session
// ends, and its names go.
func TestFlowHouseholdTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		h.act(kiosk.ActionAnother)
		h.want(kiosk.ScreenIdle)
		time.Sleep(resultTimeout)
		if v := h.want(kiosk.ScreenIdle); len(v.Household) != 0 || !v.Expires.IsZero() {
			t.Errorf("timed out: %+v; want a plain idle screen", v)
		}
	})
}

func TestFlowChallenge(t *testing.T) {
	for _, tc := range []struct {
		answer string
		want   kiosk.Screen
	}{
		{"1990-01-02", kiosk.ScreenSuccess},
		{"1990-02-01", kiosk.ScreenSeeStaff}, // day and month swapped
		{"", kiosk.ScreenSeeStaff},
	} {
		synctest.Test(t, func(t *testing.T) {
			store := &kiosktest.Store{}
			h := start(t, store, func(f *kiosk.Flow) { f.Challenge = true })
			h.scan("valid")
			h.want(kiosk.ScreenConfirm)
			h.act(kiosk.ActionConfirm)
			c := h.want(kiosk.ScreenChallenge)
			if store.Len() != 0 || c.Name != "" || c.Expires.IsZero() {
				t.Errorf("challenge: %+v, %d recorded; want nothing recorded, no name shown, a timeout", c, store.Len())
			}
			h.actions <- kiosk.Action{Name: kiosk.ActionAnswer, Answer: tc.answer, Rev: c.Rev}
			v := h.want(tc.want)
			switch tc.want {
			case kiosk.ScreenSuccess:
				if store.Len() != 1 {
					t.Errorf("right answer: %d recorded; want 1", store.Len())
				}
			default:
				if v.Reason != kiosk.ReasonChallengeFailed || store.Len() != 0 {
					t.Errorf("answer %q: %+v, %d recorded; want challenge_failed, nothing", tc.answer, v, store.Len())
				}
			}
		})
	}
}

// An answer made on an earlier screen does not count, like any tap.
func TestFlowChallengeStaleAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &kiosktest.Store{}
		h := start(t, store, func(f *kiosk.Flow) { f.Challenge = true })
		h.scan("valid")
		conf := h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenChallenge)
		h.actions <- kiosk.Action{Name: kiosk.ActionAnswer, Answer: "1990-01-02", Rev: conf.Rev}
		h.none()
		if store.Len() != 0 {
			t.Errorf("%d recorded by a stale answer; want 0", store.Len())
		}
	})
}

func TestFlowScanLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []time.Duration
		h := start(t, &kiosktest.Store{}, func(f *kiosk.Flow) { f.ScanLatency = func(d time.Duration) { got = append(got, d) } })
		h.scans <- kiosk.Scan{Text: "valid", At: time.Now().Add(-3 * time.Millisecond)}
		h.want(kiosk.ScreenConfirm)
		if len(got) != 1 || got[0] != 3*time.Millisecond {
			t.Errorf("latencies %v; want one of 3ms", got)
		}
	})
}

// Maintenance mode, from the staff dashboard: out of service once the
// person at the kiosk is done, and back when it ends.
func TestFlowMaintenance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		h.flow.SetMaintenance(true)
		h.none()
		h.act(kiosk.ActionConfirm)
		h.want(kiosk.ScreenSuccess)
		h.act(kiosk.ActionDone)
		if v := h.want(kiosk.ScreenOutOfService); v.Reason != kiosk.ReasonMaintenance {
			t.Errorf("reason %q; want maintenance", v.Reason)
		}
		h.flow.SetEnclosureOpen(true) // an open enclosure says more than maintenance
		if v := h.want(kiosk.ScreenOutOfService); v.Reason != kiosk.ReasonEnclosureOpen {
			t.Errorf("reason %q; want enclosure_open", v.Reason)
		}
		h.flow.SetEnclosureOpen(false)
		h.want(kiosk.ScreenOutOfService)
		h.flow.SetMaintenance(false)
		h.want(kiosk.ScreenIdle)
	})
}

// A screen updated in place (its receipt printed, extended, in another
// language) is the same question: a tap made on its earlier revision
// counts. One made on another person's screen still does not.
func TestFlowTapOnScreenUpdatedInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &printer{}
		store := &kiosktest.Store{}
		h := start(t, store, func(f *kiosk.Flow) { f.Printer = p })
		h.scan("valid")
		conf := h.want(kiosk.ScreenConfirm)
		h.act(kiosk.ActionExtend)
		extended := h.want(kiosk.ScreenConfirm)
		h.actions <- kiosk.Action{Name: kiosk.ActionLanguage, Lang: "es"}
		h.want(kiosk.ScreenConfirm)
		if extended.Since != conf.Rev || extended.Rev == conf.Rev {
			t.Errorf("extended confirm: since %d, rev %d; want since %d, a new rev", extended.Since, extended.Rev, conf.Rev)
		}
		h.actAt(kiosk.ActionConfirm, conf.Rev) // made before the extension and the language
		success := h.want(kiosk.ScreenSuccess)
		if store.Len() != 1 {
			t.Fatalf("check-ins = %d; want 1", store.Len())
		}
		p.answer(0, true)
		h.want(kiosk.ScreenSuccess) // printed: a new rev
		h.actAt(kiosk.ActionDone, success.Rev)
		idle := h.want(kiosk.ScreenIdle)

		// Another screen: a tap made on the one before it does not
		// answer it (another person's screen: TestFlowStaleTapIgnored).
		h.scan("other")
		h.want(kiosk.ScreenConfirm)
		h.actAt(kiosk.ActionConfirm, idle.Rev)
		h.none()
		if store.Len() != 1 {
			t.Errorf("check-ins = %d; want 1", store.Len())
		}
	})
}
