package demokit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
)

// Each sample reads as its name says against the kit's lists, as a kiosk
// configured with them reads it; a second Prepare keeps the keys and
// raises the lists' seq.
func TestPrepare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	now := time.Now()
	kit, err := Prepare(dir, now)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	lists, err := trust.Open(trust.Files{Root: kit.Root, Trust: kit.Trust, Revocations: kit.Revocations,
		Roster: kit.Roster, ReferencePrefix: ReferencePrefix, MaxListAge: trust.DefaultMaxListAge})
	if err != nil {
		t.Fatalf("trust.Open(the kit's lists) = %v", err)
	}
	want := map[string]card.Status{"valid": card.Valid, "expired": card.Expired, "revoked": card.Revoked,
		"forged": card.BadSignature, "reference": card.Valid}
	if len(kit.Samples) != len(SampleNames) || len(want) != len(SampleNames) {
		t.Fatalf("kit has samples %v; want %v", kit.Samples, SampleNames)
	}
	for _, name := range SampleNames {
		if r := lists.Verifier.Verify(kit.Samples[name], now); r.Status != want[name] {
			t.Errorf("Verify(%s sample) = %s (%v); want %s", name, r.Status, r.Err, want[name])
		}
		file, err := os.ReadFile(filepath.Join(dir, name+".txt"))
		if err != nil || string(file) != kit.Samples[name]+"\n" {
			t.Errorf("%s.txt = %q, %v; want the sample's payload and a newline", name, file, err)
		}
	}

	rootKey := mustRead(t, filepath.Join(dir, RootKeyFile))
	issuerKey := mustRead(t, filepath.Join(dir, IssuerKeyFile))
	again, err := Prepare(dir, now.Add(time.Second))
	if err != nil {
		t.Fatalf("Prepare() again = %v", err)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(dir, RootKeyFile)), rootKey) ||
		!bytes.Equal(mustRead(t, filepath.Join(dir, IssuerKeyFile)), issuerKey) {
		t.Error("Prepare() again made new keys; want the kept ones")
	}
	second, err := trust.Open(trust.Files{Root: again.Root, Trust: again.Trust})
	if err != nil {
		t.Fatal(err)
	}
	if second.TrustList.Seq <= lists.TrustList.Seq {
		t.Errorf("trust list seq %d after %d; want it higher", second.TrustList.Seq, lists.TrustList.Seq)
	}
}

func TestDefaultDir(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	if got, want := DefaultDir(env("/state")), filepath.Join("/state", "checkin-kiosk-demo"); got != want {
		t.Errorf("DefaultDir(XDG_STATE_HOME=/state) = %q; want %q", got, want)
	}
	if got := DefaultDir(env("")); filepath.Base(got) != "checkin-kiosk-demo" {
		t.Errorf("DefaultDir() = %q; want a checkin-kiosk-demo directory", got)
	}
}

func TestStateDir(t *testing.T) {
	for _, tt := range []struct {
		name, xdg, home string
		want            string // "" for an error
	}{
		{"XDG_STATE_HOME", "/xdg/state", "/home/u", "/xdg/state/tool"},
		{"HOME", "", "/home/u", "/home/u/.local/state/tool"},
		{"relative XDG_STATE_HOME", "state", "/home/u", "/home/u/.local/state/tool"},
		{"relative HOME", "", "home/u", ""},
		{"neither", "", "", ""},
	} {
		env := map[string]string{"XDG_STATE_HOME": tt.xdg, "HOME": tt.home}
		got, err := StateDir(func(k string) string { return env[k] }, "tool")
		if got != filepath.FromSlash(tt.want) || (err == nil) != (tt.want != "") {
			t.Errorf("StateDir(%s) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
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
