package config

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadUpstream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstream.toml")
	doc := `
[upstream]
listen = ":9443"
state_dir = "/srv/upstream"
hosts = ["upstream.example", "10.0.0.5"]
documents = "/srv/documents"
silent_after = "10m"
admin_tokens = "/etc/kiosk/upstream/admin-tokens"
db = "postgres://upstream@db.example/kiosk_upstream?sslmode=verify-full"
seal_key = "/etc/kiosk/upstream/seal-key.pem"
ca_cert = "/etc/kiosk/upstream/ca.pem"
ca_key = "/etc/kiosk/upstream/ca-key.pem"
`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadUpstream(path)
	if err != nil {
		t.Fatalf("LoadUpstream() error = %v", err)
	}
	want := Upstream{
		Listen: ":9443", StateDir: "/srv/upstream", Hosts: []string{"upstream.example", "10.0.0.5"},
		Documents: "/srv/documents", SilentAfter: 10 * time.Minute, AdminTokens: "/etc/kiosk/upstream/admin-tokens",
		DB:      "postgres://upstream@db.example/kiosk_upstream?sslmode=verify-full",
		SealKey: "/etc/kiosk/upstream/seal-key.pem", CACert: "/etc/kiosk/upstream/ca.pem", CAKey: "/etc/kiosk/upstream/ca-key.pem",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadUpstream() =\n%+v\nwant\n%+v", got, want)
	}
	// db_file instead of db: the two are one database.
	other := "[upstream]\ndb_file = \"/etc/kiosk/upstream/dsn\"\n"
	if err := os.WriteFile(path, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	want = DefaultUpstream()
	want.DBFile = "/etc/kiosk/upstream/dsn"
	if got, err := LoadUpstream(path); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LoadUpstream(db_file) = %+v, %v; want %+v", got, err, want)
	}
	// Every key of the file is set above, away from its default: a key
	// added without its test fails here.
	var unset []string
	for _, l := range layoutLeaves(bindUpstream(new(Upstream))) {
		if !strings.Contains(doc+other, "\n"+strings.TrimPrefix(l.key, "upstream.")+" = ") {
			unset = append(unset, l.key)
		}
	}
	if len(unset) > 0 {
		t.Errorf("keys not set by the test's files: %v", unset)
	}

	if got, err := LoadUpstream(filepath.Join(t.TempDir(), "none.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadUpstream(missing) = %+v, %v; want an error wrapping fs.ErrNotExist", got, err)
	}
}

func TestLoadUpstreamErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown key", "[upstream]\nlisten = \":8443\"\ndsn = \"postgres://h/db\"\n",
			[]string{`u.toml:3: unknown key "upstream.dsn"`}},
		{"unknown table", "[upstream]\n[store]\ndb = \"x\"\n",
			[]string{`u.toml:2: unknown table "store"`}},
		{"a string for the hosts", "[upstream]\nhosts = \"upstream.example\"\n",
			[]string{`u.toml:2: upstream.hosts: want a list of strings such as ["a", "b"]`}},
		{"a number for a duration", "[upstream]\n\nsilent_after = 60\n",
			[]string{`u.toml:3: upstream.silent_after: want a duration such as "60s" or "72h"`}},
		{"a syntax error", "[upstream]\nlisten = \n",
			[]string{`u.toml:2: `}},
		{"checks, each on its line", "[upstream]\nlisten = \"8443\"\nhosts = []\nsilent_after = \"0s\"\nca_key = \"/k.pem\"\n",
			[]string{
				`u.toml:2: upstream.listen: "8443" is not HOST:PORT`,
				`u.toml:3: upstream.hosts: want one name or address at least`,
				`u.toml:4: upstream.silent_after: want more than 0`,
				`u.toml:5: upstream.ca_key: upstream.ca_cert and upstream.ca_key go together`,
			}},
		{"a password in db", "[upstream]\ndb = \"postgres://upstream:s3cret@db.example/k\"\n",
			[]string{`u.toml:2: upstream.db: holds a password`}},
		{"a password parameter in db", "[upstream]\n\ndb = \"postgres://db.example/k?password=s3cret\"\n",
			[]string{`u.toml:3: upstream.db: holds a password`}},
		{"not a postgres DSN", "[upstream]\ndb = \"host=db.example dbname=k\"\n",
			[]string{`u.toml:2: upstream.db: not a postgres:// DSN`}},
		{"db and db_file", "[upstream]\ndb = \"postgres://db.example/k\"\ndb_file = \"/etc/kiosk/upstream/dsn\"\n",
			[]string{`u.toml:3: upstream.db_file: upstream.db and upstream.db_file are one database`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseUpstream("u.toml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("parseUpstream() = nil error; want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("parseUpstream() error =\n%s\nwant %d lines starting\n%s", err, len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i := range lines {
				if !strings.HasPrefix(lines[i], tt.want[i]) {
					t.Errorf("parseUpstream() error line %d = %q; want it to start %q", i+1, lines[i], tt.want[i])
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("parseUpstream() error = %q repeats the password", err)
			}
		})
	}
}

// A flag overrides its key, $KIOSK_UPSTREAM_DB the file's db and db_file,
// and a flag left at its default overrides nothing.
func TestUpstreamFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstream.toml")
	doc := "[upstream]\nlisten = \":9443\"\nhosts = [\"a.example\"]\nseal_key = \"/etc/seal.pem\"\ndb_file = \"/etc/dsn\"\nsilent_after = \"5m\"\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		want   func(u *Upstream) // applied to the file's
	}{
		{"the file alone", nil, noEnv, func(*Upstream) {}},
		{"flags over their keys", []string{"--listen", "127.0.0.1:1", "--host", "b.example, 10.0.0.9", "--seal-key", "/run/seal.pem", "--silent-after", "1m"}, noEnv,
			func(u *Upstream) {
				u.Listen, u.Hosts, u.SealKey, u.SilentAfter = "127.0.0.1:1", []string{"b.example", "10.0.0.9"}, "/run/seal.pem", time.Minute
			}},
		{"--db over db_file", []string{"--db", "postgres://h/flag"}, noEnv,
			func(u *Upstream) { u.DB, u.DBFile = "postgres://h/flag", "" }},
		{"the environment over db_file", nil, func(k string) string {
			if k == EnvUpstreamDB {
				return "postgres://u:pw@h/env" // a password: not the file's to refuse
			}
			return ""
		}, func(u *Upstream) { u.DB, u.DBFile = "postgres://u:pw@h/env", "" }},
		{"--db-file over the environment", []string{"--db-file", "/run/dsn"}, func(string) string { return "postgres://h/env" },
			func(u *Upstream) { u.DBFile = "/run/dsn" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl := flag.NewFlagSet("upstream", flag.ContinueOnError)
			load := UpstreamFlags(fl, DefaultUpstream())
			if err := fl.Parse(append([]string{"--config", path}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			got, err := load(tt.getenv)
			if err != nil {
				t.Fatalf("load() error = %v", err)
			}
			want, err := LoadUpstream(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("load() =\n%+v\nwant\n%+v", got, want)
			}
		})
	}

	// A subcommand's flags only; the default file absent is the defaults,
	// a file named must exist.
	fl := flag.NewFlagSet("token", flag.ContinueOnError)
	load := UpstreamFlags(fl, DefaultUpstream(), "state-dir", "db")
	fl.String("kiosk-id", "", "the command's own flag")
	if fl.Lookup("listen") != nil || fl.Lookup("state-dir") == nil || fl.Lookup("config") == nil {
		t.Errorf("UpstreamFlags(names state-dir, db) declared listen, or not state-dir or config")
	}
	if err := fl.Parse([]string{"--state-dir", "/srv/u", "--kiosk-id", "lobby-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(DefaultUpstreamPath); errors.Is(err, fs.ErrNotExist) {
		got, err := load(noEnv)
		want := DefaultUpstream()
		want.StateDir = "/srv/u"
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("load() without the default file = %+v, %v; want %+v", got, err, want)
		}
	}
	fl = flag.NewFlagSet("upstream", flag.ContinueOnError)
	load = UpstreamFlags(fl, DefaultUpstream())
	if err := fl.Parse([]string{"--config", filepath.Join(t.TempDir(), "none.toml")}); err != nil {
		t.Fatal(err)
	}
	if _, err := load(noEnv); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("load() of a missing file named = %v; want fs.ErrNotExist", err)
	}
}

