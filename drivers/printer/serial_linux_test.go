package printer

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Status answers of a printer: DLE EOT 1, 2 and 4 (fixed bits 0x12 set).
var (
	ready     = map[byte]byte{1: 0x12, 4: 0x12}
	paperLow  = map[byte]byte{1: 0x12, 4: 0x12 | paperNearEnd}
	paperGone = map[byte]byte{1: 0x12 | printerOffline, 2: 0x12 | offlinePaperEnd, 4: 0x12 | paperEnd}
	coverOpen = map[byte]byte{1: 0x12 | printerOffline, 2: 0x12 | offlineCoverOpen, 4: 0x12}
	inError   = map[byte]byte{1: 0x12 | printerOffline, 2: 0x12 | 0x40, 4: 0x12}
)

// newPtySerial returns a Serial on a new pty's slave and the fake printer
// on its master, answering answers.
func newPtySerial(t *testing.T, answers map[byte]byte) (*Serial, *fakePrinter) {
	master, slave := openPty(t)
	d := NewSerial(slave, Line{Baud: 115200}, Options{})
	t.Cleanup(func() {
		if d.f != nil {
			d.f.Close()
		}
	})
	return d, newFakePrinter(t, master, answers)
}

// printWithin runs d.Print and fails the test if it does not return
// within a watchdog's while.
func printWithin(t *testing.T, ctx context.Context, d Device, r Receipt) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- d.Print(ctx, r) }()
	select {
	case err := <-done:
		t.Logf("Print returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Print did not return within 10s")
		return nil
	}
}

// TestSerialPrints: a ready printer gets the receipt's exact bytes, asked
// its status before and after.
func TestSerialPrints(t *testing.T) {
	d, p := newPtySerial(t, ready)
	r := receipts[1].r
	if err := printWithin(t, context.Background(), d, r); err != nil {
		t.Fatalf("Print = %v", err)
	}
	want, _ := Render(r, Options{})
	printed, asked := p.got()
	if !bytes.Equal(printed, want) {
		t.Errorf("printer got %d bytes; want the %d Render gives", len(printed), len(want))
	}
	if string(asked) != "\x01\x04\x01\x04" {
		t.Errorf("printer asked DLE EOT % x; want 1 4 before the receipt and 1 4 after", asked)
	}
	if st := d.State(); st != (State{Condition: OK}) {
		t.Errorf("State() = %+v; want ok", st)
	}

	p.answer(paperLow)
	if err := printWithin(t, context.Background(), d, r); err != nil {
		t.Fatalf("Print with the paper low = %v", err)
	}
	if st := d.State(); st != (State{Condition: OK, Reason: "paper low"}) {
		t.Errorf("State() with the paper low = %+v; want ok, paper low", st)
	}
}

// TestSerialStatus: a printer out of paper, open or in error prints
// nothing, and says why in its State.
func TestSerialStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers map[byte]byte
		want    error
		reason  string
	}{
		{"paper out", paperGone, ErrPaperOut, "paper out"},
		{"paper out, online", map[byte]byte{1: 0x12, 4: 0x12 | paperEnd}, ErrPaperOut, "paper out"},
		{"cover open", coverOpen, ErrCoverOpen, "cover open"},
		{"error", inError, ErrOffline, "offline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, p := newPtySerial(t, ready)
			if err := printWithin(t, context.Background(), d, receipts[0].r); err != nil {
				t.Fatalf("Print while ready = %v", err)
			}
			before, _ := p.got()
			p.answer(tc.answers)
			err := printWithin(t, context.Background(), d, receipts[0].r)
			if !errors.Is(err, tc.want) {
				t.Errorf("Print = %v; want %v", err, tc.want)
			}
			if st := d.State(); st != (State{Condition: Fault, Reason: tc.reason}) {
				t.Errorf("State() = %+v; want fault, %s", st, tc.reason)
			}
			if printed, _ := p.got(); len(printed) != len(before) {
				t.Errorf("printer got %d more bytes; want none", len(printed)-len(before))
			}
			p.answer(ready) // a new roll, the cover shut
			if err := printWithin(t, context.Background(), d, receipts[0].r); err != nil || d.State().Condition != OK {
				t.Errorf("Print once ready again = %v, %+v; want nil, ok", err, d.State())
			}
		})
	}
}

