package panel

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Exercise steps an installer through every output of d (`kiosk panel
// test`): each status (Dark last), each tone, then the lamp on and off. For each it
// sets it, reports what it set ("status busy: amber: on 500ms, off
// 500ms") and waits step, which should be longer than the longest tone
// (Call, 1.6 s) so that each is heard whole. It goes on past an output that
// fails, reporting the error, and returns them all joined; if ctx ends
// first, it returns ctx's error. It leaves the light dark and the lamp out.
//
// d's Run must be running beside it for the light to blink and the buzzer
// to sound; the events Run sends, and a GPIO's raw edges (ReportEdges), are
// how the installer sees the inputs.
func Exercise(ctx context.Context, d Device, step time.Duration, report func(string)) error {
	defer func() {
		_ = d.SetStatus(Dark)
		_ = d.SetLamp(false)
	}()
	var errs []error
	// try reports what did, waits step and says whether to go on.
	try := func(what string, err error) bool {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			what += ": " + err.Error()
		}
		report(what)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(step):
			return true
		}
	}
	for _, s := range statuses {
		p, _ := s.Pattern()
		if !try(fmt.Sprintf("status %s: %v", s, p), d.SetStatus(s)) {
			return ctx.Err()
		}
	}
	for _, t := range tones {
		p, _ := t.Pattern()
		if !try(fmt.Sprintf("tone %s: %v", t, p), d.Buzz(t)) {
			return ctx.Err()
		}
	}
	if !try("lamp on", d.SetLamp(true)) || !try("lamp off", d.SetLamp(false)) {
		return ctx.Err()
	}
	return errors.Join(errs...)
}
