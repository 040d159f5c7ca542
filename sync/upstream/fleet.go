package upstream

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// The fleet view (sync/API.md, "Operators"): for agency staff, each
// kiosk's last heartbeat and head state, its estimated backlog, its last
// check-in, its office and its alerts, as JSON (GET /v1/fleet) and as a
// page (GET /fleet). Both are read from the Store, so every replica shows
// the same fleet; both are behind the admin token (admin.go).

// Paths of the operator endpoints.
const (
	PathFleet     = "/v1/fleet" // GET FleetReport
	PathFleetPage = "/fleet"    // GET: the fleet as an HTML page; its assets under /fleet/
	PathMetrics   = "/metrics"  // GET: Prometheus text format
)

// Alerts of a kiosk in the fleet view.
const (
	AlertSilent      = "silent"       // no heartbeat for longer than the silence limit (SetSilentAfter)
	AlertNeverHeard  = "never_heard"  // enrolled, and no heartbeat ever came
	AlertGaps        = "gaps"         // records below the kiosk's head are missing here
	AlertFork        = "fork"         // the kiosk's head is not the record held at its seq
	AlertTailDeleted = "tail_deleted" // records held here are gone from the kiosk
)

// fleetPageTemplate is the page's template in webFiles.
const fleetPageTemplate = "fleet.html"

// FleetReport is the body of GET /v1/fleet.
type FleetReport struct {
	GeneratedAt time.Time    `json:"generated_at"`         // the server's time
	SilentAfter float64      `json:"silent_after_seconds"` // the silence limit
	Kiosks      []FleetKiosk `json:"kiosks"`               // by kiosk id
}

// FleetKiosk is one kiosk in the fleet view.
type FleetKiosk struct {
	KioskID       string     `json:"kiosk_id"`
	Office        string     `json:"office"`         // as its enrollment token named it (Token.Office); "": none named
	LastHeartbeat *time.Time `json:"last_heartbeat"` // null: never
	State         string     `json:"state"`          // the last head against what is held now (wire.Head*); "": no heartbeat
	HeadSeq       uint64     `json:"head_seq"`       // of the last heartbeat
	HeldSeq       uint64     `json:"held_seq"`       // highest seq held
	// Backlog estimates the records the kiosk still has to send: its last
	// head's seq above the highest seq held. It grows only with
	// heartbeats, so it is as old as the last one.
	Backlog uint64 `json:"backlog"`
	// LastCheckIn is the newest time a record held of the kiosk was
	// checked in, by the kiosk's clock (Record.At), not when it arrived:
	// the records a kiosk sends after an outage say when its people came.
	// Null: no record held.
	LastCheckIn *time.Time `json:"last_check_in"`
	Alerts      []string   `json:"alerts"` // Alert*; [] when all is well
}

// Fleet returns the fleet view: every kiosk enrolled or heard from.
func (s *Server) Fleet(ctx context.Context) (FleetReport, error) {
	s.t.mu.Lock()
	silentAfter := s.t.silentAfter
	s.t.mu.Unlock()
	if silentAfter <= 0 {
		silentAfter = DefaultSilentAfter
	}
	heads, err := s.Health(ctx, silentAfter)
	if err != nil {
		return FleetReport{}, err
	}
	offices, err := s.store.KioskOffices(ctx)
	if err != nil {
		return FleetReport{}, fmt.Errorf("kiosk offices: %w", err)
	}
	last, err := s.store.LastCheckIns(ctx)
	if err != nil {
		return FleetReport{}, fmt.Errorf("last check-ins: %w", err)
	}
	rep := FleetReport{GeneratedAt: s.now().UTC(), SilentAfter: silentAfter.Seconds(), Kiosks: make([]FleetKiosk, 0, len(heads))}
	for _, h := range heads {
		k := FleetKiosk{
			KioskID: h.KioskID, Office: offices[h.KioskID], LastHeartbeat: h.LastHeartbeat,
			State: h.State, HeadSeq: h.HeadSeq, HeldSeq: h.HeldSeq, Alerts: fleetAlerts(h),
		}
		if h.HeadSeq > h.HeldSeq {
			k.Backlog = h.HeadSeq - h.HeldSeq
		}
		if t, ok := last[h.KioskID]; ok {
			t = t.UTC()
			k.LastCheckIn = &t
		}
		rep.Kiosks = append(rep.Kiosks, k)
	}
	return rep, nil
}

// fleetAlerts derives a kiosk's alerts from its heartbeats.
func fleetAlerts(h wire.KioskHealth) []string {
	alerts := []string{}
	switch {
	case h.LastHeartbeat == nil:
		alerts = append(alerts, AlertNeverHeard)
	case h.Silent:
		alerts = append(alerts, AlertSilent)
	}
	switch h.State {
	case wire.HeadGaps:
		alerts = append(alerts, AlertGaps)
	case wire.HeadFork:
		alerts = append(alerts, AlertFork)
	case wire.HeadTailDeleted:
		alerts = append(alerts, AlertTailDeleted)
	}
	return alerts
}

func (s *Server) getFleet(w http.ResponseWriter, r *http.Request) {
	rep, err := s.Fleet(r.Context())
	if err != nil {
		s.log.Error("fleet", "err", err)
		writeError(w, http.StatusInternalServerError, "fleet unavailable")
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

//go:embed web
var webFiles embed.FS

var fleetPage = template.Must(template.ParseFS(webFiles, "web/"+fleetPageTemplate))

// fleetCSP lets the page load its own style sheet and nothing else: no
// script at all, inline or not (it refreshes with a meta tag), no frame.
const fleetCSP = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// fleetPageData is what the page template reads.
type fleetPageData struct {
	FleetReport
	Alerting    int
	SilentAfter time.Duration
}

func (s *Server) getFleetPage(w http.ResponseWriter, r *http.Request) {
	rep, err := s.Fleet(r.Context())
	if err != nil {
		s.log.Error("fleet page", "err", err)
		writeError(w, http.StatusInternalServerError, "fleet unavailable")
		return
	}
	d := fleetPageData{FleetReport: rep, SilentAfter: time.Duration(rep.SilentAfter * float64(time.Second))}
	for _, k := range rep.Kiosks {
		if len(k.Alerts) > 0 {
			d.Alerting++
		}
	}
	pageHeaders(w, "text/html; charset=utf-8")
	if err := fleetPage.Execute(w, d); err != nil {
		s.log.Error("fleet page", "err", err)
	}
}

// getFleetAsset serves the page's style sheet; nothing else under /fleet/.
func (s *Server) getFleetAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if path.Ext(name) != ".css" {
		http.NotFound(w, r)
		return
	}
	data, err := webFiles.ReadFile("web/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	pageHeaders(w, "text/css; charset=utf-8")
	w.Write(data)
}

// pageHeaders sets the headers of the fleet page and its assets: their
// type, the CSP, and no caching of what shows the fleet.
func pageHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", fleetCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
