package printer

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSource(t *testing.T) {
	wpc1251as49 := WPC1251
	wpc1251as49.Select = 49
	serial := Line{Baud: DefaultBaud, Flow: FlowNone}
	for _, tc := range []struct {
		source string
		want   Source
	}{
		{"", Source{Kind: "none"}},
		{"none", Source{Kind: "none"}},
		{"sim", Source{Kind: "sim"}},
		{"sim?columns=32", Source{Kind: "sim", Options: Options{Columns: 32}}},
		{"lp:/dev/usb/lp0", Source{Kind: "lp", Path: "/dev/usb/lp0"}},
		{"lp:/dev/usb/lp0?", Source{Kind: "lp", Path: "/dev/usb/lp0"}},
		{"lp:/dev/usb/lp0?columns=48", Source{Kind: "lp", Path: "/dev/usb/lp0", Options: Options{Columns: 48}}},
		{"lp:/dev/usb/lp0?codepages=pc858,wpc1251:49", Source{Kind: "lp", Path: "/dev/usb/lp0",
			Options: Options{CodePages: []CodePage{PC858, wpc1251as49}}}},
		{"lp:/dev/usb/lp0?codepages=pc866", Source{Kind: "lp", Path: "/dev/usb/lp0", Options: Options{CodePages: []CodePage{PC866}}}},
		{"serial:/dev/ttyUSB0", Source{Kind: "serial", Path: "/dev/ttyUSB0", Line: serial}},
		{"serial:/dev/ttyUSB0?baud=19200", Source{Kind: "serial", Path: "/dev/ttyUSB0", Line: Line{Baud: 19200, Flow: FlowNone}}},
		{"serial:/dev/ttyUSB0?flow=rtscts&baud=115200&columns=32", Source{Kind: "serial", Path: "/dev/ttyUSB0",
			Line: Line{Baud: 115200, Flow: FlowRTSCTS}, Options: Options{Columns: 32}}},
		{"serial:/dev/ttyACM0?flow=xonxoff", Source{Kind: "serial", Path: "/dev/ttyACM0", Line: Line{Baud: DefaultBaud, Flow: FlowXonXoff}}},
	} {
		got, err := ParseSource(tc.source)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", tc.source, got, err, tc.want)
		}
	}
}

func TestParseSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   string // in the error, after the source it names
	}{
		{"NONE", `unknown kind "NONE"; want none, sim, lp:PATH or serial:PATH`},
		{"none?columns=32", "none takes no path or options"},
		{"none:/dev/x", "none takes no path or options"},
		{"sim:", "sim takes no path"},
		{"sim:/dev/x", "sim takes no path"},
		{"sim?baud=9600", `unknown option "baud"; sim takes columns, codepages`},
		{"cups:receipt", `unknown kind "cups"`},
		{"/dev/usb/lp0", `unknown kind "/dev/usb/lp0"`},
		{"lp", "no device path; want lp:PATH"},
		{"lp:", "no device path; want lp:PATH"},
		{"lp:?columns=32", "no device path; want lp:PATH"},
		{"serial:ttyUSB0", `device path "ttyUSB0" is not absolute`},
		{"lp:/dev/usb/lp0?columns=40", `option columns="40": want 32, 42 or 48`},
		{"lp:/dev/usb/lp0?columns=", `option columns="": want 32, 42 or 48`},
		{"lp:/dev/usb/lp0?baud=9600", `unknown option "baud"; lp takes columns, codepages`},
		{"lp:/dev/usb/lp0?columns=32&columns=42", "option columns given 2 times"},
		{"lp:/dev/usb/lp0?codepages=pc437", `option codepages="pc437": code page "pc437": want pc858, pc866 or wpc1251`},
		{"lp:/dev/usb/lp0?codepages=", `code page "": want pc858, pc866 or wpc1251`},
		{"lp:/dev/usb/lp0?codepages=pc858,pc858", "code page pc858 named twice"},
		{"lp:/dev/usb/lp0?codepages=wpc1251:256", "code page wpc1251:256: want the n of ESC t n, 0 to 255"},
		{"lp:/dev/usb/lp0?codepages=wpc1251:x", "code page wpc1251:x: want the n of ESC t n"},
		{"serial:/dev/ttyUSB0?baud=14400", `option baud="14400": want one of 2400, 4800`},
		{"serial:/dev/ttyUSB0?flow=dtrdsr", `option flow="dtrdsr": want none, xonxoff or rtscts`},
		{"serial:/dev/ttyUSB0?%zz", `options "%zz"`},
	} {
		_, err := ParseSource(tc.source)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "printer source ") {
			t.Errorf("ParseSource(%q) = %v; want an error naming the source and saying %q", tc.source, err, tc.want)
		}
	}
}

