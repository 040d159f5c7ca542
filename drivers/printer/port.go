package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// What LP and Serial share: the device file kept open between receipts
// (opened again after it failed, so a printer plugged back in works
// without a restart), one user of it at a time, reads and writes that end
// with their context, and the State they keep.

// Timing of the watch between receipts.
const (
	// DefaultPoll is how often Run asks a printer how it is.
	DefaultPoll = 10 * time.Second
	// checkTimeout bounds one check by Run, so a printer that stopped
	// taking data holds the next receipt back no longer than this.
	checkTimeout = 3 * time.Second
)

// transport is how one kind of printer is opened and asked its status.
type transport interface {
	// open opens the device at path for writing (and reading, if it
	// answers), without blocking.
	open(path string) (*os.File, error)
	// status asks the printer how it is: nil if ready or if it cannot
	// tell, with a warning for the State ("paper low"); ErrPaperOut,
	// ErrCoverOpen or ErrOffline wrapped; errNoReply if it stopped
	// answering; or the I/O error. sent is how many bytes were written
	// just before (0 before a receipt): a serial line needs time to send
	// them ahead of the question.
	status(ctx context.Context, f *os.File, sent int) (warning string, err error)
	// discard drops what f has not sent yet, so closing it does not wait
	// for a printer that stopped taking data.
	discard(f *os.File)
}

// port is a printer on a device file. Its fields after busy are used only
// by the goroutine holding busy.
type port struct {
	path string
	opts Options
	poll time.Duration
	h    health

	// busy is a token: the goroutine that put one in owns f and t until
	// it takes it back. A channel rather than a mutex so that waiting for
	// it ends with ctx.
	busy chan struct{}
	t    transport
	f    *os.File // the open device, or nil
}

func newPort(path string, t transport, o Options) port {
	return port{path: path, opts: o, poll: DefaultPoll, t: t, busy: make(chan struct{}, 1)}
}

// print renders r, checks the printer, writes the receipt and checks
// again.
func (p *port) print(ctx context.Context, r Receipt) error {
	b, err := Render(r, p.opts)
	if err != nil {
		return err
	}
	select {
	case p.busy <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.busy }()
	if err := p.ready(ctx, 0); err != nil {
		return err
	}
	if _, err := write(ctx, p.f, b); err != nil {
		return p.lost(ctx, err)
	}
	return p.ready(ctx, len(b))
}

// run checks the printer every p.poll until ctx ends.
func (p *port) run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p.check(ctx)
		t.Reset(p.poll)
	}
}

// check opens the printer if need be and asks its status, unless a
// receipt is printing: Print reports the state then.
func (p *port) check(ctx context.Context) {
	select {
	case p.busy <- struct{}{}:
	default:
		return
	}
	defer func() { <-p.busy }()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	_ = p.ready(ctx, 0) // the state says how it went
}

// ready opens the device if it is not open and asks the printer's status,
// recording the State. sent is as for transport.status. The caller holds
// busy.
func (p *port) ready(ctx context.Context, sent int) error {
	if p.f == nil {
		f, err := p.t.open(p.path)
		if err != nil {
			p.h.failed(err)
			return err
		}
		p.f = f
	}
	warning, err := p.t.status(ctx, p.f, sent)
	switch {
	case err == nil:
		p.h.ok(warning)
		return nil
	case isStatus(err):
		p.h.failed(err)
		when := "before printing"
		if sent > 0 {
			when = "after printing"
		}
		return fmt.Errorf("printer %s %s: %w", p.path, when, err)
	default:
		return p.lost(ctx, err)
	}
}

// lost closes the device after err, which ended a write or a status
// question, records err in the State and returns it. A write cut short
// by the kiosk's deadline is a printer that stopped taking data: a
// fault. One cut short by the kiosk's shutdown says nothing of the
// printer.
func (p *port) lost(ctx context.Context, err error) error {
	p.t.discard(p.f)
	p.f.Close()
	p.f = nil
	if !errors.Is(ctx.Err(), context.Canceled) {
		p.h.failed(err)
	}
	return err
}

