package scanner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestFramer(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	long := strings.Repeat("A", MaxScan)
	for _, tc := range []struct {
		name, in string
		want     Scan // At is at
	}{
		{"code", "SDC1:6BF+Q2 $%*./:", Scan{Text: "SDC1:6BF+Q2 $%*./:"}},
		{"trailing space kept", "AB ", Scan{Text: "AB "}},
		{"printable ASCII", printable(), Scan{Text: printable()}},
		{"at the cap", long, Scan{Text: long}},
		{"one over the cap", long + "B", Scan{Rejected: RejectTooLong}},
		{"far over the cap", strings.Repeat(long, 5), Scan{Rejected: RejectTooLong}},
		{"too long beats control", long + "\x00", Scan{Rejected: RejectTooLong}},
		{"NUL", "A\x00B", Scan{Rejected: RejectControl}},
		{"ESC", "\x1b[A", Scan{Rejected: RejectControl}},
		{"tab", "A\tB", Scan{Rejected: RejectControl}},
		{"CR", "A\rB", Scan{Rejected: RejectControl}},
		{"unit separator", "A\x1fB", Scan{Rejected: RejectControl}},
		{"DEL", "A\x7f", Scan{Rejected: RejectControl}},
		{"control beats not UTF-8", "\xff\x01", Scan{Rejected: RejectControl}},
		{"UTF-8 two bytes", "né", Scan{Text: "né"}},
		{"UTF-8 three bytes", "日本", Scan{Text: "日本"}},
		{"UTF-8 four bytes", "🛂", Scan{Text: "🛂"}},
		{"C1 control as UTF-8", "\u0085", Scan{Text: "\u0085"}}, // a character, not a byte below 0x20
		{"invalid byte", "A\xffB", Scan{Rejected: RejectNotText}},
		{"Latin-1 é", "n\xe9", Scan{Rejected: RejectNotText}},
		{"truncated sequence", "\xe6\x97", Scan{Rejected: RejectNotText}},
		{"overlong slash", "\xc0\xaf", Scan{Rejected: RejectNotText}},
		{"surrogate", "\xed\xa0\x80", Scan{Rejected: RejectNotText}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f framer
			for i := range len(tc.in) {
				f.add(tc.in[i])
			}
			if f.empty() {
				t.Errorf("empty() after %d bytes = true", len(tc.in))
			}
			if len(f.buf) > MaxScan {
				t.Errorf("framer holds %d bytes; want at most MaxScan (%d)", len(f.buf), MaxScan)
			}
			want := tc.want
			want.At = at
			if got := f.finish(at); got != want {
				t.Errorf("finish() = %s; want %s", brief(got), brief(want))
			}
			if !f.empty() {
				t.Error("empty() after finish = false")
			}
		})
	}
}

// printable is every byte from space to tilde.
func printable() string {
	var b strings.Builder
	for c := byte(0x20); c < 0x7f; c++ {
		b.WriteByte(c)
	}
	return b.String()
}

// brief shows a scan without its whole text.
func brief(s Scan) string {
	text := s.Text
	if len(text) > 20 {
		text = fmt.Sprintf("%.20s… (%d bytes)", text, len(text))
	}
	return fmt.Sprintf("{Text:%q Rejected:%q At:%v}", text, s.Rejected, s.At)
}

// TestFramerReuse: after finish the framer is empty, holds none of the
// scan's bytes (they are personal data), and what the last scan was (too
// long, control bytes) does not carry to the next.
func TestFramerReuse(t *testing.T) {
	var f framer
	if !f.empty() {
		t.Fatal("zero framer: empty() = false")
	}
	for _, b := range []byte("SECRET\x01") {
		f.add(b)
	}
	held := f.buf[:cap(f.buf)]
	if s := f.finish(time.Time{}); s.Rejected != RejectControl {
		t.Fatalf("finish() = %+v; want rejected", s)
	}
	for i, b := range held {
		if b != 0 {
			t.Fatalf("byte %d of the finished scan still held: %q", i, b)
		}
	}
	for range MaxScan + 10 {
		f.add('A')
	}
	if s := f.finish(time.Time{}); s.Rejected != RejectTooLong {
		t.Fatalf("finish() = %+v; want too long", brief(s))
	}
	f.add('O')
	f.add('K')
	if s := f.finish(time.Time{}); s != (Scan{Text: "OK"}) {
		t.Errorf("finish() after a rejected scan = %s; want OK", brief(s))
	}
}

