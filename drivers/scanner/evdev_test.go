package scanner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// The evdev driver's tests. The decoder's are pure: events in, scans out.
// The driver's run it on a FIFO standing in for /dev/input/event*
// (grab=false), as this machine has no input devices: the same reads,
// deadlines and hang-ups, with the records a kernel would write.

// eventFIFO is a named pipe standing in for an event device.
type eventFIFO struct {
	path string
	f    *os.File
}

// newEventFIFO makes a FIFO at path and opens it for reading and writing:
// that never blocks, and the FIFO keeps a writer, so the driver reads no
// end of file until unplug, and a reader, so nothing written is lost
// while the driver is between two sessions.
func newEventFIFO(t testing.TB, path string) *eventFIFO {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &eventFIFO{path: path, f: f}
}

// write writes b, as the kernel hands records to a reader.
func (p *eventFIFO) write(t testing.TB, b []byte) {
	if _, err := p.f.Write(b); err != nil {
		t.Errorf("write %s: %v", p.path, err) // not Fatal: called from play's goroutine
	}
}

// play writes evs as records of size record, keeping the recording's
// pauses of idle or more, so the driver's read deadline ends scans as on
// a device; what comes closer together is written at once.
func (p *eventFIFO) play(t testing.TB, evs []Event, record int, idle time.Duration) {
	from := 0
	for i := 1; i <= len(evs); i++ {
		if i < len(evs) && evs[i].Time-evs[i-1].Time < idle {
			continue
		}
		p.write(t, EncodeEvents(evs[from:i], record))
		if i < len(evs) {
			time.Sleep(evs[i].Time - evs[i-1].Time) // the recording's pause, not a wait for a result
		}
		from = i
	}
}

// unplug closes the test's end (the driver reads end of file) and removes
// the FIFO, as a device node goes when its device is unplugged.
func (p *eventFIFO) unplug(t testing.TB) {
	t.Helper()
	if err := errors.Join(p.f.Close(), os.Remove(p.path)); err != nil {
		t.Fatal(err)
	}
}

// fifoSource is an evdev source on a FIFO: not grabbed, as a FIFO cannot
// be.
func fifoSource(path, layout string, record int) Source {
	return Source{Kind: KindEvdev, Path: path, Layout: layout, Idle: DefaultIdle, Record: record, Dedup: DefaultDedup}
}

// TestEvdevReplay plays every recording of testdata/evdev to the driver, as
// 16- and 24-byte records, and checks the scans its header wants, and
// that no other scan is under way when the FIFO's writer goes.
func TestEvdevReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "evdev", "*.evemu"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in testdata/evdev: %v", err)
	}
	for _, path := range files {
		rec, err := readRecording(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, record := range []int{record32, record64} {
			t.Run(filepath.Base(path)+"/"+strconv.Itoa(record), func(t *testing.T) {
				t.Parallel()
				p := newEventFIFO(t, filepath.Join(t.TempDir(), "event0"))
				src := fifoSource(p.path, rec.layout, record)
				src.Idle = rec.idle
				e := NewEvdev(src)
				r := start(t, e)
				played := make(chan struct{})
				go func() {
					defer close(played)
					p.play(t, rec.events, record, rec.idle)
				}()
				r.expect(t, rec.want...)
				<-played
				p.unplug(t)
				waitState(t, e, Disconnected) // not blocked sending a scan not wanted
			})
		}
	}
}

