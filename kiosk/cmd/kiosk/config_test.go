package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// runKiosk runs the kiosk command with args and returns its exit code and
// output.
func runKiosk(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	code = dispatch(context.Background(), env, args)
	return code, out.String(), errOut.String()
}

// dispatch runs the kiosk command of args, as main does, and returns its
// exit code.
func dispatch(ctx context.Context, env *cli.Env, args []string) int {
	return cli.Run(ctx, env, kioskCommand(), args)
}

// writeConfig writes a configuration file into a temporary directory.
func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kiosk.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The sample in systemd/ is what `kiosk config default` prints.
func TestConfigDefaultGolden(t *testing.T) {
	code, out, stderr := runKiosk("config", "default")
	if code != 0 {
		t.Fatalf("kiosk config default: exit %d\n%s", code, stderr)
	}
	golden := checkSample(t, "kiosk.toml", out)
	// As shipped, it checks, and sets the defaults.
	c, err := config.Load(golden)
	if err != nil {
		t.Fatalf("config.Load(%s) = %v", golden, err)
	}
	if c != DefaultConfig() {
		t.Errorf("%s sets %v away from the defaults", golden, config.Diff(c, DefaultConfig()))
	}
}

// checkSample compares out, a sample a command printed, with the file
// systemd/NAME it must equal (-update rewrites the file), and returns the
// file's path.
func checkSample(t *testing.T, name, out string) string {
	t.Helper()
	golden := filepath.Join("..", "..", "..", "systemd", name)
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("the sample printed differs from %s (go test -run %s -update rewrites it):\n%s", golden, t.Name(), out)
	}
	return golden
}

func TestConfigCheck(t *testing.T) {
	good := writeConfig(t, "[kiosk]\nlog_level = \"debug\"\n")
	bad := writeConfig(t, "[kiosk]\nlog_level = \"loud\"\n\n[lists]\ntrustt = \"/etc/kiosk/trustlist.cose\"\nroot = \"x\"\n")
	missing := filepath.Join(t.TempDir(), "none.toml")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrRE string
	}{
		{"a good file", []string{good}, 0, good + ": ok\n", "^$"},
		{"each error with its line", []string{bad}, 1, "",
			"^" + regexp.QuoteMeta(bad+`:5: unknown key "lists.trustt"`+"\n") + "$"},
		{"a missing file", []string{missing}, 1, "", regexp.QuoteMeta(missing) + ".*no such file"},
		{"two files", []string{good, bad}, 2, "", "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runKiosk(append([]string{"config", "check"}, tt.args...)...)
			if code != tt.code || stdout != tt.stdout || !regexp.MustCompile(tt.stderrRE).MatchString(stderr) {
				t.Errorf("kiosk config check %q = exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr matching %q",
					tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderrRE)
			}
		})
	}
	// Once the unknown key is fixed, the value errors show, each on its
	// own line.
	fixed := writeConfig(t, "[kiosk]\nlog_level = \"loud\"\n[screens]\nhelp_timeout = \"0s\"\n")
	code, _, stderr := runKiosk("config", "check", fixed)
	want := fixed + `:2: kiosk.log_level: "loud" is not one of debug, info, warn, error` + "\n" +
		fixed + `:4: screens.help_timeout: want more than 0` + "\n"
	if code != 1 || stderr != want {
		t.Errorf("kiosk config check = exit %d, stderr\n%s\nwant exit 1, stderr\n%s", code, stderr, want)
	}
}

