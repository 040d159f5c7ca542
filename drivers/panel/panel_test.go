package panel_test

import (
	"context"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
)

func TestSim(t *testing.T) {
	p := panel.NewSim()
	if p.Light() != panel.Off {
		t.Errorf("new light = %q; want off", p.Light())
	}
	if err := p.SetLight(panel.Green); err != nil || p.Light() != panel.Green {
		t.Errorf("SetLight(green): light %q, err %v", p.Light(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan panel.Event)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, out) }()
	go p.Press(ctx, panel.HelpPressed)
	if e := <-out; e != panel.HelpPressed {
		t.Errorf("event = %q; want %q", e, panel.HelpPressed)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil", err)
	}
}