// TestOpen: each source gives its driver, touching no hardware: a printer
// that is not there is a State, not an error.
func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   any
	}{
		{"", None{}},
		{"none", None{}},
		{"sim", (*Sim)(nil)},
		{"lp:/nonexistent/lp0", (*LP)(nil)},
		{"serial:/nonexistent/ttyUSB0", (*Serial)(nil)},
	} {
		d, err := Open(tc.source)
		if err != nil {
			t.Errorf("Open(%q) = %v", tc.source, err)
			continue
		}
		if reflect.TypeOf(d) != reflect.TypeOf(tc.want) {
			t.Errorf("Open(%q) = %T; want %T", tc.source, d, tc.want)
		}
		if _, ok := d.(Watcher); !ok {
			t.Errorf("Open(%q) = %T: not a Watcher", tc.source, d)
		}
		if st := d.State(); st.Condition != Absent && st.Condition != OK {
			t.Errorf("Open(%q).State() = %+v before any use; want absent (or ok for sim)", tc.source, st)
		}
	}
	if _, err := Open("lp:relative"); err == nil {
		t.Error(`Open("lp:relative") = nil error; want one`)
	}
}

// TestNone: no printer prints nothing, says so, and never claims a
// receipt printed.
func TestNone(t *testing.T) {
	d, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Print(context.Background(), receipts[0].r); !errors.Is(err, ErrNoPrinter) {
		t.Errorf("None.Print = %v; want ErrNoPrinter", err)
	}
	if st := d.State(); st.Condition != Absent {
		t.Errorf("None.State() = %+v; want absent", st)
	}
	if d.CanRender("Proof of check-in") {
		t.Error("None.CanRender = true; want false: nothing prints")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.(Watcher).Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("None.Run = %v after ctx ended; want nil", err)
	}
}

func TestSim(t *testing.T) {
	s := NewSim(Options{Columns: 32})
	ctx := context.Background()
	if err := s.Print(ctx, receipts[0].r); err != nil {
		t.Fatalf("Print = %v", err)
	}
	want, _ := Render(receipts[0].r, Options{Columns: 32})
	if got := s.Receipts(); len(got) != 1 || string(got[0]) != string(want) {
		t.Fatalf("Receipts() = %d receipts; want the one rendered at 32 columns", len(got))
	}
	if st := s.State(); st != (State{Condition: OK}) {
		t.Errorf("State() = %+v; want ok", st)
	}

	s.SetPaperOut(true)
	if st := s.State(); st != (State{Condition: Fault, Reason: "paper out"}) {
		t.Errorf("State() with the paper out = %+v; want fault, paper out", st)
	}
	if err := s.Print(ctx, receipts[1].r); !errors.Is(err, ErrPaperOut) {
		t.Errorf("Print with the paper out = %v; want ErrPaperOut", err)
	}
	if n := len(s.Receipts()); n != 1 {
		t.Errorf("%d receipts after printing with the paper out; want 1 (nothing kept)", n)
	}
	s.SetPaperOut(false)

	s.SetStuck(true)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.Print(tctx, receipts[1].r); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Print while stuck = %v; want ctx's error", err)
	}
	if st := s.State(); st.Condition != Fault || !strings.Contains(st.Reason, "deadline exceeded") {
		t.Errorf("State() after a stuck print = %+v; want a fault saying why", st)
	}
	s.SetStuck(false)
	if err := s.Print(ctx, receipts[1].r); err != nil || len(s.Receipts()) != 2 || s.State().Condition != OK {
		t.Errorf("Print after unsticking = %v, %d receipts, %+v; want nil, 2, ok", err, len(s.Receipts()), s.State())
	}

	if err := s.Print(ctx, Receipt{Title: "签到证明"}); !errors.Is(err, ErrCannotRender) {
		t.Errorf("Print(Chinese) = %v; want ErrCannotRender", err)
	}
	if s.CanRender("签到证明") || !s.CanRender("Підтвердження") {
		t.Error("Sim.CanRender: want false for Chinese, true for Ukrainian")
	}
}