func TestDedup(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type read struct {
		text   string // "!" for a rejected scan
		at     time.Duration
		repeat bool
	}
	for _, tc := range []struct {
		name   string
		window time.Duration
		reads  []read
	}{
		{"the window slides", 1500 * time.Millisecond, []read{
			{"X", 0, false},
			{"X", 1 * time.Second, true},
			{"X", 2 * time.Second, true}, // 2 s after the first, 1 s after the last
			{"X", 3400 * time.Millisecond, true},
			{"X", 4900 * time.Millisecond, false}, // exactly the window after the last: a new scan
			{"X", 5 * time.Second, true},
		}},
		{"another code between", 1500 * time.Millisecond, []read{
			{"X", 0, false},
			{"Y", 100 * time.Millisecond, false},
			{"X", 200 * time.Millisecond, false},
			{"X", 300 * time.Millisecond, true},
		}},
		{"rejected scans", 1500 * time.Millisecond, []read{
			{"!", 0, false},
			{"!", 10 * time.Millisecond, false}, // each is answered
			{"X", 20 * time.Millisecond, false},
			{"!", 30 * time.Millisecond, false},
			{"X", 40 * time.Millisecond, false}, // the rejected scan between breaks the run
		}},
		{"an empty code is never a repeat", 1500 * time.Millisecond, []read{
			{"", 0, false},
			{"", time.Millisecond, false},
		}},
		{"off", 0, []read{
			{"X", 0, false},
			{"X", 0, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := dedup{window: tc.window}
			for i, r := range tc.reads {
				s := Scan{Text: r.text, At: t0.Add(r.at)}
				if r.text == "!" {
					s = Scan{Rejected: RejectControl, At: t0.Add(r.at)}
				}
				if got := d.repeat(s); got != r.repeat {
					t.Errorf("read %d (%q at %v): repeat() = %v; want %v", i, r.text, r.at, got, r.repeat)
				}
			}
		})
	}
}

func TestSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := make(chan Scan)
		sent := make(chan bool)
		go func() { sent <- send(context.Background(), out, Scan{Text: "X"}) }()
		time.Sleep(time.Hour) // nobody takes it: send waits, however long
		synctest.Wait()
		select {
		case <-sent:
			t.Fatal("send returned before the scan was taken")
		default:
		}
		if s := <-out; s.Text != "X" {
			t.Errorf("took %+v; want X", s)
		}
		if !<-sent {
			t.Error("send() = false after the scan was taken")
		}

		ctx, cancel := context.WithCancel(context.Background())
		go func() { sent <- send(ctx, out, Scan{Text: "Y"}) }()
		cancel()
		if <-sent {
			t.Error("send() = true with nobody taking the scan and ctx ended")
		}
	})
}

