package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
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
		return m.lists.Verify(kit.Samples[sample], time.Now()).Status
	}
	if got := verify("valid"); got != card.Valid {
		t.Fatalf("Verify(valid) = %s; want valid", got)
	}
	eventually(t, "the first poll", func() bool {
		return !m.downloader.Status()[trust.KindRevocations].LastCheck.IsZero()
	})

	root, err := card.ParsePrivateKeyPEM(mustRead(t, filepath.Join(kit.Dir, "root-key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	held := m.lists.Current().Verifier.Revocations.Seq()
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
		return strings.Contains(m.downloader.Status()[trust.KindRevocations].LastError, "signature")
	})
	if got := verify("revoked"); got != card.Revoked {
		t.Errorf("after a forged list, Verify(revoked) = %s; want revoked", got)
	}

	// The next genuine list revokes the valid sample too: in use at once.
	next := card.NewRevocations(held + 1)
	next.SetIssuedAt(time.Now())
	for _, serial := range []string{"d0c0000000000001", "d0c0000000000003"} {
		if err := next.Add(demokit.Issuer, serial); err != nil {
			t.Fatal(err)
		}
	}
	if data, err = next.Sign(root); err != nil {
		t.Fatal(err)
	}
	writeDoc(t, kit.Revocations, data)
	m.downloader.Kick()
	eventually(t, "the new list in use", func() bool { return verify("valid") == card.Revoked })
	if got := m.lists.Status(time.Now()).RevocationsSeq; got != held+1 {
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
	holder := m.lists.Verify(kit.Samples["valid"], time.Now()).Card
	other := m.lists.Verify(kit.Samples["expired"], time.Now()).Card
	eventually(t, "the notices", func() bool { _, ok := m.lists.Notice(*holder); return ok })
	n, _ := m.lists.Notice(*holder)
	if got := n.In("es"); !strings.Contains(got, "ventanilla 3") {
		t.Errorf("notice in Spanish = %q; want window 3", got)
	}
	if _, ok := m.lists.Notice(*other); ok {
		t.Errorf("notice for another card holder; want none")
	}
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
	if err := atomicfile.Write(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
