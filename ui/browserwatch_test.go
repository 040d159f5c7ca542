package ui

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestBrowserWatchdog: a silent page asks for a restart through the file
// at every check while silent; a responding one, or one not connected yet
// within its grace, asks for none.
func TestBrowserWatchdog(t *testing.T) {
	var mu sync.Mutex
	state := BrowserState{State: BrowserNone}
	set := func(s BrowserCondition) { mu.Lock(); state.State = s; mu.Unlock() }
	path := filepath.Join(t.TempDir(), BrowserRestartFile)
	requests := 0
	file := RestartFile(path)
	w := &BrowserWatchdog{
		Browser: func() BrowserState { mu.Lock(); defer mu.Unlock(); return state },
		Restart: func() error { mu.Lock(); requests++; mu.Unlock(); return file() },
		Grace:   300 * time.Millisecond,
		Check:   20 * time.Millisecond,
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return requests }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(150 * time.Millisecond) // within the grace: no page yet is fine
	if n := count(); n != 0 {
		t.Fatalf("%d restarts asked within the grace; want 0", n)
	}
	waitFor(t, "a restart for a browser that never connected", func() bool { return count() > 0 })
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the restart file: %v", err)
	}

	set(BrowserOK)
	time.Sleep(50 * time.Millisecond)
	n := count()
	time.Sleep(150 * time.Millisecond)
	if m := count(); m != n {
		t.Errorf("%d restarts asked while the page responds; want none", m-n)
	}

	set(BrowserNotResponding)
	before, _ := os.ReadFile(path)
	waitFor(t, "repeated restarts for a hung page", func() bool { return count() >= n+2 })
	if after, _ := os.ReadFile(path); string(after) == string(before) {
		t.Error("the restart file did not change: systemd's path unit would not fire")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
