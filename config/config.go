// Package config is the kiosk daemon's one source of settings: what
// `kiosk run` may be told, the defaults, the TOML file that sets them
// (DefaultPath), the checks they must pass, and which of them a reload
// (SIGHUP) may change while the kiosk runs.
//
// It imports nothing of the kiosk: the wiring in kiosk/cmd/kiosk hands its
// values to the parts, and keeps the defaults the parts hold themselves
// equal to these in its tests.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultPath is the file `kiosk run` reads when not told another; the
// daemon starts with the defaults when it is absent.
const DefaultPath = "/etc/kiosk/kiosk.toml"

// Config is the daemon's configuration. The field names are those the
// wiring has always used; the TOML keys that set them are in file.go.
type Config struct {
	Listen   string // kiosk page and API; loopback only
	StateDir string // the SQLite outbox and other state
	Scanner  string // scanner source: "sim", "serial:PATH", "evdev:PATH?OPTIONS" (scanner.ParseSource)
	Panel    string // panel source: "sim", "gpio:CHIP" (panel.ParseSource)
	// Pins are the panel's GPIO lines, by role, with "gpio:CHIP".
	Pins Pins
	// Display is the service display's source: "" for none, "sim",
	// "i2c:BUS?addr=0x3c" (display.Open).
	Display string
	// Printer is the receipt printer's source: "" for none, "sim",
	// "lp:/dev/usb/lp0", "serial:PATH?baud=19200" (printer.Open).
	Printer string
	// Office is the office's name, printed on receipts; "" for none.
	Office string
	// StaffListen is the staff dashboard's address, on the office's
	// network (TLS); "" (the default) turns the dashboard off: it is
	// opened on purpose, e.g. ":8443", once an account exists.
	StaffListen string
	// StaffCert and StaffKey are the dashboard's certificate and key (PEM
	// files), both or neither; neither: a self-signed one made on first
	// start under STATE/staff.
	StaffCert, StaffKey string
	Root                string // PEM public key file: the pinned root key the lists are signed with
	Roster              string // signed roster file for reference cards; "" for none
	// ReferencePrefix is the URL prefix of reference cards' QR codes, e.g.
	// "https://docket.example.gov/c/"; "" when the kiosk takes none.
	ReferencePrefix string
	Trust           string // signed trust list; without Root, PEM issuer certificates or keys (development)
	Revocations     string // signed revocation list; "" for none (needs Root)
	// Upstream is the base URL of the upstream, or several replicas' base
	// URLs separated by commas, the preferred first (UpstreamURLs); "" to
	// keep everything queued (default: from enrollment.json).
	Upstream   string
	UpstreamCA string // PEM file of the upstream's CA; "" for the one in enrollment.json
	KioskID    string // this kiosk's name at the upstream
	LogLevel   string // debug, info, warn, error
	// ClockSyncedFile exists while the system clock is synchronized
	// (systemd-timesyncd creates it); "" means never known to be.
	ClockSyncedFile string
	// Retention is how long a check-in the upstream acknowledged is kept
	// before it is purged; unacknowledged ones are never purged.
	Retention time.Duration
	// RecoverCorrupt starts with an empty outbox when the existing one fails
	// its integrity check (it is kept aside, never deleted).
	RecoverCorrupt bool
	// SealKey is a file holding the upstream's public key person data is
	// sealed to (the raw 32-byte X25519 key, or it in base64), for a kiosk
	// not enrolled with `kiosk enroll`; enrollment's key takes precedence.
	SealKey string

	ConfirmTimeout time.Duration
	ResultTimeout  time.Duration
	HelpTimeout    time.Duration
	// Challenge asks for the person's date of birth on a keypad before a
	// check-in is recorded; a wrong answer sends them to staff.
	Challenge bool

	UploadMinBackoff time.Duration
	UploadMaxBackoff time.Duration

	// MaxListAge is how old the revocation list may be before every card
	// is sent to staff as stale; 0 means no limit.
	MaxListAge time.Duration

	// DiskReserve is how much free space the state directory's file system
	// must keep: below it the kiosk goes out of service rather than take a
	// check-in it may not be able to record.
	DiskReserve uint64
	// StorageCheck is how often free space (and, after a failed commit,
	// whether the outbox can commit again) is checked.
	StorageCheck time.Duration

	// UpdateSource is where `kiosk update` looks for releases when not
	// told on its command line: an https:// URL or a local path (a USB
	// stick's directory), of a release directory or of one manifest; ""
	// (the default) for none.
	UpdateSource string
	// UpdateKey is the pinned release public key, minisign's base64 line
	// ("RWQ..."); UpdateKeyFile a file holding it instead. Releases are
	// applied only signed by it; neither set: no updates.
	UpdateKey, UpdateKeyFile string
	// UpdateCA is a PEM file of the CA certificates an https:// source is
	// verified with; "" for the system's.
	UpdateCA string
	// UpdateHealthTimeout is how long a release, once kioskd is restarted
	// onto it, has to answer healthy (GET /healthz, as its own version)
	// before it is rolled back and marked bad.
	UpdateHealthTimeout time.Duration
	// UpdateIdleTimeout is how long an update waits for the kiosk to be
	// idle (no one's session under way) before it gives up, unswitched.
	UpdateIdleTimeout time.Duration
}

