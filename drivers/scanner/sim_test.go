package scanner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/drivers/scanner"
)

func TestSim(t *testing.T) {
	s := scanner.NewSim()
	out := make(chan scanner.Scan)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, out) }()

	want := []string{"SDC1:ABC", "", "second"}
	go func() {
		for _, w := range want {
			if err := s.Feed(ctx, w); err != nil {
				t.Errorf("Feed(%q) = %v", w, err)
			}
		}
	}()
	for _, w := range want {
		if got := <-out; got.Text != w || got.At.IsZero() {
			t.Errorf("scan = %+v; want %q with a time", got, w)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
	if err := s.Feed(context.Background(), "late"); !errors.Is(err, scanner.ErrStopped) {
		t.Errorf("Feed after Run = %v; want ErrStopped", err)
	}
}

func TestSimState(t *testing.T) {
	s := scanner.NewSim()
	if got := s.State(); got != (scanner.State{Condition: scanner.OK}) {
		t.Errorf("new Sim's State() = %+v; want ok", got)
	}
	fault := scanner.State{Condition: scanner.Fault, Reason: "read /dev/input/event3: input/output error"}
	s.SetState(fault)
	if got := s.State(); got != fault {
		t.Errorf("State() = %+v; want %+v", got, fault)
	}
}
