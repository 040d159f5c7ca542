package display

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// i2cGolden holds the I²C traffic of New and one Show of goldenInfo.
const i2cGolden = "i2c-show.txt"

// formatOps writes ops as the golden file holds them: a transaction a
// line, the address and the bytes written, in hex.
func formatOps(ops []i2ctest.IO) string {
	var b strings.Builder
	b.WriteString("# The I²C traffic of display.New and one Show of goldenInfo (render_test.go,\n")
	b.WriteString("# testdata/screen-typical.txt): a transaction a line, the address and the bytes\n")
	b.WriteString("# written, in hex. The first byte says what follows: 00 commands, 40 pixels.\n")
	b.WriteString("# Regenerate: go test -run TestGolden -update ./drivers/display/\n")
	for _, op := range ops {
		fmt.Fprintf(&b, "%02x:", op.Addr)
		for _, c := range op.W {
			fmt.Fprintf(&b, " %02x", c)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// parseOps reads what formatOps wrote.
func parseOps(text string) ([]i2ctest.IO, error) {
	var ops []i2ctest.IO
	for n, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		addr, data, ok := strings.Cut(l, ":")
		a, err := strconv.ParseUint(addr, 16, 16)
		if !ok || err != nil {
			return nil, fmt.Errorf("line %d: want ADDR: BYTES", n+1)
		}
		w, err := hex.DecodeString(strings.ReplaceAll(data, " ", ""))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		ops = append(ops, i2ctest.IO{Addr: uint16(a), W: w})
	}
	return ops, nil
}

// goldenOps returns the traffic in the golden file.
func goldenOps(t *testing.T) []i2ctest.IO {
	t.Helper()
	b, err := os.ReadFile("testdata/" + i2cGolden)
	if err != nil {
		t.Fatalf("%v (make it with go test -run TestGolden -update)", err)
	}
	ops, err := parseOps(string(b))
	if err != nil {
		t.Fatalf("%s: %v", i2cGolden, err)
	}
	return ops
}

// record returns the traffic of New(opts) and a Show of each of infos.
func record(t *testing.T, opts Options, infos ...Info) []i2ctest.IO {
	t.Helper()
	rec := &i2ctest.Record{}
	d, err := New(rec, opts)
	if err != nil {
		t.Fatalf("New(%+v) = %v", opts, err)
	}
	for _, i := range infos {
		if err := d.Show(i); err != nil {
			t.Fatalf("Show() = %v", err)
		}
	}
	return rec.Ops
}

// TestGoldenI2C replays the recorded traffic of setting the module up and
// showing goldenInfo: any byte New or Show sends differently fails it.
func TestGoldenI2C(t *testing.T) {
	if *update {
		golden(t, i2cGolden, formatOps(record(t, Options{}, goldenInfo)))
	}
	ops := goldenOps(t)
	pb := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := New(pb, Options{})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if err := d.Show(goldenInfo); err != nil {
		t.Fatalf("Show() = %v (if the change is meant, go test -run TestGolden -update)", err)
	}
	if err := pb.Close(); err != nil {
		t.Errorf("Show() sent less than the golden file holds: %v", err)
	}
	if got := d.State(); got != (State{Condition: OK}) {
		t.Errorf("State() = %+v; want ok", got)
	}

	// The pixels sent are Render's image, byte for byte: the golden file
	// draws testdata/screen-typical.txt.
	var pix []byte
	for _, op := range ops {
		if op.Addr != Addr {
			t.Errorf("transaction to %#x; want all to %#x", op.Addr, Addr)
		}
		if len(op.W) > 0 && op.W[0] == 0x40 {
			pix = append(pix, op.W[1:]...)
		}
	}
	if want := Render(goldenInfo).Pix; !bytes.Equal(pix, want) {
		t.Errorf("pixels sent (%d bytes) differ from Render's (%d)", len(pix), len(want))
	}
}

// TestOptions checks what each option changes in the traffic: the address
// of every transaction, or the two remap commands of the set-up (SSD1306
// datasheet, 10.1.12 and 10.1.14: A1/C8 normal, A0/C0 turned 180°).
func TestOptions(t *testing.T) {
	plain := goldenOps(t)
	alt := record(t, Options{Addr: AltAddr}, goldenInfo)
	if len(alt) != len(plain) {
		t.Fatalf("addr 0x3d: %d transactions; want %d", len(alt), len(plain))
	}
	for n := range alt {
		if alt[n].Addr != AltAddr || !bytes.Equal(alt[n].W, plain[n].W) {
			t.Fatalf("addr 0x3d: transaction %d = %#x %x; want %#x %x", n, alt[n].Addr, alt[n].W, AltAddr, plain[n].W)
		}
	}

	rotated := record(t, Options{Rotated: true}, goldenInfo)
	want := slices.Clone(plain)
	want[0].W = slices.Clone(want[0].W)
	if want[0].W[5] != 0xa1 || want[0].W[6] != 0xc8 {
		t.Fatalf("set-up command %x: want A1 C8 at 5 and 6", want[0].W)
	}
	want[0].W[5], want[0].W[6] = 0xa0, 0xc0
	if got := formatOps(rotated); got != formatOps(want) {
		t.Errorf("rotated: traffic\n%s\nwant\n%s", got, formatOps(want))
	}

	for _, a := range []uint16{0x3b, 0x3e, 0x78} {
		if d, err := New(&i2ctest.Record{}, Options{Addr: a}); d != nil || err == nil {
			t.Errorf("New(addr %#x) = %v, %v; want an error", a, d, err)
		}
	}
}

// TestUnchanged checks that Show sends only what changed: nothing for the
// same Info, a part of the frame for a new figure.
func TestUnchanged(t *testing.T) {
	busier := goldenInfo
	busier.Pending = 4
	ops := record(t, Options{}, goldenInfo, goldenInfo, busier)
	n := len(goldenOps(t))
	if len(ops) <= n {
		t.Fatalf("a changed figure sent nothing")
	}
	sent := 0
	for _, op := range ops[n:] {
		if op.W[0] == 0x40 {
			sent += len(op.W) - 1
		}
	}
	if sent == 0 || sent >= len(Render(busier).Pix)/2 {
		t.Errorf("a changed queue figure sent %d bytes of pixels; want a few", sent)
	}
}

// errNoAck is how Linux's i2c-dev, through periph, reports a module that
// did not acknowledge: unplugged, or never there.
var errNoAck = errors.New("sysfs-i2c: remote I/O error")

// fakeBus is an I²C bus whose module can be unplugged: while down, every
// transaction fails as a real bus's does when nothing answers. It records
// the others, and counts tries and Close calls.
type fakeBus struct {
	i2ctest.Record
	down   bool
	tries  int
	closes int
}

func (b *fakeBus) String() string { return "fake" }

func (b *fakeBus) Tx(addr uint16, w, r []byte) error {
	b.tries++
	if b.down {
		return errNoAck
	}
	return b.Record.Tx(addr, w, r)
}

func (b *fakeBus) Close() error {
	b.closes++
	return nil
}

func wantState(t *testing.T, d Device, want State) {
	t.Helper()
	if got := d.State(); got != want {
		t.Fatalf("State() = %+v; want %+v", got, want)
	}
}

// TestAbsentThenPluggedIn: a module that does not answer is absent, looked
// for again at most every RetryEvery, and shown on as soon as it answers.
func TestAbsentThenPluggedIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &fakeBus{down: true}
		d, err := New(bus, Options{})
		if err != nil {
			t.Fatalf("New() = %v; want no error for a missing module", err)
		}
		absent := State{Absent, "set up ssd1306 at 0x3c on fake: sysfs-i2c: remote I/O error"}
		wantState(t, d, absent)
		if bus.tries != 1 {
			t.Fatalf("New tried %d transactions; want 1", bus.tries)
		}

		time.Sleep(RetryEvery - time.Millisecond)
		if err := d.Show(goldenInfo); err == nil || err.Error() != absent.Reason {
			t.Errorf("Show() = %v; want %q", err, absent.Reason)
		}
		if bus.tries != 1 {
			t.Errorf("Show tried the module %v after the last try; want no try before %v", RetryEvery-time.Millisecond, RetryEvery)
		}

		time.Sleep(time.Millisecond)
		if err := d.Show(goldenInfo); err == nil {
			t.Error("Show() = nil on a missing module")
		}
		if bus.tries != 2 {
			t.Errorf("after %v, tries = %d; want 2", RetryEvery, bus.tries)
		}
		wantState(t, d, absent)

		bus.down = false // plugged in
		time.Sleep(RetryEvery)
		if err := d.Show(goldenInfo); err != nil {
			t.Fatalf("Show() = %v once the module answers", err)
		}
		wantState(t, d, State{Condition: OK})
		if got, want := formatOps(bus.Ops), formatOps(goldenOps(t)); got != want {
			t.Errorf("a module plugged in later got\n%s\nwant the set-up and the whole frame\n%s", got, want)
		}
	})
}

