package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	// go-toml rather than BurntSushi/toml: its strict decoder
	// (DisallowUnknownFields) names the line of every unknown key, and its
	// syntax and value errors carry the line too; BurntSushi names the
	// line of a syntax error but lists unknown keys (MetaData.Undecoded)
	// without one. Its encoder also writes a field's comment tag, so the
	// sample file is made from the same struct that reads it.
	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// file is the TOML file's layout: one table to a part of the kiosk, each
// field bound (by bind) to a field of a Config, so that reading, writing
// and comparing configurations all follow this one list of keys. The tag
// reload:"yes" marks a key a running kiosk may take on SIGHUP.
type file struct {
	Kiosk struct {
		Listen   *string `toml:"listen" comment:"Address of the kiosk page and its API: loopback only, for the kiosk's own\nbrowser."`
		StateDir *string `toml:"state_dir" comment:"Directory of the outbox (the check-ins not yet uploaded), the device key and\nother state."`
		KioskID  *string `toml:"kiosk_id" comment:"This kiosk's name at the upstream; empty: the host name. Enrollment (kiosk\nenroll) overrides it."`
		LogLevel *string `toml:"log_level" reload:"yes" comment:"debug, info, warn or error."`
		Office   *string `toml:"office" comment:"The office's name, printed at the top of receipts; empty for none."`
	} `toml:"kiosk"`
	Lists struct {
		Root            *string   `toml:"root" comment:"PEM file of the pinned root public key the lists are signed with."`
		Trust           *string   `toml:"trust" reload:"yes" comment:"The signed trust list: the issuers' keys (required). Without root, PEM\nissuer keys trusted without limits: development only."`
		Revocations     *string   `toml:"revocations" reload:"yes" comment:"The signed revocation list; empty for none (needs root)."`
		Roster          *string   `toml:"roster" reload:"yes" comment:"The signed roster that resolves reference cards (needs root and\nreference_prefix)."`
		ReferencePrefix *string   `toml:"reference_prefix" comment:"URL prefix of reference cards' QR codes, e.g.\n\"https://docket.example.gov/c/\"."`
		MaxListAge      *duration `toml:"max_list_age" reload:"yes" comment:"How old the revocation list may be (by its issue time) before cards are sent\nto staff as stale; \"0s\": no limit."`
	} `toml:"lists" comment:"The signed lists cards are verified against. The upstream sends newer ones;\nthese are what the kiosk starts with."`
	Upstream struct {
		URL        *string   `toml:"url" comment:"Base URL of the agency's server, or its replicas' separated by commas, the\npreferred first (the kiosk fails over to the next when one stops answering,\nand back to the first after 5 minutes); empty: the one kiosk enroll kept\n(check-ins stay queued if none)."`
		CA         *string   `toml:"ca" comment:"PEM file of the upstream's CA; empty: the one kiosk enroll kept."`
		SealKey    *string   `toml:"seal_key" comment:"File of the upstream's public seal key, raw or base64, for a kiosk not\nenrolled; empty: the one kiosk enroll kept."`
		MinBackoff *duration `toml:"min_backoff" comment:"First retry delay after a failed upload."`
		MaxBackoff *duration `toml:"max_backoff" comment:"Longest retry delay between uploads."`
	} `toml:"upstream"`
	Screens struct {
		ConfirmTimeout *duration `toml:"confirm_timeout" reload:"yes" comment:"How long the confirm screen waits for the person."`
		ResultTimeout  *duration `toml:"result_timeout" reload:"yes" comment:"How long the success and see-staff screens stay up."`
		HelpTimeout    *duration `toml:"help_timeout" reload:"yes" comment:"How long the help screen stays up."`
		Challenge      *bool     `toml:"challenge" comment:"Ask for the date of birth on a keypad after \"Yes, this is me\" and before the\ncheck-in is recorded; a wrong answer sends the person to staff, never saying\nwhich part was wrong."`
	} `toml:"screens"`
	Devices struct {
		Scanner *string `toml:"scanner" comment:"Scanner source: sim; serial:PATH with options idle, term (cr, lf, crlf, tab,\nnone), dedup, baud; or evdev:PATH with options layout (us, uk, de, fr), idle,\ngrab, record (16, 24), dedup; options as a query string, e.g.\nevdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16"`
		Panel   *string `toml:"panel" comment:"Panel source (status light, buzzer, lamp, help button, tamper switch,\npresence sensor): sim, or gpio:CHIP (gpio:/dev/gpiochip0) with the pins\nbelow."`
		Display *string `toml:"display" comment:"Service display for the technician: empty for none, sim, or an SSD1306 on\nI2C: i2c:/dev/i2c-1?addr=0x3c."`
		Printer *string `toml:"printer" comment:"Receipt printer (ESC/POS): empty for none, sim, lp:/dev/usb/lp0, or\nserial:/dev/ttyUSB0?baud=19200."`
	} `toml:"devices"`
	Pins struct {
		Green    *string `toml:"green" comment:"The status light's green."`
		Amber    *string `toml:"amber" comment:"Empty for a two-colour light: amber is red and green together."`
		Red      *string `toml:"red" comment:"The status light's red."`
		Buzzer   *string `toml:"buzzer" comment:"An active buzzer (it sounds while its line is on)."`
		Lamp     *string `toml:"lamp" comment:"The \"staff called\" lamp or relay; empty if none."`
		Help     *string `toml:"help" comment:"The help button, to ground: active low."`
		Tamper   *string `toml:"tamper" comment:"The enclosure's switch: active (high) when the enclosure is open."`
		Presence *string `toml:"presence" comment:"The presence sensor: active when someone is near; empty if none."`
	} `toml:"pins" comment:"The panel's GPIO lines (gpio:CHIP), by their names on the chip; add\n\":active-low\" to a line that is on when low; empty for a part not\nfitted. The defaults are the wiring of docs/HARDWARE.md."`
	Staff struct {
		Listen *string `toml:"listen" comment:"Address of the staff dashboard (https://HOST:PORT/staff), on the office's\nnetwork, e.g. \":8443\"; empty (the default): no dashboard. Accounts: kiosk\nstaff add NAME."`
		Cert   *string `toml:"cert" comment:"PEM file of the dashboard's certificate; empty: a self-signed one made on\nfirst start (its fingerprint is on the service display and in the log)."`
		Key    *string `toml:"key" comment:"PEM file of the certificate's private key (with cert)."`
	} `toml:"staff"`
	Storage struct {
		DiskReserve    *size     `toml:"disk_reserve" comment:"Free space the state directory must keep, or the kiosk goes out of service:\n\"64MiB\", or bytes."`
		StorageCheck   *duration `toml:"storage_check" comment:"How often free space is checked."`
		Retention      *duration `toml:"retention" comment:"How long check-ins the upstream acknowledged are kept; \"0s\": for good.\nUnacknowledged ones are never purged."`
		RecoverCorrupt *bool     `toml:"recover_corrupt" comment:"Start with an empty outbox if the existing one is corrupt (it is kept aside,\nnever deleted)."`
	} `toml:"storage"`
	Clock struct {
		SyncedFile *string `toml:"synced_file" comment:"File that exists while the system clock is synchronized\n(systemd-timesyncd's)."`
	} `toml:"clock"`
	// The daemon does not use [update]: `kiosk update` reads the file at
	// each run, so a change is taken at once (reload:"yes"), never a
	// restart of kioskd.
	Update struct {
		Source         *string   `toml:"source" reload:"yes" comment:"Where kiosk update finds releases: an https:// URL or a local path (a USB\nstick), of a release directory or of one .manifest.json; empty: none (name\none on the command line)."`
		ReleaseKey     *string   `toml:"release_key" reload:"yes" comment:"The release public key (minisign, \"RWQ...\"): only releases it signed are\napplied. Empty: no updates (or release_key_file)."`
		ReleaseKeyFile *string   `toml:"release_key_file" reload:"yes" comment:"A file holding the release public key instead (kiosk update keygen's .pub)."`
		CA             *string   `toml:"ca" reload:"yes" comment:"PEM file of the CAs an https:// source is verified with; empty: the\nsystem's."`
		HealthTimeout  *duration `toml:"health_timeout" reload:"yes" comment:"How long a new release has to answer healthy after kioskd restarts onto it,\nbefore it is rolled back and marked bad."`
		IdleTimeout    *duration `toml:"idle_timeout" reload:"yes" comment:"How long an update waits for the kiosk to be idle (no session under way)\nbefore it gives up, nothing switched."`
	} `toml:"update" comment:"Signed updates (kiosk update check|apply|rollback|status; docs/UPDATE.md)."`
}