func TestGone(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("open /dev/ttyACM0: %w", syscall.ENOENT), true},
		{fmt.Errorf("open /dev/kiosk-scanner: %w", fs.ErrNotExist), true},
		{fmt.Errorf("read /dev/ttyACM0: %w", syscall.EIO), true},
		{fmt.Errorf("read /dev/input/event3: %w", syscall.ENODEV), true},
		{fmt.Errorf("open /dev/ttyACM0: %w", syscall.ENXIO), true},
		{fmt.Errorf("read /dev/ttyACM0: %w", errHangup), true},
		{fmt.Errorf("open /dev/ttyACM0: %w", syscall.EACCES), false},
		{fmt.Errorf("open /dev/ttyACM0: %w", fs.ErrPermission), false},
		{fmt.Errorf("open /dev/ttyACM0: %w", syscall.EBUSY), false},
		{fmt.Errorf("ioctl EVIOCGRAB: %w", syscall.ENOTTY), false},
		{errors.New("device hung up"), false}, // the same words are not the same error
	} {
		if got := gone(tc.err); got != tc.want {
			t.Errorf("gone(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}

// TestHealth walks a device through its life: absent, plugged in,
// unplugged, back, failing.
func TestHealth(t *testing.T) {
	enoent := fmt.Errorf("open /dev/kiosk-scanner: %w", syscall.ENOENT)
	eio := fmt.Errorf("read /dev/kiosk-scanner: %w", syscall.EIO)
	eacces := fmt.Errorf("open /dev/kiosk-scanner: %w", syscall.EACCES)
	var h health
	for i, step := range []struct {
		do   func()
		want State
	}{
		{func() {}, State{Condition: Absent}},
		{func() { h.failed(enoent) }, State{Absent, enoent.Error()}},
		{h.ok, State{Condition: OK}},
		{func() { h.failed(eio) }, State{Disconnected, eio.Error()}},
		{func() { h.failed(enoent) }, State{Disconnected, enoent.Error()}}, // opened once: gone is disconnected
		{h.ok, State{Condition: OK}},
		{func() { h.failed(eacces) }, State{Fault, eacces.Error()}},
		{func() { h.failed(enoent) }, State{Disconnected, enoent.Error()}},
		{h.ok, State{Condition: OK}},
	} {
		step.do()
		if got := h.State(); got != step.want {
			t.Errorf("step %d: State() = %+v; want %+v", i, got, step.want)
		}
	}
}

// TestSupervise runs a scripted session under supervise, in a synctest
// bubble: each try comes DefaultRetry after the last one failed, each
// failure lands in State, and ctx ending ends supervise with nil.
func TestSupervise(t *testing.T) {
	enoent := fmt.Errorf("open /dev/x: %w", syscall.ENOENT)
	eio := fmt.Errorf("read /dev/x: %w", syscall.EIO)
	eacces := fmt.Errorf("open /dev/x: %w", syscall.EACCES)
	synctest.Test(t, func(t *testing.T) {
		var h health
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		type try struct {
			at   time.Duration
			seen State // State when the try began: the last try's outcome
		}
		var tries []try
		script := []func(context.Context) error{
			func(context.Context) error { return enoent },
			func(context.Context) error { h.ok(); return eio },
			func(context.Context) error { return enoent },
			func(context.Context) error { h.ok(); return nil }, // ended without an error: hung up
			func(context.Context) error { return eacces },
			func(ctx context.Context) error { h.ok(); <-ctx.Done(); return errors.New("closed") },
		}
		done := make(chan error)
		go func() {
			done <- supervise(ctx, &h, DefaultRetry, func(ctx context.Context) error {
				tries = append(tries, try{time.Since(start), h.State()})
				return script[len(tries)-1](ctx)
			})
		}()
		time.Sleep(time.Hour) // the last try runs until ctx ends
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("supervise() = %v; want nil when ctx ends", err)
		}
		want := []try{
			{0, State{Condition: Absent}},
			{1 * DefaultRetry, State{Absent, enoent.Error()}},
			{2 * DefaultRetry, State{Disconnected, eio.Error()}},
			{3 * DefaultRetry, State{Disconnected, enoent.Error()}},
			{4 * DefaultRetry, State{Disconnected, errHangup.Error()}},
			{5 * DefaultRetry, State{Fault, eacces.Error()}},
		}
		if fmt.Sprint(tries) != fmt.Sprint(want) {
			t.Errorf("tries (when, State seen) =\n%v\nwant\n%v", tries, want)
		}
		if got := h.State(); got != (State{Condition: OK}) {
			t.Errorf("State() after ctx ended = %+v; want ok (an error after ctx ended is not the device's)", got)
		}
	})
}

// TestSuperviseStopsWaiting: ctx ending while supervise waits to try
// again ends it at once, without another try.
func TestSuperviseStopsWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h health
		ctx, cancel := context.WithCancel(context.Background())
		tries := 0
		done := make(chan error)
		go func() {
			done <- supervise(ctx, &h, time.Minute, func(context.Context) error {
				tries++
				return syscall.ENOENT
			})
		}()
		time.Sleep(30 * time.Second)
		cancel()
		start := time.Now()
		if err := <-done; err != nil {
			t.Errorf("supervise() = %v; want nil", err)
		}
		if waited := time.Since(start); waited != 0 || tries != 1 {
			t.Errorf("supervise returned %v after ctx ended, after %d tries; want at once, after 1", waited, tries)
		}
	})
}
