package scanner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// The serial driver's tests run it on real ptys (pty_test.go): the bytes
// go through the kernel's tty layer as a scanner's do.

// patience bounds every wait, so that a broken driver fails its test
// instead of hanging it. It is no figure of speed: that is bench_test.go's.
const patience = 10 * time.Second

// serialSource parses "serial:"+path+opts, as the kiosk's configuration
// would name the scanner.
func serialSource(t testing.TB, path, opts string) Source {
	t.Helper()
	src, err := ParseSource("serial:" + path + opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// A running driver: Run in its own goroutine, stopped (and checked to
// return nil) when the test ends.
type running struct {
	d      Device
	out    chan Scan
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func start(t testing.TB, d Device) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, out: make(chan Scan), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx, r.out) }()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run() = %v; want nil once ctx ended", err)
		}
	})
	return r
}

// stop ends ctx and returns what Run returned.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(patience):
			r.err = fmt.Errorf("Run did not return within %v of ctx ending", patience)
		}
	})
	return r.err
}

// recv returns the next scan.
func (r *running) recv(t testing.TB) Scan {
	t.Helper()
	select {
	case s := <-r.out:
		return s
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Run returned %v before a scan came", err)
	case <-time.After(patience):
		t.Fatalf("no scan within %v; state %+v", patience, r.d.State())
	}
	return Scan{}
}

// expect receives one scan per want, in order: a text, or "!"+reason for
// a rejected scan.
func (r *running) expect(t testing.TB, want ...string) []Scan {
	t.Helper()
	var got []Scan
	for _, w := range want {
		s := r.recv(t)
		got = append(got, s)
		if g := show(s); g != w {
			t.Errorf("scan %d = %q; want %q", len(got), g, w)
		}
	}
	return got
}

// show is a scan as expect compares it.
func show(s Scan) string {
	if s.Rejected != "" {
		return "!" + s.Rejected
	}
	return s.Text
}

// waitState waits until the device reports c, and returns its State.
func waitState(t testing.TB, d Device, c Condition) State {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		st := d.State()
		if st.Condition == c {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("State() = %+v; want %s within %v", st, c, patience)
		}
		time.Sleep(time.Millisecond)
	}
}

// startPTY runs a serial scanner (options opts) on a new pty and waits
// until the port is open: bytes written before the driver set raw mode
// would go through the tty's cooked mode (echo, CR to LF).
func startPTY(t testing.TB, opts string) (*pty, *running) {
	t.Helper()
	p := openPTY(t)
	r := start(t, NewSerial(serialSource(t, p.slave, opts)))
	waitState(t, r.d, OK)
	return p, r
}

func TestSerialTerminators(t *testing.T) {
	for _, tc := range []struct {
		opts, write string
		want        []string
	}{
		{"", "ABC\r\nDEF\r\n", []string{"ABC", "DEF"}},
		{"", "CR\rLF\nCRLF\r\n", []string{"CR", "LF", "CRLF"}},
		{"", "\r\n\r\n\n\rONE\r\n\r\n", []string{"ONE"}}, // empty lines are no scans
		{"?term=crlf", "SDC1:6BF+Q2 $%*./:\r\n", []string{"SDC1:6BF+Q2 $%*./:"}},
		{"?term=cr", "ABC\rDEF\r\r", []string{"ABC", "DEF"}},
		{"?term=lf", "ABC\nDEF\n", []string{"ABC", "DEF"}},
		{"?term=tab", "ABC\tDEF\t", []string{"ABC", "DEF"}},
		{"?term=cr", "A\nB\r", []string{"!" + RejectControl}}, // LF is no terminator then
		{"?term=tab", "A\r\n\t", []string{"!" + RejectControl}},
		{"", "trailing space \r\n", []string{"trailing space "}},
	} {
		t.Run(fmt.Sprintf("%s%q", tc.opts, tc.write), func(t *testing.T) {
			opts := "?idle=1s" // only the terminators end these scans
			if tc.opts != "" {
				opts = tc.opts + "&idle=1s"
			}
			p, r := startPTY(t, opts)
			before := time.Now()
			p.write(t, tc.write)
			// END proves nothing came between the scans wanted and it.
			p.write(t, "END"+string(r.d.(*Serial).src.Term[0]))
			for _, s := range r.expect(t, append(tc.want, "END")...) {
				if s.At.Before(before) || s.At.After(time.Now()) {
					t.Errorf("scan At = %v; want between the write (%v) and now", s.At, before)
				}
			}
		})
	}
}