// bind returns the file layout with every key pointing at its field of c.
func bind(c *Config) *file {
	var f file
	f.Kiosk.Listen = &c.Listen
	f.Kiosk.StateDir = &c.StateDir
	f.Kiosk.KioskID = &c.KioskID
	f.Kiosk.LogLevel = &c.LogLevel
	f.Lists.Root = &c.Root
	f.Lists.Trust = &c.Trust
	f.Lists.Revocations = &c.Revocations
	f.Lists.Roster = &c.Roster
	f.Lists.ReferencePrefix = &c.ReferencePrefix
	f.Lists.MaxListAge = (*duration)(&c.MaxListAge)
	f.Upstream.URL = &c.Upstream
	f.Upstream.CA = &c.UpstreamCA
	f.Upstream.SealKey = &c.SealKey
	f.Upstream.MinBackoff = (*duration)(&c.UploadMinBackoff)
	f.Upstream.MaxBackoff = (*duration)(&c.UploadMaxBackoff)
	f.Screens.ConfirmTimeout = (*duration)(&c.ConfirmTimeout)
	f.Screens.ResultTimeout = (*duration)(&c.ResultTimeout)
	f.Screens.HelpTimeout = (*duration)(&c.HelpTimeout)
	f.Screens.Challenge = &c.Challenge
	f.Devices.Scanner = &c.Scanner
	f.Devices.Panel = &c.Panel
	f.Devices.Display = &c.Display
	f.Devices.Printer = &c.Printer
	f.Pins.Green = &c.Pins.Green
	f.Pins.Amber = &c.Pins.Amber
	f.Pins.Red = &c.Pins.Red
	f.Pins.Buzzer = &c.Pins.Buzzer
	f.Pins.Lamp = &c.Pins.Lamp
	f.Pins.Help = &c.Pins.Help
	f.Pins.Tamper = &c.Pins.Tamper
	f.Pins.Presence = &c.Pins.Presence
	f.Kiosk.Office = &c.Office
	f.Staff.Listen = &c.StaffListen
	f.Staff.Cert = &c.StaffCert
	f.Staff.Key = &c.StaffKey
	f.Storage.DiskReserve = (*size)(&c.DiskReserve)
	f.Storage.StorageCheck = (*duration)(&c.StorageCheck)
	f.Storage.Retention = (*duration)(&c.Retention)
	f.Storage.RecoverCorrupt = &c.RecoverCorrupt
	f.Clock.SyncedFile = &c.ClockSyncedFile
	f.Update.Source = &c.UpdateSource
	f.Update.ReleaseKey = &c.UpdateKey
	f.Update.ReleaseKeyFile = &c.UpdateKeyFile
	f.Update.CA = &c.UpdateCA
	f.Update.HealthTimeout = (*duration)(&c.UpdateHealthTimeout)
	f.Update.IdleTimeout = (*duration)(&c.UpdateIdleTimeout)
	return &f
}