// Pins name the panel's GPIO lines by role: a line's name on the chip
// ("GPIO17"), with ":active-low" for one that is on when low (a button
// wired to ground); "" for a part not fitted (panel.ParsePin).
type Pins struct {
	Green, Amber, Red string // the status light; without amber, red and green together
	Buzzer, Lamp      string
	Help              string // the help button
	Tamper            string // the enclosure's switch: active when open
	Presence          string // the presence sensor: active when someone is near
}

// DefaultPins is the wiring docs/HARDWARE.md describes, on a Raspberry
// Pi's header.
var DefaultPins = Pins{
	Green: "GPIO17", Amber: "GPIO27", Red: "GPIO22",
	Buzzer: "GPIO23", Lamp: "GPIO24",
	Help: "GPIO5:active-low", Tamper: "GPIO6", Presence: "GPIO13",
}

// Default returns the configuration the daemon starts from. The timeouts,
// the list age and the disk reserve are also the defaults of the parts
// that use them (kiosk.Flow, the lists, sync/outbox); this package may not
// import those, so kiosk/cmd/kiosk's tests keep the two equal.
func Default() Config {
	return Config{
		Listen:           "127.0.0.1:8080",
		StateDir:         "/var/lib/kiosk",
		Scanner:          "sim",
		Panel:            "sim",
		Pins:             DefaultPins,
		KioskID:          hostname(),
		LogLevel:         "info",
		ClockSyncedFile:  "/run/systemd/timesync/synchronized",
		Retention:        30 * 24 * time.Hour,
		ConfirmTimeout:   60 * time.Second,
		ResultTimeout:    20 * time.Second,
		HelpTimeout:      120 * time.Second,
		UploadMinBackoff: 500 * time.Millisecond,
		UploadMaxBackoff: 30 * time.Second,
		// Three days lets a kiosk ride out a long weekend without a
		// sync, and no longer.
		MaxListAge:   72 * time.Hour,
		DiskReserve:  64 << 20,
		StorageCheck: 5 * time.Second,
		// Long enough for a Pi to start the daemon and open its outbox
		// after a restart; short enough that a kiosk left on a release
		// that does not answer is back within two minutes.
		UpdateHealthTimeout: 90 * time.Second,
		// Sessions last a minute or two at most (screens.*_timeout); a
		// kiosk busy for ten minutes is updated at the timer's next run.
		UpdateIdleTimeout: 10 * time.Minute,
	}
}

// hostname is the kiosk's name when the configuration gives none.
func hostname() string {
	host, _ := os.Hostname()
	return host
}

