package kiosk_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/kiosktest"
)

// TestFlowSetTimeouts: timeouts set while the flow runs (a reload) apply
// from the next screen on; the screen up keeps the expiry it was shown
// with; a zero timeout is the default.
func TestFlowSetTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &kiosktest.Store{})
		h.scan("valid")
		h.want(kiosk.ScreenConfirm)
		shown := time.Now()

		h.flow.SetTimeouts(kiosk.Timeouts{Confirm: 5 * time.Second, Result: 3 * time.Second})
		time.Sleep(confirmTimeout - time.Second)
		h.none() // still the first expiry, not the new 5 s
		h.act(kiosk.ActionExtend)
		v := h.want(kiosk.ScreenConfirm)
		if want := shown.Add(confirmTimeout + 5*time.Second); !v.Expires.Equal(want) {
			t.Errorf("extended expiry = %v; want %v (extended by the new timeout)", v.Expires, want)
		}

		h.act(kiosk.ActionDeny)
		v = h.want(kiosk.ScreenSeeStaff)
		if want := time.Now().Add(3 * time.Second); !v.Expires.Equal(want) {
			t.Errorf("see_staff expiry = %v; want %v", v.Expires, want)
		}
		time.Sleep(3 * time.Second)
		h.want(kiosk.ScreenIdle)

		h.scan("valid")
		if v := h.want(kiosk.ScreenConfirm); !v.Expires.Equal(time.Now().Add(5 * time.Second)) {
			t.Errorf("confirm expiry = %v; want %v", v.Expires, time.Now().Add(5*time.Second))
		}
		h.act(kiosk.ActionHelp) // Help left at 0: the default, not the field
		if v := h.want(kiosk.ScreenHelp); !v.Expires.Equal(time.Now().Add(kiosk.DefaultHelpTimeout)) {
			t.Errorf("help expiry = %v; want %v", v.Expires, time.Now().Add(kiosk.DefaultHelpTimeout))
		}
	})
}
