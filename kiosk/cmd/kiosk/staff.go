package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
	"github.com/docketkiosk/checkin-kiosk/ui/staff"
)

// startStaff makes the staff dashboard and its listener: on the office's
// network, TLS, apart from the kiosk page's loopback listener, so that the
// kiosk page can never reach a staff action.
func (m *Main) startStaff(c Config, log *slog.Logger) error {
	var err error
	m.staff, err = staff.New(staff.Config{
		StateDir: c.StateDir,
		CertFile: c.StaffCert,
		KeyFile:  c.StaffKey,
		Status:   func(ctx context.Context) (ui.Status, error) { return m.server.Status(ctx) },
		Views:    m.flow,
		Maintenance: func(on bool) {
			m.maintenance.Store(on)
			m.flow.SetMaintenance(on)
		},
		SyncNow: func() {
			if m.uploader != nil {
				m.uploader.Kick()
			}
		},
		History: m.staffHistory,
		Log:     log.With("part", "staff"),
	})
	if err != nil {
		return err
	}
	if m.staffLn, err = net.Listen("tcp", c.StaffListen); err != nil {
		return fmt.Errorf("staff dashboard: listen: %w", err)
	}
	log.Info("staff dashboard", "url", "https://"+m.staffLn.Addr().String()+"/staff", "fingerprint", m.staff.Fingerprint())
	return nil
}

// staffHistory reads the dashboard's history from the outbox: the recent
// check-ins (the card serial's last characters only) and today's per hour.
func (m *Main) staffHistory(ctx context.Context) (staff.History, error) {
	var h staff.History
	recent, err := m.store.Recent(ctx, staff.RecentRows)
	if err != nil {
		return h, err
	}
	now, _ := m.clock.Now()
	from, to := staff.Today(now.Local()) // the outbox's time zone (time.Local)
	hours, err := m.store.CountsByHour(ctx, from, to)
	if err != nil {
		return h, err
	}
	for _, r := range recent {
		h.Recent = append(h.Recent, staff.RecentRow(r))
	}
	for _, c := range hours {
		h.Hourly = append(h.Hourly, staff.HourRow(c))
	}
	return h, nil
}

// StaffAddr returns the staff dashboard's address, once Run returned; ""
// without a dashboard.
func (m *Main) StaffAddr() string {
	if m.staffLn == nil {
		return ""
	}
	return m.staffLn.Addr().String()
}

// staffAlerts raises the dashboard's alerts for the screens that need a
// person: help asked, a person sent to staff (with the reason's code,
// never who). It runs on the flow's goroutine; Raise never blocks.
type staffAlerts struct{ s *staff.Server }

func (a *staffAlerts) Show(v kiosk.View) {
	if !v.Entered() {
		return // updated in place: alerted already
	}
	switch v.Screen {
	case kiosk.ScreenHelp:
		a.s.Raise(staff.AlertHelp, "someone at the kiosk asked for help")
	case kiosk.ScreenSeeStaff:
		a.s.Raise(staff.AlertSeeStaff, string(v.Reason))
	}
}

// watchAlerts raises the dashboard's alerts for the kiosk's state, every
// few seconds until ctx ends: the enclosure open, the printer failing,
// the disk low, the lists stale. The dashboard keeps one open alert of a
// kind until staff acknowledge it.
func (m *Main) watchAlerts(ctx context.Context) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		if m.enclosureOpen.Load() {
			m.staff.Raise(staff.AlertTamper, "the enclosure is open")
		}
		if m.printer != nil {
			if st := m.printer.State(); st.Condition != "ok" {
				m.staff.Raise(staff.AlertPrinter, string(st.Condition)+": "+st.Reason)
			}
		}
		if err := m.storage.Err(); err != nil {
			m.staff.Raise(staff.AlertDisk, err.Error())
		}
		now, _ := m.clock.Now()
		if m.lists.Status(now).Stale {
			m.staff.Raise(staff.AlertListsStale, "the revocation list is older than lists.max_list_age")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
