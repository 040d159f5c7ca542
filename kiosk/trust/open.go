package trust

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// Files names the list files a kiosk is configured with, and how it reads
// them. The flags named in errors are those of "kiosk run" and "kiosk card
// verify", which take these settings.
type Files struct {
	Root        string // PEM public key file: the pinned root key the lists are signed with; "" for development
	Trust       string // signed trust list; without Root, PEM issuer certificates or keys (development)
	Revocations string // signed revocation list; "" for none (needs Root)
	Roster      string // signed roster resolving reference cards; "" for none (needs Root and ReferencePrefix)
	// ReferencePrefix is the URL prefix of reference cards' QR codes; ""
	// when the kiosk takes none.
	ReferencePrefix string
	// MaxListAge is how old the revocation list may be before every card
	// is sent to staff as stale; 0 means no limit (DefaultMaxListAge is
	// the kiosk's default).
	MaxListAge time.Duration
}

// Kinds are the kinds of list a kiosk configured with f keeps up to date
// from its upstream: the roster only when it takes reference cards.
func (f Files) Kinds() []Kind {
	kinds := []Kind{KindTrustList, KindRevocations, KindNotices}
	if f.ReferencePrefix != "" {
		kinds = append(kinds, KindRoster)
	}
	return kinds
}

// Set is one consistent set of lists: the card verifier they make, and the
// signed trust list it trusts.
type Set struct {
	Verifier  *card.Verifier
	TrustList *card.TrustList // nil without a root key: PEM keys

	root crypto.PublicKey // nil without a root key
}

// Open reads and verifies the root key and the lists f names, without
// looking at the seqs held (Lists.Load does): "kiosk card verify" uses it
// as it is. A key of the trust file or list that no card may be signed
// with is skipped (Set.Skipped); a list that is malformed or not signed by
// the root is an error.
func Open(f Files) (*Set, error) { return open(f, nil) }

// open is Open with root, when not nil, as the root key f.Root holds: read
// once by the caller, who compared it with the one in use (Lists.Reopen) or
// chose downloads with it (Lists.newest).
func open(f Files, root crypto.PublicKey) (*Set, error) {
	if f.Trust == "" {
		return nil, errors.New("no trust file: set --trust to the signed trust list (or, for development without --root, a PEM file of issuer certificates)")
	}
	trustData, err := os.ReadFile(f.Trust)
	if err != nil {
		return nil, fmt.Errorf("read trust file: %w", err)
	}
	s := &Set{Verifier: &card.Verifier{MaxListAge: f.MaxListAge}}
	v := s.Verifier
	if f.Root == "" {
		if f.Revocations != "" {
			return nil, errors.New("--revocations needs --root: a revocation list is only read signed by the root key")
		}
		if f.Roster != "" {
			return nil, errors.New("--roster needs --root: a roster is only read signed by the root key")
		}
		if !bytes.Contains(trustData, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("trust file %s is not PEM, a signed trust list perhaps: --root is missing "+
				"(the root public key the list is signed with)", f.Trust)
		}
		if v.Trust, err = card.ParseTrustPEM(trustData); err != nil {
			return nil, fmt.Errorf("trust file %s: %w", f.Trust, err)
		}
		return s, nil
	}

	if s.root = root; s.root == nil {
		if s.root, err = ReadPublicKey(f.Root); err != nil {
			return nil, err
		}
	}
	if bytes.Contains(trustData, []byte("-----BEGIN ")) {
		return nil, fmt.Errorf("trust file %s is PEM: with --root, --trust must be a trust list signed by the root key", f.Trust)
	}
	if s.TrustList, err = card.OpenTrustList(trustData, s.root); err != nil {
		return nil, fmt.Errorf("trust file %s: %w", f.Trust, err)
	}
	if v.Trust, err = s.TrustList.Trust(); err != nil {
		return nil, fmt.Errorf("trust file %s: %w", f.Trust, err)
	}
	if (f.Roster == "") != (f.ReferencePrefix == "") {
		return nil, errors.New("--roster and --reference-prefix go together: reference cards need both")
	}
	if f.Roster != "" {
		data, err := os.ReadFile(f.Roster)
		if err != nil {
			return nil, fmt.Errorf("read roster: %w", err)
		}
		if v.Roster, err = card.OpenRoster(data, s.root); err != nil {
			return nil, fmt.Errorf("roster %s: %w", f.Roster, err)
		}
		v.ReferencePrefixes = []string{f.ReferencePrefix}
	}
	if f.Revocations != "" {
		data, err := os.ReadFile(f.Revocations)
		if err != nil {
			return nil, fmt.Errorf("read revocation list: %w", err)
		}
		if v.Revocations, err = card.OpenRevocations(data, s.root); err != nil {
			return nil, fmt.Errorf("revocation list %s: %w", f.Revocations, err)
		}
	}
	return s, nil
}

