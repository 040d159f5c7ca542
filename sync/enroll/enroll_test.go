package enroll_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// fakeUpstream answers POST /v1/enroll with answer, over TLS, and
// records the request it was sent. (The real upstream's side is tested in
// sync/upstream, and `kiosk enroll` against it in kiosk/cmd/kiosk.)
type fakeUpstream struct {
	*httptest.Server
	requests atomic.Int32
	got      wire.EnrollRequest
	answer   func(w http.ResponseWriter, req wire.EnrollRequest)
}

func newFakeUpstream(t *testing.T, answer func(w http.ResponseWriter, req wire.EnrollRequest)) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{answer: answer}
	u.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != wire.PathEnroll || r.Header.Get("Content-Type") != wire.ContentType {
			t.Errorf("request %s %s (%s); want POST %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"), wire.PathEnroll, wire.ContentType)
		}
		if len(r.TLS.PeerCertificates) != 0 {
			t.Errorf("enrollment presented a client certificate; want none, the token authenticates it")
		}
		if err := json.NewDecoder(r.Body).Decode(&u.got); err != nil {
			t.Errorf("decode request: %v", err)
		}
		u.answer(w, u.got)
	}))
	t.Cleanup(u.Close)
	return u
}

// caPEM is the PEM of the fake upstream's certificate: the CA to pin.
func (u *fakeUpstream) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.Certificate().Raw})
}

// sealPublicKey is a valid public seal key.
func sealPublicKey(t *testing.T) []byte {
	t.Helper()
	k, err := wire.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().Bytes()
}

// otherCAPEM is the certificate of a key the fake upstream's certificate
// does not chain to.
func otherCAPEM(t *testing.T) []byte {
	t.Helper()
	id, err := device.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := id.Certificate("other")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
}

func answerJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", wire.ContentType)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func TestEnroll(t *testing.T) {
	seal := sealPublicKey(t)
	up := newFakeUpstream(t, func(w http.ResponseWriter, req wire.EnrollRequest) {
		answerJSON(w, http.StatusOK, wire.EnrollResponse{KioskID: req.KioskID, SealPublicKey: seal})
	})
	state := t.TempDir()
	e, err := enroll.Enroll(context.Background(), up.URL+"/", up.caPEM(), " tok-123\n", "kiosk-07", state)
	if err != nil {
		t.Fatalf("Enroll = %v", err)
	}

	// What was sent: the device key made in state, the token as typed
	// without the spaces a paste brings.
	id, err := device.Load(state)
	if err != nil {
		t.Fatalf("device key after Enroll: %v", err)
	}
	if up.got.KioskID != "kiosk-07" || up.got.Token != "tok-123" || !ed25519.PublicKey(up.got.DevicePublicKey).Equal(id.Public()) {
		t.Errorf("request = %+v; want kiosk-07, token tok-123 and the device key in %s", up.got, state)
	}

	// What was kept.
	want := enroll.Enrollment{Upstream: up.URL, KioskID: "kiosk-07", CAPEM: string(up.caPEM()), SealPublicKey: seal}
	if e.Upstream != want.Upstream || e.KioskID != want.KioskID || e.CAPEM != want.CAPEM || string(e.SealPublicKey) != string(want.SealPublicKey) {
		t.Errorf("Enroll = %+v; want %+v", e, want)
	}
	fi, err := os.Stat(filepath.Join(state, enroll.File))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want mode 0600", enroll.File, fi, err)
	}
	loaded, err := enroll.Load(state)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if loaded.Upstream != want.Upstream || loaded.KioskID != want.KioskID || loaded.CAPEM != want.CAPEM || string(loaded.SealPublicKey) != string(want.SealPublicKey) {
		t.Errorf("Load = %+v; want %+v", loaded, want)
	}
	if k, err := loaded.SealKey(); err != nil || string(k.Bytes()) != string(seal) {
		t.Errorf("SealKey() = %v, %v; want the upstream's key", k, err)
	}

	// Enrolling again keeps the device key: the upstream knows it.
	if _, err := enroll.Enroll(context.Background(), up.URL, up.caPEM(), "tok-456", "kiosk-07", state); err != nil {
		t.Fatalf("Enroll again = %v", err)
	}
	if !ed25519.PublicKey(up.got.DevicePublicKey).Equal(id.Public()) {
		t.Errorf("Enroll again sent another device key; want the one kept in %s", state)
	}
}