func TestConfigShow(t *testing.T) {
	path := writeConfig(t, "[screens]\nconfirm_timeout = \"90s\"\n[kiosk]\nkiosk_id = \"lobby-1\"\n")
	code, out, stderr := runKiosk("config", "show", "--config", path)
	if code != 0 {
		t.Fatalf("kiosk config show: exit %d\n%s", code, stderr)
	}
	got, err := config.Load(writeConfig(t, out))
	if err != nil {
		t.Fatalf("what kiosk config show printed does not load: %v\n%s", err, out)
	}
	want := DefaultConfig()
	want.ConfirmTimeout, want.KioskID = 90*time.Second, "lobby-1"
	if got != want {
		t.Errorf("kiosk config show printed a configuration that differs in %v:\n%s", config.Diff(got, want), out)
	}
	if code, _, stderr := runKiosk("config", "show", "--config", filepath.Join(t.TempDir(), "none.toml")); code != 1 || !strings.Contains(stderr, "no such file") {
		t.Errorf("kiosk config show --config MISSING = exit %d, %q; want exit 1, no such file", code, stderr)
	}
}

// The defaults config holds for the parts are theirs: config may not
// import them, so this test keeps the two equal.
func TestConfigDefaultsAreTheParts(t *testing.T) {
	c := config.Default()
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"ConfirmTimeout", c.ConfirmTimeout, kiosk.DefaultConfirmTimeout},
		{"ResultTimeout", c.ResultTimeout, kiosk.DefaultResultTimeout},
		{"HelpTimeout", c.HelpTimeout, kiosk.DefaultHelpTimeout},
		{"MaxListAge", c.MaxListAge, trust.DefaultMaxListAge},
		{"DiskReserve", c.DiskReserve, uint64(outbox.DefaultReserve)},
		{"UploadMinBackoff", c.UploadMinBackoff, upload.DefaultMinBackoff},
		{"UploadMaxBackoff", c.UploadMaxBackoff, upload.DefaultMaxBackoff},
	} {
		if tt.got != tt.want {
			t.Errorf("config.Default().%s = %v; want %v, the part's own default", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseFlagsOverFile(t *testing.T) {
	file := writeConfig(t, "[kiosk]\nlog_level = \"warn\"\nkiosk_id = \"from-file\"\n[screens]\nconfirm_timeout = \"10s\"\n")
	tests := []struct {
		name    string
		args    []string
		want    func(c *Config)
		wantErr string
	}{
		{"the file", []string{"--config", file}, func(c *Config) {
			c.LogLevel, c.KioskID, c.ConfirmTimeout = "warn", "from-file", 10*time.Second
		}, ""},
		{"a flag over its key", []string{"--config", file, "--log-level", "debug"}, func(c *Config) {
			c.LogLevel, c.KioskID, c.ConfirmTimeout = "debug", "from-file", 10*time.Second
		}, ""},
		{"a flag given its default value still overrides", []string{"--confirm-timeout", "1m", "--config", file}, func(c *Config) {
			c.LogLevel, c.KioskID = "warn", "from-file"
		}, ""},
		{"a flag of a key the file does not set", []string{"--config", file, "--disk-reserve", "1GiB"}, func(c *Config) {
			c.LogLevel, c.KioskID, c.ConfirmTimeout, c.DiskReserve = "warn", "from-file", 10*time.Second, 1<<30
		}, ""},
		{"a named file that is missing", []string{"--config", filepath.Join(t.TempDir(), "none.toml")}, nil, "no such file"},
		{"a bad flag value", []string{"--config", file, "--log-level", "loud"}, nil, `kiosk.log_level: "loud" is not one of`},
		{"listen off loopback", []string{"--config", file, "--listen", ":8080"}, nil, "kiosk.listen"},
		{"a bad file", []string{"--config", writeConfig(t, "[kiosk]\nlisten = 8080\n")}, nil, "kiosk.toml:2: kiosk.listen: want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			err := m.ParseFlags(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseFlags(%q) = %v; want an error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFlags(%q) = %v", tt.args, err)
			}
			want := DefaultConfig()
			tt.want(&want)
			if m.Config != want {
				t.Errorf("ParseFlags(%q) differs in %v", tt.args, config.Diff(m.Config, want))
			}
		})
	}
	// Without --config, the default file; when it is absent, the defaults.
	if c, err := config.Read(filepath.Join(t.TempDir(), "none.toml"), false); err != nil || c != DefaultConfig() {
		t.Errorf("config.Read(missing default file) = %v; want the defaults", err)
	}
}

