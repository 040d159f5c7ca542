package testenv_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// recorder is a testing.TB that records how the test ended. Like the
// real one, Fatalf and Skipf end the goroutine that calls them.
type recorder struct {
	testing.TB        // the real test: for what recorder does not override
	ended      string // "", "fatal" or "skip"
	msg        string
	logs       []string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.ended, r.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.ended, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// run calls f with a recorder on a goroutine of its own, as the testing
// package runs a test, and returns the recorder once f has ended.
func run(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestRequireOrSkip(t *testing.T) {
	for _, tt := range []struct {
		env, ended, msg string
	}{
		{"", "skip", "needs root: EPERM"},
		{"0", "skip", "needs root: EPERM"},
		{"1", "fatal", "needs root: EPERM (KIOSK_REQUIRE_ALL=1)"},
	} {
		t.Setenv("KIOSK_REQUIRE_ALL", tt.env)
		r := run(t, func(tb testing.TB) { testenv.RequireOrSkip(tb, "needs %s: %s", "root", "EPERM") })
		if r.ended != tt.ended || r.msg != tt.msg {
			t.Errorf("KIOSK_REQUIRE_ALL=%q: RequireOrSkip ended %s %q; want %s %q", tt.env, r.ended, r.msg, tt.ended, tt.msg)
		}
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "kiosk-testenv-prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)

	for _, env := range []string{"", "1"} {
		t.Setenv("KIOSK_REQUIRE_ALL", env)
		var got string
		r := run(t, func(tb testing.TB) { got = testenv.LookPath(tb, "kiosk-testenv-prog", "nothing") })
		if r.ended != "" || got != prog {
			t.Errorf("KIOSK_REQUIRE_ALL=%q: LookPath(present) = %q, ended %q; want %q, running on", env, got, r.ended, prog)
		}
	}

	for _, tt := range []struct{ env, ended string }{{"", "skip"}, {"1", "fatal"}} {
		t.Setenv("KIOSK_REQUIRE_ALL", tt.env)
		r := run(t, func(tb testing.TB) { testenv.LookPath(tb, "kiosk-testenv-absent", "zbar-tools") })
		if r.ended != tt.ended || !strings.Contains(r.msg, "needs kiosk-testenv-absent (install zbar-tools)") {
			t.Errorf("KIOSK_REQUIRE_ALL=%q: LookPath(absent) ended %s %q; want %s naming the program and its package",
				tt.env, r.ended, r.msg, tt.ended)
		}
	}
}

func TestLong(t *testing.T) {
	for env, want := range map[string]bool{"": false, "0": false, "yes": false, "1": true} {
		t.Setenv("KIOSK_LONG", env)
		if got := testenv.Long(); got != want {
			t.Errorf("KIOSK_LONG=%q: Long() = %v; want %v", env, got, want)
		}
	}
}

func TestSeed(t *testing.T) {
	t.Setenv("KIOSK_SEED", "12345")
	var seed uint64
	r := run(t, func(tb testing.TB) { seed = testenv.Seed(tb) })
	if r.ended != "" || seed != 12345 {
		t.Errorf("KIOSK_SEED=12345: Seed() = %d, ended %q; want 12345", seed, r.ended)
	}
	if len(r.logs) != 1 || !strings.Contains(r.logs[0], "KIOSK_SEED=12345") {
		t.Errorf("KIOSK_SEED=12345: Seed logged %q; want how to replay it", r.logs)
	}

	// Unset, it is the time: two tests in a row do not replay each other.
	t.Setenv("KIOSK_SEED", "")
	var a, b uint64
	ra := run(t, func(tb testing.TB) { a = testenv.Seed(tb) })
	rb := run(t, func(tb testing.TB) { b = testenv.Seed(tb) })
	if a == b || a == 0 {
		t.Errorf("KIOSK_SEED unset: seeds %d, %d; want two different ones", a, b)
	}
	if want := fmt.Sprintf("KIOSK_SEED=%d", b); len(rb.logs) != 1 || !strings.Contains(rb.logs[0], want) || len(ra.logs) != 1 {
		t.Errorf("KIOSK_SEED unset: Seed logged %q; want %q", rb.logs, want)
	}

	t.Setenv("KIOSK_SEED", "twelve")
	r = run(t, func(tb testing.TB) { testenv.Seed(tb) })
	if r.ended != "fatal" || !strings.Contains(r.msg, `KIOSK_SEED="twelve"`) {
		t.Errorf("KIOSK_SEED=twelve: Seed ended %s %q; want a failure naming the value", r.ended, r.msg)
	}
}
