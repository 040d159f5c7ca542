package printer

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// openPty opens a pseudo-terminal and returns its master, on which the
// test plays the printer, and the path of its slave, which the driver
// opens as it would /dev/ttyUSB0. The master is closed when the test ends
// (or before, to unplug the printer).
func openPty(t *testing.T) (master *os.File, slave string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		testenv.RequireOrSkip(t, "needs a pty: open /dev/ptmx: %v", err)
	}
	// Non-blocking, the master joins Go's poller: closing it ends the
	// fake printer's Read.
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("ioctl TIOCSPTLCK: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ioctl TIOCGPTN: %v", err)
	}
	return master, fmt.Sprintf("/dev/pts/%d", n)
}

// fakePrinter plays an ESC/POS printer on a pty's master: it answers DLE
// EOT n with answers[n] (or not at all, when answers has no n), and keeps
// every other byte as printed.
type fakePrinter struct {
	master *os.File

	mu      sync.Mutex
	changed *sync.Cond
	answers map[byte]byte
	printed []byte
	asked   []byte // the n of each DLE EOT n, in order
}

// newFakePrinter starts a printer answering answers on master; it stops
// when master is closed.
func newFakePrinter(t *testing.T, master *os.File, answers map[byte]byte) *fakePrinter {
	p := &fakePrinter{master: master, answers: answers}
	p.changed = sync.NewCond(&p.mu)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.serve()
	}()
	t.Cleanup(func() {
		master.Close()
		<-done
	})
	return p
}

func (p *fakePrinter) serve() {
	buf := make([]byte, 4096)
	var held []byte // DLE, or DLE EOT: the start of a status request
	for {
		n, err := p.master.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		for _, b := range buf[:n] {
			switch {
			case len(held) == 0 && b == dle, len(held) == 1 && b == eot:
				held = append(held, b)
				continue
			case len(held) == 2:
				held = held[:0]
				p.asked = append(p.asked, b)
				if a, ok := p.answers[b]; ok {
					p.master.Write([]byte{a})
				}
				continue
			}
			p.printed = append(append(p.printed, held...), b)
			held = held[:0]
		}
		p.changed.Broadcast()
		p.mu.Unlock()
	}
}

// answer sets the answers to DLE EOT requests from now on.
func (p *fakePrinter) answer(answers map[byte]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers = answers
}

// got returns what was printed and asked so far.
func (p *fakePrinter) got() (printed, asked []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.printed...), append([]byte(nil), p.asked...)
}

// await waits until cond holds of what was printed and asked, or fails
// the test after a while (a watchdog, not a measure).
func (p *fakePrinter) await(t *testing.T, what string, cond func(printed, asked []byte) bool) {
	t.Helper()
	timeout := time.AfterFunc(10*time.Second, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.changed.Broadcast()
	})
	defer timeout.Stop()
	deadline := time.Now().Add(10 * time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	for !cond(p.printed, p.asked) {
		if time.Now().After(deadline) {
			t.Fatalf("fake printer: no %s after 10s; printed %d bytes, asked %v", what, len(p.printed), p.asked)
		}
		p.changed.Wait()
	}
}

// fill writes to path, a FIFO or a pty's slave, until it takes no more
// (for 200 ms): the buffers between it and a reader that never reads are
// full.
func fill(t *testing.T, path string) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s to fill it: %v", path, err)
	}
	defer unix.Close(fd)
	chunk := make([]byte, 4096)
	for total := 0; ; {
		n, err := unix.Write(fd, chunk)
		switch {
		case errors.Is(err, unix.EAGAIN) && len(chunk) == 1:
			// The kernel moves what was written on to the reader's side a
			// moment later, and room appears: full is when none does.
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if n, err := unix.Poll(pfd, 200); err == nil && n == 0 {
				t.Logf("%s full after %d bytes", path, total)
				return
			}
			chunk = chunk[:cap(chunk)]
		case errors.Is(err, unix.EAGAIN):
			chunk = chunk[:len(chunk)/2] // a pty takes a small write where a large one would not fit
		case err != nil:
			t.Fatalf("write %s: %v", path, err)
		}
		total += max(n, 0)
		if total > 64<<20 {
			t.Fatalf("write %s: took 64 MiB without filling up", path)
		}
	}
}
