package printer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLPFile: a regular file standing in for /dev/usb/lp0 does not answer
// LPGETSTATUS (ENOTTY): the status is unknown, and the receipts print.
func TestLPFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lp0")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := NewLP(path, Options{Columns: 32})
	t.Cleanup(func() { closeDev(&d.port) })
	for _, r := range []Receipt{receipts[0].r, receipts[1].r} {
		if err := printWithin(t, context.Background(), d, r); err != nil {
			t.Fatalf("Print = %v", err)
		}
	}
	a, _ := Render(receipts[0].r, Options{Columns: 32})
	b, _ := Render(receipts[1].r, Options{Columns: 32})
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(a, b...)) {
		t.Errorf("%s holds %d bytes; want the %d of two receipts", path, len(got), len(a)+len(b))
	}
	if st := d.State(); st != (State{Condition: OK}) {
		t.Errorf("State() = %+v; want ok", st)
	}
}

// TestLPComesAndGoes: a printer not there is Absent and looked for again;
// once it was there, gone is Disconnected. A FIFO stands in for it: no
// reader is no printer (ENXIO), a reader gone is one unplugged (EPIPE).
func TestLPComesAndGoes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lp0")
	d := NewLP(path, Options{})
	t.Cleanup(func() { closeDev(&d.port) })
	ctx := context.Background()

	err := printWithin(t, ctx, d, receipts[0].r)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Print to a missing device = %v; want not exist", err)
	}
	if st := d.State(); st.Condition != Absent || !strings.Contains(st.Reason, path) {
		t.Errorf("State() of a missing device = %+v; want absent, naming %s", st, path)
	}

	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	d.check(ctx) // Run's check: nobody reads yet
	if st := d.State(); st.Condition != Absent || !strings.Contains(st.Reason, "no such device or address") {
		t.Errorf("State() of a FIFO without a reader = %+v; want absent, ENXIO", st)
	}

	reader, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.check(ctx) // the printer was plugged in
	if st := d.State(); st != (State{Condition: OK}) {
		t.Errorf("State() once plugged in = %+v; want ok", st)
	}
	want, _ := Render(receipts[0].r, Options{})
	if err := printWithin(t, ctx, d, receipts[0].r); err != nil {
		t.Fatalf("Print = %v", err)
	}
	got := make([]byte, len(want)+1)
	reader.SetReadDeadline(time.Now().Add(10 * time.Second)) // a watchdog
	n, err := io.ReadAtLeast(reader, got, len(want))
	if err != nil || !bytes.Equal(got[:n], want) {
		t.Errorf("the FIFO's reader got %d bytes, %v; want the %d Render gives", n, err, len(want))
	}

	reader.Close() // unplugged
	for i := range 2 {
		if err := printWithin(t, ctx, d, receipts[0].r); err == nil {
			t.Errorf("Print %d after unplugging = nil; want an error", i)
		}
		if st := d.State(); st.Condition != Disconnected {
			t.Errorf("State() after Print %d without the printer = %+v; want disconnected", i, st)
		}
	}
}

// TestLPStalled: a printer that takes no data (a FIFO whose reader never
// reads, full) holds the receipt's write only until ctx ends.
func TestLPStalled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lp0")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	reader, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	d := NewLP(path, Options{})
	t.Cleanup(func() { closeDev(&d.port) })
	fill(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = printWithin(t, ctx, d, receipts[0].r)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "write "+path) {
		t.Errorf("Print to a printer that takes nothing = %v; want ctx's error, from the write", err)
	}
	if st := d.State(); st.Condition != Fault || !strings.Contains(st.Reason, "deadline exceeded") {
		t.Errorf("State() = %+v; want a fault saying the write did not finish", st)
	}

	// Another receipt waits for the first, but no longer than its own ctx.
	d.busy <- struct{}{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := printWithin(t, ctx2, d, receipts[0].r); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Print while another prints = %v; want ctx's error", err)
	}
	<-d.busy
}

// TestLPDecode: the status byte read as usblp reads it.
func TestLPDecode(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   error
	}{
		{lpPSelected | lpPError, nil},        // 0x18: ready
		{lpPSelected | lpPError | 0x07, nil}, // the low bits mean nothing
		{lpPSelected | lpPError | lpPaperOut, ErrPaperOut},
		{lpPaperOut, ErrPaperOut}, // paper out comes first
		{lpPError, ErrOffline},    // not selected
		{lpPSelected, ErrOffline}, // error (active low)
		{0, ErrOffline},
	} {
		if got := lpDecode(tc.status); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("lpDecode(%#x) = %v; want %v", tc.status, got, tc.want)
		}
	}
}

// TestLPRun: Run on a printer that is not there reports it and returns
// nil when ctx ends.
func TestLPRun(t *testing.T) {
	d := NewLP(filepath.Join(t.TempDir(), "lp0"), Options{})
	d.poll = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of ctx ending")
	}
	if st := d.State(); st.Condition != Absent {
		t.Errorf("State() = %+v; want absent", st)
	}
}

// closeDev closes a port's device, if open, when a test ends.
func closeDev(p *port) {
	if p.f != nil {
		p.f.Close()
	}
}
