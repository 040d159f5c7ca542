package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, for a file in the rollback journal's mode

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
)

// runSelftest runs "kiosk selftest ARGS" through the dispatcher, with the
// table line main.go has for it.
func runSelftest(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	root := &cli.Command{Name: "kiosk", Summary: "the kiosk", Example: "kiosk selftest", Subcommands: []*cli.Command{selftestCmd()}}
	code = cli.Run(context.Background(), env, root, append([]string{"selftest"}, args...))
	return code, out.String(), errb.String()
}

// TestSelftest runs the whole self-test as CI runs it on the cross-built
// binary: every step passes, in order, and it leaves nothing behind.
func TestSelftest(t *testing.T) {
	parent := t.TempDir()
	code, stdout, stderr := runSelftest(t, "--state-dir", parent)
	if code != 0 || stderr != "" {
		t.Fatalf("kiosk selftest: exit %d, stderr %q; want 0 and nothing\n%s", code, stderr, stdout)
	}
	t.Logf("kiosk selftest:\n%s", stdout)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	want := []string{"directory", "sqlite", "demo kit", "verify", "device key", "open outbox", "commit", "read back", "reopen"}
	if len(lines) != len(want)+2 {
		t.Fatalf("kiosk selftest printed %d lines; want the build, %d steps and the verdict:\n%s", len(lines), len(want), stdout)
	}
	if !strings.HasPrefix(lines[0], "kiosk "+buildString()+" ") {
		t.Errorf("first line %q; want the build, %q", lines[0], buildString())
	}
	for i, name := range want {
		if f := strings.Fields(lines[i+1]); len(f) < 2 || f[0] != "ok" || !strings.HasPrefix(lines[i+1], "ok   "+name+" ") {
			t.Errorf("line %d = %q; want step %q ok", i+2, lines[i+1], name)
		}
	}
	if lines[len(lines)-1] != "selftest ok" {
		t.Errorf("last line %q; want selftest ok", lines[len(lines)-1])
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("kiosk selftest left %d entries in its --state-dir (%s...); want none", len(left), left[0].Name())
	}
}

// TestSelftestFails: a directory the self-test cannot work in fails it,
// with the step's name, exit 1 and no verdict of success.
func TestSelftestFails(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runSelftest(t, "--state-dir", notDir)
	if code != 1 || strings.Contains(stdout, "selftest ok") || !strings.HasPrefix(stderr, "kiosk selftest: make the self-test directory: ") {
		t.Errorf("kiosk selftest --state-dir FILE: exit %d, stdout %q, stderr %q; want exit 1 and why", code, stdout, stderr)
	}
}

// TestSelftestPrintsNothingPersonal runs the steps and holds their output
// to the rule of the logs: the card's serial, A-number, names and date of
// birth appear nowhere, though the demo's people are invented.
func TestSelftestPrintsNothingPersonal(t *testing.T) {
	var out bytes.Buffer
	st := &selftestRun{w: &out, dir: t.TempDir(), now: time.Now()}
	if err := st.run(context.Background()); err != nil {
		t.Fatalf("run() = %v\n%s", err, out.String())
	}
	c := st.card
	for what, v := range map[string]string{"serial": c.Serial, "A-number": c.ANumber, "family name": c.FamilyName,
		"given name": c.GivenName, "date of birth": c.DateOfBirth} {
		if v == "" {
			t.Errorf("the verified card has no %s; want the valid sample's", what)
		} else if strings.Contains(out.String(), v) {
			t.Errorf("the self-test printed the card's %s:\n%s", what, out.String())
		}
	}
}

// TestCheckWALHeader: the header check tells a WAL database from one in
// the rollback journal's mode, and from a file that is no database.
func TestCheckWALHeader(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		mode    string // journal_mode, or "" for a file that is no database
		wantErr string
	}{
		{"wal", ""},
		{"delete", "want 2 and 2 (WAL)"},
		{"", "is not an SQLite database"},
	} {
		file := filepath.Join(dir, "t-"+tt.mode+".db")
		if tt.mode == "" {
			if err := os.WriteFile(file, bytes.Repeat([]byte{'x'}, 4096), 0o600); err != nil {
				t.Fatal(err)
			}
		} else {
			db, err := sql.Open("sqlite3", file)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"PRAGMA journal_mode=" + tt.mode, "CREATE TABLE t (x)"} {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
		}
		err := checkWALHeader(file)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkWALHeader(journal_mode %q) = %v; want %q", tt.mode, err, tt.wantErr)
		}
	}
}

// TestVersion: kiosk version names the version, the commit and the build
// date, from -X when set, else from the build's record. (The packaging
// test builds the binary with packaging/cross's -ldflags and runs it.)
func TestVersion(t *testing.T) {
	oldVersion, oldCommit, oldDate := version, commit, buildDate
	t.Cleanup(func() { version, commit, buildDate = oldVersion, oldCommit, oldDate })
	vcs := func(rev, modified string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: module, Version: "(devel)"}}
		bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
		return bi
	}
	for _, tt := range []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		want            string
	}{
		{"release", "v1.4.0", "abc1234", vcs("0123456789abcdef0123456789abcdef01234567", "true"), "v1.4.0 (commit abc1234, built 2026-12-03)"},
		{"go build, clean tree", "", "", vcs("0123456789abcdef0123456789abcdef01234567", "false"), "devel (commit 0123456789ab, built 2026-12-03)"},
		{"go build, changed tree", "", "", vcs("0123456789abcdef0123456789abcdef01234567", "true"), "devel (commit 0123456789ab-dirty, built 2026-12-03)"},
		{"go install module@version", "", "", &debug.BuildInfo{Main: debug.Module{Path: module, Version: "v1.3.2"}}, "v1.3.2 (commit unknown, built 2026-12-03)"},
		{"no build record", "", "", nil, "devel (commit unknown, built 2026-12-03)"},
	} {
		version, commit, buildDate = tt.version, tt.commit, "2026-12-03"
		if got := describeBuild(tt.bi); got != tt.want {
			t.Errorf("%s: describeBuild() = %q; want %q", tt.name, got, tt.want)
		}
		if got, want := versionOf(tt.bi), strings.Fields(tt.want)[0]; got != want {
			t.Errorf("%s: versionOf() = %q; want %q", tt.name, got, want)
		}
	}

	version, commit, buildDate = "v1.4.0", "abc1234", "2026-12-03"
	var out bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if code := dispatch(context.Background(), env, []string{"version"}); code != 0 || out.String() != "kiosk v1.4.0 (commit abc1234, built 2026-12-03)\n" {
		t.Errorf("kiosk version: exit %d, %q; want 0 and %q", code, out.String(), "kiosk v1.4.0 (commit abc1234, built 2026-12-03)\n")
	}
}