// duration is a time.Duration written as a TOML string, "60s".
type duration time.Duration

func (d duration) MarshalText() ([]byte, error) { return []byte(formatDuration(time.Duration(d))), nil }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// formatDuration writes d in the largest unit that divides it: "72h", not
// time.Duration's "72h0m0s".
func formatDuration(d time.Duration) string {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if d != 0 && d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.name
		}
	}
	if d == 0 {
		return "0s"
	}
	return d.String()
}

// size is a number of bytes: a TOML integer, or a string with a binary
// unit, "64MiB".
type size uint64

func (s size) MarshalText() ([]byte, error) { return []byte(FormatSize(uint64(s))), nil }

func (s *size) UnmarshalText(b []byte) error {
	n, err := ParseSize(string(b))
	*s = size(n)
	return err
}

// leaf is one key of the file.
type leaf struct {
	key    string        // "lists.trust"
	kind   unstable.Kind // the TOML kind its value must be
	want   string        // what a value of it looks like, for errors
	reload bool          // a running kiosk takes it on SIGHUP
	field  reflect.Value // the Config field it is bound to
}

// leaves returns the keys of the file, in order, bound to c's fields.
func leaves(c *Config) []leaf { return layoutLeaves(bind(c)) }

// layoutLeaves returns the keys of a file's layout, in order: layout points
// to a struct of tables (kiosk.toml's file, upstream.toml's upstreamFile),
// each a struct of pointers bound to a configuration's fields. One reader
// of every file, so that each gets the same kinds checked, the same lines
// named and the same unknown keys refused.
func layoutLeaves(layout any) []leaf {
	var ls []leaf
	f := reflect.ValueOf(layout).Elem()
	for i := range f.NumField() {
		table, tt := f.Field(i), f.Type().Field(i)
		for j := range table.NumField() {
			ft := tt.Type.Field(j)
			l := leaf{
				key:    tt.Tag.Get("toml") + "." + ft.Tag.Get("toml"),
				reload: ft.Tag.Get("reload") == "yes",
				field:  table.Field(j).Elem(),
			}
			switch ft.Type.Elem().Kind() {
			case reflect.String:
				l.kind, l.want = unstable.String, "a string"
			case reflect.Bool:
				l.kind, l.want = unstable.Bool, "true or false"
			case reflect.Int64:
				l.kind, l.want = unstable.String, `a duration such as "60s" or "72h"`
			case reflect.Uint64:
				l.kind, l.want = unstable.Integer, `a size such as "64MiB", or a number of bytes`
			case reflect.Slice:
				l.kind, l.want = unstable.Array, `a list of strings such as ["a", "b"]`
			}
			ls = append(ls, l)
		}
	}
	return ls
}