// TestReload: a running kiosk takes a new confirm timeout on its next
// confirm screen, and a new log level at once; what it cannot change
// while running, it names as needing a restart.
func TestReload(t *testing.T) {
	kit := testKit(t)
	m := NewMain()
	var logs syncBuffer
	m.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: &m.level}))
	m.Config.Listen = "127.0.0.1:0"
	m.Config.StateDir = t.TempDir()
	m.Config.Root, m.Config.Trust, m.Config.Revocations = kit.Root, kit.Trust, kit.Revocations
	m.Config.SealKey = testSealKeyFile(t)
	m.Config.LogLevel = "warn"
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if strings.Contains(logs.String(), "kiosk serving") {
		t.Fatalf("an info line logged at level warn:\n%s", logs.String())
	}

	c := m.Config
	c.ConfirmTimeout = 7 * time.Minute
	c.LogLevel = "info"
	c.Listen = "127.0.0.1:9" // needs a restart
	c.Retention = time.Hour  // so does the storage
	if err := m.Reload(context.Background(), c); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	before := time.Now()
	simScan(t, m, kit.Samples["valid"])
	eventually(t, "the confirm screen", func() bool { return m.flow.View().Screen == kiosk.ScreenConfirm })
	after := time.Now()
	if exp := m.flow.View().Expires; exp.Before(before.Add(7*time.Minute)) || exp.After(after.Add(7*time.Minute)) {
		t.Errorf("confirm screen expires in %v; want the reloaded 7m", exp.Sub(after).Round(time.Second))
	}
	log := logs.String()
	for _, want := range []string{
		`msg="card accepted"`, // info: the new level
		`msg="configuration reloaded: settings applied" keys="[kiosk.log_level screens.confirm_timeout]"`,
		`msg="configuration reloaded: settings changed that need a restart" keys="[kiosk.listen storage.retention]"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if m.Config.Listen == c.Listen || m.Config.ConfirmTimeout != c.ConfirmTimeout {
		t.Errorf("Config after Reload = listen %s, confirm %v; want what is in effect: the old listen, the new timeout",
			m.Config.Listen, m.Config.ConfirmTimeout)
	}

	c.LogLevel = "loud"
	if err := m.Reload(context.Background(), c); err == nil {
		t.Errorf("Reload(log level %q) = nil; want an error", c.LogLevel)
	}
}

// TestReloadOnSIGHUP: `kiosk run` reads its file again on SIGHUP, and
// keeps running, with what it had, when the file no longer loads.
func TestReloadOnSIGHUP(t *testing.T) {
	bin := buildKiosk(t)
	kit := testKit(t)
	file := writeConfig(t, fmt.Sprintf("[lists]\nroot = %q\ntrust = %q\n[upstream]\nseal_key = %q\n",
		kit.Root, kit.Trust, testSealKeyFile(t)))
	p := startProc(t, "kiosk", bin, kioskReady, "run", "--config", file,
		"--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--clock-synced-file", "")
	reload := func(doc, want string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		eventually(t, want, func() bool { return strings.Contains(p.output(), want) })
	}
	reload(fmt.Sprintf("[lists]\nroot = %q\ntrust = %q\n[upstream]\nseal_key = %q\n[screens]\nhelp_timeout = \"5m\"\n",
		kit.Root, kit.Trust, testSealKeyFile(t)), `msg="configuration reloaded: settings applied" keys=[screens.help_timeout]`)
	reload("[lists]\ntrustt = \"x\"\n", `msg="configuration not reloaded: keeping the one in use"`)
	if !strings.Contains(p.output(), `unknown key \"lists.trustt\"`) {
		t.Errorf("the log does not name the unknown key:\n%s", p.output())
	}
	p.stop() // still running: it exits on SIGTERM, status 0
}