// TestEvdevIdle: a scan with no terminator ends idle after its last key
// was read (the read deadline), and keys whose timestamps are further
// apart than idle are two scans even when read at once.
func TestEvdevIdle(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		p := newEventFIFO(t, filepath.Join(t.TempDir(), "event0"))
		src := fifoSource(p.path, "us", nativeRecord)
		src.Idle = 30 * time.Millisecond
		r := start(t, NewEvdev(src))
		// Timestamps all 0: only the deadline can end the scan.
		p.write(t, EncodeEvents(noEnter(generate0(t, "ABC")), nativeRecord))
		s := r.expect(t, "ABC")[0]
		if waited := time.Since(s.At); waited < src.Idle {
			t.Errorf("scan came %v after its last key; want idle (%v) or more", waited, src.Idle)
		}
		p.write(t, EncodeEvents(generate0(t, "DEF"), nativeRecord))
		r.expect(t, "DEF")
	})
	t.Run("timestamps", func(t *testing.T) {
		p := newEventFIFO(t, filepath.Join(t.TempDir(), "event0"))
		src := fifoSource(p.path, "us", nativeRecord)
		src.Idle = MaxIdle
		r := start(t, NewEvdev(src))
		p.write(t, EncodeEvents(join(MaxIdle+time.Millisecond, noEnter(generate0(t, "ABC")), generate0(t, "DEF")), nativeRecord))
		r.expect(t, "ABC", "DEF")
	})
}

// generate0 is Generate with every event at time 0.
func generate0(t testing.TB, text string) []Event {
	t.Helper()
	evs, err := Generate(text, "us", 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestEvdevGrab: with grab=true, a device that cannot be grabbed (a FIFO,
// a regular file: ENOTTY) is a Fault saying so, and not a byte of it is
// read: a key read ungrabbed could also have reached the browser.
func TestEvdevGrab(t *testing.T) {
	data := EncodeEvents(generate0(t, "SECRET"), nativeRecord)
	for _, kind := range []string{"fifo", "file"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "event0")
			var p *eventFIFO
			if kind == "fifo" {
				p = newEventFIFO(t, path)
				p.write(t, data)
			} else if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			src := fifoSource(path, "us", nativeRecord)
			src.Grab = true
			e := NewEvdev(src)
			e.retry = time.Millisecond
			r := start(t, e)
			st := waitState(t, e, Fault)
			if want := "grab " + path + ": inappropriate ioctl for device"; st.Reason != want {
				t.Errorf("Reason = %q; want %q", st.Reason, want)
			}
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			select {
			case s := <-r.out:
				t.Errorf("scan %q read from a device not grabbed", show(s))
			default:
			}
			if p != nil {
				p.f.SetReadDeadline(time.Now().Add(patience))
				got := make([]byte, len(data))
				if _, err := io.ReadFull(p.f, got); err != nil || !bytes.Equal(got, data) {
					t.Errorf("the FIFO held %x, %v after Run; want all that was written: nothing read", got, err)
				}
			}
		})
	}
}

// TestEvdevNotDevice: a regular file, not grabbed, is not read either: its
// scans would be read again each session.
func TestEvdevNotDevice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "event0")
	if err := os.WriteFile(path, EncodeEvents(generate0(t, "AGAIN"), nativeRecord), 0o600); err != nil {
		t.Fatal(err)
	}
	e := NewEvdev(fifoSource(path, "us", nativeRecord))
	start(t, e)
	if st, want := waitState(t, e, Fault), "open "+path+": not a character device or FIFO"; st.Reason != want {
		t.Errorf("Reason = %q; want %q", st.Reason, want)
	}
}

// TestEvdevReplug: a scanner not there when Run starts is Absent; it is
// read once it appears; unplugged it is Disconnected, the scan it was
// typing discarded; plugged back in (a new device node at the same path)
// it is read again, without a restart.
func TestEvdevReplug(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kiosk-scanner")
	src := fifoSource(path, "fr", nativeRecord)
	src.Idle = MaxIdle // the scan cut by the unplug must not end by idle first
	e := NewEvdev(src)
	e.retry = time.Millisecond
	if st := e.State(); st.Condition != Absent {
		t.Errorf("State() before Run = %+v; want absent", st)
	}
	r := start(t, e)

	p := newEventFIFO(t, path)
	waitState(t, e, OK)
	p.write(t, EncodeEvents(generateIn(t, "BEFORE", "fr"), nativeRecord))
	r.expect(t, "BEFORE")

	p.write(t, EncodeEvents(noEnter(generateIn(t, "HALF", "fr")), nativeRecord))
	p.unplug(t)
	// Disconnected once the session ended: had it sent HALF, it would
	// wait on out still.
	if st := waitState(t, e, Disconnected); !strings.Contains(st.Reason, path) {
		t.Errorf("disconnected Reason = %q; want it to name %s", st.Reason, path)
	}

	p = newEventFIFO(t, path)
	waitState(t, e, OK)
	p.write(t, EncodeEvents(generateIn(t, "AFTER", "fr"), nativeRecord))
	r.expect(t, "AFTER")
}

