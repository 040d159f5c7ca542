package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runFlags returns the flags of "kiosk run" and the key of the
// configuration file each one sets.
func runFlags(t *testing.T) map[string]string {
	t.Helper()
	keys := map[string]string{}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	declare(new(Config), fs)
	fs.VisitAll(func(f *flag.Flag) {
		c := Default()
		one := flag.NewFlagSet("", flag.ContinueOnError)
		declare(&c, one)
		value := "x-test" // a value unlike any default, of the flag's type
		if _, ok := f.Value.(*size); ok {
			value = "12345"
		}
		if g, ok := f.Value.(flag.Getter); ok {
			switch v := g.Get().(type) {
			case bool:
				value = fmt.Sprint(!v)
			case time.Duration:
				value = "17s"
			}
		}
		if err := one.Set(f.Name, value); err != nil {
			t.Fatalf("--%s %s: %v", f.Name, value, err)
		}
		diff := Diff(Default(), c)
		if len(diff) != 1 {
			t.Errorf("--%s sets the keys %q; want exactly one", f.Name, diff)
			return
		}
		keys[f.Name] = diff[0]
	})
	return keys
}

// Every flag of "kiosk run" sets one key of the file, and README's table
// for moving from kiosk.env says which.
func TestRunFlagsAreKeys(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range runFlags(t) {
		row := fmt.Sprintf("| `--%s` | `%s`", name, key)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row %q", row)
		}
	}
}

// The load Flags returns reads the file, then the flags given over it, and
// reads both again when called again (a reload).
func TestFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kiosk.toml")
	write := func(doc string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[kiosk]\nlog_level = \"warn\"\nkiosk_id = \"from-file\"\n")
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	load := Flags(fs, Default())
	if err := fs.Parse([]string{"--config", file, "--kiosk-id", "from-flag", "--log-level", "info"}); err != nil {
		t.Fatal(err)
	}
	c, err := load()
	if err != nil || c.KioskID != "from-flag" || c.LogLevel != "info" {
		t.Fatalf("load() = kiosk id %q, log level %q, %v; want the flags', given their default value or not", c.KioskID, c.LogLevel, err)
	}
	write("[kiosk]\nkiosk_id = \"again\"\n[screens]\nhelp_timeout = \"5m\"\n")
	if c, err := load(); err != nil || c.KioskID != "from-flag" || c.HelpTimeout != 5*time.Minute {
		t.Errorf("load() again = kiosk id %q, help timeout %v, %v; want the flag's id, the file's new timeout", c.KioskID, c.HelpTimeout, err)
	}
	write("[kiosk]\nlog_level = \"loud\"\n")
	if _, err := load(); err == nil {
		t.Error("load() of a bad file = nil error; want one")
	}

	// Without --config, the default file: absent, the defaults.
	if c, err := Read(filepath.Join(t.TempDir(), "none.toml"), false); err != nil || c != Default() {
		t.Errorf("Read(missing default file) = %v; want the defaults", err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none.toml"), true); err == nil {
		t.Error("Read(missing named file) = nil error; want one")
	}
}

// FileFlag reads the file --config names, as the daemon would: a file
// named must exist; without the flag, the absent default file is the
// defaults.
func TestFileFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kiosk.toml")
	if err := os.WriteFile(file, []byte("[kiosk]\nstate_dir = '/srv/kiosk'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(args ...string) (Config, error) {
		fs := flag.NewFlagSet("status", flag.ContinueOnError)
		conf := FileFlag(fs, "TOML `file`")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return conf()
	}
	if c, err := read("--config", file); err != nil || c.StateDir != "/srv/kiosk" {
		t.Errorf("--config %s: state_dir %q, %v; want /srv/kiosk", file, c.StateDir, err)
	}
	if _, err := read("--config", filepath.Join(dir, "none.toml")); err == nil {
		t.Error("--config naming an absent file: no error")
	}
	if _, err := os.Stat(DefaultPath); errors.Is(err, os.ErrNotExist) {
		if c, err := read(); err != nil || c != Default() {
			t.Errorf("no --config, no default file: %+v, %v; want the defaults", c, err)
		}
	}
}
