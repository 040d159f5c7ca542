package liveness

import (
	"strings"
	"testing"
	"time"
)

func TestLoop(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	now := t0
	l := New("flow", 10*time.Second)
	l.now = func() time.Time { return now }

	if err := l.Check(t0.Add(time.Hour)); err != nil {
		t.Fatalf("a waiting loop, an hour on: %v; want nil", err)
	}
	l.Busy()
	if err := l.Check(t0.Add(10 * time.Second)); err != nil {
		t.Errorf("busy for its limit: %v; want nil", err)
	}
	err := l.Check(t0.Add(11 * time.Second))
	if err == nil || !strings.Contains(err.Error(), "flow loop stuck") {
		t.Errorf("busy past its limit: %v; want the flow loop stuck", err)
	}
	now = t0.Add(8 * time.Second)
	l.Busy() // progress: its time starts again
	if err := l.Check(t0.Add(11 * time.Second)); err != nil {
		t.Errorf("after progress: %v; want nil", err)
	}
	l.Idle()
	if err := l.Check(t0.Add(time.Hour)); err != nil {
		t.Errorf("idle again: %v; want nil", err)
	}
}

func TestSet(t *testing.T) {
	t0 := time.Now()
	a, b, c := New("flow", time.Second), New("upload", time.Second), (*Loop)(nil)
	c.Busy() // a nil Loop does nothing
	s := Set{a, b, c}
	if err := s.Check(t0.Add(time.Hour)); err != nil {
		t.Fatalf("all waiting: %v", err)
	}
	b.Busy()
	err := s.Check(time.Now().Add(2 * time.Second))
	if err == nil || !strings.Contains(err.Error(), "upload loop stuck") || strings.Contains(err.Error(), "flow") {
		t.Errorf("upload stuck: %v; want it alone named", err)
	}
}