// tables returns the names of the file's tables, in order.
func tables(ls []leaf) []string {
	var names []string
	for _, l := range ls {
		t, _, _ := strings.Cut(l.key, ".")
		if !slices.Contains(names, t) {
			names = append(names, t)
		}
	}
	return names
}

// Error is what is wrong with a setting or a configuration file.
type Error struct {
	File string // the file, "" for a setting not read from one
	Line int    // its line, from 1; 0 when not known
	Key  string // the key, as "lists.trust"; "" for the file as a whole
	Msg  string // what is wrong, naming the key
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// Load reads the TOML file at path over Default() and checks the result
// (Check): a file must be sound on its own. Its errors are *Errors naming
// the file and, but for one that cannot be read, the line; several are
// joined. A key the file does not name keeps its default; an unknown key
// is an error, as a misspelt one would otherwise be a setting silently not
// made. A missing file is an error wrapping fs.ErrNotExist.
func Load(path string) (Config, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read configuration: %w", err)
	}
	return parse(path, doc)
}

// parse reads doc, the contents of the file name, over Default().
func parse(name string, doc []byte) (Config, error) {
	c := Default()
	c.KioskID = ""
	err := decode(name, doc, bind(&c), func() error {
		if c.KioskID == "" {
			c.KioskID = hostname()
		}
		return c.Check()
	})
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

// decode reads doc, the contents of the file name, into the fields layout
// is bound to (layoutLeaves), then runs check over the result: the errors
// of either are *Errors naming the file and the line of their key.
func decode(name string, doc []byte, layout any, check func() error) error {
	ls := layoutLeaves(layout)
	// First the kinds: the decoder would take 60 for a duration as 60ns,
	// and names no line when a value's own parser fails on a number.
	lines, parsed := keyLines(doc)
	if parsed {
		var errs []error
		for _, l := range ls {
			if at, ok := lines[l.key]; ok && at.kind != l.kind && !(l.kind == unstable.Integer && at.kind == unstable.String) {
				errs = append(errs, &Error{File: name, Line: at.line, Key: l.key, Msg: l.key + ": want " + l.want})
			}
		}
		for _, table := range tables(ls) {
			if at, ok := lines[table]; ok && at.kind != unstable.Table && at.kind != unstable.InlineTable {
				errs = append(errs, &Error{File: name, Line: at.line, Key: table, Msg: table + ": want a table"})
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	dec := toml.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(layout); err != nil {
		return decodeError(name, err, ls)
	}
	if err := check(); err != nil {
		for _, e := range unjoin(err) {
			var ce *Error
			if errors.As(e, &ce) {
				ce.File, ce.Line = name, lines[ce.Key].line
			}
		}
		return err
	}
	return nil
}

// decodeError turns the decoder's error into *Errors naming file and line.
func decodeError(name string, err error, ls []leaf) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, e := range strict.Errors {
			line, _ := e.Position()
			key := strings.Join(e.Key(), ".")
			what := "key"
			if strings.Contains(e.Error(), "table") {
				what = "table"
			}
			errs = append(errs, &Error{File: name, Line: line, Key: key, Msg: fmt.Sprintf("unknown %s %q", what, key)})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		key := strings.Join(de.Key(), ".")
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		// The decoder's words for a value of the wrong kind name Go
		// types; say what the key wants instead.
		for _, l := range ls {
			if l.key == key {
				msg = key + ": want " + l.want
			}
		}
		if slices.Contains(tables(ls), key) {
			msg = key + ": want a table"
		}
		return &Error{File: name, Line: line, Key: key, Msg: msg}
	}
	return &Error{File: name, Msg: err.Error()}
}

// keyAt is where a key is set in a file, and the kind of its value.
type keyAt struct {
	line int
	kind unstable.Kind
}

// keyLines returns where each key of doc is set, as "table.key"; false if
// doc does not parse (the decoder then says where).
func keyLines(doc []byte) (map[string]keyAt, bool) {
	keys := make(map[string]keyAt)
	var p unstable.Parser
	p.Reset(doc)
	var table []string
	var walk func(prefix []string, kv *unstable.Node)
	walk = func(prefix []string, kv *unstable.Node) {
		k := append(prefix[:len(prefix):len(prefix)], keyParts(kv)...)
		v := kv.Value()
		keys[strings.Join(k, ".")] = keyAt{line: p.Shape(keyRange(kv)).Start.Line, kind: v.Kind}
		if v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				walk(k, it.Node())
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e)
			keys[strings.Join(table, ".")] = keyAt{line: p.Shape(keyRange(e)).Start.Line, kind: e.Kind}
		case unstable.KeyValue:
			walk(table, e)
		}
	}
	return keys, p.Error() == nil
}

func keyParts(n *unstable.Node) []string {
	var parts []string
	for it := n.Key(); it.Next(); {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// keyRange is the range of n's first key part: key nodes always carry one.
func keyRange(n *unstable.Node) unstable.Range {
	it := n.Key()
	it.Next()
	return it.Node().Raw
}

// unjoin returns the errors errors.Join joined, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// WriteTOML writes c as a TOML file that Load reads back as c, each key
// with its comment.
func (c Config) WriteTOML(w io.Writer) error {
	return encode(w, bind(&c))
}

// encode writes the configuration layout is bound to, each key with its
// comment.
func encode(w io.Writer, layout any) error {
	enc := toml.NewEncoder(w)
	enc.SetIndentTables(false)
	if err := enc.Encode(layout); err != nil {
		return fmt.Errorf("encode configuration: %w", err)
	}
	return nil
}

// sampleHeader opens the sample file.
const sampleHeader = `# The settings of the check-in kiosk daemon (kiosk run), with their defaults:
# a key left out keeps its default. "kiosk config default" prints this file,
# "kiosk config check FILE" checks one, "kiosk config show" prints the
# settings in effect. A flag of "kiosk run" overrides its key.
#
# Durations are strings such as "60s" or "72h"; sizes "64MiB", or a number of
# bytes. SIGHUP (systemctl reload kioskd) reads the file again: the log names
# the keys that changed and were applied, and those that need a restart.

`

// WriteDefault writes the sample configuration file: every key, its
// default and what it does. kiosk_id is left empty, its default being the
// host name of whichever kiosk reads the file.
func WriteDefault(w io.Writer) error {
	c := Default()
	c.KioskID = ""
	if _, err := io.WriteString(w, sampleHeader); err != nil {
		return fmt.Errorf("write sample configuration: %w", err)
	}
	return c.WriteTOML(w)
}
