package trust_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
)

// writeIn writes data to a new file in dir and returns its name.
func writeIn(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestReopenSwaps: files reopened while the kiosk runs are in use at once,
// swapped whole: the set a scan began with is left as it was. The seqs are
// raised, so a restart with the old files would be a rollback, and one
// with the new files starts as the reopen left off.
func TestReopenSwaps(t *testing.T) {
	k := newKioskLists(t, 1, 1)
	ctx := context.Background()
	issuer := newIssuer(t, card.AlgES256)
	valid := issuer.issue(t, "0a0b0c0d")
	var issued int
	k.Issued = func(context.Context, time.Time) error { issued++; return nil }
	before := k.Current()

	dir := t.TempDir()
	f := k.files
	f.Trust = writeIn(t, dir, "trustlist-2.cose", trustList(t, k.root, 2, issuer.cert))
	if err := k.Reopen(ctx, f); err != nil {
		t.Fatalf("Reopen(trust list of seq 2) = %v; want nil", err)
	}
	if r := k.Verify(valid, time.Now()); r.Status != card.Valid {
		t.Errorf("after Reopen(a trust list listing the issuer), Verify() = %s (%v); want valid", r.Status, r.Err)
	}
	if r := before.Verifier.Verify(valid, time.Now()); r.Status != card.UnknownIssuer || before.TrustList.Seq != 1 {
		t.Errorf("the set in use before the reopen: Verify() = %s, seq %d; want unknown_issuer, 1: left whole", r.Status, before.TrustList.Seq)
	}
	if k.Files != f {
		t.Errorf("Files after Reopen = %+v; want %+v", k.Files, f)
	}
	if held := k.st.get(stateTrustListSeq); held != "2" {
		t.Errorf("trust list seq held %s; want 2", held)
	}
	if issued != 2 {
		t.Errorf("Issued told %d times; want 2, once a list reopened", issued)
	}

	f.Revocations = writeIn(t, dir, "revocations-2.cose", revocations(t, k.root, 2, "0a0b0c0d"))
	if err := k.Reopen(ctx, f); err != nil {
		t.Fatalf("Reopen(revocation list of seq 2) = %v; want nil", err)
	}
	if r := k.Verify(valid, time.Now()); r.Status != card.Revoked {
		t.Errorf("after Reopen(a revocation list revoking the card), Verify() = %s; want revoked", r.Status)
	}
	if st := k.Status(time.Now()); st.TrustSeq != 2 || st.RevocationsSeq != 2 {
		t.Errorf("Status() = %+v; want trust seq 2, revocations seq 2", st)
	}

	// A restart with the files reopened starts where the reopen left off.
	k.files = f
	if r := k.reload(t).Verify(valid, time.Now()); r.Status != card.Revoked {
		t.Errorf("after a restart, Verify() = %s; want revoked", r.Status)
	}
}

// TestReopenRefuses: a reopen that cannot take every list changes nothing
// (the set in use, the seqs held, Files) and says which file and why; a
// new root key needs a restart.
func TestReopenRefuses(t *testing.T) {
	other := newRoot(t)
	dir := t.TempDir()
	of := listFiles(t, dir, other, 9, 9)
	pemFile := writeIn(t, dir, "issuer.pem", card.MarshalCertificatePEM(newIssuer(t, card.AlgES256).cert))
	garbage := writeIn(t, dir, "garbage.cose", []byte("not a list"))
	missing := filepath.Join(dir, "missing.cose")

	for _, tt := range []struct {
		name string
		// edit edits f, the files of k, and returns the file the error
		// must name ("" for none).
		edit func(t *testing.T, k *kioskLists, f *trust.Files) string
		want []string // in the error
	}{
		{"an older trust list", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Trust = writeIn(t, t.TempDir(), "trustlist.cose", trustList(t, k.root, 2))
			return f.Trust
		}, []string{"trust file", "rollback", "seq 3 or higher"}},
		{"an older revocation list beside a newer trust list", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Trust = writeIn(t, t.TempDir(), "trustlist.cose", trustList(t, k.root, 4))
			f.Revocations = writeIn(t, t.TempDir(), "revocations.cose", revocations(t, k.root, 2))
			return f.Revocations
		}, []string{"revocation list", "rollback"}},
		{"a file that is no list", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Revocations = garbage
			return garbage
		}, []string{"revocation list"}},
		{"a file missing", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Trust = missing
			return missing
		}, []string{"read trust file", "no such file"}},
		{"another root's trust list", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Trust = of.Trust
			return of.Trust
		}, []string{"trust file", "signature"}},
		{"a revocation list as the trust list", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Trust = f.Revocations
			return f.Trust
		}, []string{"trust file"}},
		{"a roster without a reference prefix", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Roster = f.Revocations
			return ""
		}, []string{"--roster and --reference-prefix"}},
		{"a new root key", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			*f = of
			return of.Root
		}, []string{"root key", "restart"}},
		{"a new root key in the same file", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			pub, err := os.ReadFile(of.Root)
			if err != nil {
				t.Fatal(err)
			}
			writeIn(t, filepath.Dir(f.Root), filepath.Base(f.Root), pub)
			f.Trust, f.Revocations = of.Trust, of.Revocations
			return f.Root
		}, []string{"root key", "restart"}},
		{"no root key", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Root, f.Trust, f.Revocations = "", pemFile, ""
			return ""
		}, []string{"no root key", "restart"}},
		{"the held seqs unreadable", func(t *testing.T, k *kioskLists, f *trust.Files) string {
			f.Trust = writeIn(t, t.TempDir(), "trustlist.cose", trustList(t, k.root, 4))
			k.st.m[stateRevocationsSeq] = "three"
			return ""
		}, []string{"state " + stateRevocationsSeq}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := newKioskLists(t, 3, 3)
			before, files := k.Current(), k.Files
			f := k.files
			file := tt.edit(t, k, &f)
			held := map[string]string{} // after the edit, which may set one
			for key, v := range k.st.m {
				held[key] = v
			}

			err := k.Reopen(context.Background(), f)
			if err == nil {
				t.Fatalf("Reopen() = nil; want an error")
			}
			for _, w := range append(tt.want, file) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Reopen() = %v; want it to say %q", err, w)
				}
			}
			if strings.Contains(tt.name, "older") && !errors.Is(err, card.ErrRollback) {
				t.Errorf("Reopen() = %v; want card.ErrRollback", err)
			}
			if k.Current() != before {
				t.Errorf("the set in use changed; want the old one kept")
			}
			if k.Files != files {
				t.Errorf("Files = %+v; want %+v, unchanged", k.Files, files)
			}
			for key, v := range held {
				if got := k.st.get(key); got != v {
					t.Errorf("%s held = %q; want %q, unchanged", key, got, v)
				}
			}
		})
	}
}

