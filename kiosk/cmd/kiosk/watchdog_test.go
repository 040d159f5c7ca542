package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/sdnotify/sdnotifytest"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

// stuckSink blocks the flow's goroutine in Show once armed, until freed:
// a flow stuck at work, as a commit that never returns would leave it.
type stuckSink struct {
	mu       sync.Mutex
	armed    bool
	free     chan struct{}
	freeOnce sync.Once
}

func (s *stuckSink) Show(kiosk.View) {
	s.mu.Lock()
	armed := s.armed
	s.mu.Unlock()
	if armed {
		<-s.free
	}
}

func (s *stuckSink) arm() { s.mu.Lock(); s.armed = true; s.mu.Unlock() }

// release frees the flow, once.
func (s *stuckSink) release() { s.freeOnce.Do(func() { close(s.free) }) }

// pinged waits for a WATCHDOG=1 within d, and reports whether one came.
func pinged(msgs <-chan string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return false
			}
			if m == "WATCHDOG=1" {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// silent drains the pings until none came for quiet, within d, and
// reports whether the watchdog fell silent.
func silent(msgs <-chan string, quiet, d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case <-msgs:
		case <-time.After(quiet):
			return true
		case <-deadline:
			return false
		}
	}
}

// TestWatchdogFlowStuck: with a real unixgram NOTIFY_SOCKET, the daemon
// pings while idle however long, stops pinging once the flow is stuck at
// work past its limit (so systemd restarts it), and pings again once the
// flow is free.
func TestWatchdogFlowStuck(t *testing.T) {
	msgs := sdnotifytest.Messages(t, 200*time.Millisecond) // a ping every 100 ms
	kit := testKit(t)
	sink := &stuckSink{free: make(chan struct{})}
	// Registered before startMain's cleanup, so run after it: the daemon's
	// Close would wait for a flow a failed test left stuck.
	defer sink.release()
	m := startMain(t, testLog(t), t.TempDir(), kit, "", func(m *Main) {
		m.Sinks = []kiosk.ViewSink{sink}
		m.LoopLimit = 500 * time.Millisecond
	})
	if !pinged(msgs, 5*time.Second) {
		t.Fatal("no watchdog ping from an idle kiosk")
	}
	time.Sleep(time.Second) // idle past every limit: still pinged
	if !pinged(msgs, time.Second) {
		t.Fatal("an idle kiosk past its loops' limits stopped pinging")
	}

	sink.arm()
	simScan(t, m, kit.Samples["valid"]) // the flow takes it, and hangs in the sink
	if !silent(msgs, time.Second, 10*time.Second) {
		t.Fatal("the watchdog was still pinged with the flow stuck")
	}
	sink.release()
	if !pinged(msgs, 5*time.Second) {
		t.Fatal("no ping once the flow was free again")
	}
}

// TestWatchdogUploadStuck: an upstream that takes the connection and never
// answers holds the uploader at work; past its limit, the pings stop.
func TestWatchdogUploadStuck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()

	msgs := sdnotifytest.Messages(t, 200*time.Millisecond)
	kit := testKit(t)
	startMain(t, testLog(t), t.TempDir(), kit, "http://"+ln.Addr().String(), func(m *Main) {
		m.LoopLimit = 500 * time.Millisecond
	})
	if !silent(msgs, time.Second, 10*time.Second) {
		t.Fatal("the watchdog was still pinged with the uploader stuck on an upstream that never answers")
	}
}

// TestWatchdogScannerStuck: a scan the flow cannot take (it is stuck on
// the one before) holds the scanner's hand-over, which the watchdog names
// too, beside the flow.
func TestWatchdogScannerStuck(t *testing.T) {
	msgs := sdnotifytest.Messages(t, 200*time.Millisecond)
	kit := testKit(t)
	sink := &stuckSink{free: make(chan struct{})}
	defer sink.release()
	m := startMain(t, testLog(t), t.TempDir(), kit, "", func(m *Main) {
		m.Sinks = []kiosk.ViewSink{sink}
		m.LoopLimit = 500 * time.Millisecond
	})
	if !pinged(msgs, 5*time.Second) {
		t.Fatal("no watchdog ping from an idle kiosk")
	}
	sink.arm()
	simScan(t, m, kit.Samples["valid"])   // taken by the flow, which hangs
	simScan(t, m, kit.Samples["expired"]) // held by the scanner's relay
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := m.healthy(context.Background())
		if err != nil && strings.Contains(err.Error(), "scanner loop stuck") && strings.Contains(err.Error(), "flow loop stuck") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthy = %v; want the flow and the scanner's hand-over named stuck", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !silent(msgs, time.Second, 10*time.Second) {
		t.Fatal("the watchdog was still pinged")
	}
}

// TestWatchdogDatabase: an outbox that no longer answers stops the pings.
func TestWatchdogDatabase(t *testing.T) {
	msgs := sdnotifytest.Messages(t, 200*time.Millisecond)
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	if !pinged(msgs, 5*time.Second) {
		t.Fatal("no watchdog ping from an idle kiosk")
	}
	if err := m.store.Close(); err != nil { // under the daemon: every query fails from now on
		t.Fatal(err)
	}
	if !silent(msgs, time.Second, 10*time.Second) {
		t.Fatal("the watchdog was still pinged with the outbox closed")
	}
}
