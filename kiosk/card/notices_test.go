package card

import (
	"strings"
	"testing"
	"time"
)

func noticeHolder() Card {
	c := fullCard()
	c.Issuer, c.Serial = testIssuerName, "0A0B0C0D"
	return c
}

// testNotices is a notices document of seq 3 with one notice for
// noticeHolder, signed by the test root, and opened again.
func testNotices(t testing.TB) (*Notices, []byte) {
	t.Helper()
	n, err := NewNotices(3, t0)
	if err != nil {
		t.Fatal(err)
	}
	notice := Notice{Text: map[string]string{"en": "Please go to window 3.", "es": "Vaya a la ventanilla 3."},
		Appointment: t0.Add(30 * 24 * time.Hour)}
	if err := n.Add(noticeHolder(), notice); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	root := keyFor(t, AlgEdDSA, "root")
	data, err := n.Sign(root.signer)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	opened, err := OpenNotices(data, root.signer.Public())
	if err != nil {
		t.Fatalf("OpenNotices() = %v", err)
	}
	return opened, data
}

func TestNoticesLookup(t *testing.T) {
	n, data := testNotices(t)
	if n.Seq() != 3 || !n.IssuedAt().Equal(t0) || n.Len() != 1 {
		t.Errorf("OpenNotices() = seq %d issued %s len %d; want 3, %s, 1", n.Seq(), n.IssuedAt(), n.Len(), t0)
	}
	other := noticeHolder()
	other.Serial = "0a0b0c0e"
	wrongDOB := noticeHolder()
	wrongDOB.DateOfBirth = "1990-02-01"
	lower := noticeHolder()
	lower.Serial = "0a0b0c0d"
	for _, tt := range []struct {
		name    string
		card    Card
		found   bool
		wantErr bool
	}{
		{"holder", noticeHolder(), true, false},
		{"holder, serial in lower case", lower, true, false},
		{"another card", other, false, false},
		{"same serial, another birth date", wrongDOB, false, true},
	} {
		got, found, err := n.Lookup(tt.card)
		if found != tt.found || (err != nil) != tt.wantErr {
			t.Errorf("Lookup(%s) = %+v, %v, %v; want found %v, error %v", tt.name, got, found, err, tt.found, tt.wantErr)
			continue
		}
		if found {
			if s := got.In("es"); s != "Vaya a la ventanilla 3." {
				t.Errorf("Lookup(%s).In(es) = %q; want the Spanish text", tt.name, s)
			}
			if s := got.In("fr"); s != "Please go to window 3." {
				t.Errorf("Lookup(%s).In(fr) = %q; want the English text", tt.name, s)
			}
			if want := t0.Add(30 * 24 * time.Hour); !got.Appointment.Equal(want) {
				t.Errorf("Lookup(%s).Appointment = %v; want %v", tt.name, got.Appointment, want)
			}
		}
		if err != nil && strings.Contains(err.Error(), "1990") {
			t.Errorf("Lookup(%s) error %q quotes the card", tt.name, err)
		}
	}
	// Nothing readable of the person is in the document.
	for _, s := range []string{"window", "ventanilla", noticeHolder().ANumber, noticeHolder().DateOfBirth} {
		if strings.Contains(string(data), s) {
			t.Errorf("signed notices contain %q in clear", s)
		}
	}
	var none *Notices
	if _, found, err := none.Lookup(noticeHolder()); found || err != nil {
		t.Errorf("nil Notices: Lookup() = %v, %v; want false, nil", found, err)
	}
}

func TestOpenNoticesRefuses(t *testing.T) {
	_, data := testNotices(t)
	root := keyFor(t, AlgEdDSA, "root")
	other := keyFor(t, AlgEdDSA, "other root")
	_, rosterData := testRoster(t)
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)-10] ^= 1
	for _, tt := range []struct {
		name string
		data []byte
		root any
		want string
	}{
		{"another root", data, other.signer.Public(), "signature"},
		{"a flipped byte", flipped, root.signer.Public(), "signature"},
		{"a roster", rosterData, root.signer.Public(), ContentTypeNotices},
		{"empty", nil, root.signer.Public(), "open notices"},
	} {
		_, err := OpenNotices(tt.data, tt.root)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenNotices(%s) = %v; want an error about %q", tt.name, err, tt.want)
		}
	}
}

func TestNoticesAddRefuses(t *testing.T) {
	n, err := NewNotices(1, t0)
	if err != nil {
		t.Fatal(err)
	}
	ok := Notice{Text: map[string]string{"en": "Window 3"}}
	noDOB := noticeHolder()
	noDOB.DateOfBirth = ""
	badSerial := noticeHolder()
	badSerial.Serial = "xyz"
	for _, tt := range []struct {
		name   string
		card   Card
		notice Notice
	}{
		{"no birth date", noDOB, ok},
		{"serial not hex", badSerial, ok},
		{"empty notice", noticeHolder(), Notice{}},
		{"text too long", noticeHolder(), Notice{Text: map[string]string{"en": strings.Repeat("x", MaxNoticeTextLen+1)}}},
		{"empty language", noticeHolder(), Notice{Text: map[string]string{"": "x"}}},
	} {
		if err := n.Add(tt.card, tt.notice); err == nil {
			t.Errorf("Add(%s) = nil; want an error", tt.name)
		}
	}
	if err := n.Add(noticeHolder(), ok); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	if err := n.Add(noticeHolder(), ok); err == nil {
		t.Errorf("Add() twice for one card = nil; want an error")
	}
}
