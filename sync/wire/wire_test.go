package wire_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// fixed is a record with every field set, the same in every run.
func fixed() wire.Record {
	return wire.Record{
		ID: "01977420-4c00-7abc-8def-0123456789ab", KioskID: "kiosk-01", Seq: 7,
		At:    time.Date(2026, 3, 4, 9, 15, 30, 123456789, time.UTC),
		Clock: "unsynced", Outcome: "checked_in", Issuer: "US-DHS-TEST", Serial: "0f1e",
		BootID: "5b0d4f9c-6a52-4c36-a2a1-0d3c9b7e8f10", Mono: 86_400_000_000_123,
		Sealed: []byte{0xde, 0xad}, Prev: bytes.Repeat([]byte{0x11}, wire.HashSize),
	}
}

// testKey is a fixed device key, so that signatures are the same in every run.
var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))

func TestRecordJSON(t *testing.T) {
	r := fixed()
	r.Sign(testKey)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"01977420-4c00-7abc-8def-0123456789ab","kiosk_id":"kiosk-01","seq":7,` +
		`"at":"2026-03-04T09:15:30.123456789Z","clock":"unsynced","outcome":"checked_in","issuer":"US-DHS-TEST","serial":"0f1e",` +
		`"boot_id":"5b0d4f9c-6a52-4c36-a2a1-0d3c9b7e8f10","mono_ns":86400000000123,"sealed":"3q0=",` +
		`"prev":"ERERERERERERERERERERERERERERERERERERERERERE=",` +
		`"hash":"` + base64.StdEncoding.EncodeToString(r.Hash) + `","sig":"` + base64.StdEncoding.EncodeToString(r.Sig) + `"}`
	if string(b) != want {
		t.Errorf("json.Marshal(Record) = %s; want %s", b, want)
	}
	var back wire.Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(testKey.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("Verify(json round trip) = %v; want nil", err)
	}
	b, _ = json.Marshal(wire.ItemResult{ID: "x", Status: wire.StatusAccepted})
	if want := `{"id":"x","status":"accepted"}`; string(b) != want {
		t.Errorf("json.Marshal(ItemResult) = %s; want %s", b, want)
	}
}

// TestDigestVector pins the digest: a kiosk and an upstream of different
// releases must agree on it, so it may never change for a given record.
func TestDigestVector(t *testing.T) {
	r := fixed()
	const want = "37eca1f325a0ba3e4b42c4e7525729e63bbe6d9dc2df25d30d0b3511e6b25d62" // computed independently from the layout in API.md
	if got := hex.EncodeToString(r.Digest()); got != want {
		t.Errorf("Digest(fixed record) = %s; want %s", got, want)
	}
	r.Hash, r.Sig = []byte("ignored"), []byte("ignored")
	if got := hex.EncodeToString(r.Digest()); got != want {
		t.Errorf("Digest with Hash and Sig set = %s; want %s (they are not digested)", got, want)
	}
}

func TestDigestCoversEveryField(t *testing.T) {
	change := map[string]func(*wire.Record){
		"ID":      func(r *wire.Record) { r.ID = "01977420-4c00-7abc-8def-0123456789ac" },
		"KioskID": func(r *wire.Record) { r.KioskID = "kiosk-02" },
		"Seq":     func(r *wire.Record) { r.Seq++ },
		"At":      func(r *wire.Record) { r.At = r.At.Add(time.Nanosecond) },
		"Clock":   func(r *wire.Record) { r.Clock = "synced" },
		"Outcome": func(r *wire.Record) { r.Outcome = "checked_out" },
		"Issuer":  func(r *wire.Record) { r.Issuer = "US-DHS-TESU" },
		"Serial":  func(r *wire.Record) { r.Serial = "0f1f" },
		"BootID":  func(r *wire.Record) { r.BootID = "" },
		"Mono":    func(r *wire.Record) { r.Mono++ },
		"Sealed":  func(r *wire.Record) { r.Sealed[1] ^= 1 },
		"Prev":    func(r *wire.Record) { r.Prev[31] ^= 1 },
		// Moving bytes between neighbouring fields keeps their
		// concatenation: the length prefixes must tell them apart.
		"Issuer|Serial": func(r *wire.Record) { r.Issuer, r.Serial = r.Issuer+"0", r.Serial[1:] },
	}
	rt := reflect.TypeFor[wire.Record]()
	for i := range rt.NumField() {
		if name := rt.Field(i).Name; name != "Hash" && name != "Sig" && change[name] == nil {
			t.Errorf("field %s has no case here: is it digested?", name)
		}
	}
	base := fixed()
	want := base.Digest()
	for name, f := range change {
		r := fixed()
		f(&r)
		if bytes.Equal(r.Digest(), want) {
			t.Errorf("Digest after changing %s = the digest before; want another", name)
		}
	}
}

func TestSignVerify(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	_, other, _ := ed25519.GenerateKey(nil)
	signed := func() wire.Record { r := fixed(); r.Sign(testKey); return r }
	tests := []struct {
		name   string
		edit   func(*wire.Record)
		pub    ed25519.PublicKey
		wantIs error
	}{
		{"signed", func(*wire.Record) {}, pub, nil},
		{"serial changed", func(r *wire.Record) { r.Serial = "ffff" }, pub, wire.ErrBadHash},
		{"sealed changed", func(r *wire.Record) { r.Sealed = []byte{1} }, pub, wire.ErrBadHash},
		{"hash changed with contents", func(r *wire.Record) { r.Seq = 8; r.Hash = r.Digest() }, pub, wire.ErrBadSignature},
		{"signature flipped", func(r *wire.Record) { r.Sig[0] ^= 1 }, pub, wire.ErrBadSignature},
		{"no signature", func(r *wire.Record) { r.Sig = nil }, pub, wire.ErrBadSignature},
		{"no hash", func(r *wire.Record) { r.Hash = nil }, pub, wire.ErrBadHash},
		{"another device", func(*wire.Record) {}, other.Public().(ed25519.PublicKey), wire.ErrBadSignature},
		{"no key", func(*wire.Record) {}, nil, wire.ErrBadSignature},
	}
	for _, tt := range tests {
		r := signed()
		tt.edit(&r)
		if err := r.Verify(tt.pub); !errors.Is(err, tt.wantIs) || (err == nil) != (tt.wantIs == nil) {
			t.Errorf("%s: Verify = %v; want %v", tt.name, err, tt.wantIs)
		}
	}
}

// chain returns n records of kiosk-01 from seq 1, chained and signed.
func chain(n int) []wire.Record {
	recs := make([]wire.Record, n)
	prev := wire.GenesisPrev
	for i := range recs {
		r := fixed()
		r.Seq = uint64(i + 1)
		r.ID = fmt.Sprintf("01977420-4c00-7abc-8def-%012x", i+1)
		r.Prev = prev
		r.Sign(testKey)
		recs[i], prev = r, r.Hash
	}
	return recs
}

func TestVerifyChain(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	tests := []struct {
		name      string
		edit      func([]wire.Record) []wire.Record
		wantIndex int // -1: no error
		wantIs    error
	}{
		{"intact", func(r []wire.Record) []wire.Record { return r }, -1, nil},
		{"tail", func(r []wire.Record) []wire.Record { return r[:0] }, -1, nil},
		{"altered", func(r []wire.Record) []wire.Record { r[2].Serial = "ffff"; return r }, 2, wire.ErrBadHash},
		{"deleted from the middle", func(r []wire.Record) []wire.Record { return append(r[:1], r[2:]...) }, 1, wire.ErrSeqGap},
		{"swapped", func(r []wire.Record) []wire.Record { r[1], r[2] = r[2], r[1]; return r }, 1, wire.ErrSeqGap},
		{"re-linked without the key", func(r []wire.Record) []wire.Record {
			r[2].Prev = r[0].Hash
			r[2].Hash = r[2].Digest()
			return r
		}, 2, wire.ErrBadSignature},
		{"re-signed onto another chain", func(r []wire.Record) []wire.Record {
			r[2].Prev = r[0].Hash
			r[2].Sign(testKey)
			return r
		}, 2, wire.ErrChainBroken},
	}
	for _, tt := range tests {
		recs := tt.edit(chain(4))
		err := wire.VerifyChain(pub, 0, wire.GenesisPrev, recs)
		if tt.wantIndex < 0 {
			if err != nil {
				t.Errorf("%s: VerifyChain = %v; want nil", tt.name, err)
			}
			continue
		}
		ce, ok := errors.AsType[*wire.ChainError](err)
		if !ok || ce.Index != tt.wantIndex || !errors.Is(err, tt.wantIs) {
			t.Errorf("%s: VerifyChain = %v; want a ChainError at #%d wrapping %v", tt.name, err, tt.wantIndex, tt.wantIs)
		}
	}
	// A batch continuing a chain held upstream.
	recs := chain(4)
	if err := wire.VerifyChain(pub, 2, recs[1].Hash, recs[2:]); err != nil {
		t.Errorf("VerifyChain(from seq 2) = %v; want nil", err)
	}
	if err := wire.VerifyChain(pub, 1, recs[0].Hash, recs[2:]); !errors.Is(err, wire.ErrSeqGap) {
		t.Errorf("VerifyChain(from seq 1, records 3 and 4) = %v; want ErrSeqGap", err)
	}
	if err := wire.VerifyChain(pub, 2, recs[0].Hash, recs[2:]); !errors.Is(err, wire.ErrChainBroken) {
		t.Errorf("VerifyChain(from seq 2 with the hash of 1) = %v; want ErrChainBroken", err)
	}
}

func TestHeadSignVerify(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	h := wire.Head{KioskID: "kiosk-01", Seq: 4, Hash: chain(4)[3].Hash, At: time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)}
	h.Sign(testKey)
	if err := h.Verify(pub); err != nil {
		t.Fatalf("Verify(signed head) = %v", err)
	}
	for name, edit := range map[string]func(*wire.Head){
		"seq":   func(h *wire.Head) { h.Seq-- },
		"hash":  func(h *wire.Head) { h.Hash = wire.GenesisPrev },
		"time":  func(h *wire.Head) { h.At = h.At.Add(time.Second) },
		"kiosk": func(h *wire.Head) { h.KioskID = "kiosk-02" },
	} {
		c := h
		edit(&c)
		if err := c.Verify(pub); !errors.Is(err, wire.ErrBadSignature) {
			t.Errorf("Verify(head with %s changed) = %v; want ErrBadSignature", name, err)
		}
	}
}

func TestSealOpen(t *testing.T) {
	priv, err := wire.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := wire.ParseSealPublicKey(priv.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	p := wire.Person{ANumber: "A208417385", FamilyName: "Quetzalcoatlova", GivenName: "Xiomarelly", DateOfBirth: "1987-11-23", Office: "SFR"}
	const id = "01977420-4c00-7abc-8def-0123456789ab"
	sealed, err := wire.Seal(pub, "kiosk-01", id, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{p.ANumber, p.FamilyName, p.GivenName, p.DateOfBirth} {
		if bytes.Contains(sealed, []byte(s)) {
			t.Errorf("sealed person contains %q in clear", s)
		}
	}
	if got, err := wire.Open(priv, "kiosk-01", id, sealed); err != nil || got != p {
		t.Errorf("Open(sealed) = %+v, %v; want %+v", got, err, p)
	}
	if again, _ := wire.Seal(pub, "kiosk-01", id, p); bytes.Equal(again, sealed) {
		t.Error("Seal twice gave the same bytes; want a fresh encapsulation each time")
	}

	other, _ := wire.GenerateSealKey()
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name   string
		priv   hpke.PrivateKey
		kiosk  string
		id     string
		sealed []byte
	}{
		{"another record's id", priv, "kiosk-01", "01977420-4c00-7abc-8def-0123456789ac", sealed},
		{"another kiosk", priv, "kiosk-02", id, sealed},
		{"another upstream", other, "kiosk-01", id, sealed},
		{"altered", priv, "kiosk-01", id, flipped},
		{"truncated", priv, "kiosk-01", id, sealed[:20]},
		{"empty", priv, "kiosk-01", id, nil},
	}
	for _, tt := range tests {
		if got, err := wire.Open(tt.priv, tt.kiosk, tt.id, tt.sealed); err == nil {
			t.Errorf("%s: Open = %+v, nil; want an error", tt.name, got)
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"01977420-4c00-7abc-8def-0123456789ab", true},
		{"01977420-4c00-7abc-bdef-0123456789ab", true},
		{"", false},
		{"01977420-4c00-4abc-8def-0123456789ab", false},  // version 4
		{"01977420-4c00-7abc-cdef-0123456789ab", false},  // variant
		{"01977420-4C00-7ABC-8DEF-0123456789AB", false},  // upper case
		{"01977420-4c00-7abc-8def-0123456789a", false},   // short
		{"01977420+4c00-7abc-8def-0123456789ab", false},  // separator
		{"0197742g-4c00-7abc-8def-0123456789ab", false},  // not hex
		{"{1977420-4c00-7abc-8def-0123456789ab}", false}, // braces
	}
	for _, tt := range tests {
		if got := wire.ValidID(tt.in); got != tt.want {
			t.Errorf("ValidID(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidKioskID(t *testing.T) {
	long := strings.Repeat("k", wire.MaxKioskIDLen+1)
	tests := []struct {
		in   string
		want bool
	}{
		{"kiosk-01", true},
		{"SFR.lobby_2", true},
		{long[:64], true},
		{long, false},
		{"", false},
		{"a b", false},
		{"kiosk/01", false},
		{"kiosk-ü", false},
	}
	for _, tt := range tests {
		if got := wire.ValidKioskID(tt.in); got != tt.want {
			t.Errorf("ValidKioskID(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestSealerEpoch(t *testing.T) {
	priv, err := wire.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	const limit = 3
	sl, err := wire.NewSealer(priv.PublicKey(), "kiosk-01", limit)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{
		"01977420-4c00-7abc-8def-0123456789a0",
		"01977420-4c00-7abc-8def-0123456789a1",
		"01977420-4c00-7abc-8def-0123456789a2",
	}
	people := make([]wire.Person, limit)
	sealed := make([][]byte, limit)
	for i := range limit {
		people[i] = wire.Person{ANumber: fmt.Sprintf("A20841738%d", i), DateOfBirth: "1987-11-23", Office: "SFR"}
		if sealed[i], err = sl.Seal(ids[i], people[i]); err != nil {
			t.Fatalf("Seal #%d: %v", i, err)
		}
		if got := binary.BigEndian.Uint32(sealed[i][33:37]); got != uint32(i) {
			t.Errorf("record %d of the epoch sealed with counter %d; want %d", i, got, i)
		}
	}
	if !sl.Full() {
		t.Error("Full() = false after the limit")
	}
	if _, err := sl.Seal(ids[0], people[0]); err == nil {
		t.Error("Seal past the limit succeeded; want an error")
	}
	// One epoch: one encapsulated key; the counter tells the records apart.
	if !bytes.Equal(sealed[0][:33], sealed[1][:33]) || bytes.Equal(sealed[0][33:37], sealed[1][33:37]) {
		t.Errorf("two records of an epoch: headers %x and %x; want the same key and different counters", sealed[0][:37], sealed[1][:37])
	}

	o := wire.NewOpener(priv, 8)
	for i := range limit {
		if got, err := o.Open("kiosk-01", ids[i], sealed[i]); err != nil || got != people[i] {
			t.Errorf("Opener.Open #%d = %+v, %v; want %+v", i, got, err, people[i])
		}
		if got, err := wire.Open(priv, "kiosk-01", ids[i], sealed[i]); err != nil || got != people[i] {
			t.Errorf("Open #%d = %+v, %v; want %+v", i, got, err, people[i])
		}
	}
	// With the epoch's key cached, a blob must still fail for another
	// kiosk, another record, another counter or an alteration.
	swapped := bytes.Clone(sealed[1])
	copy(swapped[33:37], sealed[0][33:37])
	flipped := bytes.Clone(sealed[2])
	flipped[len(flipped)-1] ^= 1
	bad := []struct {
		name, kiosk, id string
		sealed          []byte
	}{
		{"another kiosk", "kiosk-02", ids[0], sealed[0]},
		{"another record", "kiosk-01", ids[1], sealed[0]},
		{"another counter", "kiosk-01", ids[1], swapped},
		{"altered", "kiosk-01", ids[2], flipped},
		{"header only", "kiosk-01", ids[0], sealed[0][:37]},
	}
	for _, tt := range bad {
		if got, err := o.Open(tt.kiosk, tt.id, tt.sealed); err == nil {
			t.Errorf("%s: Opener.Open = %+v, nil; want an error", tt.name, got)
		}
	}

	for _, limit := range []int{0, -1} {
		if _, err := wire.NewSealer(priv.PublicKey(), "kiosk-01", limit); err == nil {
			t.Errorf("NewSealer(limit %d) succeeded; want an error", limit)
		}
	}
}

// TestOpenVersion1 opens person data sealed as releases before sealing
// epochs sealed it: one base-mode HPKE message per record.
func TestOpenVersion1(t *testing.T) {
	priv, err := wire.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	p := wire.Person{ANumber: "A208417385", FamilyName: "Quetzalcoatlova", DateOfBirth: "1987-11-23", Office: "SFR"}
	plain, _ := json.Marshal(p)
	info := append([]byte("sdc-person-v1\x00\x00\x00\x00\x08"), "kiosk-01"...)
	const id = "01977420-4c00-7abc-8def-0123456789ab"
	// Until a blob whose first byte is the version 2 tag has opened too
	// (1 in 256 of them).
	tagged := 0
	for i := 0; tagged == 0; i++ {
		if i == 10000 {
			t.Fatal("no version 1 blob began with 0x02 in 10,000")
		}
		enc, s, err := hpke.NewSender(priv.PublicKey(), hpke.HKDFSHA256(), hpke.AES256GCM(), info)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := s.Seal([]byte(id), plain)
		if err != nil {
			t.Fatal(err)
		}
		sealed := append(enc, ct...)
		if got, err := wire.Open(priv, "kiosk-01", id, sealed); err != nil || got != p {
			t.Fatalf("Open(version 1 blob #%d, first byte %#x) = %+v, %v; want %+v", i, sealed[0], got, err, p)
		}
		if _, err := wire.Open(priv, "kiosk-02", id, sealed); err == nil {
			t.Fatalf("version 1 blob #%d opened as another kiosk's", i)
		}
		if sealed[0] == 0x02 {
			tagged++
		}
	}
}