func generateIn(t testing.TB, text, layout string) []Event {
	t.Helper()
	evs, err := Generate(text, layout, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestEvdevNoWriter: a FIFO no one writes reads end of file at once; the
// session says it hung up and never reported the device OK, so a kiosk
// looking for its device does not flap between OK and Disconnected.
func TestEvdevNoWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "event0")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	e := NewEvdev(fifoSource(path, "us", nativeRecord))
	err := e.session(context.Background(), make(chan Scan), &dedup{})
	if !errors.Is(err, errHangup) || e.State().Condition != Absent {
		t.Errorf("session() = %v, State() = %+v; want it hung up, never OK", err, e.State())
	}
}

// TestEvdevLateRead: a read whose deadline passed before it began (its
// goroutine came late) still reads the keys waiting, so the scan they are
// part of does not end early, split in two.
func TestEvdevLateRead(t *testing.T) {
	p := newEventFIFO(t, filepath.Join(t.TempDir(), "event0"))
	want := EncodeEvents(keys(keyA), nativeRecord)
	p.write(t, want)
	f, err := openEvdev(p.path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64*nativeRecord)
	n, err := readUntil(context.Background(), f, raw, buf, time.Now().Add(-time.Second))
	if err != nil || !bytes.Equal(buf[:n], want) {
		t.Errorf("readUntil(a deadline passed) = %x, %v; want the records waiting", buf[:n], err)
	}
	if n, err = readUntil(context.Background(), f, raw, buf, time.Now().Add(-time.Second)); !errors.Is(err, errNoData) {
		t.Errorf("readUntil(a deadline passed, nothing waiting) = %d, %v; want errNoData", n, err)
	}
}

// TestEvdevDedup: the same code read again within the dedup window is
// one scan; another code is not.
func TestEvdevDedup(t *testing.T) {
	p := newEventFIFO(t, filepath.Join(t.TempDir(), "event0"))
	r := start(t, NewEvdev(fifoSource(p.path, "uk", nativeRecord)))
	p.write(t, EncodeEvents(slices.Concat(generateIn(t, "SAME", "uk"), generateIn(t, "SAME", "uk"), generateIn(t, "NEXT", "uk")), nativeRecord))
	r.expect(t, "SAME", "NEXT")
}

// TestEvdevSplitRecord: a record read in two parts (a FIFO's writer may
// split one; the kernel does not) is decoded whole.
func TestEvdevSplitRecord(t *testing.T) {
	p := newEventFIFO(t, filepath.Join(t.TempDir(), "event0"))
	e := NewEvdev(fifoSource(p.path, "us", nativeRecord))
	r := start(t, e)
	waitState(t, e, OK)
	b := EncodeEvents(keys(keyA, keyEnter), nativeRecord)
	p.write(t, b[:10])
	// Wait until the driver has read the first part: the FIFO is empty.
	raw, err := p.f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(patience); ; {
		var n int
		raw.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }) // FIONREAD
		if err != nil || n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the driver did not read the FIFO within %v", patience)
		}
		time.Sleep(time.Millisecond)
	}
	p.write(t, b[10:])
	r.expect(t, "a")
}

// TestEvdevStop: Run returns nil soon after ctx ends, whether it waits for
// a key or for the flow to take a scan (start's cleanup checks it).
func TestEvdevStop(t *testing.T) {
	for _, sending := range []bool{false, true} {
		p := newEventFIFO(t, filepath.Join(t.TempDir(), "event0"))
		e := NewEvdev(fifoSource(p.path, "us", nativeRecord))
		r := start(t, e)
		waitState(t, e, OK)
		if sending {
			p.write(t, EncodeEvents(generate0(t, "UNTAKEN"), nativeRecord))
		}
		if err := r.stop(); err != nil {
			t.Errorf("sending %v: %v", sending, err)
		}
	}
}

