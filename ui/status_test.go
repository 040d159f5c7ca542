package ui

import "testing"

// Every condition a driver reports has its state on the status; one the
// status does not know reads as unknown, never as ok.
func TestDeviceOf(t *testing.T) {
	for _, tt := range []struct {
		condition, reason string
		want              Device
	}{
		{"ok", "", Device{Source: "s", State: DeviceOK}},
		{"disconnected", "gone", Device{Source: "s", State: DeviceDisconnected, Error: "gone"}},
		{"fault", "why", Device{Source: "s", State: DeviceFault, Error: "why"}},
		{"absent", "", Device{Source: "s", State: DeviceAbsent}},
		{"", "", Device{Source: "s"}},
		{"smoking", "", Device{Source: "s"}},
		{"unknown", "", Device{Source: "s"}},
	} {
		if got := DeviceOf("s", tt.condition, tt.reason); got != tt.want {
			t.Errorf("DeviceOf(s, %q, %q) = %+v; want %+v", tt.condition, tt.reason, got, tt.want)
		}
	}
}
