package staff

import (
	"regexp"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

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

// alerts are the open alerts, oldest first.
type alerts struct {
	mu   sync.Mutex
	next uint64
	open []Alert
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
	return len(a.open) < n
}

// list returns a copy of the open alerts, oldest first; never nil, so it
// is [] in JSON.
func (a *alerts) list() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Alert{}, a.open...)
}