// TestEvdevBadSource: a Source no device can fix is Run's error.
func TestEvdevBadSource(t *testing.T) {
	for _, src := range []Source{
		{Kind: KindEvdev, Path: "/dev/input/event0", Layout: "dvorak"},
		{Kind: KindEvdev, Path: "/dev/input/event0", Record: 32},
	} {
		e := NewEvdev(src)
		err := e.Run(context.Background(), make(chan Scan))
		if err == nil || !strings.Contains(err.Error(), "want one of us, uk, de, fr, and 16 or 24") {
			t.Errorf("Run(%+v) = %v; want an error naming the layouts and record sizes", src, err)
		}
		if st := e.State(); st.Condition != Fault {
			t.Errorf("State() = %+v; want a fault", st)
		}
	}
}

// TestEvdevReadError: an unplugged device (ENODEV) and a FIFO whose writer
// went (end of file) are Disconnected, not Faults, naming the read.
func TestEvdevReadError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{io.EOF, "read /dev/kiosk-scanner: device hung up"},
		{&fs.PathError{Op: "read", Path: "/dev/kiosk-scanner", Err: syscall.ENODEV}, "read /dev/kiosk-scanner: no such device"},
	} {
		err := evdevReadError("/dev/kiosk-scanner", tt.err)
		var h health
		h.ok()
		h.failed(err)
		if st := h.State(); err.Error() != tt.want || st.Condition != Disconnected {
			t.Errorf("evdevReadError(%v) = %q, %s; want %q, disconnected", tt.err, err, st.Condition, tt.want)
		}
	}
}

// decodeKeys feeds evs to a decoder of layout and idle, each read one
// millisecond after the one before (the first at decodeBase+1ms), and returns
// the scans, the one left under way ended as idle would.
func decodeKeys(layout string, idle time.Duration, evs []Event) []Scan {
	d := newKeyDecoder(keymaps[layout], idle)
	at := decodeBase
	var scans []Scan
	for _, ev := range evs {
		at = at.Add(time.Millisecond)
		if s, ok := d.event(ev, at); ok {
			scans = append(scans, s)
		}
	}
	if s, ok := d.end(); ok {
		scans = append(scans, s)
	}
	return scans
}

var decodeBase = time.Unix(1_700_000_000, 0)