// TestReopenDownloaded: a reopen chooses between each configured file and
// the one downloaded as a start does: a configured file older than the
// list downloaded is no rollback, the download is kept; a newer one wins.
func TestReopenDownloaded(t *testing.T) {
	k := newKioskLists(t, 1, 5)
	ctx := context.Background()
	if _, _, err := k.Accept(ctx, trust.KindRevocations, revocations(t, k.root, 6)); err != nil {
		t.Fatal(err)
	}
	if err := k.Reopen(ctx, k.files); err != nil {
		t.Fatalf("Reopen(a configured revocation list older than the one downloaded) = %v; want nil", err)
	}
	if got := k.Status(time.Now()).RevocationsSeq; got != 6 {
		t.Errorf("revocations seq %d; want 6, the downloaded one", got)
	}
	f := k.files
	f.Revocations = writeIn(t, t.TempDir(), "revocations.cose", revocations(t, k.root, 7))
	if err := k.Reopen(ctx, f); err != nil {
		t.Fatal(err)
	}
	if got := k.Status(time.Now()).RevocationsSeq; got != 7 {
		t.Errorf("with a newer configured file, revocations seq %d; want 7", got)
	}
}

// TestReopenMaxListAge: a new maximum age of the revocation list applies
// from the reopen on.
func TestReopenMaxListAge(t *testing.T) {
	root := newRoot(t)
	f := listFiles(t, t.TempDir(), root, 1, 1)
	r := card.NewRevocations(1)
	r.SetIssuedAt(time.Now().Add(-48 * time.Hour))
	data, err := r.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Revocations, data, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := load(f, &memState{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		age   time.Duration
		stale bool
	}{
		{trust.DefaultMaxListAge, false},
		{24 * time.Hour, true},
		{0, false}, // no limit
	} {
		f.MaxListAge = tt.age
		if err := l.Reopen(context.Background(), f); err != nil {
			t.Fatalf("Reopen(max list age %s) = %v", tt.age, err)
		}
		if got := l.Status(time.Now()).Stale; got != tt.stale {
			t.Errorf("a revocation list of 48h, max list age %s reopened: Stale = %v; want %v", tt.age, got, tt.stale)
		}
		if got := l.Current().Verifier.MaxListAge; got != tt.age {
			t.Errorf("Verifier.MaxListAge = %s; want %s", got, tt.age)
		}
	}
}

// TestReopenWithoutRoot: a development kiosk reopens its PEM keys.
func TestReopenWithoutRoot(t *testing.T) {
	dir := t.TempDir()
	issuer := newIssuer(t, card.AlgES256)
	valid := issuer.issue(t, "0a0b0c0d")
	l, err := load(trust.Files{Trust: writeIn(t, dir, "old.pem", card.MarshalCertificatePEM(newIssuer(t, card.AlgES256).cert))}, &memState{})
	if err != nil {
		t.Fatal(err)
	}
	if r := l.Verify(valid, time.Now()); r.Status != card.UnknownIssuer {
		t.Fatalf("Verify() = %s; want unknown_issuer", r.Status)
	}
	if err := l.Reopen(context.Background(), trust.Files{Trust: writeIn(t, dir, "new.pem", card.MarshalCertificatePEM(issuer.cert))}); err != nil {
		t.Fatalf("Reopen() = %v", err)
	}
	if r := l.Verify(valid, time.Now()); r.Status != card.Valid {
		t.Errorf("after Reopen(), Verify() = %s (%v); want valid", r.Status, r.Err)
	}
	if err := l.Reopen(context.Background(), trust.Files{Root: filepath.Join(dir, "root.pem"), Trust: l.Files.Trust}); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("Reopen(a root key where there was none) = %v; want an error saying it needs a restart", err)
	}
}

