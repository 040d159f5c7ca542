package trust_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card/cardtest"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
)

// memState is a StateStore in memory.
type memState struct {
	mu  sync.Mutex
	m   map[string]string
	err error // returned by every call when set
}

func (s *memState) GetState(_ context.Context, key string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", false, s.err
	}
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *memState) PutState(_ context.Context, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[key] = value
	return nil
}

func (s *memState) get(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

var (
	stateTrustListSeq   = trust.KindTrustList.StateKey()
	stateRevocationsSeq = trust.KindRevocations.StateKey()
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// writeFile writes as the kiosk does, whole or not at all (enough for a
// test: a rename).
func writeFile(file string, data []byte, perm os.FileMode) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// load loads f as a kiosk with state st does, with no downloads.
func load(f trust.Files, st trust.StateStore) (*trust.Lists, error) {
	l := &trust.Lists{Files: f, State: st, Log: discard()}
	return l, l.Load(context.Background())
}

// issuerKey is an issuer key and its certificate, trusted by the trust
// lists listFiles writes.
type issuerKey struct {
	signer crypto.Signer
	cert   *x509.Certificate
}

func newIssuer(t *testing.T, alg string) issuerKey {
	t.Helper()
	s, c, err := card.GenerateKey(alg, "issuer")
	if err != nil {
		t.Fatal(err)
	}
	return issuerKey{s, c}
}

// issue returns a valid card of k for issuer SDC-TEST.
func (k issuerKey) issue(t *testing.T, serial string) string {
	t.Helper()
	i := &card.Issuer{Name: "SDC-TEST", Signer: k.signer, KID: card.KIDOfCertificate(k.cert)}
	now := time.Now()
	p, err := i.Issue(card.Card{Serial: serial, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.AddDate(1, 0, 0),
		ANumber: "012345678", DateOfBirth: "1990-01-31", Office: "XFO"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// trustList signs a trust list of seq trusting certs for SDC-TEST.
func trustList(t *testing.T, root crypto.Signer, seq uint64, certs ...*x509.Certificate) []byte {
	t.Helper()
	now := time.Now()
	l := &card.TrustList{Seq: seq, IssuedAt: now}
	for _, c := range certs {
		l.Entries = append(l.Entries, card.TrustEntry{Issuer: "SDC-TEST", Certificate: c,
			NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0), Offices: []string{"*"}})
	}
	b, err := l.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// revocations signs a revocation list of seq, issued now, revoking serials
// of SDC-TEST.
func revocations(t *testing.T, root crypto.Signer, seq uint64, serials ...string) []byte {
	t.Helper()
	r := card.NewRevocations(seq)
	r.SetIssuedAt(time.Now())
	for _, s := range serials {
		if err := r.Add("SDC-TEST", s); err != nil {
			t.Fatal(err)
		}
	}
	b, err := r.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// listFiles writes a root public key, a trust list of seq trustSeq (of
// one EdDSA issuer) and a revocation list of seq revSeq to dir and returns
// the Files naming them.
func listFiles(t *testing.T, dir string, root crypto.Signer, trustSeq, revSeq uint64) trust.Files {
	t.Helper()
	pub, err := card.MarshalPublicKeyPEM(root.Public())
	if err != nil {
		t.Fatal(err)
	}
	f := trust.Files{
		Root:        filepath.Join(dir, "root.pem"),
		Trust:       filepath.Join(dir, "trustlist.cose"),
		Revocations: filepath.Join(dir, "revocations.cose"),
		MaxListAge:  trust.DefaultMaxListAge,
	}
	for file, data := range map[string][]byte{
		f.Root:        pub,
		f.Trust:       trustList(t, root, trustSeq, newIssuer(t, card.AlgEdDSA).cert),
		f.Revocations: revocations(t, root, revSeq),
	} {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func newRoot(t *testing.T) crypto.Signer {
	t.Helper()
	root, _, err := card.GenerateKey(card.AlgEdDSA, "root")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestLoadSeqs(t *testing.T) {
	root := newRoot(t)
	for _, tt := range []struct {
		name               string
		held               map[string]string // nil: nothing held
		trustSeq, revSeq   uint64
		wantErr            string // "" for success
		wantTrust, wantRev string // held afterwards
	}{
		{"first start", nil, 3, 5, "", "3", "5"},
		{"same lists again", map[string]string{stateTrustListSeq: "3", stateRevocationsSeq: "5"}, 3, 5, "", "3", "5"},
		{"newer lists", map[string]string{stateTrustListSeq: "3", stateRevocationsSeq: "5"}, 4, 9, "", "4", "9"},
		{"older revocation list", map[string]string{stateTrustListSeq: "3", stateRevocationsSeq: "5"}, 4, 4, "revocation list", "3", "5"},
		{"older trust list", map[string]string{stateTrustListSeq: "3", stateRevocationsSeq: "5"}, 2, 6, "trust list", "3", "5"},
		{"seq 0 after seq 1", map[string]string{stateTrustListSeq: "1"}, 0, 1, "trust list", "1", ""},
		{"held seq unreadable", map[string]string{stateTrustListSeq: "three"}, 3, 5, "state", "three", ""},
	} {
		f := listFiles(t, t.TempDir(), root, tt.trustSeq, tt.revSeq)
		st := &memState{m: map[string]string{}}
		for k, v := range tt.held {
			st.m[k] = v
		}
		l, err := load(f, st)
		var v *card.Verifier
		if err == nil {
			v = l.Current().Verifier
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Load(%s) = %v; want nil", tt.name, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("Load(%s) = nil; want an error about the %s", tt.name, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("Load(%s) = %v; want an error about the %s", tt.name, err, tt.wantErr)
		case tt.wantErr == "" && (v.Trust.Len() != 1 || v.Revocations.Seq() != tt.revSeq || v.MaxListAge != trust.DefaultMaxListAge):
			t.Errorf("Load(%s) = %d keys, revocations seq %d, max age %s; want 1, %d, %s",
				tt.name, v.Trust.Len(), v.Revocations.Seq(), v.MaxListAge, tt.revSeq, trust.DefaultMaxListAge)
		}
		if got := st.m[stateTrustListSeq]; got != tt.wantTrust {
			t.Errorf("Load(%s): trust list seq held = %q; want %q", tt.name, got, tt.wantTrust)
		}
		if got := st.m[stateRevocationsSeq]; got != tt.wantRev {
			t.Errorf("Load(%s): revocation list seq held = %q; want %q", tt.name, got, tt.wantRev)
		}
	}
}

func TestLoadModes(t *testing.T) {
	root := newRoot(t)
	other, _, err := card.GenerateKey(card.AlgES256, "other root")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := listFiles(t, dir, root, 1, 1)
	of := listFiles(t, t.TempDir(), other, 1, 1)
	pemFile := filepath.Join(dir, "issuer.pem")
	if err := os.WriteFile(pemFile, card.MarshalCertificatePEM(newIssuer(t, card.AlgES256).cert), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		edit    func(f *trust.Files)
		st      *memState
		wantErr bool
		stale   bool // ListsStale now
	}{
		{"signed lists", func(*trust.Files) {}, &memState{}, false, false},
		{"signed trust list, no revocation list", func(f *trust.Files) { f.Revocations = "" }, &memState{}, false, true},
		{"no revocation list, no limit", func(f *trust.Files) { f.Revocations, f.MaxListAge = "", 0 }, &memState{}, false, false},
		{"development: PEM trust, no root", func(f *trust.Files) { f.Root, f.Trust, f.Revocations, f.MaxListAge = "", pemFile, "", 0 }, &memState{}, false, false},
		{"PEM trust with a root", func(f *trust.Files) { f.Trust = pemFile }, &memState{}, true, false},
		{"signed trust list without a root", func(f *trust.Files) { f.Root, f.Revocations = "", "" }, &memState{}, true, false},
		{"revocations without a root", func(f *trust.Files) { f.Root, f.Trust = "", pemFile }, &memState{}, true, false},
		{"another root's trust list", func(f *trust.Files) { f.Trust = of.Trust }, &memState{}, true, false},
		{"another root's revocation list", func(f *trust.Files) { f.Revocations = of.Revocations }, &memState{}, true, false},
		{"root is a certificate", func(f *trust.Files) { f.Root = pemFile }, &memState{}, true, false},
		{"revocation list as trust list", func(f *trust.Files) { f.Trust = f.Revocations }, &memState{}, true, false},
		{"trust list as revocation list", func(f *trust.Files) { f.Revocations = f.Trust }, &memState{}, true, false},
		{"no trust", func(f *trust.Files) { f.Trust = "" }, &memState{}, true, false},
		{"state unreadable", func(*trust.Files) {}, &memState{err: errors.New("disk on fire")}, true, false},
	} {
		ff := f
		tt.edit(&ff)
		l, err := load(ff, tt.st)
		if (err != nil) != tt.wantErr {
			t.Errorf("Load(%s) = %v; want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && l.Current().Verifier.ListsStale(time.Now()) != tt.stale {
			t.Errorf("Load(%s).ListsStale(now) = %v; want %v", tt.name, !tt.stale, tt.stale)
		}
	}
}

// kioskLists is a kiosk's lists: the files of listFiles, loaded with
// downloads kept in a directory of their own.
type kioskLists struct {
	*trust.Lists
	root  crypto.Signer
	files trust.Files
	st    *memState
}

func newKioskLists(t *testing.T, trustSeq, revSeq uint64) *kioskLists {
	t.Helper()
	root := newRoot(t)
	k := &kioskLists{root: root, files: listFiles(t, t.TempDir(), root, trustSeq, revSeq), st: &memState{}}
	k.Lists = k.reload(t)
	return k
}

// reload loads the lists again, as a restart does.
func (k *kioskLists) reload(t *testing.T) *trust.Lists {
	t.Helper()
	dir := filepath.Join(filepath.Dir(k.files.Root), "state", trust.DirName)
	l := &trust.Lists{Files: k.files, Dir: dir, State: k.st, WriteFile: writeFile, Log: discard()}
	if err := l.Load(context.Background()); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	return l
}

// TestAccept: a downloaded list is verified against the root, refused if
// older than the one held, written to the downloads directory and held,
// then used; the one held already changes nothing.
func TestAccept(t *testing.T) {
	k := newKioskLists(t, 1, 5)
	forger := newRoot(t)
	file := filepath.Join(k.Dir, trust.KindRevocations.FileName())
	var accepted []uint64
	for _, step := range []struct {
		name     string
		data     []byte
		wantErr  string   // "" for none
		accepted []uint64 // all accepted so far
		held     string
	}{
		{"the seq held", revocations(t, k.root, 5), "", nil, "5"},
		{"a newer list", revocations(t, k.root, 6), "", []uint64{6}, "6"},
		{"the same again", revocations(t, k.root, 6), "", []uint64{6}, "6"},
		{"an older list", revocations(t, k.root, 4), "rollback", []uint64{6}, "6"},
		{"a forged list", revocations(t, forger, 9), "signature", []uint64{6}, "6"},
		{"garbage", []byte("not a list"), "refused", []uint64{6}, "6"},
		{"a trust list as a revocation list", trustList(t, k.root, 9), "refused", []uint64{6}, "6"},
		{"the next list", revocations(t, k.root, 7), "", []uint64{6, 7}, "7"},
	} {
		seq, changed, err := k.Accept(context.Background(), trust.KindRevocations, step.data)
		if (err == nil) != (step.wantErr == "") || err != nil && !strings.Contains(err.Error(), step.wantErr) {
			t.Errorf("%s: Accept() = %v; want an error mentioning %q (none if empty)", step.name, err, step.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: Accept() = %v; want it to say refused", step.name, err)
		}
		if changed {
			accepted = append(accepted, seq)
		}
		if fmtSeqs(accepted) != fmtSeqs(step.accepted) {
			t.Errorf("%s: accepted %v; want %v", step.name, accepted, step.accepted)
		}
		if held := k.st.get(stateRevocationsSeq); held != step.held {
			t.Errorf("%s: seq held %s; want %s", step.name, held, step.held)
		}
		if got := k.Status(time.Now()).RevocationsSeq; strconv.FormatUint(got, 10) != step.held {
			t.Errorf("%s: Status().RevocationsSeq = %d; want %s, the list in use", step.name, got, step.held)
		}
		if len(step.accepted) > 0 {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			r, err := card.OpenRevocations(data, k.root.Public())
			if err != nil || strconv.FormatUint(r.Seq(), 10) != step.held {
				t.Errorf("%s: file on disk = seq %d, %v; want the list of seq %s", step.name, r.Seq(), err, step.held)
			}
		}
	}
}

// TestAcceptSwaps: each kind accepted is in use at once, without touching
// the others; a restart starts with what was downloaded, not the older
// configured file, which would be refused as a rollback.
func TestAcceptSwaps(t *testing.T) {
	k := newKioskLists(t, 1, 1)
	ctx := context.Background()
	issuer := newIssuer(t, card.AlgES256)
	valid := issuer.issue(t, "0a0b0c0d")
	if r := k.Verify(valid, time.Now()); r.Status != card.UnknownIssuer {
		t.Fatalf("Verify(a card of an issuer not yet listed) = %s; want unknown_issuer", r.Status)
	}
	var issued []time.Time
	k.Issued = func(_ context.Context, at time.Time) error { issued = append(issued, at); return nil }
	before := k.Current()

	if _, changed, err := k.Accept(ctx, trust.KindTrustList, trustList(t, k.root, 2, issuer.cert)); err != nil || !changed {
		t.Fatalf("Accept(trust list of seq 2) = %v, %v; want a change", changed, err)
	}
	if r := k.Verify(valid, time.Now()); r.Status != card.Valid {
		t.Errorf("after a new trust list, Verify() = %s (%v); want valid", r.Status, r.Err)
	}
	if before.Verifier.Trust.Len() != 1 || before.TrustList.Seq != 1 {
		t.Errorf("the set in use before the swap changed: %d keys, seq %d; want 1, 1", before.Verifier.Trust.Len(), before.TrustList.Seq)
	}
	if _, _, err := k.Accept(ctx, trust.KindRevocations, revocations(t, k.root, 2, "0a0b0c0d")); err != nil {
		t.Fatal(err)
	}
	if r := k.Verify(valid, time.Now()); r.Status != card.Revoked {
		t.Errorf("after a new revocation list, Verify() = %s; want revoked", r.Status)
	}
	if st := k.Status(time.Now()); st.TrustSeq != 2 || st.RevocationsSeq != 2 || st.Stale {
		t.Errorf("Status() = %+v; want trust seq 2, revocations seq 2, not stale", st)
	}
	if len(issued) != 2 {
		t.Errorf("Issued told %d times; want 2, once a list", len(issued))
	}

	// Notices: none, then the holder's.
	c := *k.Verify(valid, time.Now()).Card
	if _, ok := k.Notice(c); ok {
		t.Errorf("Notice() before any notices = ok; want none")
	}
	notices, err := card.NewNotices(1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := notices.Add(c, card.Notice{Text: map[string]string{"en": "Please go to window 3."}}); err != nil {
		t.Fatal(err)
	}
	data, err := notices.Sign(k.root)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Accept(ctx, trust.KindNotices, data); err != nil {
		t.Fatal(err)
	}
	if n, ok := k.Notice(c); !ok || n.In("en") != "Please go to window 3." {
		t.Errorf("Notice() = %+v, %v; want window 3", n, ok)
	}

	// A restart: the configured files are older than what was accepted.
	l := k.reload(t)
	if got := l.Current().TrustList.Seq; got != 2 {
		t.Errorf("after a restart, trust list seq %d; want 2, the downloaded one", got)
	}
	if r := l.Verify(valid, time.Now()); r.Status != card.Revoked {
		t.Errorf("after a restart, Verify() = %s; want revoked (the downloaded list)", r.Status)
	}
	if _, ok := l.Notice(c); ok {
		t.Errorf("after a restart, Notice() before LoadNotices = ok; want none")
	}
	if err := l.LoadNotices(); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Notice(c); !ok {
		t.Errorf("after a restart, Notice() after LoadNotices = none; want the downloaded notice")
	}
	// A configured file newer than the download wins.
	if err := os.WriteFile(k.files.Revocations, revocations(t, k.root, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := k.reload(t).Status(time.Now()).RevocationsSeq; got != 3 {
		t.Errorf("with a newer configured file, revocations seq %d; want 3", got)
	}
}

// TestAcceptWithoutRoot: a development kiosk (PEM keys, no root) can
// verify nothing downloaded.
func TestAcceptWithoutRoot(t *testing.T) {
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "issuer.pem")
	if err := os.WriteFile(pemFile, card.MarshalCertificatePEM(newIssuer(t, card.AlgES256).cert), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &trust.Lists{Files: trust.Files{Trust: pemFile}, Dir: filepath.Join(dir, "lists"), State: &memState{}, WriteFile: writeFile}
	if err := l.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Accept(context.Background(), trust.KindRevocations, revocations(t, newRoot(t), 1)); err == nil {
		t.Errorf("Accept() without a root key = nil; want an error")
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s = %v; want nothing written", l.Dir, err)
	}
}

// TestSkippedKeys: a P-384 certificate beside a good P-256 one, in a PEM
// trust file or a signed trust list (configured or downloaded), is skipped,
// logged with its kid and counted; the good key's cards verify. A list
// badly signed is still refused whole.
func TestSkippedKeys(t *testing.T) {
	good := newIssuer(t, card.AlgES256)
	p384 := cardtest.P384Certificate(t)
	kid := hex.EncodeToString(card.KIDOfCertificate(p384))
	valid := good.issue(t, "0a0b0c0d")

	var logBuf bytes.Buffer
	loadLogging := func(t *testing.T, f trust.Files) *trust.Lists {
		t.Helper()
		logBuf.Reset()
		l := &trust.Lists{Files: f, Dir: filepath.Join(t.TempDir(), trust.DirName), State: &memState{},
			WriteFile: writeFile, Log: slog.New(slog.NewTextHandler(&logBuf, nil))}
		if err := l.Load(context.Background()); err != nil {
			t.Fatalf("Load() = %v", err)
		}
		return l
	}
	check := func(t *testing.T, what string, l *trust.Lists) {
		t.Helper()
		if r := l.Verify(valid, time.Now()); r.Status != card.Valid {
			t.Errorf("%s: Verify(a card of the P-256 key) = %s (%v); want valid", what, r.Status, r.Err)
		}
		if got := l.Status(time.Now()).SkippedKeys; got != 1 {
			t.Errorf("%s: Status().SkippedKeys = %d; want 1", what, got)
		}
		warned := false
		for _, line := range strings.Split(logBuf.String(), "\n") {
			warned = warned || strings.Contains(line, "level=WARN") && strings.Contains(line, "skipped") && strings.Contains(line, "kid="+kid)
		}
		if !warned {
			t.Errorf("%s: log %q; want a warning of the key skipped, naming kid %s", what, logBuf.String(), kid)
		}
	}

	t.Run("PEM", func(t *testing.T) {
		pemFile := filepath.Join(t.TempDir(), "issuers.pem")
		if err := os.WriteFile(pemFile, append(card.MarshalCertificatePEM(p384), card.MarshalCertificatePEM(good.cert)...), 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, "PEM trust file", loadLogging(t, trust.Files{Trust: pemFile}))
	})

	t.Run("signed", func(t *testing.T) {
		root := newRoot(t)
		f := listFiles(t, t.TempDir(), root, 1, 1)
		if err := os.WriteFile(f.Trust, trustList(t, root, 1, p384, good.cert), 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, "signed trust list", loadLogging(t, f))

		// Downloaded: the same, swapped in.
		if err := os.WriteFile(f.Trust, trustList(t, root, 1), 0o644); err != nil {
			t.Fatal(err)
		}
		l := loadLogging(t, f)
		if got := l.Status(time.Now()).SkippedKeys; got != 0 {
			t.Fatalf("Status().SkippedKeys = %d; want 0", got)
		}
		if _, _, err := l.Accept(context.Background(), trust.KindTrustList, trustList(t, root, 2, good.cert, p384)); err != nil {
			t.Fatalf("Accept(a trust list with a P-384 key) = %v; want nil", err)
		}
		check(t, "downloaded trust list", l)

		// Badly signed: refused whole, from a file or a download.
		forged := trustList(t, newRoot(t), 3, good.cert)
		if _, _, err := l.Accept(context.Background(), trust.KindTrustList, forged); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("Accept(a badly signed trust list) = %v; want it refused", err)
		}
		if got := l.Status(time.Now()).TrustSeq; got != 2 {
			t.Errorf("after a badly signed list, trust seq %d; want 2", got)
		}
		if err := os.WriteFile(f.Trust, forged, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := trust.Open(f); err == nil {
			t.Errorf("Open(a badly signed trust list) = nil; want an error")
		}
	})
}

// TestKinds: every kind has its own file name and state key, and the
// roster is downloaded only by a kiosk that takes reference cards.
func TestKinds(t *testing.T) {
	files, keys := map[string]bool{}, map[string]bool{}
	for _, k := range trust.Kinds {
		if k.FileName() == "" || files[k.FileName()] || k.StateKey() == "" || keys[k.StateKey()] {
			t.Errorf("kind %s: file %q, state key %q; want both set and its own", k, k.FileName(), k.StateKey())
		}
		files[k.FileName()], keys[k.StateKey()] = true, true
	}
	if got := trust.KindTrustList.FileName(); got != "trustlist.cose" {
		t.Errorf("trust list file = %q; want trustlist.cose (sync/API.md, the upstream's documents)", got)
	}
	has := func(kinds []trust.Kind, k trust.Kind) bool {
		for _, x := range kinds {
			if x == k {
				return true
			}
		}
		return false
	}
	if has((trust.Files{}).Kinds(), trust.KindRoster) || !has((trust.Files{ReferencePrefix: "https://x/"}).Kinds(), trust.KindRoster) {
		t.Errorf("Files.Kinds: want the roster with a reference prefix only")
	}
	if k := (trust.Files{}).Kinds(); len(k) == 0 || k[0] != trust.KindTrustList {
		t.Errorf("Files.Kinds() = %v; want the trust list first", k)
	}
}

func fmtSeqs(s []uint64) string {
	var b strings.Builder
	for _, n := range s {
		b.WriteString(strconv.FormatUint(n, 10) + " ")
	}
	return b.String()
}