func TestKeyDecoder(t *testing.T) {
	repeat := func(code uint16) Event { return Event{Type: evKey, Code: code, Value: 2} }
	ev := func(typ, code uint16, v int32) Event { return Event{Type: typ, Code: code, Value: v} }
	cat := func(parts ...[]Event) []Event { return slices.Concat(parts...) }
	long := strings.Repeat("A1", MaxScan/2)
	for _, tt := range []struct {
		name   string
		layout string
		evs    []Event
		want   []string
	}{
		{"enter ends a scan", "us", keys(keyA, keyB, keyEnter, keyC, keyEnter), []string{"ab", "c"}},
		{"keypad enter and tab end a scan", "us", keys(keyA, keyKPEnter, keyB, keyTab), []string{"a", "b"}},
		{"a terminator alone is no scan", "us", keys(keyEnter, keyKPEnter, keyTab, keyEnter), nil},
		{"trailing spaces are data", "us", keys(keyA, keySpace, keySpace, keyEnter), []string{"a  "}},
		{"autorepeat types nothing", "us",
			cat(keys(down(keyA)), []Event{repeat(keyA), repeat(keyA)}, keys(-keyA, keyEnter)), []string{"a"}},
		{"key up types nothing", "us", cat([]Event{ev(evKey, keyA, 0)}, keys(keyEnter)), nil},
		{"other events type nothing", "us",
			[]Event{ev(evMsc, mscScan, 0x70004), ev(evKey, keyA, 1), ev(evSyn, synReport, 0), ev(evLed, 1, 1),
				ev(evRep, 0, 250), ev(evKey, keyA, 3), ev(evKey, keyA, -1), ev(evKey, keyEnter, 1)}, []string{"a"}},
		{"numlock types nothing", "us", keys(keyNumLock, keyKP1, keyScrollLock, keyEnter), []string{"1"}},
		{"an unknown key rejects the scan", "us", keys(keyA, keyEsc, keyB, keyEnter), []string{"!" + RejectControl}},
		{"a function key rejects the scan", "us", keys(59, keyEnter), []string{"!" + RejectControl}},
		{"backspace rejects the scan", "us", keys(keyA, keyBackspace, keyEnter), []string{"!" + RejectControl}},
		{"a dead key rejects the scan", "de", keys(keyA, keyEqual, keyE, keyEnter), []string{"!" + RejectControl}},
		{"the scan after a rejected one is read", "us", keys(keyEsc, keyEnter, keyA, keyEnter), []string{"!" + RejectControl, "a"}},
		{"a letter of the layout", "de", keys(keyApostrophe, keyEnter), []string{"ä"}},
		{"MaxScan bytes", "us", generateIn(t, long, "us"), []string{long}},
		{"too long", "us", generateIn(t, long+"A", "us"), []string{"!" + RejectTooLong}},
		{"no terminator: idle ends it", "us", keys(keyA), []string{"a"}},
	} {
		var got []string
		for _, s := range decodeKeys(tt.layout, time.Hour, tt.evs) {
			got = append(got, show(s))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: decoded %.60q; want %.60q", tt.name, got, tt.want)
		}
	}
}