// TestSerialIdle: a code without a terminator ends when Idle passes
// without a byte, with or without terminators set up; its At is when its
// last byte came, not when Idle ran out.
func TestSerialIdle(t *testing.T) {
	const idle = 30 * time.Millisecond
	for _, opts := range []string{"?term=none&idle=30ms", "?idle=30ms"} {
		t.Run(opts, func(t *testing.T) {
			p, r := startPTY(t, opts)
			for _, code := range []string{"ABC", "SDC1:NEXT", "X"} {
				before := time.Now()
				p.write(t, code)
				s := r.expect(t, code)[0]
				if s.At.Before(before) {
					t.Errorf("scan At = %v; want when its last byte came, after the write (%v)", s.At, before)
				}
				if got := time.Since(s.At); got < idle {
					t.Errorf("scan came %v after its last byte; want at least idle (%v)", got, idle)
				}
			}
		})
	}
}

// TestSerialRejects: a scan over MaxScan, or with a control byte, or not
// UTF-8 is rejected (the person is told), and the scan after it is read
// as if nothing happened.
func TestSerialRejects(t *testing.T) {
	p, r := startPTY(t, "")
	p.write(t, strings.Repeat("A", MaxScan+1)+"\r\nOK1\r\n")
	r.expect(t, "!"+RejectTooLong, "OK1")
	p.write(t, strings.Repeat("B", 3*MaxScan)+"\r\nOK2\r\n")
	r.expect(t, "!"+RejectTooLong, "OK2")
	p.write(t, strings.Repeat("C", MaxScan)+"\r\n") // at the cap: taken
	r.expect(t, strings.Repeat("C", MaxScan))
	for _, bad := range []string{"A\x00B", "\x1b[A", "A\tB", "DEL\x7f", "\x04"} {
		p.write(t, bad+"\r\nOK\r\n")
		r.expect(t, "!"+RejectControl, "OK")
	}
	p.write(t, "\xff\xfe\r\nné 日本\r\n")
	r.expect(t, "!"+RejectNotText, "né 日本")
}

func TestSerialDedup(t *testing.T) {
	t.Run("within the window", func(t *testing.T) {
		p, r := startPTY(t, "") // DefaultDedup
		p.write(t, "X\r\nX\r\nX\r\nY\r\nX\r\n")
		r.expect(t, "X", "Y", "X") // X again after Y is a new scan
	})
	t.Run("after the window", func(t *testing.T) {
		const window = 40 * time.Millisecond
		p, r := startPTY(t, "?dedup=40ms")
		p.write(t, "X\r\n")
		first := r.expect(t, "X")[0]
		time.Sleep(window - time.Since(first.At) + time.Millisecond)
		p.write(t, "X\r\nEND\r\n")
		r.expect(t, "X", "END")
	})
	t.Run("off", func(t *testing.T) {
		p, r := startPTY(t, "?dedup=0s")
		p.write(t, "X\r\nX\r\n")
		r.expect(t, "X", "X")
	})
	t.Run("rejected scans are not folded", func(t *testing.T) {
		p, r := startPTY(t, "")
		p.write(t, "\x01\r\n\x01\r\n")
		r.expect(t, "!"+RejectControl, "!"+RejectControl)
	})
}

// TestSerialNothingLost: 1,000 scans written back to back all arrive, in
// order, whether the reader keeps up or takes none until all are written
// (the tty buffers them; the driver waits on out and loses none).
func TestSerialNothingLost(t *testing.T) {
	const n = 1000
	code := func(i int) string { return fmt.Sprintf("SDC1:%04d", i) }
	t.Run("reader keeps up", func(t *testing.T) {
		p, r := startPTY(t, "")
		go func() {
			for i := range n {
				if _, err := p.master.WriteString(code(i) + "\r\n"); err != nil {
					return // the test fails on the scans missing
				}
			}
		}()
		for i := range n {
			if s := r.recv(t); s.Text != code(i) {
				t.Fatalf("scan %d = %q; want %q", i, show(s), code(i))
			}
		}
	})
	t.Run("reader waits", func(t *testing.T) {
		p, r := startPTY(t, "")
		var all strings.Builder
		for i := range n {
			all.WriteString(code(i) + "\r\n")
		}
		p.write(t, all.String())
		for i := range n {
			if s := r.recv(t); s.Text != code(i) {
				t.Fatalf("scan %d = %q; want %q", i, show(s), code(i))
			}
		}
	})
}

// TestSerialUnplug: a scanner unplugged is Disconnected, and works again
// when plugged back in, under a new /dev/pts/N behind the same symlink, as
// udev's /dev/kiosk-scanner would be.
func TestSerialUnplug(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "kiosk-scanner")
	p := openPTY(t)
	p.link(t, dev)
	s := NewSerial(serialSource(t, dev, ""))
	s.retry = time.Millisecond
	if st := s.State(); st.Condition != Absent {
		t.Errorf("State() before Run = %+v; want absent", st)
	}
	r := start(t, s)
	waitState(t, s, OK)
	p.write(t, "BEFORE\r\n")
	r.expect(t, "BEFORE")

	p.write(t, "HALF") // a scan cut by the unplug is no scan
	p.unplug(t)
	st := waitState(t, s, Disconnected)
	if !strings.Contains(st.Reason, dev) {
		t.Errorf("disconnected Reason = %q; want it to name %s", st.Reason, dev)
	}

	p = openPTY(t)
	p.link(t, dev)
	waitState(t, s, OK)
	p.write(t, "AFTER\r\n")
	r.expect(t, "AFTER")
}