// TestFaultThenRecovery: a write that fails while drawing is a fault; the
// next Show, without waiting, sets the module up again and sends the whole
// frame, and the display is OK.
func TestFaultThenRecovery(t *testing.T) {
	ops := goldenOps(t)
	pb := &i2ctest.Playback{Ops: ops[:1], DontPanic: true} // the set-up, then nothing more is expected
	d, err := New(pb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, d, State{Condition: OK})
	err = d.Show(goldenInfo)
	if err == nil {
		t.Fatal("Show() = nil; the bus failed")
	}
	wantState(t, d, State{Fault, err.Error()})
	if !strings.HasPrefix(err.Error(), "draw: i2ctest: unexpected Tx()") {
		t.Errorf("Show() = %v; want the failing call, draw, and the bus's error", err)
	}

	pb.Ops = append(pb.Ops, ops...) // the set-up and the frame again
	if err := d.Show(goldenInfo); err != nil {
		t.Fatalf("Show() after the fault = %v", err)
	}
	wantState(t, d, State{Condition: OK})
	if err := pb.Close(); err != nil {
		t.Errorf("the recovery did not send the set-up and the whole frame: %v", err)
	}
}

// TestDisconnected: a module that answered, then stops, is a fault at the
// write that failed, then disconnected, looked for every RetryEvery, and
// OK again when it answers.
func TestDisconnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &fakeBus{}
		d, _ := New(bus, Options{})
		if err := d.Show(goldenInfo); err != nil {
			t.Fatal(err)
		}
		bus.down = true
		changed := goldenInfo
		changed.Scanner = "disconnected"
		d.Show(changed)
		wantState(t, d, State{Fault, "draw: sysfs-i2c: remote I/O error"})
		d.Show(changed) // sets the module up again at once, and finds it gone
		gone := State{Disconnected, "set up ssd1306 at 0x3c on fake: sysfs-i2c: remote I/O error"}
		wantState(t, d, gone)
		tries := bus.tries
		d.Show(changed)
		if bus.tries != tries {
			t.Errorf("Show tried a disconnected module again at once")
		}
		bus.down = false
		time.Sleep(RetryEvery)
		if err := d.Show(changed); err != nil {
			t.Fatalf("Show() = %v once the module is back", err)
		}
		wantState(t, d, State{Condition: OK})
	})
}

