package hwcmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
)

// run runs "kiosk ARGS" and returns its exit code, stdout and stderr.
func run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	root := &cli.Command{Name: "kiosk", Subcommands: []*cli.Command{Scanner(), Panel()}}
	code := cli.Run(ctx, env, root, args)
	return code, out.String(), errb.String()
}

// fifo makes a FIFO standing in for an input device, and returns its path
// and a writer already open on it (read-write, so that opening does not
// wait for a reader, and the reader never sees it without a writer).
func fifo(t *testing.T) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "event0")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, w
}

func typed(t *testing.T, text, layout string) []byte {
	t.Helper()
	evs, err := scanner.Generate(text, layout, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return scanner.EncodeEvents(evs, 24)
}

// kiosk scanner listen: a line per scan, with its text quoted, and the
// source's state; the source's options as the daemon takes them (here the
// French layout and a 24-byte record).
func TestListen(t *testing.T) {
	path, w := fifo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, out, errout := run(t, ctx, "scanner", "listen", "--config", filepath.Join(t.TempDir(), "none.toml"), "--count", "2",
		"evdev:"+path+"?grab=false&layout=fr&record=24")
	if code != 1 || !strings.Contains(errout, "none.toml") {
		t.Fatalf("a config file named and absent: exit %d, %q; want 1, naming it", code, errout)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		w.Write(typed(t, "SDC1:6BF+A0 ", "fr"))
		w.Write(typed(t, "second", "fr"))
	}()
	code, out, errout = run(t, ctx, "scanner", "listen", "--count", "2", "evdev:"+path+"?grab=false&layout=fr&record=24")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errout)
	}
	want := regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d{3} state absent\n)?\d\d:\d\d:\d\d\.\d{3} state ok\n` +
		`\d\d:\d\d:\d\d\.\d{3} scan 12 characters: "SDC1:6BF\+A0 "\n` +
		`\d\d:\d\d:\d\d\.\d{3} scan 6 characters, \d+ ms after the last: "second"\n$`)
	if !want.MatchString(out) {
		t.Errorf("listen printed\n%s\nwant lines matching\n%s", out, want)
	}
}

func TestListenStates(t *testing.T) {
	dir := t.TempDir()
	d, err := scanner.Open("evdev:" + dir + "/event0?grab=false")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	if err := Listen(ctx, d, &out, 0, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "state absent: open "+dir+"/event0: no such file or directory\n") {
		t.Errorf("listen printed %q; want the state absent, with why", out.String())
	}
	if code, _, errout := run(t, context.Background(), "scanner", "listen", "sim"); code != 2 || !strings.Contains(errout, "no device") {
		t.Errorf("listen sim: exit %d, %q; want a usage error", code, errout)
	}
}

// generate, then record what the device typed: the same events.
func TestGenerateAndRecord(t *testing.T) {
	code, gen, errout := run(t, context.Background(), "scanner", "generate", "--layout", "de", "--gap", "2ms", "Zy-/:")
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errout)
	}
	want, err := scanner.ReadEvemu(strings.NewReader(gen))
	if err != nil || len(want) == 0 {
		t.Fatalf("generate printed what ReadEvemu cannot read: %v\n%s", err, gen)
	}

	path, w := fifo(t)
	go func() {
		// Once the recorder has the FIFO open: the kernel keeps a FIFO's
		// bytes only while someone has it open.
		time.Sleep(200 * time.Millisecond)
		w.Write(scanner.EncodeEvents(want, 16))
		w.Close() // the device gone: record ends
	}()
	code, rec, errout := run(t, context.Background(), "scanner", "record", "--record", "16", "--grab=false", path)
	if code != 1 || !strings.Contains(errout, "hung up") {
		t.Errorf("record: exit %d, %q; want 1, the device hung up", code, errout)
	}
	got, err := scanner.ReadEvemu(strings.NewReader(rec))
	if err != nil {
		t.Fatalf("record printed what ReadEvemu cannot read: %v\n%s", err, rec)
	}
	if len(got) != len(want) {
		t.Fatalf("recorded %d events; generated %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("event %d: recorded %+v; generated %+v", i, got[i], want[i])
		}
	}
	if code, _, errout := run(t, context.Background(), "scanner", "generate", "--layout", "xx", "a"); code != 2 || !strings.Contains(errout, "layout") {
		t.Errorf("generate --layout xx: exit %d, %q; want a usage error naming the layout", code, errout)
	}
}

// kiosk panel test on GPIO lines: every output stepped through and said,
// then every raw edge and event of the inputs.
func TestPanelTest(t *testing.T) {
	help := &gpiotest.Pin{N: "GPIO5", L: gpio.High, EdgesChan: make(chan gpio.Level, 8)}
	io := panel.IO{Green: &gpiotest.Pin{N: "GPIO17"}, Red: &gpiotest.Pin{N: "GPIO22"}, Buzzer: &gpiotest.Pin{N: "GPIO23"}, Help: help}
	d := panel.NewGPIO(io, panel.Options{Debounce: 5 * time.Millisecond, ActiveLow: panel.Roles[bool]{Help: true}})
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(b)
	})
	done := make(chan error, 1)
	go func() { done <- TestPanel(context.Background(), d, w, time.Millisecond, 2*time.Second) }()
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(text(), "outputs done"); {
		if time.Now().After(deadline) {
			t.Fatalf("no end of the outputs:\n%s", text())
		}
		time.Sleep(10 * time.Millisecond)
	}
	help.Lock()
	help.L = gpio.Low // pressed
	help.Unlock()
	help.EdgesChan <- gpio.Low
	if err := <-done; err != nil {
		t.Errorf("TestPanel() = %v", err)
	}
	got := text()
	for _, want := range []string{"panel ok", "status ready: green: steady", "status out_of_service: red: on 250ms, off 250ms",
		"tone refusal: on 100ms, off 100ms, on 100ms, off 100ms, on 100ms", "lamp on", "lamp off",
		"edge ", "event help_pressed"} {
		if !strings.Contains(got, want) {
			t.Errorf("panel test printed no %q:\n%s", want, got)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