// TestSerialHangup: the read that fails when the scanner goes (a tty
// hung up reads end of file) says so: Disconnected, not a Fault.
func TestSerialHangup(t *testing.T) {
	p := openPTY(t)
	s := NewSerial(serialSource(t, p.slave, ""))
	s.retry = time.Hour // the state is the read's, not a later open's
	start(t, s)
	waitState(t, s, OK)
	p.unplug(t)
	st := waitState(t, s, Disconnected)
	if want := "read " + p.slave + ": device hung up"; st.Reason != want {
		t.Errorf("Reason = %q; want %q", st.Reason, want)
	}
}

// TestSerialAbsent: a scanner not plugged in when the kiosk starts is
// Absent, saying why, and is read as soon as it appears.
func TestSerialAbsent(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "kiosk-scanner")
	s := NewSerial(serialSource(t, dev, ""))
	s.retry = time.Millisecond
	r := start(t, s)
	deadline := time.Now().Add(patience)
	for st := s.State(); st.Reason == ""; st = s.State() { // tried and failed once
		if st.Condition != Absent || time.Now().After(deadline) {
			t.Fatalf("State() = %+v; want absent with a reason", st)
		}
		time.Sleep(time.Millisecond)
	}
	if st, want := s.State(), "open "+dev+": no such file or directory"; st != (State{Condition: Absent, Reason: want}) {
		t.Errorf("State() = %+v; want absent: %q", st, want)
	}
	p := openPTY(t)
	p.link(t, dev)
	waitState(t, s, OK)
	p.write(t, "HELLO\r\n")
	r.expect(t, "HELLO")
}

// TestSerialFault: a device that is there but no tty is a Fault, and Run
// goes on (and returns nil when ctx ends): the kiosk keeps its screen and
// its help button.
func TestSerialFault(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "not-a-tty")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, NewSerial(serialSource(t, dev, "")))
	st := waitState(t, r.d, Fault)
	if want := "open " + dev + ": "; !strings.HasPrefix(st.Reason, want) || !strings.Contains(st.Reason, "inappropriate ioctl") {
		t.Errorf("Reason = %q; want %q… naming the failing ioctl", st.Reason, want)
	}
	if err := r.stop(); err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}

// TestSerialPermissionDenied: a node the kiosk's user may not open (the
// udev rule is missing) is a Fault whose reason says what to install. It
// needs a user without CAP_DAC_OVERRIDE: run as root, the test runs itself
// again as nobody.
func TestSerialPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		rerunAsNobody(t, "TestSerialPermissionDenied")
		return
	}
	dev := filepath.Join(t.TempDir(), "ttyACM0")
	if err := os.WriteFile(dev, nil, 0o000); err != nil {
		t.Fatal(err)
	}
	r := start(t, NewSerial(serialSource(t, dev, "")))
	st := waitState(t, r.d, Fault)
	for _, want := range []string{"open " + dev + ": permission denied", "kiosk", "70-kiosk-scanner.rules"} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("Reason = %q; want it to say %q", st.Reason, want)
		}
	}
}

// rerunAsNobody runs the test binary's test named name as the user nobody
// (65534), and fails this test with its output if it fails.
func rerunAsNobody(t *testing.T, name string) {
	t.Helper()
	// nobody must be able to reach the binary: a copy in a world-readable
	// directory, as the go command's is not.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "scanner.test")
	if err := copyFile(exe, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(err.Error(), "operation not permitted") {
		testenv.RequireOrSkip(t, "needs to run a process as nobody: %v", err)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Errorf("%s as nobody: %v\n%s", name, err, out)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestSerialStop: Run returns nil at once when ctx ends, whether it waits
// for a byte (the port is closed under its Read) or for the caller to take
// a scan, or is looking for a missing device.
func TestSerialStop(t *testing.T) {
	t.Run("reading", func(t *testing.T) {
		_, r := startPTY(t, "")
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	})
	t.Run("mid-scan", func(t *testing.T) {
		p, r := startPTY(t, "?idle=1s")
		p.write(t, "HALF")
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	})
	t.Run("sending", func(t *testing.T) {
		p, r := startPTY(t, "")
		p.write(t, "NOBODY TAKES IT\r\n")
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	})
	t.Run("absent", func(t *testing.T) {
		r := start(t, NewSerial(serialSource(t, filepath.Join(t.TempDir(), "none"), "")))
		waitState(t, r.d, Absent)
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	})
}
