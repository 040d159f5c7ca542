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

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
)

// TestListsSwappedAtRuntime: a revocation list published on the upstream
// reaches the running kiosk's verifier without a restart; one not signed by
// the root never does.
func TestListsSwappedAtRuntime(t *testing.T) {
	kit := testKit(t)
	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	up.Server.SetDocumentDir(kit.Dir)
	m := startKiosk(t, t.TempDir(), kit, up.URL)
	verify := func(sample string) card.Status {
		return m.verifiers.Verify(kit.Samples[sample], time.Now()).Status
	}
	if got := verify("valid"); got != card.Valid {
		t.Fatalf("Verify(valid) = %s; want valid", got)
	}
	eventually(t, "the first poll", func() bool {
		return !m.downloader.Status()[upload.KindRevocations].LastCheck.IsZero()
	})

	root, err := card.ParsePrivateKeyPEM(mustRead(t, filepath.Join(kit.Dir, "root-key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	held := m.verifiers.current().verifier.Revocations.Seq()
	orig := mustRead(t, kit.Revocations)

	// A forged list — a higher seq, revoking nothing — is refused and the
	// revoked sample stays revoked.
	forger, _, err := card.GenerateKey(card.AlgEdDSA, "forger")
	if err != nil {
		t.Fatal(err)
	}
	forged := card.NewRevocations(held + 10)
	forged.SetIssuedAt(time.Now())
	data, err := forged.Sign(forger)
	if err != nil {
		t.Fatal(err)
	}
	writeDoc(t, kit.Revocations, data)
	m.downloader.Kick()
	eventually(t, "the forged list refused", func() bool {
		return strings.Contains(m.downloader.Status()[upload.KindRevocations].LastError, "signature")
	})
	if got := verify("revoked"); got != card.Revoked {
		t.Errorf("after a forged list, Verify(revoked) = %s; want revoked", got)
	}

	// The next genuine list revokes the valid sample too: in use at once.
	next := card.NewRevocations(held + 1)
	next.SetIssuedAt(time.Now())
	for _, serial := range []string{"d0c0000000000001", "d0c0000000000003"} {
		if err := next.Add(demoIssuer, serial); err != nil {
			t.Fatal(err)
		}
	}
	if data, err = next.Sign(root); err != nil {
		t.Fatal(err)
	}
	writeDoc(t, kit.Revocations, data)
	m.downloader.Kick()
	eventually(t, "the new list in use", func() bool { return verify("valid") == card.Revoked })
	if got := m.verifiers.current().status(time.Now()).RevocationsSeq; got != held+1 {
		t.Errorf("status revocations seq = %d; want %d", got, held+1)
	}
	// Kept for the next start, which must not refuse it as a rollback of
	// the configured file's seq.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	dir := m.Config.StateDir
	writeDoc(t, kit.Revocations, orig)
	m = startKiosk(t, dir, kit, up.URL)
	if got := verify("valid"); got != card.Revoked {
		t.Errorf("after a restart, Verify(valid) = %s; want revoked (the downloaded list)", got)
	}
}

// TestNoticeForHolder: the demo's notice reaches the kiosk and opens for
// the valid sample's holder only.
func TestNoticeForHolder(t *testing.T) {
	kit := testKit(t)
	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	up.Server.SetDocumentDir(kit.Dir)
	m := startKiosk(t, t.TempDir(), kit, up.URL)
	holder := m.verifiers.Verify(kit.Samples["valid"], time.Now()).Card
	other := m.verifiers.Verify(kit.Samples["expired"], time.Now()).Card
	eventually(t, "the notices", func() bool { _, ok := m.notice(*holder); return ok })
	n, _ := m.notice(*holder)
	if got := n.In("es"); !strings.Contains(got, "ventanilla 3") {
		t.Errorf("notice in Spanish = %q; want window 3", got)
	}
	if _, ok := m.notice(*other); ok {
		t.Errorf("notice for another card holder; want none")
	}
}

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
		env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
		return dispatch(context.Background(), env, append([]string{"enroll"}, args...)), out.String()
	}
	args := []string{"--upstream", up.URL, "--ca", ca, "--token", token, "--kiosk-id", "kiosk-07", "--state-dir", state}
	if code, out := run(args...); code != 0 {
		t.Fatalf("kiosk enroll: exit %d\n%s", code, out)
	}
	fi, err := os.Stat(filepath.Join(state, enrollmentFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("enrollment.json: %v, %v; want mode 0600", fi, err)
	}
	var e enrollment
	if err := json.Unmarshal(mustRead(t, filepath.Join(state, enrollmentFile)), &e); err != nil {
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

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeDoc(t *testing.T, file string, data []byte) {
	t.Helper()
	if err := upload.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
