package main

import (
	"bytes"
	"fmt"
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

// TestNoPersonalDataAtRest runs ten check-ins through the whole daemon, as
// people would, then looks for each person's name, A-number and date of
// birth in everything the kiosk keeps: its database, WAL and shared-memory
// files, its state directory, and its log at debug level. A stolen kiosk
// must not say who checked in.
func TestNoPersonalDataAtRest(t *testing.T) {
	kit := testKit(t)
	up := startUpstream(t, t.TempDir(), "127.0.0.1:0")
	state := t.TempDir()
	var logs syncBuffer
	m := startKioskLogging(t, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		state, kit, up.URL)

	signer, cert, err := demokit.IssuerKey(kit.Dir)
	if err != nil {
		t.Fatal(err)
	}
	issuer := &card.Issuer{Name: demokit.Issuer, Signer: signer, KID: card.KIDOfCertificate(cert)}
	now := time.Now()
	var secrets []string
	p := uitest.Dial(t, "http://"+m.Addr(), nil)
	p.Want(kiosk.ScreenIdle)
	for i := range 10 {
		c := card.Card{
			Serial: fmt.Sprintf("5ec0%012x", i+1), ANumber: fmt.Sprintf("3141%05d", i+1),
			GivenName: fmt.Sprintf("Zenobia%c", 'A'+i), FamilyName: fmt.Sprintf("Quillfeather%c", 'A'+i),
			DateOfBirth: fmt.Sprintf("1984-07-%02d", i+10), Office: "DEMO",
			IssuedAt: now.Add(-time.Hour), ExpiresAt: now.AddDate(1, 0, 0),
		}
		secrets = append(secrets, c.GivenName, c.FamilyName, c.ANumber, c.DateOfBirth)
		payload, err := issuer.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		simScan(t, m, payload)
		p.Want(kiosk.ScreenConfirm)
		p.Act(kiosk.ActionConfirm)
		p.Want(kiosk.ScreenSuccess)
		p.Act(kiosk.ActionDone)
		p.Want(kiosk.ScreenIdle)
	}
	eventually(t, "the uploads", func() bool { return getStatus(t, m).Outbox.UploadedTotal == 10 })
	// A refused card is logged with why, never with whose: the revoked
	// sample's serial and name stay out of the log.
	simScan(t, m, kit.Samples["revoked"])
	p.Want(kiosk.ScreenSeeStaff)
	p.Act(kiosk.ActionDone)
	p.Want(kiosk.ScreenIdle)
	inLog := []string{"d0c0000000000003", "Nguyen"} // demokit's revoked person

	var files []string
	filepath.WalkDir(state, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) < 2 {
		t.Fatalf("state directory holds %v; want at least the database and its WAL", files)
	}
	check := func(what string, b []byte) {
		t.Helper()
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains %q", what, s)
			}
		}
	}
	// While the daemon runs (the WAL holds the latest pages) and after.
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // -shm may go away
		}
		check(strings.TrimPrefix(f, state), b)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			check(strings.TrimPrefix(f, state)+" (closed)", b)
		}
	}
	check("the daemon's log", []byte(logs.String()))
	for _, s := range inLog {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the daemon's log contains %q, of the card refused", s)
		}
	}
	if !strings.Contains(logs.String(), "card refused") {
		t.Errorf("the log records no refusal: the test is not looking at the right log")
	}
	if !bytes.Contains([]byte(logs.String()), []byte("check-in recorded")) {
		t.Errorf("the log records no check-in: the test is not looking at the right log")
	}
}