// TestEnrollRefused: whatever the upstream answers but a good enrollment of
// the kiosk asked for, Enroll fails, says why, and writes no enrollment.
func TestEnrollRefused(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(w http.ResponseWriter, req wire.EnrollRequest)
		wantErr string
	}{
		{"token used", func(w http.ResponseWriter, _ wire.EnrollRequest) {
			answerJSON(w, http.StatusForbidden, wire.Error{Message: "token already used"})
		}, "403 Forbidden: token already used"},
		{"not JSON", func(w http.ResponseWriter, _ wire.EnrollRequest) {
			http.Error(w, "upstream down", http.StatusBadGateway)
		}, "502 Bad Gateway"},
		{"another kiosk", func(w http.ResponseWriter, _ wire.EnrollRequest) {
			answerJSON(w, http.StatusOK, wire.EnrollResponse{KioskID: "kiosk-99"})
		}, `enrolled "kiosk-99", not "kiosk-07"`},
		{"bad seal key", func(w http.ResponseWriter, req wire.EnrollRequest) {
			answerJSON(w, http.StatusOK, wire.EnrollResponse{KioskID: req.KioskID, SealPublicKey: []byte("short")})
		}, "seal key"},
		{"garbage", func(w http.ResponseWriter, _ wire.EnrollRequest) {
			w.Write([]byte("{"))
		}, "read answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newFakeUpstream(t, tt.answer)
			state := t.TempDir()
			_, err := enroll.Enroll(context.Background(), up.URL, up.caPEM(), "tok", "kiosk-07", state)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Enroll = %v; want an error saying %q", err, tt.wantErr)
			}
			if e, err := enroll.Load(state); e != nil || err != nil {
				t.Errorf("Load after a refused Enroll = %+v, %v; want nil, nil: nothing kept", e, err)
			}
		})
	}
}

// TestEnrollChecks: what Enroll refuses before it sends anything.
func TestEnrollChecks(t *testing.T) {
	up := newFakeUpstream(t, func(w http.ResponseWriter, req wire.EnrollRequest) {
		answerJSON(w, http.StatusOK, wire.EnrollResponse{KioskID: req.KioskID})
	})
	tests := []struct {
		name, url, kioskID string
		caPEM              []byte
		wantErr            string
	}{
		{"kiosk id", up.URL, "kiosk 07", up.caPEM(), "invalid kiosk id"},
		{"plain http", strings.Replace(up.URL, "https://", "http://", 1), "kiosk-07", up.caPEM(), "needs an https:// URL"},
		{"no CA", up.URL, "kiosk-07", []byte("not a certificate"), "no PEM certificate"},
	}
	for _, tt := range tests {
		state := t.TempDir()
		_, err := enroll.Enroll(context.Background(), tt.url, tt.caPEM, "tok", tt.kioskID, state)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Enroll = %v; want an error saying %q", tt.name, err, tt.wantErr)
		}
		if _, err := device.Load(state); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: device key after a refused Enroll: %v; want none made", tt.name, err)
		}
	}
	if n := up.requests.Load(); n != 0 {
		t.Errorf("the upstream got %d requests; want none", n)
	}

	// The CA pinned is the only one trusted: the upstream's certificate
	// does not chain to another, whatever the system trusts.
	state := t.TempDir()
	_, err := enroll.Enroll(context.Background(), up.URL, otherCAPEM(t), "tok", "kiosk-07", state)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Enroll pinning another CA = %v; want a certificate error", err)
	}
	if n := up.requests.Load(); n != 0 {
		t.Errorf("the upstream got %d requests over a connection to an unpinned CA; want none", n)
	}
	if e, err := enroll.Load(state); e != nil || err != nil {
		t.Errorf("Load after Enroll pinning another CA = %+v, %v; want nil, nil", e, err)
	}
}

