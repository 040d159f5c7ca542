// Package testenv is what every package's tests ask of their environment,
// read in one place so the variables of the README ("Tests") mean the same
// everywhere:
//
//   - KIOSK_REQUIRE_ALL=1 (CI sets it): a test that needs something the
//     machine lacks (a program, root) fails instead of skipping, since a
//     test that quietly skips proves nothing (RequireOrSkip, LookPath);
//   - KIOSK_LONG=1: the long versions of the crash-safety tests (Long);
//   - KIOSK_SEED=N: replay a randomized test with the seed a failed run
//     logged (Seed).
//
// It is for tests only (it imports testing) and a leaf: it imports the
// standard library and nothing else.
package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The environment variables, as the README and .ci/run spell them.
const (
	envRequireAll = "KIOSK_REQUIRE_ALL"
	envLong       = "KIOSK_LONG"
	envSeed       = "KIOSK_SEED"
)

// RequireOrSkip skips the test for want of what format says, or fails it
// when KIOSK_REQUIRE_ALL=1: on CI everything a test needs is installed, so
// a skip there means a test that silently stopped running.
func RequireOrSkip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(envRequireAll) == "1" {
		t.Fatalf(format+" ("+envRequireAll+"=1)", args...)
	}
	t.Skipf(format, args...)
}

// LookPath returns the path of the program name, or skips the test (fails
// it under KIOSK_REQUIRE_ALL=1) when it is not installed. pkg names the
// Debian package that installs it, as .ci/run does, so the message says
// what to install.
func LookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		RequireOrSkip(t, "needs %s (install %s): %v", name, pkg, err)
	}
	return p
}

// Long reports whether the long versions of the tests were asked for
// (KIOSK_LONG=1): more check-ins, more power cuts, more kills.
func Long() bool { return os.Getenv(envLong) == "1" }

// Seed returns the seed of a randomized test: KIOSK_SEED if set (to replay
// a failure), else the time. It logs the seed and how to replay it, so a
// failed run says how to make it fail again.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, s, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envSeed, seed)
	return seed
}
