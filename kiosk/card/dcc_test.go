package card

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"
)

// dccCase is one EU DCC common test case (see the fixtures' README).
type dccCase struct {
	Prefix  string `json:"PREFIX"`
	TestCtx struct {
		Certificate     string `json:"CERTIFICATE"`
		ValidationClock string `json:"VALIDATIONCLOCK"`
		Description     string `json:"DESCRIPTION"`
	} `json:"TESTCTX"`
	Expected map[string]bool `json:"EXPECTEDRESULTS"`
}

// dccFixtures is the folder of the EU DCC common test cases, vendored with
// their licence (see its README.md).
const dccFixtures = "testdata/dgc-common"

// dccCaseCount is how many cases the folder holds: one gone missing is
// coverage lost, not a smaller test.
const dccCaseCount = 38

// stageOrder ranks the stages so a test can say "got past the COSE decode".
var stageOrder = []Stage{StagePrefix, StageBase45, StageInflate, StageCOSE, StageKID,
	StageSignature, StageValidity, StageClaim, StageRevocation, StageDone}

// passed reports whether r got beyond stage s.
func passed(r Result, s Stage) bool {
	return slices.Index(stageOrder, r.Stage) > slices.Index(stageOrder, s)
}

// dccJudged are the expectations this verifier deliberately disagrees with,
// by case: the key not checked, why, and the result we give instead.
var dccJudged = map[string]struct {
	key, why string
	status   Status
	stage    Stage
}{
	// The CBOR of the envelope and of the CWT claims is well formed; what is
	// wrong is the DCC's own payload (claim -260/1 is a byte string of junk
	// instead of a map), which is not ours to decode: the envelope verifies
	// and ends as NotACard.
	"CBO1.json": {"EXPECTEDDECODE", "the broken structure is inside the DCC's -260 claim, not the envelope", NotACard, StageClaim},
	// Mislabelled: the description says the kid is in the protected header,
	// but the protected header is empty (h'') and both kid and alg are in the
	// unprotected one. An unprotected alg is not authenticated (RFC 9052
	// section 3.1: alg MUST be authenticated where possible) and our format
	// requires alg in the protected header, so this is Malformed at the COSE
	// stage. (CO22 and CO23 have the same shape and expect failure anyway.)
	"CO20.json": {"EXPECTEDVERIFY", "alg only in the unprotected header; the protected header is empty despite the description", Malformed, StageCOSE},
}

// TestDCCCommon runs the EU DCC common 2D-code cases through a Verifier with
// the "HC1:" prefix, checking the expectations about the envelope: prefix,
// Base45, zlib, CBOR/COSE decode, signature and validity window. Those about
// the health payload (schema, key usage, JSON, picture) are not ours. A DCC
// has no card claim, so a fully valid one ends as NotACard with the
// signature verified.
func TestDCCCommon(t *testing.T) {
	cases := filepath.Join(dccFixtures, "common", "2DCode", "raw")
	files, err := filepath.Glob(filepath.Join(cases, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != dccCaseCount {
		t.Fatalf("%d test cases in %s; want %d", len(files), cases, dccCaseCount)
	}
	for name := range dccJudged {
		if !slices.Contains(files, filepath.Join(cases, name)) {
			t.Errorf("judged case %s not in %s", name, cases)
		}
	}
	sort.Strings(files)
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c dccCase
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			der, err := base64.StdEncoding.DecodeString(c.TestCtx.Certificate)
			if err != nil {
				t.Fatalf("certificate: %v", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("certificate: %v", err)
			}
			trust := NewTrust()
			if err := trust.AddCertificate(cert); err != nil {
				t.Fatalf("AddCertificate: %v", err)
			}
			at, err := time.Parse(time.RFC3339Nano, c.TestCtx.ValidationClock)
			if err != nil {
				t.Fatalf("validation clock: %v", err)
			}
			v := &Verifier{Prefix: "HC1:", Trust: trust}
			r := v.Verify(c.Prefix, at)
			t.Logf("%s: %s: %s/%s sig=%v err=%v", name, c.TestCtx.Description, r.Status, r.Stage, r.SignatureOK, r.Err)

			check := func(key string, ok bool, want string) {
				t.Helper()
				exp, tested := c.Expected[key]
				if !tested {
					return
				}
				if j, ok := dccJudged[name]; ok && j.key == key {
					t.Logf("%s %s not checked: %s", name, key, j.why)
					if r.Status != j.status || r.Stage != j.stage {
						t.Errorf("Verify(%s) = %s at %s; want %s at %s (judged: %s)", name, r.Status, r.Stage, j.status, j.stage, j.why)
					}
					return
				}
				if ok != exp {
					t.Errorf("Verify(%s) = %s at %s (signature %v, %v); want %s %v (%s)",
						name, r.Status, r.Stage, r.SignatureOK, r.Err, key, exp, want)
				}
			}
			malformedAt := func(s Stage) bool { return r.Status == Malformed && r.Stage == s }
			stageOK := func(s Stage, ok bool) bool {
				// A stage is expected to pass or to fail there; a failure
				// earlier is never right.
				if ok {
					return passed(r, s)
				}
				return r.Stage == s
			}

			if exp, ok := c.Expected["EXPECTEDVALIDOBJECT"]; ok && !exp {
				check("EXPECTEDVALIDOBJECT", r.Status != Malformed, "a malformed result")
			}
			check("EXPECTEDUNPREFIX", passed(r, StagePrefix) || !stageOK(StagePrefix, false),
				"past the prefix, or WrongContext/Malformed at it")
			if exp, ok := c.Expected["EXPECTEDUNPREFIX"]; ok && !exp && r.Status != WrongContext && r.Status != Malformed {
				t.Errorf("Verify(%s) = %s; want wrong_context or malformed", name, r.Status)
			}
			check("EXPECTEDB45DECODE", passed(r, StageBase45) || !malformedAt(StageBase45), "past Base45, or Malformed at it")
			check("EXPECTEDCOMPRESSION", passed(r, StageInflate) || !malformedAt(StageInflate), "past inflate, or Malformed at it")
			check("EXPECTEDDECODE", passed(r, StageCOSE) || !malformedAt(StageCOSE), "past COSE decode, or Malformed at it")
			check("EXPECTEDVERIFY", r.SignatureOK && passed(r, StageValidity) || r.Status == Expired || r.Status == NotYetValid,
				"the signature verified and the claims decoded")
			check("EXPECTEDEXPIRATIONCHECK", r.SignatureOK && passed(r, StageValidity),
				"the signature verified and within the validity window")
			if exp, ok := c.Expected["EXPECTEDEXPIRATIONCHECK"]; ok && !exp && r.Status != Expired && r.Status != NotYetValid {
				t.Errorf("Verify(%s) = %s; want expired or not_yet_valid", name, r.Status)
			}
			if r.Status == Valid || r.Card != nil {
				t.Errorf("Verify(%s) = %s with a card; a DCC has no card claim", name, r.Status)
			}
		})
	}
}