// Check reports every value the daemon cannot run with, each as an *Error
// naming its key, joined; nil if there is none. Whether the files it names
// exist and hold what they should is for the daemon to find at its start.
func (c Config) Check() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: key + ": " + fmt.Sprintf(format, args...)})
	}
	if err := checkLoopback(c.Listen); err != nil {
		bad("kiosk.listen", "%v", err)
	}
	if c.StateDir == "" {
		bad("kiosk.state_dir", "empty: the kiosk needs a directory for its outbox")
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		bad("kiosk.log_level", "%v", err)
	}
	if c.Scanner == "" {
		bad("devices.scanner", "empty: name a scanner source, e.g. \"sim\"")
	}
	if c.Panel == "" {
		bad("devices.panel", "empty: name a panel source, e.g. \"sim\"")
	}
	if c.StaffListen != "" {
		if _, port, err := net.SplitHostPort(c.StaffListen); err != nil || port == "" {
			bad("staff.listen", "%q is not HOST:PORT (\":8443\" for every address)", c.StaffListen)
		}
	}
	if (c.StaffCert == "") != (c.StaffKey == "") {
		bad("staff.cert", "staff.cert and staff.key go together: both, or neither for a self-signed certificate")
	}
	// The lists: only the root key may vouch for a revocation list or a
	// roster, and a roster is of use only with the prefix of the cards it
	// resolves.
	if c.Revocations != "" && c.Root == "" {
		bad("lists.revocations", "needs lists.root: a revocation list is only read signed by the root key")
	}
	if c.Roster != "" && c.Root == "" {
		bad("lists.roster", "needs lists.root: a roster is only read signed by the root key")
	}
	if c.Roster != "" && c.ReferencePrefix == "" {
		bad("lists.roster", "needs lists.reference_prefix: reference cards need both")
	}
	if c.ReferencePrefix != "" && c.Roster == "" {
		bad("lists.reference_prefix", "needs lists.roster: reference cards need both")
	}
	if c.MaxListAge < 0 {
		bad("lists.max_list_age", "negative; 0 is no limit")
	}
	schemes := map[string]bool{}
	for _, s := range c.UpstreamURLs() {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("upstream.url", "%q is not an http or https URL", s)
			continue
		}
		schemes[u.Scheme] = true
	}
	if len(schemes) > 1 {
		bad("upstream.url", "mixes http and https: the replicas of one upstream are reached one way")
	}
	if c.UploadMinBackoff <= 0 {
		bad("upstream.min_backoff", "want more than 0")
	}
	if c.UploadMaxBackoff < c.UploadMinBackoff {
		bad("upstream.max_backoff", "%s is less than upstream.min_backoff (%s)", formatDuration(c.UploadMaxBackoff), formatDuration(c.UploadMinBackoff))
	}
	// A screen that times out at once would leave no time to read it.
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"screens.confirm_timeout", c.ConfirmTimeout},
		{"screens.result_timeout", c.ResultTimeout},
		{"screens.help_timeout", c.HelpTimeout},
		{"storage.storage_check", c.StorageCheck},
	} {
		if t.d <= 0 {
			bad(t.key, "want more than 0")
		}
	}
	if c.Retention < 0 {
		bad("storage.retention", "negative; 0 keeps acknowledged check-ins for good")
	}
	if err := checkUpdateSource(c.UpdateSource); err != nil {
		bad("update.source", "%v", err)
	}
	if c.UpdateKey != "" && c.UpdateKeyFile != "" {
		bad("update.release_key", "update.release_key and update.release_key_file are one key: set one of them")
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"update.health_timeout", c.UpdateHealthTimeout},
		{"update.idle_timeout", c.UpdateIdleTimeout},
	} {
		if t.d <= 0 {
			bad(t.key, "want more than 0")
		}
	}
	return errors.Join(errs...)
}

// checkUpdateSource refuses an update source that is a URL but not an
// https:// one: a release is signed, but what is fetched, and when, is
// still worth keeping from the network's view.
func checkUpdateSource(src string) error {
	if !strings.Contains(src, "://") {
		return nil // "" or a local path
	}
	if u, err := url.Parse(src); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an https:// URL or a local path", src)
	}
	return nil
}

// checkLoopback refuses an address other than loopback: the kiosk page and
// its API trust whoever reaches them, which must be the kiosk's own browser.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: the port is not a number", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q is not on loopback: the kiosk page must be reachable from this machine only, e.g. 127.0.0.1:8080", addr)
	}
	return nil
}

// ParseLevel parses a log level: debug, info, warn or error, in any case.
// Anything else is an error, never a quiet "info".
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug, info, warn, error", s)
}

// ParseSize parses a number of bytes: plain, or with a binary unit (KiB,
// MiB, GiB), as "64MiB".
func ParseSize(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.name); ok {
			s, mult = strings.TrimSpace(n), u.size
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxUint64/mult {
		return 0, errors.New("want a number of bytes, e.g. 67108864 or 64MiB")
	}
	return n * mult, nil
}

// FormatSize formats n in the largest binary unit that divides it.
func FormatSize(n uint64) string {
	for _, u := range sizeUnits {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return strconv.FormatUint(n, 10)
}

var sizeUnits = []struct {
	name string
	size uint64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

// UpstreamURLs returns the upstream's base URLs, the preferred first: the
// comma-separated entries of Upstream, trimmed, empty ones dropped. A
// kiosk fails over to the next when one stops answering (sync/upload).
func (c Config) UpstreamURLs() []string {
	var urls []string
	for s := range strings.SplitSeq(c.Upstream, ",") {
		if s = strings.TrimSpace(s); s != "" {
			urls = append(urls, s)
		}
	}
	return urls
}
