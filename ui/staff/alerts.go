package staff

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// alertsFileName keeps the open alerts, in the staff directory (Dir), so
// that a restart of the daemon (a crash, an update, the watchdog) does not
// silently drop a help call nobody has answered yet.
const alertsFileName = "alerts.json"

// maxOpenAlerts bounds the alerts kept: one per kind is open at most, and
// kinds are few; anything past this is a file not of our making.
const maxOpenAlerts = 64

// The kinds of alert the dashboard knows; it shows any other kind too,
// by its name.
const (
	AlertHelp       = "help"        // the person pressed "I need help" (page or panel button)
	AlertSeeStaff   = "see_staff"   // a card was refused: the person was sent to staff
	AlertTamper     = "tamper"      // the enclosure is open
	AlertPrinter    = "printer"     // the receipt printer is out of paper, unplugged or failing
	AlertDisk       = "disk"        // too little space to record check-ins: out of service
	AlertListsStale = "lists_stale" // the revocation list is too old: every card goes to staff
)

// Alert is something staff must see to, open until one of them
// acknowledges it. It holds no personal data: Detail is for staff ("paper
// out"), never a name, A-number or scan.
type Alert struct {
	ID     uint64    `json:"id"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
	Raised time.Time `json:"raised_at"`
}

// alertKind is what Raise takes as a kind; another is raised as "other".
var alertKind = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// maxAlertDetail bounds a detail, in bytes: a line on the dashboard.
const maxAlertDetail = 200

// alerts are the open alerts, oldest first. Every change bumps gen, and
// the saver (Server.saveLoop) writes the list to the alerts file whenever
// gen has moved past what it last wrote.
type alerts struct {
	mu   sync.Mutex
	next uint64
	open []Alert
	gen  uint64 // changes so far
}

// alertsFile is the alerts file as written: {"next":N,"open":[...]}.
type alertsFile struct {
	Next uint64  `json:"next"`
	Open []Alert `json:"open"`
}

// load reads the alerts left open by the previous run from path. No file
// is no alerts. A file that cannot be read or parsed is an error, and the
// alerts stay empty: the dashboard must run all the same.
func (a *alerts) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read alerts: %w", err)
	}
	var f alertsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("parse alerts %s: %w", path, err)
	}
	if len(f.Open) > maxOpenAlerts {
		return fmt.Errorf("parse alerts %s: %d open; at most %d", path, len(f.Open), maxOpenAlerts)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next = f.Next
	for _, x := range f.Open {
		if !alertKind.MatchString(x.Kind) || len(x.Detail) > maxAlertDetail || x.ID == 0 {
			continue // not ours: dropped rather than shown
		}
		a.next = max(a.next, x.ID)
		a.open = append(a.open, x)
	}
	return nil
}

// snapshot returns the file's contents now, and the change they are of.
func (a *alerts) snapshot() ([]byte, uint64, error) {
	a.mu.Lock()
	f := alertsFile{Next: a.next, Open: append([]Alert{}, a.open...)}
	gen := a.gen
	a.mu.Unlock()
	b, err := json.Marshal(f)
	if err != nil {
		return nil, 0, fmt.Errorf("encode alerts: %w", err)
	}
	return b, gen, nil
}

// raise opens an alert of kind unless one of that kind is open already,
// and reports whether it did.
func (a *alerts) raise(kind, detail string, now time.Time) bool {
	if !alertKind.MatchString(kind) {
		kind = "other"
	}
	if len(detail) > maxAlertDetail {
		detail = detail[:maxAlertDetail]
		for !utf8.ValidString(detail) {
			detail = detail[:len(detail)-1]
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if slices.ContainsFunc(a.open, func(x Alert) bool { return x.Kind == kind }) {
		return false
	}
	a.next++
	a.gen++
	a.open = append(a.open, Alert{ID: a.next, Kind: kind, Detail: detail, Raised: now.UTC()})
	return true
}

// find returns the open alert id.
func (a *alerts) find(id uint64) (Alert, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.open, func(x Alert) bool { return x.ID == id })
	if i < 0 {
		return Alert{}, false
	}
	return a.open[i], true
}

// close closes the open alert id, and reports whether it was open.
func (a *alerts) close(id uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.open)
	a.open = slices.DeleteFunc(a.open, func(x Alert) bool { return x.ID == id })
	if len(a.open) == n {
		return false
	}
	a.gen++
	return true
}

// list returns a copy of the open alerts, oldest first; never nil, so it
// is [] in JSON.
func (a *alerts) list() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Alert{}, a.open...)
}