// TestKeyDecoderSynDropped: after SYN_DROPPED the decoder drops every event
// up to and including the next SYN_REPORT; the scan the lost events fell
// in, the one under way or else the next, is rejected, never delivered
// with characters missing; and Shift and CapsLock start afresh.
func TestKeyDecoderSynDropped(t *testing.T) {
	dropped := []Event{{Type: evSyn, Code: synDropped}}
	report := []Event{{Type: evSyn, Code: synReport}}
	cat := func(parts ...[]Event) []Event { return slices.Concat(parts...) }
	lost := "!" + RejectLost
	for _, tt := range []struct {
		name string
		evs  []Event
		want []string
	}{
		{"in a scan", cat(keys(keyA, keyB), dropped, keys(keyC), report, keys(keyD, keyEnter, keyO, keyK, keyEnter)),
			[]string{lost, "ok"}},
		{"between scans", cat(keys(keyO, keyEnter), dropped, report, keys(keyN, keyE, keyEnter, keyT, keyEnter)),
			[]string{"o", lost, "t"}},
		{"a terminator dropped", cat(keys(keyA), dropped, keys(keyEnter), report, keys(keyB, keyEnter, keyC, keyEnter)),
			[]string{lost, "c"}},
		{"nothing after it: idle ends it", cat(keys(keyA), dropped, report), []string{lost}},
		{"shift starts released", cat(keys(down(keyLeftShift)), dropped, report, keys(keyEnter, keyB, keyEnter)),
			[]string{lost, "b"}},
		{"capslock starts off", cat(keys(keyCapsLock), dropped, report, keys(keyEnter, keyB, keyEnter)),
			[]string{lost, "b"}},
	} {
		var got []string
		for _, s := range decodeKeys("us", time.Hour, tt.evs) {
			got = append(got, show(s))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: decoded %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestKeyDecoderTimes: keys whose timestamps are more than idle apart are
// two scans; a scan's time is when its last key was read.
func TestKeyDecoderTimes(t *testing.T) {
	idle := 50 * time.Millisecond
	at := func(d time.Duration, evs []Event) []Event {
		for i := range evs {
			evs[i].Time = d
		}
		return evs
	}
	evs := slices.Concat(
		at(0, keys(keyA)), at(idle, keys(keyB)), // idle apart: one scan
		at(2*idle+time.Microsecond, keys(keyC)),             // more: the next
		at(2*idle+2*time.Microsecond, keys(keyEnter, keyD)), // events 7 to 10
		at(time.Microsecond, keys(keyE)),                    // the clock went back: still one scan
	)
	got := decodeKeys("us", idle, evs)
	want := []Scan{
		{Text: "ab", At: decodeBase.Add(3 * time.Millisecond)}, // b went down in the 3rd event
		{Text: "c", At: decodeBase.Add(7 * time.Millisecond)},  // the Enter's
		{Text: "de", At: decodeBase.Add(11 * time.Millisecond)},
	}
	if !slices.Equal(got, want) {
		t.Errorf("decoded %v; want %v", got, want)
	}
}

// checkScans fails unless each scan is either rejected, with no text, or
// at most MaxScan bytes of printable text.
func checkScans(t *testing.T, scans []Scan) {
	t.Helper()
	for _, s := range scans {
		switch {
		case s.Rejected != "":
			if s.Text != "" {
				t.Fatalf("rejected scan (%s) with text %q", s.Rejected, s.Text)
			}
		case s.Text == "" || len(s.Text) > MaxScan || !utf8.ValidString(s.Text):
			t.Fatalf("scan %.40q (%d bytes): want 1 to %d bytes of UTF-8", s.Text, len(s.Text), MaxScan)
		case strings.IndexFunc(s.Text, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
			t.Fatalf("scan %q holds a character that is not printable", s.Text)
		}
	}
}

// FuzzEvdevDecoder feeds arbitrary bytes to the decoder, as records of
// both sizes, in every layout: no panic, and every scan rejected or
// printable. The seeds (the recordings of testdata/evdev) run in go test;
// fuzz longer with
//
//	go test -run '^$' -fuzz FuzzEvdevDecoder -fuzztime 10m ./drivers/scanner
func FuzzEvdevDecoder(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "evdev", "*.evemu"))
	for _, path := range files {
		rec, err := readRecording(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(EncodeEvents(rec.events, record32))
		f.Add(EncodeEvents(rec.events, record64))
	}
	small := slices.Concat(keys(keyA, down(keyLeftShift), keyB), []Event{{Type: evSyn, Code: synDropped}, {}}, keys(keyEnter))
	f.Add(EncodeEvents(small, record32))
	f.Add(EncodeEvents(small, record64))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, record := range []int{record32, record64} {
			evs, err := DecodeEvents(b[:len(b)/record*record], record)
			if err != nil {
				t.Fatal(err)
			}
			for _, layout := range Layouts {
				checkScans(t, decodeKeys(layout, DefaultIdle, evs))
			}
		}
	})
}

// FuzzScanFraming types arbitrary key sequences: each two bytes a key (of
// those a layout knows, the modifiers, terminators, locks and a few it does
// not), its value (up, down, repeat) and the time since the key before,
// with SYN_DROPPED and SYN_REPORT among them. Every scan is rejected or
// printable. Then the bytes as text of the characters scanners type
// (Base45, a URL's) must come back whole from what Generate types in every
// layout. Fuzz longer with
//
//	go test -run '^$' -fuzz FuzzScanFraming -fuzztime 10m ./drivers/scanner
func FuzzScanFraming(f *testing.F) {
	f.Add([]byte("\x10\x01\x10\x00\x1c\x01"))
	f.Add([]byte("\x2a\x01\x1e\x01\x1e\x02\x1e\x00\x2a\x00\x3a\x01\x30\x01\xff\x00\x1c\x01"))
	f.Add([]byte("SDC1:NCFOXN TS3 https://docket.example.gov/c/x?a=1&b#~"))
	var codes []uint16
	for code, c := range &keymaps["us"].chars {
		if c != [levels]rune{} {
			codes = append(codes, uint16(code))
		}
	}
	codes = append(codes, keyLeftShift, keyRightShift, keyRightAlt, keyLeftCtrl, keyLeftAlt, keyLeftMeta,
		keyCapsLock, keyNumLock, keyEnter, keyKPEnter, keyTab, keyKP1, keyKPDot, keyEsc, keyBackspace, 59, 0x110)
	const alphabet = base45Chars + "abcdefghijklmnopqrstuvwxyz_?=&#~"
	f.Fuzz(func(t *testing.T, b []byte) {
		var evs []Event
		var now time.Duration
		for i := 0; i+1 < len(b); i += 2 {
			now += time.Duration(b[i+1]>>2) * 2 * time.Millisecond // 0 to 126ms: around idle
			ev := Event{Time: now, Type: evKey, Code: codes[int(b[i])%len(codes)], Value: int32(b[i+1] % 3)}
			switch b[i] {
			case 0xfe:
				ev = Event{Time: now, Type: evSyn, Code: synDropped}
			case 0xff:
				ev = Event{Time: now, Type: evSyn, Code: synReport}
			}
			evs = append(evs, ev)
		}
		for _, layout := range Layouts {
			checkScans(t, decodeKeys(layout, DefaultIdle, evs))
		}

		text := make([]byte, len(b))
		for i, c := range b {
			text[i] = alphabet[int(c)%len(alphabet)]
		}
		if len(text) == 0 || len(text) > MaxScan {
			return
		}
		for _, layout := range Layouts {
			evs, err := Generate(string(text), layout, time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeKeys(layout, DefaultIdle, evs); len(got) != 1 || got[0].Text != string(text) {
				t.Fatalf("layout %s: %q typed decodes to %v", layout, text, got)
			}
		}
	})
}

// The evdev driver's share of the scanner's figure (ARCHITECTURE.md §8):
// from the last record of a code written to the scan in the flow's hands,
// against what the FIFO alone costs, in the same run:
//
//	go test -run '^$' -bench 'EvdevScanLatency|FIFOFloor' -benchtime 2000x ./drivers/scanner/
//
// A FIFO stands in for the event device: the kernel's evdev read is a
// copy out of a buffer, as a pipe's is. Each reports p50-ns and p99-ns.

// BenchmarkEvdevScanLatency measures from the last key to the scan: a
// scanner types a card-sized code (300 characters) a key at a time, so by
// its Enter the keys before are decoded. The records up to the Enter are
// written first; the clock starts at the write of the Enter's.
func BenchmarkEvdevScanLatency(b *testing.B) {
	p := newEventFIFO(b, filepath.Join(b.TempDir(), "event0"))
	src := fifoSource(p.path, "us", nativeRecord)
	src.Dedup = 0 // the same code each time
	e := NewEvdev(src)
	r := start(b, e)
	waitState(b, e, OK)
	head, tail := splitAtEnter(b, generateIn(b, strings.Repeat(base45Payload("bench"), 6)[:300], "us"))
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		p.write(b, head)
		time.Sleep(2 * time.Millisecond) // the keys' own pace; well under idle
		t0 := time.Now()
		p.write(b, tail)
		r.recv(b)
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat)
}

// splitAtEnter returns evs' records before the Enter key's press, and from
// it on.
func splitAtEnter(b *testing.B, evs []Event) (head, tail []byte) {
	b.Helper()
	for i, ev := range evs {
		if ev.Type == 1 && ev.Code == 28 && ev.Value == 1 { // EV_KEY, KEY_ENTER, down
			return EncodeEvents(evs[:i], nativeRecord), EncodeEvents(evs[i:], nativeRecord)
		}
	}
	b.Fatal("no Enter in the code's events")
	return nil, nil
}

// BenchmarkFIFOFloor writes the Enter's records through a FIFO to a
// goroutine that reads them: what the pipe alone costs.
func BenchmarkFIFOFloor(b *testing.B) {
	p := newEventFIFO(b, filepath.Join(b.TempDir(), "event0"))
	rd, err := os.Open(p.path)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	_, code := splitAtEnter(b, generateIn(b, strings.Repeat(base45Payload("bench"), 6)[:300], "us"))
	got := make(chan struct{})
	go func() {
		buf := make([]byte, len(code))
		for {
			if _, err := io.ReadFull(rd, buf); err != nil {
				return
			}
			got <- struct{}{}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		p.write(b, code)
		<-got
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat)
}