func TestLoad(t *testing.T) {
	if e, err := enroll.Load(t.TempDir()); e != nil || err != nil {
		t.Errorf("Load of a kiosk not enrolled = %+v, %v; want nil, nil", e, err)
	}
	good := enroll.Enrollment{Upstream: "https://upstream.example", KioskID: "kiosk-07", CAPEM: string(otherCAPEM(t))}
	tests := []struct {
		name    string
		data    func() []byte
		wantErr string // "" for none
	}{
		{"good", func() []byte { b, _ := json.Marshal(good); return b }, ""},
		{"not JSON", func() []byte { return []byte("{") }, enroll.File},
		{"no CA", func() []byte { e := good; e.CAPEM = ""; b, _ := json.Marshal(e); return b }, "ca_pem: no PEM certificate"},
		{"bad kiosk id", func() []byte { e := good; e.KioskID = "a/b"; b, _ := json.Marshal(e); return b }, "invalid kiosk id"},
	}
	for _, tt := range tests {
		state := t.TempDir()
		if err := os.WriteFile(filepath.Join(state, enroll.File), tt.data(), 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := enroll.Load(state)
		switch {
		case tt.wantErr == "" && (err != nil || e == nil || e.CAPEM != good.CAPEM || e.KioskID != good.KioskID || e.Upstream != good.Upstream):
			t.Errorf("%s: Load = %+v, %v; want %+v", tt.name, e, err, good)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: Load = %+v, %v; want an error saying %q", tt.name, e, err, tt.wantErr)
		}
	}
}

func TestSave(t *testing.T) {
	state := t.TempDir()
	for _, id := range []string{"kiosk-07", "kiosk-08"} { // the second replaces the first
		e := &enroll.Enrollment{Upstream: "https://upstream.example", KioskID: id, CAPEM: string(otherCAPEM(t))}
		if err := e.Save(state); err != nil {
			t.Fatalf("Save = %v", err)
		}
		got, err := enroll.Load(state)
		if err != nil || got.KioskID != id {
			t.Errorf("Save then Load = %+v, %v; want %s", got, err, id)
		}
	}
	if fi, err := os.Stat(filepath.Join(state, enroll.File)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600", enroll.File, fi, err)
	}
}

func TestSealKey(t *testing.T) {
	seal := sealPublicKey(t)
	var none *enroll.Enrollment
	for _, tt := range []struct {
		name    string
		e       *enroll.Enrollment
		want    []byte
		wantErr bool
	}{
		{"not enrolled", none, nil, false},
		{"no key given", &enroll.Enrollment{}, nil, false},
		{"a key", &enroll.Enrollment{SealPublicKey: seal}, seal, false},
		{"a bad key", &enroll.Enrollment{SealPublicKey: []byte("short")}, nil, true},
	} {
		k, err := tt.e.SealKey()
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: SealKey() error %v; want error %v", tt.name, err, tt.wantErr)
		}
		switch {
		case tt.want == nil && k != nil:
			t.Errorf("%s: SealKey() = %x; want none", tt.name, k.Bytes())
		case tt.want != nil && (k == nil || string(k.Bytes()) != string(tt.want)):
			t.Errorf("%s: SealKey() = %v; want %x", tt.name, k, tt.want)
		}
	}
}

func TestParseCA(t *testing.T) {
	if _, err := enroll.ParseCA([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")); err == nil {
		t.Error("ParseCA(a private key) = nil error; want no PEM certificate")
	}
	if _, err := enroll.ParseCA(nil); err == nil {
		t.Error("ParseCA(nothing) = nil error; want no PEM certificate")
	}
	pool, err := enroll.ParseCA(otherCAPEM(t))
	if err != nil || pool == nil {
		t.Errorf("ParseCA(a certificate) = %v, %v", pool, err)
	}
}

// TestClient: the daemon's client pins the enrolled CA (or the one of the
// file configured instead) and presents the device certificate.
func TestClient(t *testing.T) {
	id, err := device.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// An upstream that wants a client certificate and says whose it was.
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaf := r.TLS.PeerCertificates[0]
		pub, _ := leaf.PublicKey.(ed25519.PublicKey)
		if !pub.Equal(id.Public()) || leaf.Subject.CommonName != "kiosk-07" {
			http.Error(w, "not the device", http.StatusForbidden)
		}
	}))
	ts.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	ts.StartTLS()
	defer ts.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	enrolled := &enroll.Enrollment{Upstream: ts.URL, KioskID: "kiosk-07", CAPEM: string(caPEM)}
	dir := t.TempDir()
	caFile, otherFile, noPEM := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem"), filepath.Join(dir, "none.pem")
	for file, data := range map[string][]byte{caFile: caPEM, otherFile: otherCAPEM(t), noPEM: []byte("no certificate")} {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	get := func(c *http.Client) error {
		resp, err := c.Get(ts.URL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	for _, tt := range []struct {
		name    string
		caFile  string
		e       *enroll.Enrollment
		wantErr string // from Client
		reaches bool   // the client reaches the upstream as the device
	}{
		{"enrolled", "", enrolled, "", true},
		{"CA file", caFile, nil, "", true},
		{"CA file over enrollment", otherFile, enrolled, "", false},
		{"neither", "", nil, "no CA", false},
		{"missing CA file", filepath.Join(dir, "missing.pem"), enrolled, "read upstream CA", false},
		{"CA file without a certificate", noPEM, enrolled, "no PEM certificate", false},
	} {
		c, err := enroll.Client(ts.URL, tt.caFile, tt.e, id, "kiosk-07")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: Client = %v; want an error saying %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || c == nil {
			t.Errorf("%s: Client = %v, %v; want a client", tt.name, c, err)
			continue
		}
		if err := get(c); (err == nil) != tt.reaches {
			t.Errorf("%s: GET through the client = %v; want success %v", tt.name, err, tt.reaches)
		}
	}

	// Plain HTTP (development): no client, and no error.
	if c, err := enroll.Client("http://127.0.0.1:1", "", enrolled, id, "kiosk-07"); c != nil || err != nil {
		t.Errorf("Client(http://…) = %v, %v; want nil, nil", c, err)
	}
}
