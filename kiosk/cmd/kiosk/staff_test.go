package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui/staff"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// The staff dashboard on the daemon: its own TLS listener, whose
// certificate is the one the daemon names; help asked at the kiosk is an
// alert there; maintenance mode, set there by a logged-in account with
// its CSRF token, takes the kiosk page out of service and /healthz with
// it, and back.
func TestStaffDashboardEndToEnd(t *testing.T) {
	kit := testKit(t)
	dir := t.TempDir()
	password, err := staff.CreateDemoAccount(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := startKiosk(t, dir, kit, "", func(c *Config) { c.StaffListen = "127.0.0.1:0" })
	if m.StaffAddr() == "" {
		t.Fatal("no staff listener")
	}
	base := "https://" + m.StaffAddr()

	// The client trusts exactly the certificate whose fingerprint the
	// daemon logs and the display shows.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // pinned below, as staff do by the fingerprint
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			sum := sha256.Sum256(raw[0])
			if got := "sha256:" + hex.EncodeToString(sum[:]); got != m.staff.Fingerprint() {
				return errors.New("certificate " + got + " is not the dashboard's " + m.staff.Fingerprint())
			}
			return nil
		},
	}}}
	post := func(path, csrf string, body any) *http.Response {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
		req.Header.Set("Origin", base)
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post("/staff/maintenance", "", map[string]bool{"on": true}); resp.StatusCode == http.StatusOK {
		t.Fatal("maintenance without login: 200")
	}
	if resp := post("/staff/login", "", map[string]string{"account": "demo", "password": password}); resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	resp, err := client.Get(base + "/staff/session")
	if err != nil {
		t.Fatal(err)
	}
	var session struct {
		CSRFToken string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&session)
	resp.Body.Close()

	// Help at the kiosk: an alert for staff.
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	p.Act(kiosk.ActionHelp)
	p.Want(kiosk.ScreenHelp)
	eventually(t, "the help alert", func() bool {
		for _, a := range m.staff.Alerts() {
			if a.Kind == staff.AlertHelp {
				return true
			}
		}
		return false
	})
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)

	// Maintenance: needs the CSRF token; then the kiosk is out of service.
	if resp := post("/staff/maintenance", "", map[string]bool{"on": true}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("maintenance without the CSRF token: %s; want 403", resp.Status)
	}
	if resp := post("/staff/maintenance", session.CSRFToken, map[string]bool{"on": true}); resp.StatusCode != http.StatusOK {
		t.Fatalf("maintenance on: %s", resp.Status)
	}
	if f := p.Want(kiosk.ScreenOutOfService); f.Reason != kiosk.ReasonMaintenance {
		t.Errorf("maintenance: reason %q; want %q", f.Reason, kiosk.ReasonMaintenance)
	}
	if st := getStatus(t, m); st.Service.Reason != string(kiosk.ReasonMaintenance) {
		t.Errorf("status service %+v; want out of service for maintenance", st.Service)
	}
	if resp := post("/staff/maintenance", session.CSRFToken, map[string]bool{"on": false}); resp.StatusCode != http.StatusOK {
		t.Fatalf("maintenance off: %s", resp.Status)
	}
	p.Want(kiosk.ScreenIdle)

	// The kiosk page's listener has no staff page.
	if resp, err := http.Get("http://" + m.Addr() + "/staff"); err != nil || resp.StatusCode == http.StatusOK {
		t.Errorf("GET /staff on the kiosk listener: %v, %v; want no page", resp.Status, err)
	}
	if log, err := readAudit(dir); err != nil || !strings.Contains(log, "maintenance") {
		t.Errorf("audit log %q, %v; want the maintenance recorded", log, err)
	}
}

// readAudit reads the dashboard's audit log in the state directory dir.
func readAudit(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(staff.Dir(dir), "audit.log"))
	return string(b), err
}

// kiosk status asks the running daemon and prints its state in a few
// lines, with the staff dashboard's address and certificate fingerprint.
func TestStatusCommand(t *testing.T) {
	dir := t.TempDir()
	m := startKiosk(t, dir, testKit(t), "", func(c *Config) { c.StaffListen = "127.0.0.1:0" })
	conf := filepath.Join(t.TempDir(), "kiosk.toml")
	toml := "[kiosk]\nlisten = '" + m.Addr() + "'\nstate_dir = '" + dir + "'\n[staff]\nlisten = '" + m.StaffAddr() + "'\n"
	if err := os.WriteFile(conf, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if code := cli.Run(context.Background(), env, kioskCommand(), []string{"status", "--config", conf}); code != 0 {
		t.Fatalf("kiosk status: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"screen           idle\n", "service          in_service\n", "scanner          ok  (sim)\n",
		"queue            0 waiting, 0 sent\n", "certificate " + m.staff.Fingerprint() + "\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("kiosk status printed\n%s\nwant a line %q", out.String(), want)
		}
	}
	m.Close()
	errb.Reset()
	if code := cli.Run(context.Background(), env, kioskCommand(), []string{"status", "--config", conf}); code != 1 || !strings.Contains(errb.String(), "is kioskd running?") {
		t.Errorf("kiosk status, daemon stopped: exit %d, %q; want 1, saying so", code, errb.String())
	}
}
