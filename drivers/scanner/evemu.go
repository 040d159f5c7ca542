package scanner

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Recorded input events, in two forms: the kernel's binary records (struct
// input_event, EncodeEvents and DecodeEvents) and evemu's text lines, which
// read the same on every architecture (ReadEvemu and WriteEvemu; the
// format of evemu-record, https://gitlab.freedesktop.org/libevdev/evemu).
// The tests replay recordings of both sizes of record, and the kiosk
// command records a scanner and generates what one would type (Generate).
//
// A recording of a scanner holds what was scanned: personal data, for test
// cards only.

// Event is one input event.
type Event struct {
	// Time is the event's timestamp: since the recording began in evemu's
	// lines, the kernel's clock in a record.
	Time       time.Duration
	Type, Code uint16
	Value      int32 // for a key: 1 down, 0 up, 2 autorepeat
}

// The sizes of struct input_event: a 64-bit program's (struct timeval of
// two int64) and a 32-bit one's (two int32), each followed by the u16
// type, u16 code and s32 value, little-endian on every machine the kiosk
// runs on.
const (
	record64 = 24
	record32 = 16
)

// EncodeEvents returns evs as the kernel's binary records of record bytes
// each: 16 or 24 (any other size panics: it is the caller's mistake).
func EncodeEvents(evs []Event, record int) []byte {
	if record != record32 && record != record64 {
		panic(fmt.Sprintf("scanner.EncodeEvents: record size %d; want 16 or 24", record))
	}
	b := make([]byte, 0, len(evs)*record)
	for _, ev := range evs {
		sec, usec := int64(ev.Time/time.Second), int64(ev.Time%time.Second/time.Microsecond)
		if record == record64 {
			b = binary.LittleEndian.AppendUint64(b, uint64(sec))
			b = binary.LittleEndian.AppendUint64(b, uint64(usec))
		} else {
			b = binary.LittleEndian.AppendUint32(b, uint32(sec))
			b = binary.LittleEndian.AppendUint32(b, uint32(usec))
		}
		b = binary.LittleEndian.AppendUint16(b, ev.Type)
		b = binary.LittleEndian.AppendUint16(b, ev.Code)
		b = binary.LittleEndian.AppendUint32(b, uint32(ev.Value))
	}
	return b
}

// DecodeEvents returns the events of b, binary records of record bytes
// each (16 or 24). b must hold whole records.
func DecodeEvents(b []byte, record int) ([]Event, error) {
	if record != record32 && record != record64 {
		return nil, fmt.Errorf("decode input events: record size %d; want 16 or 24", record)
	}
	if len(b)%record != 0 {
		return nil, fmt.Errorf("decode input events: %d bytes are not whole %d-byte records", len(b), record)
	}
	evs := make([]Event, 0, len(b)/record)
	for i := 0; i < len(b); i += record {
		evs = append(evs, decodeRecord(b[i:i+record]))
	}
	return evs, nil
}

// decodeRecord decodes one record; len(r) says its size.
func decodeRecord(r []byte) Event {
	var sec, usec int64
	if len(r) == record64 {
		sec, usec = int64(binary.LittleEndian.Uint64(r)), int64(binary.LittleEndian.Uint64(r[8:]))
	} else {
		sec, usec = int64(int32(binary.LittleEndian.Uint32(r))), int64(int32(binary.LittleEndian.Uint32(r[4:])))
	}
	r = r[len(r)-8:]
	return Event{
		// A timestamp past 292 years wraps: only the kernel writes
		// records, and only the differences are used.
		Time:  time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond,
		Type:  binary.LittleEndian.Uint16(r),
		Code:  binary.LittleEndian.Uint16(r[2:]),
		Value: int32(binary.LittleEndian.Uint32(r[4:])),
	}
}

// maxEvemuSec bounds an evemu line's seconds, so its time fits a Duration.
const maxEvemuSec = int64(time.Duration(1<<63-1) / time.Second)

// ReadEvemu reads the events of evemu's text form: one line an event,
// "E: <sec>.<usec, 6 digits> <type, 4 hex digits> <code, 4 hex digits>
// <value>", anything after a # on it a comment. Lines starting with # are
// comments; evemu's description of the device (N:, I:, P:, B:, A:, L:
// lines) is skipped. An error names the line.
func ReadEvemu(r io.Reader) ([]Event, error) {
	var evs []Event
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		tag, rest, _ := strings.Cut(text, ":")
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
			continue
		case len(tag) == 1 && strings.Contains("NIPBAL", tag):
			continue
		case tag != "E":
			return nil, fmt.Errorf("evemu line %d: want an event (E:), a comment (#) or a device line (N:, I:, P:, B:, A:, L:)", line)
		}
		ev, err := parseEvemuEvent(rest)
		if err != nil {
			return nil, fmt.Errorf("evemu line %d: %w", line, err)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("evemu line %d: %w", line+1, err)
	}
	return evs, nil
}