// TestReopenWhileScanning: scans go on while files are reopened and lists
// downloaded; each sees one whole set, the old or the new, and no reopen
// takes back a list accepted before it (run with -race).
func TestReopenWhileScanning(t *testing.T) {
	k := newKioskLists(t, 1, 1)
	ctx := context.Background()
	issuer := newIssuer(t, card.AlgES256)
	valid := issuer.issue(t, "0a0b0c0d")
	dir := t.TempDir()

	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if r := k.Verify(valid, time.Now()); r.Status != card.Valid && r.Status != card.UnknownIssuer {
					t.Errorf("Verify() during reopens = %s (%v); want valid or unknown_issuer", r.Status, r.Err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for seq := uint64(2); seq <= 20; seq++ {
			if _, _, err := k.Accept(ctx, trust.KindRevocations, revocations(t, k.root, seq)); err != nil {
				t.Errorf("Accept(revocations seq %d) = %v", seq, err)
			}
		}
	})
	for seq := uint64(2); seq <= 20; seq++ {
		f := k.files
		var certs []*x509.Certificate
		if seq%2 == 0 {
			certs = append(certs, issuer.cert)
		}
		f.Trust = writeIn(t, dir, "trustlist-"+strconv.FormatUint(seq, 10)+".cose", trustList(t, k.root, seq, certs...))
		if err := k.Reopen(ctx, f); err != nil {
			t.Errorf("Reopen(trust list seq %d) = %v", seq, err)
		}
	}
	close(done)
	wg.Wait()
	if st := k.Status(time.Now()); st.TrustSeq != 20 || st.RevocationsSeq != 20 {
		t.Errorf("Status() = %+v; want trust seq 20 and the last revocation list downloaded, 20", st)
	}
	if r := k.Verify(valid, time.Now()); r.Status != card.Valid {
		t.Errorf("Verify() = %s; want valid with the last trust list", r.Status)
	}
}
