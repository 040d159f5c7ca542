package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

func TestReason(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want kiosk.Reason
	}{
		{nil, ""},
		{&LowSpaceError{Dir: "/var/lib/kiosk", Free: 1, Reserve: 2}, kiosk.ReasonStorageLow},
		{fmt.Errorf("health: %w", &LowSpaceError{}), kiosk.ReasonStorageLow},
		{&CommitError{Err: errors.New("disk I/O error")}, kiosk.ReasonRecordFailed},
		{errors.New("health: statfs: permission denied"), kiosk.ReasonRecordFailed},
	} {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
}

// A store below its reserve puts the kiosk out of service, logged once
// however often it is checked; one with room keeps it in service.
func TestMonitor(t *testing.T) {
	for _, tt := range []struct {
		name    string
		reserve uint64
		want    kiosk.Reason
	}{
		{"room", 1, ""},
		{"below the reserve", 1 << 62, kiosk.ReasonStorageLow},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := OptionsForTest("monitor")
			opts.Reserve = tt.reserve
			s, err := Open(filepath.Join(t.TempDir(), "kiosk.db"), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var logs bytes.Buffer
			var told []kiosk.Reason
			m := &Monitor{Store: s, OutOfService: func(r kiosk.Reason) { told = append(told, r) },
				Log: slog.New(slog.NewTextHandler(&logs, nil))}
			m.Check(context.Background())
			m.Check(context.Background())
			if len(told) != 2 || told[0] != tt.want || told[1] != tt.want {
				t.Errorf("OutOfService told %q; want %q twice", told, tt.want)
			}
			if got := Reason(m.Err()); got != tt.want {
				t.Errorf("Err() = %v; want one of reason %q", m.Err(), tt.want)
			}
			if n := strings.Count(logs.String(), "out of service"); n != min(len(tt.want), 1) {
				t.Errorf("logged out of service %d times; want %d:\n%s", n, min(len(tt.want), 1), logs.String())
			}
		})
	}
}
