package card

import (
	"bytes"
	"testing"
)

// FuzzVerify feeds arbitrary bytes to Verify twice: as the scanned text, and
// as the COSE message inside a well-formed prefix, Base45 and zlib (which
// random text rarely gets past). Verify must not panic, and its Result must
// be coherent.
func FuzzVerify(f *testing.F) {
	k := keyFor(f, AlgES256, "issuer")
	good := issue(f, k, fullCard())
	_, raw := unwrap(f, good)
	f.Add([]byte(good))
	f.Add(raw)
	f.Add([]byte(issue(f, k, minimalCard())))
	f.Add([]byte("HC1:NCFOXN%TS3DH"))
	f.Add([]byte(DefaultPrefix + "GGW"))
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Add([]byte{0xd8, 0x3d, 0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa1, 0x04, 0x41, 0x00, 0x41, 0xa0, 0x40})
	v := &Verifier{Trust: k.trust(f), Revocations: NewRevocations(1)}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, payload := range []string{string(data), wrap(data)} {
			r := v.Verify(payload, t0)
			switch {
			case r.Status == "" || r.Stage == "":
				t.Fatalf("Verify(%q) = %q at %q; want a status and a stage", payload, r.Status, r.Stage)
			case (r.Status == Valid) != (r.Err == nil):
				t.Fatalf("Verify(%q) = %s with error %v", payload, r.Status, r.Err)
			case r.Status == Valid && (r.Card == nil || !r.SignatureOK || r.Stage != StageDone):
				t.Fatalf("Verify(%q) = valid without a card, a signature or done", payload)
			case r.Card != nil && !r.SignatureOK:
				t.Fatalf("Verify(%q) = %s with a card but no signature", payload, r.Status)
			}
			if r.Reason() == "" {
				t.Fatalf("Verify(%q).Reason() = \"\"", payload)
			}
		}
	})
}

// FuzzBase45 checks that DecodeBase45 never panics, that what it accepts
// re-encodes to the same text (one decoding per input), and that any bytes
// round-trip through EncodeBase45.
func FuzzBase45(f *testing.F) {
	for _, s := range []string{"", "BB8", "%69 VD92EX0", "UJCLQE7W581", "QED8WEX0", "GGW", "A", "bb8", "FGW", "U5", "V5"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if dec, err := DecodeBase45(string(data)); err == nil {
			if enc := EncodeBase45(dec); enc != string(data) {
				t.Fatalf("EncodeBase45(DecodeBase45(%q)) = %q", data, enc)
			}
		}
		dec, err := DecodeBase45(EncodeBase45(data))
		if err != nil || !bytes.Equal(dec, data) {
			t.Fatalf("DecodeBase45(EncodeBase45(%x)) = %x, %v", data, dec, err)
		}
	})
}
