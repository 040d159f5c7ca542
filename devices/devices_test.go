package devices

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/drivers/display"
	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/internal/liveness"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// fakeScanner is a driver that is not simulated: it takes no fed text.
type fakeScanner struct{}

func (fakeScanner) Run(ctx context.Context, out chan<- scanner.Scan) error {
	<-ctx.Done()
	return nil
}

func (fakeScanner) State() scanner.State { return scanner.State{} }

// Only the simulated scanner takes text as if scanned: for any other,
// POST /api/v1/sim/scan has no feed (a 404) and Feed refuses.
func TestScanFeedOnlySimulated(t *testing.T) {
	if SimFeed(fakeScanner{}) != nil {
		t.Error("SimFeed(a scanner that is not simulated) != nil; want nil, for a 404")
	}
	if err := Feed(context.Background(), fakeScanner{}, "SDC1:ABC"); !errors.Is(err, ErrNotSimulated) {
		t.Errorf("Feed(a scanner that is not simulated) = %v; want ErrNotSimulated", err)
	}

	sim := scanner.NewSim()
	feed := SimFeed(sim)
	if feed == nil {
		t.Fatal("SimFeed(*scanner.Sim) = nil; want a feed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan kiosk.Scan)
	go Scans(ctx, sim, out, nil)
	go feed("SDC1:ABC")
	if got := <-out; got.Text != "SDC1:ABC" {
		t.Errorf("fed %q; scanned %q", "SDC1:ABC", got.Text)
	}
	go Feed(ctx, sim, "SDC1:DEF")
	if got := <-out; got.Text != "SDC1:DEF" {
		t.Errorf("fed %q; scanned %q", "SDC1:DEF", got.Text)
	}
}

// The panel's help button is the flow's help action and its presence
// sensor the presence action; the tamper switch is told to the enclosure
// callback, and is no action.
func TestActions(t *testing.T) {
	p := panel.NewSim()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan kiosk.Action)
	done := make(chan error, 1)
	var mu sync.Mutex
	var enclosure []bool
	go func() {
		done <- Actions(ctx, p, out, func(open bool) {
			mu.Lock()
			defer mu.Unlock()
			enclosure = append(enclosure, open)
		})
	}()
	for _, e := range []panel.Event{panel.EnclosureOpen, panel.HelpPressed} {
		if err := p.Press(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if a := <-out; a != (kiosk.Action{Name: kiosk.ActionHelp}) {
		t.Errorf("Actions handed %+v first; want the help action, and nothing for the enclosure", a)
	}
	for _, e := range []panel.Event{panel.EnclosureShut, panel.Presence} {
		if err := p.Press(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if a := <-out; a != (kiosk.Action{Name: kiosk.ActionPresence}) {
		t.Errorf("Actions handed %+v; want the presence action", a)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Actions() = %v; want nil once ctx ends", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(enclosure, []bool{true, false}) {
		t.Errorf("enclosure told %v; want open, then shut", enclosure)
	}
}

// PanelSink: each screen's status on the light, the lamp whenever the
// kiosk needs a person, and a tone as a screen comes up: success, refusal,
// a call for help; none for a screen updated in place.
func TestPanelSink(t *testing.T) {
	p := panel.NewSim()
	sink := &PanelSink{Out: p}
	for i, tc := range []struct {
		view   kiosk.View
		status panel.Status
		lamp   bool
		tones  []panel.Tone
	}{
		{kiosk.View{Screen: kiosk.ScreenIdle}, panel.Ready, false, nil},
		{kiosk.View{Screen: kiosk.ScreenConfirm}, panel.Busy, false, nil},
		{kiosk.View{Screen: kiosk.ScreenSuccess, Receipt: kiosk.ReceiptPrinting}, panel.Busy, false, []panel.Tone{panel.Success}},
		{kiosk.View{Screen: kiosk.ScreenSuccess, Receipt: kiosk.ReceiptPrinted, Since: 3}, panel.Busy, false, nil}, // updated in place: no second tone
		{kiosk.View{Screen: kiosk.ScreenSeeStaff, Reason: kiosk.ReasonCardRevoked}, panel.Attention, true, []panel.Tone{panel.Refusal}},
		{kiosk.View{Screen: kiosk.ScreenHelp}, panel.Attention, true, []panel.Tone{panel.Call}},
		{kiosk.View{Screen: kiosk.ScreenHelp, Since: 6}, panel.Attention, true, nil}, // extended in place: no second call
		{kiosk.View{Screen: kiosk.ScreenAlready}, panel.Busy, false, []panel.Tone{panel.Success}},
		{kiosk.View{Screen: kiosk.ScreenSeeStaff, Reason: kiosk.ReasonCardExpired}, panel.Attention, true, []panel.Tone{panel.Refusal}},
		{kiosk.View{Screen: kiosk.ScreenSeeStaff, Reason: kiosk.ReasonCardExpired}, panel.Attention, true, []panel.Tone{panel.Refusal}}, // a second card refused: a second tone
		{kiosk.View{Screen: kiosk.ScreenIdle, Reason: kiosk.ReasonScannerUnavailable}, panel.Attention, true, nil},
		{kiosk.View{Screen: kiosk.ScreenOutOfService, Reason: kiosk.ReasonEnclosureOpen}, panel.OutOfService, true, nil},
		{kiosk.View{Screen: kiosk.ScreenIdle}, panel.Ready, false, nil},
	} {
		before := len(p.Tones())
		tc.view.Rev = uint64(i + 1)
		sink.Show(tc.view)
		if got := p.Tones()[before:]; p.Status() != tc.status || p.Lamp() != tc.lamp || !slices.Equal(got, tc.tones) {
			t.Errorf("after %d: %s: status %s, lamp %v, tones %q; want %s, %v, %q",
				i, tc.view.Screen, p.Status(), p.Lamp(), got, tc.status, tc.lamp, tc.tones)
		}
	}
	// Offline: the idle light says so, at once, and only on idle.
	sink.SetOffline(true)
	if p.Status() != panel.Offline {
		t.Errorf("idle, offline: status %s; want offline", p.Status())
	}
	sink.Show(kiosk.View{Rev: 20, Screen: kiosk.ScreenConfirm})
	if p.Status() != panel.Busy {
		t.Errorf("confirm, offline: status %s; want busy", p.Status())
	}
	sink.Show(kiosk.View{Rev: 21, Screen: kiosk.ScreenIdle})
	sink.SetOffline(false)
	if p.Status() != panel.Ready {
		t.Errorf("idle, back online: status %s; want ready", p.Status())
	}
}

// WatchScanner tells the flow whether the scanner can read, at once and
// on every change of its state, and logs each change with its reason.
func TestWatchScanner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := scanner.NewSim()
		var buf bytes.Buffer
		var mu sync.Mutex
		var ready []bool
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- WatchScanner(ctx, sc, func(ok bool) {
				mu.Lock()
				defer mu.Unlock()
				ready = append(ready, ok)
			}, slog.New(slog.NewTextHandler(&buf, nil)))
		}()
		synctest.Wait()
		sc.SetState(scanner.State{Condition: scanner.Disconnected, Reason: "read /dev/input/event3: no such device"})
		time.Sleep(StatePoll)
		synctest.Wait()
		sc.SetState(scanner.State{Condition: scanner.Disconnected, Reason: "read /dev/input/event3: no such device"})
		time.Sleep(3 * StatePoll) // unchanged: nothing told
		sc.SetState(scanner.State{Condition: scanner.OK})
		time.Sleep(StatePoll)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchScanner() = %v; want nil", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(ready, []bool{true, false, true}) {
			t.Errorf("ready told %v; want true (at start), false (unplugged), true (back)", ready)
		}
		for _, want := range []string{`level=WARN msg="scanner unavailable" state=disconnected reason="read /dev/input/event3: no such device"`, `level=INFO msg="scanner ready"`} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, buf.String())
			}
		}
	})
}

func TestRunDisplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := display.NewSim()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		n := 0
		go func() {
			done <- RunDisplay(ctx, d, time.Second, func(context.Context) display.Info {
				n++
				return display.Info{KioskID: "lobby-1", Pending: n}
			}, slog.New(slog.DiscardHandler))
		}()
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		if i, shows := d.Info(); shows != 3 || i.KioskID != "lobby-1" || i.Pending != 3 {
			t.Errorf("after 2.5 s at 1 s: %d shows, last %+v; want 3, the third", shows, i)
		}
	})
}

func TestWatchDevices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := panel.NewSim()
		p.SetState(panel.State{Condition: panel.Absent, Reason: "no GPIO chip: none found"})
		d := display.NewSim()
		var buf bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- WatchDevices(ctx, []Watched{
				{"panel", func() (string, string) { st := p.State(); return string(st.Condition), st.Reason }},
				{"display", func() (string, string) { st := d.State(); return string(st.Condition), st.Reason }},
			}, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: noTime})))
		}()
		synctest.Wait()
		d.SetState(display.State{Condition: display.Fault, Reason: "draw: i2c: remote I/O error"})
		time.Sleep(time.Second)
		synctest.Wait()
		time.Sleep(3 * time.Second) // unchanged: nothing more
		d.SetState(display.State{Condition: display.OK})
		time.Sleep(time.Second)
		synctest.Wait()
		cancel()
		<-done
		want := `level=WARN msg="panel absent" reason="no GPIO chip: none found"` + "\n" +
			`level=WARN msg="display fault" reason="draw: i2c: remote I/O error"` + "\n" +
			`level=INFO msg="display ok"` + "\n"
		if buf.String() != want {
			t.Errorf("logged\n%s\nwant\n%s", buf.String(), want)
		}
	})
}

// noTime drops the time from a log line, for comparing lines.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// A scan the flow does not take holds the relay busy, and the watchdog's
// check names it once past its limit; taken, the relay is waiting again.
func TestScansLiveness(t *testing.T) {
	sim := scanner.NewSim()
	live := liveness.New("scanner", 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan kiosk.Scan) // nobody reads it yet: a stuck flow
	go Scans(ctx, sim, out, live)
	if err := live.Check(time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("no scan yet: %v; want waiting", err)
	}
	go Feed(ctx, sim, "SDC1:ABC")
	deadline := time.Now().Add(5 * time.Second)
	for live.Check(time.Now().Add(time.Second)) == nil {
		if time.Now().After(deadline) {
			t.Fatal("a scan held past the limit is not reported stuck")
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-out
	deadline = time.Now().Add(5 * time.Second)
	for live.Check(time.Now().Add(time.Hour)) != nil {
		if time.Now().After(deadline) {
			t.Fatal("still stuck after the scan was taken")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
