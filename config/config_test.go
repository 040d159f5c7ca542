package config

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	host := hostname()
	tests := []struct {
		name string
		doc  string
		want func(c *Config) // applied to Default()
	}{
		{"empty file: the defaults", "", func(*Config) {}},
		{"comments only", "# nothing set\n\n", func(*Config) {}},
		{"every table", `
[kiosk]
listen = "127.0.0.1:9090"
state_dir = "/srv/kiosk"
kiosk_id = "lobby-1"
log_level = "debug"
office = "Lobby, 26 Federal Plaza"

[lists]
root = "/etc/kiosk/root.pem"
trust = "/etc/kiosk/trustlist.cose"
revocations = "/etc/kiosk/revocations.cose"
roster = "/etc/kiosk/roster.cose"
reference_prefix = "https://docket.example.gov/c/"
max_list_age = "48h"

[upstream]
url = "https://upstream.example:8443"
ca = "/etc/kiosk/ca.pem"
seal_key = "/etc/kiosk/seal.pub"
min_backoff = "1s"
max_backoff = "1m"

[screens]
confirm_timeout = "90s"
result_timeout = "15s"
help_timeout = "3m"

[devices]
scanner = "serial:/dev/ttyACM0"
panel = "gpio"
display = "i2c:/dev/i2c-1?addr=0x3d"
printer = "lp:/dev/usb/lp0"

[staff]
listen = "10.1.2.3:9443"
cert = "/etc/kiosk/staff.pem"
key = "/etc/kiosk/staff-key.pem"

[pins]
green = "GPIO2"
amber = ""
red = "GPIO3"
buzzer = "GPIO4"
lamp = "GPIO7"
help = "GPIO8:active-low"
tamper = "GPIO9:active-low"
presence = "GPIO10"

[storage]
disk_reserve = "128MiB"
storage_check = "10s"
retention = "240h"
recover_corrupt = true

[clock]
synced_file = "/run/synced"

[update]
source = "https://updates.example.gov/kiosk/"
release_key = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
release_key_file = ""
ca = "/etc/kiosk/updates-ca.pem"
health_timeout = "2m"
idle_timeout = "30m"
`, func(c *Config) {
			*c = Config{
				Listen: "127.0.0.1:9090", StateDir: "/srv/kiosk", KioskID: "lobby-1", LogLevel: "debug",
				Root: "/etc/kiosk/root.pem", Trust: "/etc/kiosk/trustlist.cose", Revocations: "/etc/kiosk/revocations.cose",
				Roster: "/etc/kiosk/roster.cose", ReferencePrefix: "https://docket.example.gov/c/", MaxListAge: 48 * time.Hour,
				Upstream: "https://upstream.example:8443", UpstreamCA: "/etc/kiosk/ca.pem", SealKey: "/etc/kiosk/seal.pub",
				UploadMinBackoff: time.Second, UploadMaxBackoff: time.Minute,
				ConfirmTimeout: 90 * time.Second, ResultTimeout: 15 * time.Second, HelpTimeout: 3 * time.Minute,
				Scanner: "serial:/dev/ttyACM0", Panel: "gpio", Display: "i2c:/dev/i2c-1?addr=0x3d", Printer: "lp:/dev/usb/lp0",
				Pins: Pins{Green: "GPIO2", Red: "GPIO3", Buzzer: "GPIO4", Lamp: "GPIO7", Help: "GPIO8:active-low",
					Tamper: "GPIO9:active-low", Presence: "GPIO10"},
				Office:      "Lobby, 26 Federal Plaza",
				StaffListen: "10.1.2.3:9443", StaffCert: "/etc/kiosk/staff.pem", StaffKey: "/etc/kiosk/staff-key.pem",
				DiskReserve: 128 << 20, StorageCheck: 10 * time.Second, Retention: 240 * time.Hour, RecoverCorrupt: true,
				ClockSyncedFile: "/run/synced",
				UpdateSource:    "https://updates.example.gov/kiosk/", UpdateKey: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3",
				UpdateCA: "/etc/kiosk/updates-ca.pem", UpdateHealthTimeout: 2 * time.Minute, UpdateIdleTimeout: 30 * time.Minute,
			}
		}},
		{"size as an integer", "[storage]\ndisk_reserve = 1048576\n", func(c *Config) { c.DiskReserve = 1 << 20 }},
		{"size as a plain string", "[storage]\ndisk_reserve = \"4096\"\n", func(c *Config) { c.DiskReserve = 4096 }},
		{"no list age limit", "[lists]\nmax_list_age = \"0s\"\n", func(c *Config) { c.MaxListAge = 0 }},
		{"an empty kiosk_id is the host name", "[kiosk]\nkiosk_id = \"\"\n", func(c *Config) { c.KioskID = host }},
		{"dotted keys", "screens.confirm_timeout = \"5s\"\nkiosk.log_level = \"warn\"\n", func(c *Config) {
			c.ConfirmTimeout, c.LogLevel = 5*time.Second, "warn"
		}},
		{"inline table", "screens = { help_timeout = \"1m\" }\n", func(c *Config) { c.HelpTimeout = time.Minute }},
		{"a file that empties a list", "[lists]\nrevocations = \"\"\n", func(*Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse("kiosk.toml", []byte(tt.doc))
			if err != nil {
				t.Fatalf("parse() error = %v", err)
			}
			want := Default()
			tt.want(&want)
			if d := Diff(got, want); got != want {
				t.Errorf("parse() differs from the wanted configuration in %v:\n got %+v\nwant %+v", d, got, want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // the errors, one a line
	}{
		{"unknown key", "[kiosk]\nlisten = \"127.0.0.1:8080\"\n\n[lists]\ntrustt = \"x\"\n",
			[]string{`kiosk.toml:5: unknown key "lists.trustt"`}},
		{"unknown keys, each with its line", "[lists]\ntrustt = \"x\"\n[screens]\nconfirm = \"5s\"\n",
			[]string{`kiosk.toml:2: unknown key "lists.trustt"`, `kiosk.toml:4: unknown key "screens.confirm"`}},
		{"unknown table", "[kiosk]\nlog_level = \"info\"\n[list]\ntrust = \"x\"\n",
			[]string{`kiosk.toml:3: unknown table "list"`}},
		{"unknown dotted key", "kiosk.bogus = 1\n",
			[]string{`kiosk.toml:1: unknown key "kiosk.bogus"`}},
		{"syntax: unterminated string", "[kiosk]\nlisten = \"127.0.0.1:8080\n",
			[]string{`kiosk.toml:2: basic strings cannot have new lines`}},
		{"syntax: key without value", "[kiosk]\n\nlisten\n",
			[]string{`kiosk.toml:3: expected '=' after key`}},
		{"duplicate key", "[kiosk]\nlog_level = \"info\"\nlog_level = \"warn\"\n",
			[]string{`kiosk.toml:3: key log_level is already defined`}},
		{"duration as a number", "[screens]\nconfirm_timeout = 60\n",
			[]string{`kiosk.toml:2: screens.confirm_timeout: want a duration such as "60s" or "72h"`}},
		{"duration zero as a number", "[lists]\nmax_list_age = 0\n",
			[]string{`kiosk.toml:2: lists.max_list_age: want a duration such as "60s" or "72h"`}},
		{"duration without a unit", "[screens]\n\nhelp_timeout = \"120\"\n",
			[]string{`kiosk.toml:3: screens.help_timeout: want a duration such as "60s" or "72h"`}},
		{"duration in an inline table", "screens = { result_timeout = 20 }\n",
			[]string{`kiosk.toml:1: screens.result_timeout: want a duration such as "60s" or "72h"`}},
		{"size with a decimal unit", "[storage]\ndisk_reserve = \"64MB\"\n",
			[]string{`kiosk.toml:2: storage.disk_reserve: want a size such as "64MiB", or a number of bytes`}},
		{"negative size", "[storage]\ndisk_reserve = -1\n",
			[]string{`kiosk.toml:2: storage.disk_reserve: want a size such as "64MiB", or a number of bytes`}},
		{"size as a float", "[storage]\ndisk_reserve = 1.5\n",
			[]string{`kiosk.toml:2: storage.disk_reserve: want a size such as "64MiB", or a number of bytes`}},
		{"bool as a string", "[storage]\nrecover_corrupt = \"yes\"\n",
			[]string{`kiosk.toml:2: storage.recover_corrupt: want true or false`}},
		{"string as a number", "[kiosk]\nstate_dir = 7\n",
			[]string{`kiosk.toml:2: kiosk.state_dir: want a string`}},
		{"a table as a value", "kiosk = 3\n",
			[]string{`kiosk.toml:1: kiosk: want a table`}},
		{"an array of tables", "[kiosk]\n[[lists]]\ntrust = \"x\"\n",
			[]string{`kiosk.toml:2: lists: want a table`}},
		{"bad log level", "[kiosk]\nlisten = \"127.0.0.1:8080\"\nlog_level = \"verbose\"\n",
			[]string{`kiosk.toml:3: kiosk.log_level: "verbose" is not one of debug, info, warn, error`}},
		{"listen on every interface", "[kiosk]\nlisten = \":8080\"\n",
			[]string{`kiosk.toml:2: kiosk.listen: ":8080" is not on loopback: the kiosk page must be reachable from this machine only, e.g. 127.0.0.1:8080`}},
		{"check errors, each with its line", "[kiosk]\nlog_level = \"loud\"\n[screens]\nconfirm_timeout = \"0s\"\n",
			[]string{`kiosk.toml:2: kiosk.log_level: "loud" is not one of debug, info, warn, error`,
				`kiosk.toml:4: screens.confirm_timeout: want more than 0`}},
		{"a check error of a key the file does not set", "[lists]\nrevocations = \"/etc/kiosk/revocations.cose\"\n",
			[]string{`kiosk.toml:2: lists.revocations: needs lists.root: a revocation list is only read signed by the root key`}},
		{"a check error without a line", "[lists]\nroot = \"/etc/kiosk/root.pem\"\n[upstream]\nmin_backoff = \"1m\"\n",
			[]string{`kiosk.toml: upstream.max_backoff: 30s is less than upstream.min_backoff (1m)`}},
		{"an update source over http", "[update]\nsource = \"http://updates.example.gov/\"\nhealth_timeout = 90\n",
			[]string{`kiosk.toml:3: update.health_timeout: want a duration such as "60s" or "72h"`}},
		{"an update source over http, alone", "[update]\n\nsource = \"http://updates.example.gov/\"\n",
			[]string{`kiosk.toml:3: update.source: "http://updates.example.gov/" is not an https:// URL or a local path`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("kiosk.toml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("parse() = nil error; want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("parse() error =\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
			for _, e := range unjoin(err) {
				var ce *Error
				if !errors.As(e, &ce) || ce.File != "kiosk.toml" {
					t.Errorf("error %q is %T, File %q; want a *Error naming kiosk.toml", e, e, ce.File)
				}
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "none.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing file) error = %v; want one wrapping fs.ErrNotExist", err)
	}
	path := filepath.Join(dir, "kiosk.toml")
	if err := os.WriteFile(path, []byte("[lists]\ntrustt = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || err.Error() != path+`:2: unknown key "lists.trustt"` {
		t.Errorf("Load() error = %v; want it to name %s and line 2", err, path)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want string // the key of the one error; "" for none
	}{
		{"defaults", func(*Config) {}, ""},
		{"localhost", func(c *Config) { c.Listen = "localhost:8080" }, ""},
		{"IPv6 loopback", func(c *Config) { c.Listen = "[::1]:0" }, ""},
		{"other loopback address", func(c *Config) { c.Listen = "127.0.0.2:8080" }, ""},
		{"every interface", func(c *Config) { c.Listen = ":8080" }, "kiosk.listen"},
		{"a LAN address", func(c *Config) { c.Listen = "192.168.1.10:8080" }, "kiosk.listen"},
		{"a host name", func(c *Config) { c.Listen = "kiosk.example:8080" }, "kiosk.listen"},
		{"no port", func(c *Config) { c.Listen = "127.0.0.1" }, "kiosk.listen"},
		{"named port", func(c *Config) { c.Listen = "127.0.0.1:http" }, "kiosk.listen"},
		{"no state directory", func(c *Config) { c.StateDir = "" }, "kiosk.state_dir"},
		{"level in capitals", func(c *Config) { c.LogLevel = "WARN" }, ""},
		{"unknown level", func(c *Config) { c.LogLevel = "verbose" }, "kiosk.log_level"},
		{"empty level", func(c *Config) { c.LogLevel = "" }, "kiosk.log_level"},
		{"no scanner", func(c *Config) { c.Scanner = "" }, "devices.scanner"},
		{"no panel", func(c *Config) { c.Panel = "" }, "devices.panel"},
		{"staff address", func(c *Config) { c.StaffListen = "8443" }, "staff.listen"},
		{"staff cert without key", func(c *Config) { c.StaffCert = "/etc/kiosk/staff.pem" }, "staff.cert"},
		{"revocations without root", func(c *Config) { c.Revocations = "r.cose" }, "lists.revocations"},
		{"revocations with root", func(c *Config) { c.Root, c.Revocations = "root.pem", "r.cose" }, ""},
		{"roster without a prefix", func(c *Config) { c.Root, c.Roster = "root.pem", "roster.cose" }, "lists.roster"},
		{"prefix without a roster", func(c *Config) { c.ReferencePrefix = "https://x/c/" }, "lists.reference_prefix"},
		{"roster and prefix", func(c *Config) { c.Root, c.Roster, c.ReferencePrefix = "root.pem", "roster.cose", "https://x/c/" }, ""},
		{"negative list age", func(c *Config) { c.MaxListAge = -time.Hour }, "lists.max_list_age"},
		{"no list age limit", func(c *Config) { c.MaxListAge = 0 }, ""},
		{"https upstream", func(c *Config) { c.Upstream = "https://upstream.example:8443" }, ""},
		{"http upstream", func(c *Config) { c.Upstream = "http://127.0.0.1:9000" }, ""},
		{"upstream without scheme", func(c *Config) { c.Upstream = "upstream.example:8443" }, "upstream.url"},
		{"upstream of another scheme", func(c *Config) { c.Upstream = "ftp://upstream.example" }, "upstream.url"},
		{"no min backoff", func(c *Config) { c.UploadMinBackoff = 0 }, "upstream.min_backoff"},
		{"max below min backoff", func(c *Config) { c.UploadMaxBackoff = time.Millisecond }, "upstream.max_backoff"},
		{"no confirm timeout", func(c *Config) { c.ConfirmTimeout = 0 }, "screens.confirm_timeout"},
		{"negative result timeout", func(c *Config) { c.ResultTimeout = -time.Second }, "screens.result_timeout"},
		{"no help timeout", func(c *Config) { c.HelpTimeout = 0 }, "screens.help_timeout"},
		{"no storage check", func(c *Config) { c.StorageCheck = 0 }, "storage.storage_check"},
		{"negative retention", func(c *Config) { c.Retention = -time.Hour }, "storage.retention"},
		{"retention for good", func(c *Config) { c.Retention = 0 }, ""},
		{"no disk reserve", func(c *Config) { c.DiskReserve = 0 }, ""},
		{"update from https", func(c *Config) { c.UpdateSource = "https://updates.example.gov/kiosk/" }, ""},
		{"update from a USB stick", func(c *Config) { c.UpdateSource = "/media/usb/kiosk" }, ""},
		{"update from http", func(c *Config) { c.UpdateSource = "http://updates.example.gov/kiosk/" }, "update.source"},
		{"update from ftp", func(c *Config) { c.UpdateSource = "ftp://updates.example.gov/" }, "update.source"},
		{"release key twice", func(c *Config) { c.UpdateKey, c.UpdateKeyFile = "RWQ", "/etc/kiosk/release.pub" }, "update.release_key"},
		{"release key file", func(c *Config) { c.UpdateKeyFile = "/etc/kiosk/release.pub" }, ""},
		{"no health timeout", func(c *Config) { c.UpdateHealthTimeout = 0 }, "update.health_timeout"},
		{"negative idle timeout", func(c *Config) { c.UpdateIdleTimeout = -time.Second }, "update.idle_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			err := c.Check()
			var keys []string
			if err != nil {
				for _, e := range unjoin(err) {
					var ce *Error
					if !errors.As(e, &ce) {
						t.Fatalf("Check() error %q is %T; want *Error", e, e)
					}
					if !strings.HasPrefix(ce.Msg, ce.Key+": ") {
						t.Errorf("Check() error %q does not name its key %q", ce.Msg, ce.Key)
					}
					keys = append(keys, ce.Key)
				}
			}
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if !slices.Equal(keys, want) {
				t.Errorf("Check() = %v (keys %q); want errors of keys %q", err, keys, want)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"debug", slog.LevelDebug, true},
		{"info", slog.LevelInfo, true},
		{"warn", slog.LevelWarn, true},
		{"error", slog.LevelError, true},
		{"Error", slog.LevelError, true},
		{"warning", 0, false},
		{"info+2", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
		out  string // FormatSize(want)
	}{
		{"67108864", 64 << 20, true, "64MiB"},
		{"64MiB", 64 << 20, true, "64MiB"},
		{" 64 MiB ", 64 << 20, true, "64MiB"},
		{"1GiB", 1 << 30, true, "1GiB"},
		{"1536KiB", 1536 << 10, true, "1536KiB"},
		{"1000", 1000, true, "1000"},
		{"0", 0, true, "0"},
		{"64MB", 0, false, ""},
		{"-1", 0, false, ""},
		{"1.5GiB", 0, false, ""},
		{"17179869184GiB", 0, false, ""}, // overflows
		{"", 0, false, ""},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok {
			if out := FormatSize(got); out != tt.out {
				t.Errorf("FormatSize(%d) = %q; want %q", got, out, tt.out)
			}
		}
	}
}

func TestReload(t *testing.T) {
	tests := []struct {
		name            string
		edit            func(c *Config)
		apply, nRestart []string
	}{
		{"nothing changed", func(*Config) {}, nil, nil},
		{"timeouts and level", func(c *Config) {
			c.ConfirmTimeout, c.ResultTimeout, c.HelpTimeout, c.LogLevel = time.Second, time.Second, time.Second, "debug"
		}, []string{"kiosk.log_level", "screens.confirm_timeout", "screens.result_timeout", "screens.help_timeout"}, nil},
		{"lists", func(c *Config) { c.Trust, c.Revocations, c.Roster, c.MaxListAge = "t", "r", "ro", time.Hour },
			[]string{"lists.trust", "lists.revocations", "lists.roster", "lists.max_list_age"}, nil},
		{"what is built at the start", func(c *Config) {
			c.Listen, c.StateDir, c.KioskID, c.Root, c.ReferencePrefix = "127.0.0.1:1", "/x", "other", "root.pem", "https://x/c/"
			c.Upstream, c.UpstreamCA, c.SealKey, c.UploadMinBackoff, c.UploadMaxBackoff = "https://u", "ca.pem", "k", 1, 2
			c.Scanner, c.Panel, c.DiskReserve, c.StorageCheck, c.Retention, c.RecoverCorrupt = "s", "p", 1, 1, 1, true
			c.ClockSyncedFile = "/x"
		}, nil, []string{"kiosk.listen", "kiosk.state_dir", "kiosk.kiosk_id", "lists.root", "lists.reference_prefix",
			"upstream.url", "upstream.ca", "upstream.seal_key", "upstream.min_backoff", "upstream.max_backoff",
			"devices.scanner", "devices.panel",
			"storage.disk_reserve", "storage.storage_check", "storage.retention", "storage.recover_corrupt", "clock.synced_file"}},
		{"both", func(c *Config) { c.HelpTimeout, c.Listen = time.Minute, "127.0.0.1:1" },
			[]string{"screens.help_timeout"}, []string{"kiosk.listen"}},
		// The lists are signed by the root: with a new one, they wait for
		// the restart that takes it; the list age does not.
		{"lists and a new root", func(c *Config) {
			c.Root, c.Trust, c.Revocations, c.Roster, c.MaxListAge = "r.pem", "t", "r", "ro", time.Hour
		}, []string{"lists.max_list_age"}, []string{"lists.root", "lists.trust", "lists.revocations", "lists.roster"}},
		// The roster goes with the reference prefix; the others do not.
		{"roster and a new prefix", func(c *Config) { c.Trust, c.Roster, c.ReferencePrefix = "t", "ro", "https://x/c/" },
			[]string{"lists.trust"}, []string{"lists.roster", "lists.reference_prefix"}},
		{"roster alone", func(c *Config) { c.Roster = "ro" }, []string{"lists.roster"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := Default()
			c := old
			tt.edit(&c)
			apply, restart := Reload(old, c)
			if !slices.Equal(apply, tt.apply) || !slices.Equal(restart, tt.nRestart) {
				t.Errorf("Reload() = %q, %q; want %q, %q", apply, restart, tt.apply, tt.nRestart)
			}
			// In effect after the reload: old but for what was applied,
			// c but for what waits for a restart.
			next := Apply(old, c, apply)
			if d := Diff(old, next); !slices.Equal(d, apply) {
				t.Errorf("Apply() differs from the old configuration in %q; want %q", d, apply)
			}
			if d := Diff(next, c); !slices.Equal(d, restart) {
				t.Errorf("Apply() differs from the new configuration in %q; want %q", d, restart)
			}
		})
	}
}

// Every field of Config has its key: a setting the file cannot make would
// be one only a flag can.
func TestEveryFieldHasAKey(t *testing.T) {
	c := Config{}
	want := 0 // Config's fields, a struct's (Pins) counted field by field
	for f := range reflect.TypeFor[Config]().Fields() {
		if f.Type.Kind() == reflect.Struct {
			want += f.Type.NumField()
		} else {
			want++
		}
	}
	if n := len(leaves(&c)); n != want {
		t.Errorf("the file has %d keys; Config has %d fields", n, want)
	}
	seen := map[string]bool{}
	for _, l := range leaves(&c) {
		if seen[l.key] {
			t.Errorf("key %s bound twice", l.key)
		}
		seen[l.key] = true
	}
}

func TestWriteTOMLRoundTrip(t *testing.T) {
	c := Default()
	c.KioskID = `lobby "1"`
	c.Root, c.Trust, c.Revocations = "/etc/kiosk/root.pem", "/etc/kiosk/trust list.cose", "/etc/kiosk/revocations.cose"
	c.ConfirmTimeout, c.MaxListAge, c.UploadMinBackoff = 90*time.Second, 0, 1500*time.Millisecond
	c.DiskReserve, c.RecoverCorrupt = 1000, true
	var b bytes.Buffer
	if err := c.WriteTOML(&b); err != nil {
		t.Fatal(err)
	}
	got, err := parse("show.toml", b.Bytes())
	if err != nil {
		t.Fatalf("parse(WriteTOML()) error = %v\n%s", err, b.String())
	}
	if got != c {
		t.Errorf("parse(WriteTOML()) differs in %v\n%s", Diff(got, c), b.String())
	}
}

func TestWriteDefault(t *testing.T) {
	var b bytes.Buffer
	if err := WriteDefault(&b); err != nil {
		t.Fatal(err)
	}
	got, err := parse("sample.toml", b.Bytes())
	if err != nil {
		t.Fatalf("parse(WriteDefault()) error = %v", err)
	}
	if got != Default() {
		t.Errorf("the sample differs from Default() in %v", Diff(got, Default()))
	}
	// Every key is in it, each after its comment.
	lines := strings.Split(b.String(), "\n")
	for _, l := range leaves(&Config{}) {
		name := l.key[strings.IndexByte(l.key, '.')+1:]
		i := slices.IndexFunc(lines, func(s string) bool { return strings.HasPrefix(s, name+" = ") })
		if i < 1 || !strings.HasPrefix(lines[i-1], "# ") {
			t.Errorf("the sample has no commented line %q", name+" = ...")
		}
	}
	if strings.Contains(b.String(), hostname()+"'") {
		t.Errorf("the sample holds this machine's host name:\n%s", b.String())
	}
}

// FuzzLoad: whatever the file holds, parse returns a configuration or an
// error, and never panics.
func FuzzLoad(f *testing.F) {
	var b bytes.Buffer
	if err := WriteDefault(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte("screens = { confirm_timeout = 60, x = { y = 1 } }\n[[kiosk]]\n"))
	f.Add([]byte("a.b.c = 1\n[kiosk.x]\n\"\" = 2\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := parse("fuzz.toml", doc)
		if err == nil {
			if cerr := c.Check(); cerr != nil {
				t.Errorf("parse() = nil error for a configuration that fails Check: %v", cerr)
			}
		}
	})
}

// Several replicas are one key, comma-separated, the preferred first; each
// must be a URL, and all reached the same way.
func TestUpstreamURLs(t *testing.T) {
	c := Default()
	c.Upstream = " https://a.example:8443, ,https://b.example:8443 "
	if got, want := c.UpstreamURLs(), []string{"https://a.example:8443", "https://b.example:8443"}; !slices.Equal(got, want) {
		t.Errorf("UpstreamURLs = %q; want %q", got, want)
	}
	if err := c.Check(); err != nil {
		t.Errorf("two https replicas: %v", err)
	}
	for _, bad := range []string{"https://a.example, http://b.example", "https://a.example, b.example"} {
		c.Upstream = bad
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), "upstream.url") {
			t.Errorf("upstream.url %q: %v; want refused", bad, err)
		}
	}
	c.Upstream = ""
	if got := c.UpstreamURLs(); len(got) != 0 {
		t.Errorf("no upstream: %q", got)
	}
}