// TestSerialGone: a printer whose far end closed (unplugged) is
// Disconnected, and stays so while it is not back.
func TestSerialGone(t *testing.T) {
	d, p := newPtySerial(t, ready)
	if err := printWithin(t, context.Background(), d, receipts[0].r); err != nil {
		t.Fatalf("Print = %v", err)
	}
	p.master.Close()
	for i := range 2 {
		err := printWithin(t, context.Background(), d, receipts[0].r)
		if err == nil {
			t.Fatalf("Print %d after the printer went = nil; want an error", i)
		}
		if st := d.State(); st.Condition != Disconnected || st.Reason == "" {
			t.Errorf("State() after Print %d without the printer = %+v; want disconnected, with the reason", i, st)
		}
	}
}

// TestSerialNoStatus: a printer that never answers status requests prints
// without; one that answered and falls silent is gone.
func TestSerialNoStatus(t *testing.T) {
	d, p := newPtySerial(t, nil)
	d.t.(*serialTransport).reply = 20 * time.Millisecond
	r := receipts[0].r
	want, _ := Render(r, Options{})
	if err := printWithin(t, context.Background(), d, r); err != nil {
		t.Fatalf("Print to a printer without status = %v", err)
	}
	p.await(t, "receipt", func(printed, _ []byte) bool { return len(printed) >= len(want) })
	if printed, _ := p.got(); !bytes.Equal(printed, want) {
		t.Errorf("printer without status got %d bytes; want the %d Render gives", len(printed), len(want))
	}
	if st := d.State(); st.Condition != OK {
		t.Errorf("State() = %+v; want ok", st)
	}

	p.answer(ready)
	if err := printWithin(t, context.Background(), d, r); err != nil {
		t.Fatalf("Print once it answers = %v", err)
	}
	before, _ := p.got()
	p.answer(nil) // switched off behind its adapter
	err := printWithin(t, context.Background(), d, r)
	if !errors.Is(err, errNoReply) {
		t.Errorf("Print to a printer that fell silent = %v; want no status reply", err)
	}
	if st := d.State(); st.Condition != Disconnected || !strings.Contains(st.Reason, "no status reply") {
		t.Errorf("State() = %+v; want disconnected, no status reply", st)
	}
	if printed, _ := p.got(); len(printed) != len(before) {
		t.Errorf("printer that fell silent got %d bytes; want none", len(printed)-len(before))
	}
}

// TestSerialStalled: a printer that never reads (its buffer full, the
// pty's buffer full behind it) holds Print only until ctx ends.
func TestSerialStalled(t *testing.T) {
	master, slave := openPty(t)
	_ = master // open, never read
	d := NewSerial(slave, Line{}, Options{})
	d.t.(*serialTransport).reply = 20 * time.Millisecond
	// A first check opens the line and sets it raw (a pty takes less
	// before that); the printer, never reading, never answers.
	d.check(context.Background())
	if d.f == nil {
		t.Fatalf("the first check did not open %s: %+v", slave, d.State())
	}
	fill(t, slave)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := printWithin(t, ctx, d, receipts[0].r)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "write ") {
		t.Errorf("Print to a printer that never reads = %v; want ctx's error, from the write", err)
	}
	if st := d.State(); st.Condition != Fault || !strings.Contains(st.Reason, "deadline exceeded") {
		t.Errorf("State() = %+v; want a fault saying the write did not finish", st)
	}
	if d.f != nil {
		t.Error("the stalled device is still open; want it closed, to be opened afresh")
	}
}

// TestSerialRun: Run asks the printer again and again while no receipt
// prints, keeps the State, and returns nil when ctx ends.
func TestSerialRun(t *testing.T) {
	d, p := newPtySerial(t, paperGone)
	d.poll = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	// Three DLE EOT 1: the first two checks are over.
	p.await(t, "three checks", func(_, asked []byte) bool { return bytes.Count(asked, []byte{1}) >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
	if st := d.State(); st != (State{Condition: Fault, Reason: "paper out"}) {
		t.Errorf("State() after Run = %+v; want fault, paper out", st)
	}
}
