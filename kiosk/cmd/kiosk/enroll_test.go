package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
)

func TestEnrollCommand(t *testing.T) {
	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeDoc(t, ca, up.Authority.CAPEM)
	token, err := up.Server.NewEnrollToken(context.Background(), "kiosk-07", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
		return dispatch(context.Background(), env, append([]string{"enroll"}, args...)), out.String()
	}
	args := []string{"--upstream", up.URL, "--ca", ca, "--token", token, "--kiosk-id", "kiosk-07", "--state-dir", state}
	if code, out := run(args...); code != 0 {
		t.Fatalf("kiosk enroll: exit %d\n%s", code, out)
	}
	fi, err := os.Stat(filepath.Join(state, enroll.File))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("enrollment.json: %v, %v; want mode 0600", fi, err)
	}
	var e enroll.Enrollment
	if err := json.Unmarshal(mustRead(t, filepath.Join(state, enroll.File)), &e); err != nil {
		t.Fatal(err)
	}
	if e.KioskID != "kiosk-07" || e.Upstream != up.URL || e.CAPEM != string(up.Authority.CAPEM) {
		t.Errorf("enrollment.json = %+v; want kiosk-07 at %s with the CA", e, up.URL)
	}
	if code, out := run(args...); code != 1 || !strings.Contains(out, "already used") {
		t.Errorf("kiosk enroll with the token again: exit %d\n%s; want 1, already used", code, out)
	}
	other := filepath.Join(t.TempDir(), "other-ca.pem")
	writeDoc(t, other, testKitCA(t))
	token2, _ := up.Server.NewEnrollToken(context.Background(), "kiosk-07", time.Hour)
	if code, out := run("--upstream", up.URL, "--ca", other, "--token", token2, "--kiosk-id", "kiosk-07", "--state-dir", t.TempDir()); code != 1 || !strings.Contains(out, "certificate") {
		t.Errorf("kiosk enroll pinning another CA: exit %d\n%s; want 1, a certificate error", code, out)
	}
}

// testKitCA is the CA certificate of another upstream.
func testKitCA(t *testing.T) []byte {
	t.Helper()
	up, err := openUpstream(t.TempDir(), testLog(t), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	up.Close()
	return up.Authority.CAPEM
}
