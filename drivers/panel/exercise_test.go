package panel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/drivers/panel"
)

// TestExercise steps a board through every output and checks what the
// installer was told, and that each line did what it was told: every
// status on the light, every tone on the buzzer, the lamp on and off, each
// for a step.
func TestExercise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		g := panel.NewGPIO(b.io(true), panel.Options{})
		stop := run(t, g)
		start := time.Now()
		var got []string
		report := func(s string) { got = append(got, fmt.Sprintf("%v %s", time.Since(start), s)) }
		// 2.1 s: no step starts as a blink would, so each change of
		// pattern has one order.
		if err := panel.Exercise(t.Context(), g, 2100*ms, report); err != nil {
			t.Errorf("Exercise() = %v", err)
		}
		synctest.Wait()
		stop()
		want := []string{
			"0s status ready: green: steady",
			"2.1s status busy: amber: on 500ms, off 500ms",
			"4.2s status offline: amber: on 1.8s, off 200ms",
			"6.3s status attention: amber: on 150ms, off 150ms, on 150ms, off 550ms",
			"8.4s status out_of_service: red: on 250ms, off 250ms",
			"10.5s status dark: off",
			"12.6s tone success: on 150ms",
			"14.7s tone refusal: on 100ms, off 100ms, on 100ms, off 100ms, on 100ms",
			"16.8s tone call: on 400ms, off 200ms, on 400ms, off 200ms, on 400ms",
			"18.9s lamp on",
			"21s lamp off",
		}
		if !slices.Equal(got, want) {
			t.Errorf("reported:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, l := range []struct {
			name string
			w    *wire
			want string
		}{
			{"green", b.green, "0s High, 2.1s Low"},
			{"amber", b.amber, "2.1s High, 2.6s Low, 3.1s High, 3.6s Low, 4.1s High, " + // busy
				"6s Low, 6.2s High, " + // offline
				"6.45s Low, 6.6s High, 6.75s Low, 7.3s High, 7.45s Low, 7.6s High, 7.75s Low, 8.3s High, 8.4s Low"}, // attention
			{"red", b.red, "8.4s High, 8.65s Low, 8.9s High, 9.15s Low, 9.4s High, 9.65s Low, 9.9s High, 10.15s Low, 10.4s High, 10.5s Low"},
			{"buzzer", b.buzzer, "12.6s High, 12.75s Low, " +
				"14.7s High, 14.8s Low, 14.9s High, 15s Low, 15.1s High, 15.2s Low, " +
				"16.8s High, 17.2s Low, 17.4s High, 17.8s Low, 18s High, 18.4s Low"},
			{"lamp", b.lamp, "18.9s High, 21s Low"},
		} {
			if got := l.w.Log(); got != l.want {
				t.Errorf("%s: %s\nwant %s", l.name, got, l.want)
			}
		}
	})
}

// TestExerciseFails checks that Exercise goes on past a failing output,
// reports it and returns it, and stops when its context ends.
func TestExerciseFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBoard()
		b.lamp.outErr = errors.New("input/output error")
		g := panel.NewGPIO(b.io(true), panel.Options{})
		stop := run(t, g)
		var got []string
		err := panel.Exercise(t.Context(), g, time.Second, func(s string) { got = append(got, s) })
		want := "lamp on: out GPIO5 (lamp) High: input/output error"
		if err == nil || !strings.Contains(err.Error(), want) || !slices.Contains(got, want) || got[len(got)-1] != "lamp off: out GPIO5 (lamp) Low: input/output error" {
			t.Errorf("Exercise() = %v, reporting %q; want the lamp's errors reported and returned", err, got)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
		defer cancel()
		got = nil
		if err := panel.Exercise(ctx, g, time.Second, func(s string) { got = append(got, s) }); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Exercise() past its deadline = %v; want %v", err, context.DeadlineExceeded)
		}
		if len(got) != 3 {
			t.Errorf("Exercise() for 2.5 s of 1 s steps reported %q; want 3 steps", got)
		}
		synctest.Wait()
		stop()
		if st := g.State(); st.Condition != panel.Fault {
			t.Errorf("State() = %+v; want the lamp's fault", st)
		}
	})
}
