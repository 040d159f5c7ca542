package main

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// DefaultMaxListAge is how old the revocation list may be before the kiosk
// sends every card to staff: three days lets a kiosk ride out a long weekend
// without a sync, and no longer.
const DefaultMaxListAge = 72 * time.Hour

// stateStore keeps small values across restarts: here, the highest sequence
// number of each list the kiosk has accepted.
type stateStore interface {
	GetState(ctx context.Context, key string) (string, bool, error)
	PutState(ctx context.Context, key, value string) error
}

var _ stateStore = (*outbox.Store)(nil)

// State keys of the highest accepted sequence numbers.
const (
	stateTrustListSeq   = "card.trustlist.seq"
	stateRevocationsSeq = "card.revocations.seq"
	stateRosterSeq      = "card.roster.seq"
)

// loadVerifier reads the root key, trust list and revocation list named in
// c and returns the verifier they make. With c.Root set, both lists must be
// signed by it, and a list older (by seq) than the newest st holds is
// refused, so replaying an old list cannot bring back a withdrawn key or
// unrevoke a card; the seqs of the lists accepted are then stored in st.
// Without c.Root, c.Trust is PEM certificates or keys trusted without limit:
// a development mode.
func loadVerifier(ctx context.Context, c Config, st stateStore, log *slog.Logger) (*lists, error) {
	l, err := readLists(c)
	if err != nil {
		return nil, err
	}
	v := l.verifier
	if l.trust == nil {
		log.Warn("no --root: trusting the PEM keys of the trust file without limits; for development only",
			"file", c.Trust, "keys", v.Trust.Len())
	} else {
		if err := checkHeldSeq(ctx, st, stateTrustListSeq, "trust list", l.trust.Seq); err != nil {
			return nil, fmt.Errorf("trust file %s: %w", c.Trust, err)
		}
		if v.Revocations != nil {
			if err := checkHeldSeq(ctx, st, stateRevocationsSeq, "revocation list", v.Revocations.Seq()); err != nil {
				return nil, fmt.Errorf("revocation list %s: %w", c.Revocations, err)
			}
		}
		if v.Roster != nil {
			if err := checkHeldSeq(ctx, st, stateRosterSeq, "roster", v.Roster.Seq()); err != nil {
				return nil, fmt.Errorf("roster %s: %w", c.Roster, err)
			}
		}
		// Both lists are acceptable: only now raise the seqs held.
		if err := raiseHeldSeq(ctx, st, stateTrustListSeq, l.trust.Seq); err != nil {
			return nil, err
		}
		log.Info("trust list loaded", "file", c.Trust, "seq", l.trust.Seq, "issued_at", l.trust.IssuedAt,
			"entries", len(l.trust.Entries), "keys", v.Trust.Len())
		if v.Trust.Len() == 0 {
			log.Warn("the trust list trusts no key: every card will be refused", "file", c.Trust)
		}
	}
	if v.Revocations != nil {
		if err := raiseHeldSeq(ctx, st, stateRevocationsSeq, v.Revocations.Seq()); err != nil {
			return nil, err
		}
		log.Info("revocation list loaded", "file", c.Revocations, "seq", v.Revocations.Seq(),
			"issued_at", v.Revocations.IssuedAt(), "entries", v.Revocations.Len())
	} else if c.MaxListAge > 0 {
		log.Warn("no revocation list and --max-list-age is set: every card will be sent to staff as stale_lists (set --max-list-age 0 to accept none)")
	}
	if v.Roster != nil {
		if err := raiseHeldSeq(ctx, st, stateRosterSeq, v.Roster.Seq()); err != nil {
			return nil, err
		}
		log.Info("roster loaded", "file", c.Roster, "seq", v.Roster.Seq(), "issued_at", v.Roster.IssuedAt(),
			"entries", v.Roster.Len())
	}
	return l, nil
}

// lists is what the list files of a Config hold.
type lists struct {
	verifier *card.Verifier
	trust    *card.TrustList // nil without a root key: PEM keys
}

// issuedAt returns the issue times of the signed lists.
func (l *lists) issuedAt() []time.Time {
	var ts []time.Time
	if l.trust != nil {
		ts = append(ts, l.trust.IssuedAt)
	}
	if r := l.verifier.Revocations; r != nil {
		ts = append(ts, r.IssuedAt())
	}
	if r := l.verifier.Roster; r != nil {
		ts = append(ts, r.IssuedAt())
	}
	return ts
}