// parseEvemuEvent parses what follows "E:".
func parseEvemuEvent(s string) (Event, error) {
	s, _, _ = strings.Cut(s, "#")
	f := strings.Fields(s)
	if len(f) != 4 {
		return Event{}, fmt.Errorf("%d fields; want time, type, code and value", len(f))
	}
	secs, usecs, ok := strings.Cut(f[0], ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if !ok || err != nil || sec < 0 || sec > maxEvemuSec || len(usecs) != 6 || !allDigits(usecs) {
		return Event{}, fmt.Errorf("time %q: want seconds, a dot and 6 digits of microseconds", f[0])
	}
	usec, _ := strconv.ParseInt(usecs, 10, 64)
	typ, err1 := strconv.ParseUint(f[1], 16, 16)
	code, err2 := strconv.ParseUint(f[2], 16, 16)
	if err := errors.Join(err1, err2); err != nil {
		return Event{}, fmt.Errorf("type %q, code %q: want 4 hex digits each", f[1], f[2])
	}
	value, err := strconv.ParseInt(f[3], 10, 32)
	if err != nil {
		return Event{}, fmt.Errorf("value %q: want a 32-bit decimal number", f[3])
	}
	return Event{
		Time: time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond,
		Type: uint16(typ), Code: uint16(code), Value: int32(value),
	}, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// WriteEvemu writes evs as evemu's event lines, each with a comment naming
// its type and code as evemu-record does. A negative time is written as 0.
func WriteEvemu(w io.Writer, evs []Event) error {
	bw := bufio.NewWriter(w)
	for _, ev := range evs {
		t := max(ev.Time, 0)
		fmt.Fprintf(bw, "E: %d.%06d %04x %04x %04d\t# %s\n",
			t/time.Second, t%time.Second/time.Microsecond, ev.Type, ev.Code, ev.Value, eventName(ev))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write evemu: %w", err)
	}
	return nil
}

// eventName names ev's type and code, as evemu's comments do.
func eventName(ev Event) string {
	switch {
	case ev.Type == evSyn && ev.Code == synReport:
		return "SYN_REPORT"
	case ev.Type == evSyn && ev.Code == synDropped:
		return "SYN_DROPPED"
	case ev.Type == evKey && keyNames[ev.Code] != "":
		return "EV_KEY / " + keyNames[ev.Code]
	case ev.Type == evMsc && ev.Code == mscScan:
		return "EV_MSC / MSC_SCAN"
	}
	return fmt.Sprintf("type %d / code %d", ev.Type, ev.Code)
}

// Generate returns the events a scanner set up for layout (one of Layouts)
// types for text, then Enter: each key pressed and released, Shift or
// AltGr held down across the characters that need it, as a keyboard
// does, each change followed by a SYN_REPORT, gap after the one before.
// An error says which character no key of the layout types (by its
// position: the text may be a card's).
func Generate(text, layout string, gap time.Duration) ([]Event, error) {
	km, ok := keymaps[layout]
	if !ok {
		return nil, fmt.Errorf("generate key events: layout %q: want one of %s", layout, strings.Join(Layouts, ", "))
	}
	var g generator
	g.gap = gap
	for i, r := range text {
		k, ok := km.keys[r]
		if !ok {
			return nil, fmt.Errorf("generate key events: character at byte %d: no key types it in layout %s", i, layout)
		}
		g.hold(modifierOf[k.level])
		g.tap(k.code)
	}
	g.hold(0)
	g.tap(keyEnter)
	return g.evs, nil
}

// modifierOf is the key held for each level.
var modifierOf = [levels]uint16{levelShift: keyLeftShift, levelAltGr: keyRightAlt}

// generator builds a keyboard's events.
type generator struct {
	evs  []Event
	t    time.Duration
	gap  time.Duration
	held uint16 // the modifier held down, or 0
}

// key presses (value 1) or releases (0) key code, and reports it.
func (g *generator) key(code uint16, value int32) {
	g.evs = append(g.evs,
		Event{Time: g.t, Type: evKey, Code: code, Value: value},
		Event{Time: g.t, Type: evSyn, Code: synReport})
	g.t += g.gap
}

// tap presses key code and releases it.
func (g *generator) tap(code uint16) {
	g.key(code, 1)
	g.key(code, 0)
}

// hold releases the modifier held, unless it is mod, and holds mod (0:
// none).
func (g *generator) hold(mod uint16) {
	if g.held == mod {
		return
	}
	if g.held != 0 {
		g.key(g.held, 0)
	}
	if mod != 0 {
		g.key(mod, 1)
	}
	g.held = mod
}

// Record reads the raw events of the input device s names (an evdev
// source: its path, grab and record size) and hands each to emit, with its
// time since the first, until ctx ends (nil), the device goes away or emit
// fails. It is the recorder behind `kiosk scanner record`, which writes
// them as evemu lines (WriteEvemu) for testdata/ or a bug report: what a
// scanner typed, key by key, before any layout read it. Grabbed, as the
// daemon grabs it, what is scanned reaches no other program.
func Record(ctx context.Context, s Source, emit func(Event) error) error {
	if s.Kind != KindEvdev {
		return fmt.Errorf("record %s: only an evdev source has events", s.Kind)
	}
	record := s.Record
	if record == 0 {
		record = nativeRecord
	}
	f, err := openEvdev(s.Path, s.Grab)
	if err != nil {
		return err
	}
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 64*record)
	var pending []byte
	var first time.Duration
	started := false
	for {
		n, err := f.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return evdevReadError(s.Path, err)
		}
		pending = append(pending, buf[:n]...)
		whole := len(pending) - len(pending)%record
		evs, err := DecodeEvents(pending[:whole], record)
		if err != nil {
			return fmt.Errorf("read %s: %w", s.Path, err)
		}
		pending = append(pending[:0], pending[whole:]...)
		for _, ev := range evs {
			if !started {
				first, started = ev.Time, true
			}
			ev.Time -= first
			if err := emit(ev); err != nil {
				return err
			}
		}
	}
}
