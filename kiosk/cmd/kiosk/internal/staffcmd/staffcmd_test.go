package staffcmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
	"github.com/docketkiosk/checkin-kiosk/ui"
	"github.com/docketkiosk/checkin-kiosk/ui/staff"
)

// run runs "kiosk ARGS" with stdin and returns its exit code, stdout and
// stderr.
func run(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	env := &cli.Env{Stdin: stdin, Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	root := &cli.Command{Name: "kiosk", Subcommands: []*cli.Command{Command()}}
	code := cli.Run(context.Background(), env, root, args)
	return code, out.String(), errb.String()
}

// dashboard serves the staff dashboard of state on loopback, as the
// daemon would, and returns a function that logs in to it and returns the
// answer's status: the proof a password works is a login.
func dashboard(t *testing.T, state string) func(account, password string) int {
	t.Helper()
	srv, err := staff.New(staff.Config{StateDir: state, CertHosts: []string{"127.0.0.1"},
		Status: func(context.Context) (ui.Status, error) { return ui.Status{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(staff.Dir(state), "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	t.Cleanup(client.CloseIdleConnections)
	return func(account, password string) int {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"account": account, "password": password})
		resp, err := client.Post("https://"+ln.Addr().String()+"/staff/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// TestAddPasswdRemove: add prints a generated password once, which logs
// in; passwd gives a new one and the old stops working; remove ends the
// account; list names them; mistakes exit 1 saying why.
func TestAddPasswdRemove(t *testing.T) {
	state := t.TempDir()
	dirFlag := "--state-dir=" + state

	code, out, errs := run(t, nil, "staff", "add", dirFlag, "alice")
	if code != 0 {
		t.Fatalf("kiosk staff add = %d, %s", code, errs)
	}
	first := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || staff.CheckPassword(first) != nil || !strings.Contains(errs, "shown this once") {
		t.Fatalf("stdout %q, stderr %q; want the password alone on stdout, and why on stderr", out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(staff.Dir(state), "accounts.json")); bytes.Contains(b, []byte(first)) {
		t.Fatalf("accounts.json holds the password in the clear")
	}
	login := dashboard(t, state)
	if got := login("alice", first); got != http.StatusOK {
		t.Fatalf("login with the printed password = %d; want 200", got)
	}

	if code, _, errs := run(t, nil, "staff", "add", dirFlag, "alice"); code != 1 || !strings.Contains(errs, "account exists") {
		t.Errorf("adding alice again = %d, %q; want 1 and why", code, errs)
	}
	if code, _, errs := run(t, nil, "staff", "add", dirFlag, "Alice Smith"); code != 2 || !strings.Contains(errs, "account name") {
		t.Errorf("add with a bad name = %d, %q; want 2 and why", code, errs)
	}

	code, out, _ = run(t, nil, "staff", "passwd", dirFlag, "alice")
	second := strings.TrimSpace(out)
	if code != 0 || second == first || staff.CheckPassword(second) != nil {
		t.Fatalf("kiosk staff passwd = %d, %q; want a new password", code, out)
	}
	if got := login("alice", first); got != http.StatusUnauthorized {
		t.Errorf("login with the old password = %d; want 401", got)
	}
	if got := login("alice", second); got != http.StatusOK {
		t.Errorf("login with the new password = %d; want 200", got)
	}

	if code, _, errs := run(t, strings.NewReader("bobs chosen password\n"), "staff", "add", dirFlag, "--password-stdin", "bob"); code != 0 {
		t.Fatalf("add --password-stdin = %d, %s", code, errs)
	}
	if got := login("bob", "bobs chosen password"); got != http.StatusOK {
		t.Errorf("login with the password piped in = %d; want 200", got)
	}
	if code, _, errs := run(t, strings.NewReader("short\n"), "staff", "add", dirFlag, "--password-stdin", "carol"); code != 1 || !strings.Contains(errs, "too short") {
		t.Errorf("add with a short password = %d, %q; want 1, too short", code, errs)
	}
	if code, out, _ := run(t, nil, "staff", "list", dirFlag); code != 0 || out != "alice\nbob\n" {
		t.Errorf("list = %d, %q; want alice and bob", code, out)
	}

	if code, _, errs := run(t, nil, "staff", "remove", dirFlag, "bob"); code != 0 {
		t.Fatalf("remove = %d, %s", code, errs)
	}
	if got := login("bob", "bobs chosen password"); got != http.StatusUnauthorized {
		t.Errorf("login to a removed account = %d; want 401", got)
	}
	if code, _, errs := run(t, nil, "staff", "remove", dirFlag, "bob"); code != 1 || !strings.Contains(errs, "no such account") {
		t.Errorf("removing bob again = %d, %q; want 1 and why", code, errs)
	}
}

// TestStateDirFromConfig: without --state-dir, the accounts are those of
// the configuration file's kiosk.state_dir, as the daemon reads it.
func TestStateDirFromConfig(t *testing.T) {
	state := t.TempDir()
	conf := filepath.Join(t.TempDir(), "kiosk.toml")
	if err := os.WriteFile(conf, []byte("[kiosk]\nstate_dir = \""+state+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, nil, "staff", "add", "--config", conf, "alice"); code != 0 {
		t.Fatalf("add --config = %d, %s", code, errs)
	}
	if names, err := staff.NewAccounts(state).Names(); err != nil || len(names) != 1 || names[0] != "alice" {
		t.Errorf("accounts of the configured state directory = %v, %v; want [alice]", names, err)
	}
	if code, _, errs := run(t, nil, "staff", "list", "--config", filepath.Join(t.TempDir(), "missing.toml")); code != 1 {
		t.Errorf("list with a configuration file that is not there = %d, %q; want 1", code, errs)
	}
}

// TestPasswordStdinRefusesTerminal: a password is not read from a
// terminal, where it would be echoed.
func TestPasswordStdinRefusesTerminal(t *testing.T) {
	tty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		testenv.RequireOrSkip(t, "needs a pty: open /dev/ptmx: %v", err)
	}
	defer tty.Close()
	code, _, errs := run(t, tty, "staff", "add", "--state-dir", t.TempDir(), "--password-stdin", "alice")
	if code != 2 || !strings.Contains(errs, "terminal") {
		t.Errorf("add --password-stdin from a terminal = %d, %q; want 2, saying why", code, errs)
	}
}

func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", staff.MaxPasswordLen+1)
	for _, c := range []struct{ in, want, err string }{
		{"a password here\n", "a password here", ""},
		{"a password here\r\nsecond line\n", "a password here", ""},
		{"no newline at all", "no newline at all", ""},
		{"", "", ""},
		{long + long, "", "too long"},
	} {
		got, err := readLine(strings.NewReader(c.in))
		if got != c.want && c.err == "" || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("readLine(%.20q…) = %q, %v; want %q, error %q", c.in, got, err, c.want, c.err)
		}
	}
}