func TestReadDSN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	good := write("dsn", "postgres://u:s3cret@db.example/k\n", 0o600)
	open := write("open", "postgres://u:s3cret@db.example/k\n", 0o644)
	odd := write("odd", "host=db.example password=s3cret\n", 0o600)
	tests := []struct {
		name    string
		u       Upstream
		want    string
		wantErr string
	}{
		{"embedded", Upstream{}, "", ""},
		{"db", Upstream{DB: "postgres://db.example/k"}, "postgres://db.example/k", ""},
		{"db_file, trimmed", Upstream{DBFile: good}, "postgres://u:s3cret@db.example/k", ""},
		{"db_file readable by others", Upstream{DBFile: open}, "", "mode -rw-r--r--"},
		{"db_file not a URL", Upstream{DBFile: odd}, "", "does not hold a postgres:// DSN"},
		{"db_file missing", Upstream{DBFile: filepath.Join(dir, "none")}, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.u.ReadDSN()
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("ReadDSN() = %q, %v; want %q, error containing %q", got, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("ReadDSN() error %q repeats the file", err)
			}
		})
	}
}

// What WriteTOML writes, LoadUpstream reads back; the sample is the
// defaults.
func TestUpstreamWriteTOML(t *testing.T) {
	u := Upstream{Listen: ":1", StateDir: "/s", Hosts: []string{"h"}, Documents: "/d", SilentAfter: 90 * time.Second,
		AdminTokens: "/a", DBFile: "/f", SealKey: "/k", CACert: "/c", CAKey: "/ck"}
	var b bytes.Buffer
	if err := u.WriteTOML(&b); err != nil {
		t.Fatal(err)
	}
	got, err := parseUpstream("w.toml", b.Bytes())
	if err != nil || !reflect.DeepEqual(got, u) {
		t.Errorf("parseUpstream(WriteTOML(%+v)) = %+v, %v\n%s", u, got, err, b.String())
	}
	b.Reset()
	if err := WriteUpstreamDefault(&b); err != nil {
		t.Fatal(err)
	}
	got, err = parseUpstream("default.toml", b.Bytes())
	if err != nil || !reflect.DeepEqual(got, DefaultUpstream()) {
		t.Errorf("parseUpstream(WriteUpstreamDefault()) = %+v, %v; want the defaults", got, err)
	}
	for _, l := range layoutLeaves(bindUpstream(new(Upstream))) {
		key := strings.TrimPrefix(l.key, "upstream.")
		if !strings.Contains(b.String(), "\n"+key+" = ") {
			t.Errorf("the sample lacks %s", l.key)
		}
	}
}