// status is what staff see of the lists at time now.
func (l *lists) status(now time.Time) ui.Lists {
	s := ui.Lists{Stale: l.verifier.ListsStale(now)}
	if l.trust != nil {
		s.TrustSeq = l.trust.Seq
	}
	if r := l.verifier.Revocations; r != nil {
		s.RevocationsSeq, s.RevocationsIssuedAt = r.Seq(), r.IssuedAt()
	}
	return s
}

// readLists reads and verifies the root key, trust list and revocation list
// named in c, without looking at the seqs held. "kiosk card verify" shares it.
func readLists(c Config) (*lists, error) {
	if c.Trust == "" {
		return nil, errors.New("no trust file: set --trust to the signed trust list (or, for development without --root, a PEM file of issuer certificates)")
	}
	trustData, err := os.ReadFile(c.Trust)
	if err != nil {
		return nil, fmt.Errorf("read trust file: %w", err)
	}
	l := &lists{verifier: &card.Verifier{MaxListAge: c.MaxListAge}}
	v := l.verifier
	if c.Root == "" {
		if c.Revocations != "" {
			return nil, errors.New("--revocations needs --root: a revocation list is only read signed by the root key")
		}
		if c.Roster != "" {
			return nil, errors.New("--roster needs --root: a roster is only read signed by the root key")
		}
		if !bytes.Contains(trustData, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("trust file %s is not PEM, a signed trust list perhaps: --root is missing "+
				"(the root public key the list is signed with)", c.Trust)
		}
		if v.Trust, err = card.ParseTrustPEM(trustData); err != nil {
			return nil, fmt.Errorf("trust file %s: %w", c.Trust, err)
		}
		return l, nil
	}

	root, err := readPublicKey(c.Root)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(trustData, []byte("-----BEGIN ")) {
		return nil, fmt.Errorf("trust file %s is PEM: with --root, --trust must be a trust list signed by the root key", c.Trust)
	}
	if l.trust, err = card.OpenTrustList(trustData, root); err != nil {
		return nil, fmt.Errorf("trust file %s: %w", c.Trust, err)
	}
	if v.Trust, err = l.trust.Trust(); err != nil {
		return nil, fmt.Errorf("trust file %s: %w", c.Trust, err)
	}
	if (c.Roster == "") != (c.ReferencePrefix == "") {
		return nil, errors.New("--roster and --reference-prefix go together: reference cards need both")
	}
	if c.Roster != "" {
		data, err := os.ReadFile(c.Roster)
		if err != nil {
			return nil, fmt.Errorf("read roster: %w", err)
		}
		if v.Roster, err = card.OpenRoster(data, root); err != nil {
			return nil, fmt.Errorf("roster %s: %w", c.Roster, err)
		}
		v.ReferencePrefixes = []string{c.ReferencePrefix}
	}
	if c.Revocations != "" {
		data, err := os.ReadFile(c.Revocations)
		if err != nil {
			return nil, fmt.Errorf("read revocation list: %w", err)
		}
		if v.Revocations, err = card.OpenRevocations(data, root); err != nil {
			return nil, fmt.Errorf("revocation list %s: %w", c.Revocations, err)
		}
	}
	return l, nil
}

// readPublicKey reads a PUBLIC KEY PEM file: the pinned root key, or a
// bare issuer key for a trust list.
func readPublicKey(file string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	root, err := card.ParsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return root, nil
}

// heldSeq is the highest seq stored under key, 0 if none.
func heldSeq(ctx context.Context, st stateStore, key string) (uint64, error) {
	s, ok, err := st.GetState(ctx, key)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("state %s: %w", key, err)
	}
	return n, nil
}

// checkHeldSeq refuses seq if it is lower than the one held under key.
func checkHeldSeq(ctx context.Context, st stateStore, key, kind string, seq uint64) error {
	held, err := heldSeq(ctx, st, key)
	if err != nil {
		return err
	}
	if err := card.CheckSeq(kind, held, seq); err != nil {
		return fmt.Errorf("%w; the kiosk does not start with an older list than it has accepted: install a list of seq %d or higher", err, held)
	}
	return nil
}

// raiseHeldSeq stores seq under key when it is higher than the one held.
func raiseHeldSeq(ctx context.Context, st stateStore, key string, seq uint64) error {
	held, err := heldSeq(ctx, st, key)
	if err != nil {
		return err
	}
	if seq <= held {
		return nil
	}
	return st.PutState(ctx, key, strconv.FormatUint(seq, 10))
}