// TestRefresh: every Refresh, the module is set up again and redrawn whole,
// even when nothing changed, so one that lost power and came back does not
// stay dark.
func TestRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &fakeBus{}
		d, _ := New(bus, Options{})
		d.Show(goldenInfo)
		n := len(bus.Ops)
		time.Sleep(Refresh - time.Second)
		d.Show(goldenInfo)
		if len(bus.Ops) != n {
			t.Fatalf("the same Info before Refresh sent %d transactions; want none", len(bus.Ops)-n)
		}
		time.Sleep(time.Second)
		if err := d.Show(goldenInfo); err != nil {
			t.Fatal(err)
		}
		if got, want := formatOps(bus.Ops[n:]), formatOps(goldenOps(t)); got != want {
			t.Errorf("after Refresh, sent\n%s\nwant the set-up and the whole frame\n%s", got, want)
		}
	})
}

// TestClose: Close turns the display off and closes only a bus it opened.
func TestClose(t *testing.T) {
	bus := &fakeBus{}
	d, _ := New(bus, Options{})
	d.Show(goldenInfo)
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	last := bus.Ops[len(bus.Ops)-1]
	if last.Addr != Addr || !bytes.Equal(last.W, []byte{0x00, 0xae}) {
		t.Errorf("Close sent %#x %x; want display off, 0x3c 00 ae", last.Addr, last.W)
	}
	if bus.closes != 0 {
		t.Errorf("Close closed the caller's bus")
	}
	n := len(bus.Ops)
	if err := d.Show(goldenInfo); err == nil || len(bus.Ops) != n {
		t.Errorf("Show after Close = %v, sent %d; want an error, nothing sent", err, len(bus.Ops)-n)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

// TestOwnedBus: a bus the SSD1306 opened (as Open's are) is closed when
// the module does not answer, opened again at the next try, and closed by
// Close.
func TestOwnedBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &fakeBus{down: true}
		opens := 0
		d, err := newSSD1306(func() (i2c.Bus, io.Closer, error) {
			opens++
			return bus, bus, nil
		}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if opens != 1 || bus.closes != 1 {
			t.Errorf("a module not answering: opens %d, closes %d; want 1, 1", opens, bus.closes)
		}
		bus.down = false
		time.Sleep(RetryEvery)
		if err := d.Show(goldenInfo); err != nil {
			t.Fatal(err)
		}
		if opens != 2 || bus.closes != 1 {
			t.Errorf("the next try: opens %d, closes %d; want 2, 1", opens, bus.closes)
		}
		if err := d.Close(); err != nil || bus.closes != 2 {
			t.Errorf("Close() = %v, closes %d; want nil, 2", err, bus.closes)
		}
	})
}

// TestBusMissing: a bus that cannot be opened is absent, with the failing
// call.
func TestBusMissing(t *testing.T) {
	d, err := newSSD1306(func() (i2c.Bus, io.Closer, error) {
		return nil, nil, errors.New(`open i2c bus "1": no such bus`)
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, d, State{Absent, `open i2c bus "1": no such bus`})
	if err := d.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}
