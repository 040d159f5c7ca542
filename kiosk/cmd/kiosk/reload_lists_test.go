package main

import (
	"context"
	"crypto"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/ui/uitest"
)

// TestReloadLists: a running kiosk reloaded with a new revocation list
// file refuses a card revoked in it at the next scan, without a restart.
// A reload that would take the list back to an older one is refused,
// naming the file, and nothing of it is applied.
func TestReloadLists(t *testing.T) {
	kit := testKit(t)
	var logs syncBuffer
	m := startKioskLogging(t, slog.New(slog.NewTextHandler(&logs, nil)), t.TempDir(), kit, "")
	ctx := context.Background()
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)

	// Before the reload, the valid sample's holder is asked to confirm.
	valid := kit.Samples["valid"]
	simScan(t, m, valid)
	p.Want(kiosk.ScreenConfirm)
	p.Act(kiosk.ActionDeny)
	p.Want(kiosk.ScreenSeeStaff)
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)

	// The next revocation list revokes that card.
	file := filepath.Join(t.TempDir(), "revocations-next.cose")
	next := writeNextRevoking(t, kit, m, valid, file)

	c := m.Config
	c.Revocations = file
	if err := m.Reload(ctx, c); err != nil {
		t.Fatalf("Reload(a new revocation list) = %v", err)
	}
	simScan(t, m, valid)
	if got := p.Want(kiosk.ScreenSeeStaff); got.Reason != kiosk.ReasonCardRevoked {
		t.Errorf("after the reload, the card revoked in the new list: screen %s; want see_staff/%s", got.Raw, kiosk.ReasonCardRevoked)
	}
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)
	if got := m.lists.Status(time.Now()).RevocationsSeq; got != next.Seq() {
		t.Errorf("revocation list seq in use %d; want %d", got, next.Seq())
	}
	if m.Config.Revocations != file {
		t.Errorf("Config.Revocations = %s; want %s, in effect", m.Config.Revocations, file)
	}
	if want := `msg="configuration reloaded: settings applied" keys=[lists.revocations]`; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs.String())
	}

	// Back to the older list: a rollback, refused with the rest of the
	// reload.
	c = m.Config
	c.Revocations = kit.Revocations
	c.ConfirmTimeout = 9 * time.Minute
	err := m.Reload(ctx, c)
	if !errors.Is(err, card.ErrRollback) || !strings.Contains(err.Error(), kit.Revocations) {
		t.Errorf("Reload(the older revocation list) = %v; want a rollback naming %s", err, kit.Revocations)
	}
	if m.Config.Revocations != file || m.Config.ConfirmTimeout == c.ConfirmTimeout {
		t.Errorf("Config after a refused reload = revocations %s, confirm %v; want %s and the old timeout",
			m.Config.Revocations, m.Config.ConfirmTimeout, file)
	}
	simScan(t, m, valid)
	if got := p.Want(kiosk.ScreenSeeStaff); got.Reason != kiosk.ReasonCardRevoked {
		t.Errorf("after a refused reload: screen %s; want see_staff/%s, the newer list kept", got.Raw, kiosk.ReasonCardRevoked)
	}
}

// TestReloadRereadsSameFile: a new revocation list put in place of the old
// file, under the same name, is in use after a reload that changes no
// setting: what an admin does with /etc/kiosk/revocations.cose and SIGHUP.
func TestReloadRereadsSameFile(t *testing.T) {
	kit := testKit(t)
	m := startKiosk(t, t.TempDir(), kit, "")
	ctx := context.Background()
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)

	valid := kit.Samples["valid"]
	next := writeNextRevoking(t, kit, m, valid, kit.Revocations)

	if err := m.Reload(ctx, m.Config); err != nil {
		t.Fatalf("Reload(the same settings) = %v", err)
	}
	simScan(t, m, valid)
	if got := p.Want(kiosk.ScreenSeeStaff); got.Reason != kiosk.ReasonCardRevoked {
		t.Errorf("after the reload, the card revoked in the rewritten list: screen %s; want see_staff/%s", got.Raw, kiosk.ReasonCardRevoked)
	}
	if got := m.lists.Status(time.Now()).RevocationsSeq; got != next.Seq() {
		t.Errorf("revocation list seq in use %d; want %d", got, next.Seq())
	}
}

// kitRevocations returns the demo kit's root key and the revocation list
// it signed.
func kitRevocations(t *testing.T, kit *demokit.Kit) (crypto.Signer, *card.Revocations) {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join(kit.Dir, demokit.RootKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	root, err := card.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(kit.Revocations)
	if err != nil {
		t.Fatal(err)
	}
	held, err := card.OpenRevocations(data, root.Public())
	if err != nil {
		t.Fatal(err)
	}
	return root, held
}

// writeNextRevoking writes to file the revocation list after the kit's,
// signed by its root, revoking the card of payload (valid on m until then),
// and returns it.
func writeNextRevoking(t *testing.T, kit *demokit.Kit, m *Main, payload, file string) *card.Revocations {
	t.Helper()
	root, held := kitRevocations(t, kit)
	r := m.lists.Verify(payload, time.Now())
	if r.Status != card.Valid {
		t.Fatalf("Verify(the card to revoke) = %s; want valid", r.Status)
	}
	next := card.NewRevocations(held.Seq() + 1)
	next.SetIssuedAt(time.Now())
	if err := next.Add(r.Card.Issuer, r.Card.Serial); err != nil {
		t.Fatal(err)
	}
	data, err := next.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return next
}