// Skipped are the keys of the trust file or list that no card may be
// signed with, left out of the verifier.
func (s *Set) Skipped() []card.SkippedKey { return s.Verifier.Trust.Skipped() }

// issuedAt returns the issue times of the signed lists.
func (s *Set) issuedAt() []time.Time {
	var ts []time.Time
	if s.TrustList != nil {
		ts = append(ts, s.TrustList.IssuedAt)
	}
	if r := s.Verifier.Revocations; r != nil {
		ts = append(ts, r.IssuedAt())
	}
	if r := s.Verifier.Roster; r != nil {
		ts = append(ts, r.IssuedAt())
	}
	return ts
}

// Status is what staff see of the lists (GET /api/v1/status).
type Status struct {
	TrustSeq            uint64    // 0: no signed trust list (development keys)
	RevocationsSeq      uint64    // 0: no revocation list
	RevocationsIssuedAt time.Time // zero: no revocation list
	// Stale means the revocation list is older than the kiosk may trust
	// (or missing): every card is sent to staff until a fresh one arrives.
	Stale bool
	// SkippedKeys counts the keys of the trust list that no card may be
	// signed with: cards of those issuers are refused as unknown.
	SkippedKeys int
}

// Status is what staff see of s at time now.
func (s *Set) Status(now time.Time) Status {
	st := Status{Stale: s.Verifier.ListsStale(now), SkippedKeys: len(s.Skipped())}
	if s.TrustList != nil {
		st.TrustSeq = s.TrustList.Seq
	}
	if r := s.Verifier.Revocations; r != nil {
		st.RevocationsSeq, st.RevocationsIssuedAt = r.Seq(), r.IssuedAt()
	}
	return st
}

// ReadPublicKey reads a PUBLIC KEY PEM file: the pinned root key, or a bare
// issuer key for a trust list.
func ReadPublicKey(file string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	pub, err := card.ParsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return pub, nil
}

// document is a signed list verified against the root key: exactly one of
// the pointers is set, after kind.
type document struct {
	kind     Kind
	seq      uint64
	issuedAt time.Time

	trustList   *card.TrustList
	trust       *card.Trust // the trust list's keys
	revocations *card.Revocations
	roster      *card.Roster
	notices     *card.Notices
}

// openDocument verifies data as a list of kind k signed by root and
// decodes it. Nothing of a list that does not verify is returned.
func openDocument(k Kind, data []byte, root crypto.PublicKey) (document, error) {
	d := document{kind: k}
	var err error
	switch k {
	case KindTrustList:
		if d.trustList, err = card.OpenTrustList(data, root); err == nil {
			d.seq, d.issuedAt = d.trustList.Seq, d.trustList.IssuedAt
			d.trust, err = d.trustList.Trust()
		}
	case KindRevocations:
		if d.revocations, err = card.OpenRevocations(data, root); err == nil {
			d.seq, d.issuedAt = d.revocations.Seq(), d.revocations.IssuedAt()
		}
	case KindRoster:
		if d.roster, err = card.OpenRoster(data, root); err == nil {
			d.seq, d.issuedAt = d.roster.Seq(), d.roster.IssuedAt()
		}
	case KindNotices:
		if d.notices, err = card.OpenNotices(data, root); err == nil {
			d.seq, d.issuedAt = d.notices.Seq(), d.notices.IssuedAt()
		}
	default:
		return document{}, fmt.Errorf("unknown list kind %q", k)
	}
	if err != nil {
		return document{}, err
	}
	return d, nil
}
