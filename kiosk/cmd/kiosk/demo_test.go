package main

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// TestDemoOutput runs "kiosk demo" with stdout and stderr in one stream, as
// a terminal shows them, checks in the valid sample, and reads what a
// newcomer sees: the banner first, no line twice, and at the default level
// none of the routine lines of the start.
func TestDemoOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole demo")
	}
	startup := []string{`msg="kiosk serving"`, `msg="trust list loaded"`, `msg="kiosk enrolled"`}
	for _, level := range []string{"info", "debug"} {
		t.Run(level, func(t *testing.T) {
			out := runDemoCheckIn(t, "--log-level", level)
			lines := strings.Split(out, "\n")
			if lines[0] != "Check-in kiosk demo: all hardware simulated." {
				t.Errorf("the demo begins %q; want the banner first:\n%s", lines[0], out)
			}
			seen := map[string]bool{}
			for _, l := range lines {
				l = logTime.ReplaceAllString(l, "")
				if strings.TrimSpace(l) == "" {
					continue
				}
				if seen[l] {
					t.Errorf("the demo printed twice: %s\n%s", l, out)
				}
				seen[l] = true
			}
			for _, s := range startup {
				if shown := strings.Contains(out, s); shown != (level == "debug") {
					t.Errorf("at level %s, the demo shows %s: %v; want %v\n%s", level, s, shown, level == "debug", out)
				}
			}
		})
	}
}

// logTime is the time of a log line, which differs between two lines
// printed twice.
var logTime = regexp.MustCompile(`^time=\S+ `)

// runDemoCheckIn runs "kiosk demo" with flags in a temporary state
// directory, checks in the valid sample typed on its stdin, stops it, and
// returns its stdout and stderr interleaved.
func runDemoCheckIn(t *testing.T, flags ...string) string {
	t.Helper()
	stdinR, stdinW := io.Pipe()
	var out syncBuffer
	env := &cli.Env{Stdin: stdinR, Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{"demo", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir()}, flags...)
	go func() { done <- dispatch(ctx, env, args) }()
	var stopped bool
	stop := func() string {
		if !stopped {
			stopped = true
			cancel()
			stdinW.Close()
			if code := <-done; code != 0 {
				t.Errorf("kiosk demo exited %d:\n%s", code, out.String())
			}
		}
		return out.String()
	}
	defer stop()
	eventually(t, "the demo banner", func() bool { return strings.Contains(out.String(), "Press Ctrl-C") })
	pageURL := between(out.String(), "Kiosk page", "\n")
	p, err := uitest.DialErr(t, pageURL, nil)
	if err != nil {
		t.Fatalf("the demo's page %q: %v\n%s", pageURL, err, out.String())
	}
	defer p.Conn.Close()
	p.Want(kiosk.ScreenIdle)
	io.WriteString(stdinW, "valid\n")
	p.Want(kiosk.ScreenConfirm)
	p.Act(kiosk.ActionConfirm)
	if s := p.Want(kiosk.ScreenSuccess); s.Notice == "" {
		t.Errorf("success shows no notice; want the demo's notice for the valid sample")
	}
	return stop()
}