// isStatus reports whether err is a printer's answer about itself, rather
// than a failure to ask.
func isStatus(err error) bool {
	return errors.Is(err, ErrPaperOut) || errors.Is(err, ErrCoverOpen) || errors.Is(err, ErrOffline)
}

// Errors of the line to a printer.
var (
	// errNoReply: a printer that answered status questions before stopped
	// answering: switched off, or its cable pulled, behind a serial
	// adapter that is still there.
	errNoReply = errors.New("no status reply")
	// errHangup: end of file on the device, the far end of a pty closed.
	errHangup = errors.New("device hung up")
)

// gone reports whether err says the printer is not there (never plugged
// in, unplugged, switched off) rather than failing.
func gone(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) ||
		errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.EIO) ||
		errors.Is(err, syscall.EPIPE) || // a FIFO's reader, standing in for a printer, went away
		errors.Is(err, errHangup) || errors.Is(err, errNoReply)
}

// longAgo is a deadline already past: it ends a read or write at once.
var longAgo = time.Unix(1, 0)

// write writes p to f, ending when ctx does: f must be pollable (a
// character device, a FIFO) for that; a regular file never blocks for
// long. Its errors name the call and the file; if ctx ended the write,
// the error wraps ctx's.
func write(ctx context.Context, f *os.File, p []byte) (int, error) {
	return withContext(ctx, "write", f, time.Time{}, f.SetWriteDeadline, func() (int, error) { return f.Write(p) })
}

// read reads into p from f, ending at dl (os.ErrDeadlineExceeded) or when
// ctx ends (ctx's error), whichever is first. End of file is errHangup.
func read(ctx context.Context, f *os.File, p []byte, dl time.Time) (int, error) {
	n, err := withContext(ctx, "read", f, dl, f.SetReadDeadline, func() (int, error) { return f.Read(p) })
	if err == io.EOF {
		err = &os.PathError{Op: "read", Path: f.Name(), Err: errHangup}
	}
	return n, err
}

// withContext runs op, the call named op on f, with the deadline set by
// setDeadline at the earlier of dl (zero: none) and ctx's, and set to the
// past when ctx ends.
func withContext(ctx context.Context, name string, f *os.File, dl time.Time, setDeadline func(time.Time) error, op func() (int, error)) (int, error) {
	ctxErr := func() error { return &os.PathError{Op: name, Path: f.Name(), Err: ctx.Err()} }
	if ctx.Err() != nil {
		return 0, ctxErr()
	}
	ctxDL, ok := ctx.Deadline()
	byCtx := ok && (dl.IsZero() || !ctxDL.After(dl))
	if byCtx {
		dl = ctxDL
	}
	if err := setDeadline(dl); err != nil && !errors.Is(err, os.ErrNoDeadline) {
		return 0, err
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		setDeadline(longAgo)
	})
	n, err := op()
	if !stop() {
		<-done // the deadline is ours again only once the func returned
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		err = ctxErr()
	case byCtx && errors.Is(err, os.ErrDeadlineExceeded):
		<-ctx.Done() // ctx's own timer fires a moment after the poller's
		err = ctxErr()
	}
	return n, err
}

// health is a driver's State, safe for any goroutine.
type health struct {
	mu     sync.Mutex
	st     State
	opened bool // the device was open once: gone is Disconnected, not Absent
}

func (h *health) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.st.Condition == "" {
		return State{Condition: Absent, Reason: "not looked for yet"}
	}
	return h.st
}

// ok records that the printer answered, or took a receipt.
func (h *health) ok(warning string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opened = true
	h.st = State{Condition: OK, Reason: warning}
}

// failed records why the printer cannot print: what it said of itself, a
// device not there (Absent until it was open once, Disconnected after), or
// any other failure (a Fault).
func (h *health) failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range []error{ErrPaperOut, ErrCoverOpen, ErrOffline} {
		if errors.Is(err, s) {
			h.opened = true
			h.st = State{Condition: Fault, Reason: s.Error()}
			return
		}
	}
	switch {
	case !gone(err):
		h.st = State{Condition: Fault, Reason: err.Error()}
	case h.opened:
		h.st = State{Condition: Disconnected, Reason: err.Error()}
	default:
		h.st = State{Condition: Absent, Reason: err.Error()}
	}
}
