package trust

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
)

// Lists are the lists a kiosk checks cards against, and the notices it
// shows: loaded at startup from the configured files or newer downloaded
// ones, then swapped whole each time a newer list is accepted or the
// configured files are reopened. Verify reads the current set without a
// lock, so a scan never waits for a swap, and a swap never shows a
// half-built verifier.
//
// Set the fields, then call Load once; after it, every method may be
// called from any goroutine. Only Reopen changes a field after Load
// (Files, under the lock).
type Lists struct {
	Files Files        // the configured files
	Dir   string       // where accepted downloads are kept (STATE/lists, DirName); "" for none
	State StateStore   // the seqs held
	Log   *slog.Logger // nil: discard

	// WriteFile writes a file whole or not at all, durably; Accept needs
	// it. The wiring hands it internal/atomicfile's Write: the domain
	// imports nothing but kiosk and kiosk/card.
	WriteFile func(file string, data []byte, perm os.FileMode) error

	// Issued, if set, is told the issue time of each signed list put to
	// use, at Load and Reopen (an error fails them) and at Accept (an
	// error is logged): a signed list was issued no later than now, so its
	// time is one to trust.
	Issued func(ctx context.Context, t time.Time) error

	// mu serializes Load, Reopen and Accept: the seqs checked, the seqs
	// raised and the swap go together, so neither can swap in a set the
	// other's seq check did not see.
	mu      sync.Mutex
	cur     atomic.Pointer[Set]
	notices atomic.Pointer[card.Notices]
}

var (
	_ kiosk.CardVerifier = (*Lists)(nil)
	_ kiosk.NoticeSource = (*Lists)(nil)
)

// Load opens the lists of l.Files — each replaced by the one downloaded
// into l.Dir when that is newer — and puts them to use. With a root key,
// every list must be signed by it, and a list older (by seq) than the
// newest l.State holds is refused, so replaying an old list cannot bring
// back a withdrawn key or unrevoke a card; the seqs of the lists accepted
// are then stored. Without a root key, the trust file is PEM certificates
// or keys trusted without limit: a development mode.
func (l *Lists) Load(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.open(ctx, l.Files, nil, "start with")
	if err != nil {
		return err
	}
	l.cur.Store(s)
	return nil
}

// Reopen puts to use the lists f names while the kiosk runs (its
// configuration read again on SIGHUP), exactly as Load does at a start:
// each file replaced by the one downloaded into l.Dir when that is newer,
// every list verified, none older than the seq held, the seqs raised only
// once every list is acceptable. Then, under the lock Accept takes, the
// set in use is swapped whole and l.Files set to f: a scan in progress
// finishes with the set it began with. On an error, which names the file
// and why, the lists in use and l.Files stay as they were.
//
// The root key is the one setting Reopen does not change: f.Root must hold
// the key in use (the file may have moved). A new root key is a new
// authority, and what the kiosk holds was accepted under the old one: the
// downloaded lists Reopen would choose from, the notices in use, a
// download Accept is verifying as Reopen runs. A restart verifies all of
// it again under the new key; so Reopen refuses a new root key, or one
// gained or dropped, and says a restart is needed.
//
// Which kinds the downloader fetches (Files.Kinds) is for its owner to
// change: Reopen puts f.ReferencePrefix to use in the verifier only.
func (l *Lists) Reopen(ctx context.Context, f Files) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.cur.Load()
	if cur == nil {
		return errors.New("reopen lists: not loaded")
	}
	root, err := sameRoot(cur.root, f.Root)
	if err != nil {
		return err
	}
	s, err := l.open(ctx, f, root, "switch to")
	if err != nil {
		return err
	}
	l.Files = f
	l.cur.Store(s)
	return nil
}

// sameRoot returns inuse, the root key of the lists in use, once file is
// found to hold it: for Reopen, which takes no other. A kiosk without a
// root key (nil) may not be given one, nor one with a key go without.
func sameRoot(inuse crypto.PublicKey, file string) (crypto.PublicKey, error) {
	switch {
	case inuse == nil && file == "":
		return nil, nil
	case inuse == nil:
		return nil, fmt.Errorf("root key %s: the kiosk started without a root key; taking one needs a restart", file)
	case file == "":
		return nil, errors.New("no root key: the kiosk started with one; going without needs a restart")
	}
	key, err := ReadPublicKey(file)
	if err != nil {
		return nil, err
	}
	if k, ok := inuse.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(key) {
		return nil, fmt.Errorf("root key %s is not the one in use: a new root key needs a restart, "+
			"which verifies the lists downloaded under the old one again", file)
	}
	return inuse, nil
}

// open opens the lists of f for Load and Reopen (as says which, in a
// rollback's error): each file replaced by the one downloaded into l.Dir
// when that is newer, every list verified against root (nil: the key
// f.Root holds, if it names one), none older than the seq held. It tells
// l.Issued their issue times, then raises the seqs held; it does not touch
// the set in use. A failure to store one seq may leave those before it
// raised: that makes the kiosk refuse more lists, never fewer.
func (l *Lists) open(ctx context.Context, f Files, root crypto.PublicKey, as string) (*Set, error) {
	log := l.log()
	if root == nil && f.Root != "" {
		var err error
		if root, err = ReadPublicKey(f.Root); err != nil {
			return nil, err
		}
	}
	f = l.newest(f, root)
	s, err := open(f, root)
	if err != nil {
		return nil, err
	}
	v := s.Verifier
	if s.TrustList == nil {
		log.Warn("no --root: trusting the PEM keys of the trust file without limits; for development only",
			"file", f.Trust, "keys", v.Trust.Len())
	} else {
		if err := checkHeldSeq(ctx, l.State, KindTrustList, s.TrustList.Seq, as); err != nil {
			return nil, fmt.Errorf("trust file %s: %w", f.Trust, err)
		}
		if v.Revocations != nil {
			if err := checkHeldSeq(ctx, l.State, KindRevocations, v.Revocations.Seq(), as); err != nil {
				return nil, fmt.Errorf("revocation list %s: %w", f.Revocations, err)
			}
		}
		if v.Roster != nil {
			if err := checkHeldSeq(ctx, l.State, KindRoster, v.Roster.Seq(), as); err != nil {
				return nil, fmt.Errorf("roster %s: %w", f.Roster, err)
			}
		}
	}
	if l.Issued != nil {
		for _, t := range s.issuedAt() {
			if err := l.Issued(ctx, t); err != nil {
				return nil, err
			}
		}
	}
	// Every list is acceptable: only now raise the seqs held.
	if s.TrustList != nil {
		if err := raiseHeldSeq(ctx, l.State, KindTrustList, s.TrustList.Seq); err != nil {
			return nil, err
		}
		log.Info("trust list loaded", "file", f.Trust, "seq", s.TrustList.Seq, "issued_at", s.TrustList.IssuedAt,
			"entries", len(s.TrustList.Entries), "keys", v.Trust.Len())
		if v.Trust.Len() == 0 {
			log.Warn("the trust list trusts no key: every card will be refused", "file", f.Trust)
		}
	}
	logSkipped(log, f.Trust, s.Skipped())
	if v.Revocations != nil {
		if err := raiseHeldSeq(ctx, l.State, KindRevocations, v.Revocations.Seq()); err != nil {
			return nil, err
		}
		log.Info("revocation list loaded", "file", f.Revocations, "seq", v.Revocations.Seq(),
			"issued_at", v.Revocations.IssuedAt(), "entries", v.Revocations.Len())
	} else if f.MaxListAge > 0 {
		log.Warn("no revocation list and --max-list-age is set: every card will be sent to staff as stale_lists (set --max-list-age 0 to accept none)")
	}
	if v.Roster != nil {
		if err := raiseHeldSeq(ctx, l.State, KindRoster, v.Roster.Seq()); err != nil {
			return nil, err
		}
		log.Info("roster loaded", "file", f.Roster, "seq", v.Roster.Seq(), "issued_at", v.Roster.IssuedAt(),
			"entries", v.Roster.Len())
	}
	return s, nil
}

// newest returns f with each list file replaced by the one downloaded into
// l.Dir when that one is newer (a higher seq, both verified against root):
// a kiosk that downloaded a newer list than its configured file must use
// it, or the file would be refused as a rollback.
func (l *Lists) newest(f Files, root crypto.PublicKey) Files {
	if root == nil || l.Dir == "" {
		return f
	}
	for _, c := range []struct {
		kind Kind
		file *string
	}{
		{KindTrustList, &f.Trust},
		{KindRevocations, &f.Revocations},
		{KindRoster, &f.Roster},
	} {
		downloaded := filepath.Join(l.Dir, c.kind.FileName())
		data, err := os.ReadFile(downloaded)
		if err != nil {
			continue
		}
		doc, err := openDocument(c.kind, data, root)
		if err != nil {
			l.log().Warn("downloaded list refused", "file", downloaded, "err", err)
			continue
		}
		if c.kind == KindRoster && f.ReferencePrefix == "" {
			continue // no reference cards configured
		}
		if *c.file != "" {
			if cur, err := os.ReadFile(*c.file); err == nil {
				if held, err := openDocument(c.kind, cur, root); err == nil && held.seq >= doc.seq {
					continue
				}
			}
		}
		*c.file = downloaded
	}
	return f
}

// LoadNotices puts to use the notices downloaded before a restart, if any:
// they were verified when downloaded and are verified again. Notices are a
// courtesy: ones that no longer verify are logged and left out, and the
// next download replaces them.
func (l *Lists) LoadNotices() error {
	root := l.cur.Load().root
	if root == nil || l.Dir == "" {
		return nil // no downloads without a root key
	}
	data, err := os.ReadFile(filepath.Join(l.Dir, KindNotices.FileName()))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read notices: %w", err)
	}
	doc, err := openDocument(KindNotices, data, root)
	if err != nil {
		l.log().Warn("downloaded notices refused", "err", err)
		return nil
	}
	l.notices.Store(doc.notices)
	return nil
}

// Accept verifies data, downloaded, as a list of kind k signed by the root
// key and, when its seq is higher than the one held, writes it into l.Dir,
// raises the seq held and puts it to use, in that order. It returns the
// list's seq and whether it was new: a list of the seq held is the one in
// use already, and changes nothing. A list that does not verify or is older
// than the one held is refused ("refused: ..."), and nothing of it is kept.
func (l *Lists) Accept(ctx context.Context, k Kind, data []byte) (seq uint64, changed bool, err error) {
	root := l.cur.Load().root
	if root == nil {
		return 0, false, errors.New("accept: no root key to verify downloaded lists with")
	}
	// Verified before anything else is done with it.
	doc, err := openDocument(k, data, root)
	if err != nil {
		return 0, false, fmt.Errorf("refused: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	held, err := heldSeq(ctx, l.State, k)
	if err != nil {
		return 0, false, err
	}
	if err := card.CheckSeq(k.Label(), held, doc.seq); err != nil {
		return 0, false, fmt.Errorf("refused: %w", err)
	}
	if doc.seq == held {
		// The edition held already (from a file, or downloaded before a
		// restart): nothing to swap.
		return doc.seq, false, nil
	}
	if l.Dir == "" || l.WriteFile == nil {
		return 0, false, errors.New("accept: no directory or WriteFile to keep downloaded lists with")
	}
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return 0, false, fmt.Errorf("create %s: %w", l.Dir, err)
	}
	// On disk before the seq is raised: a crash in between leaves a file
	// of a higher seq than held, which loads; never the other way round.
	if err := l.WriteFile(filepath.Join(l.Dir, k.FileName()), data, 0o600); err != nil {
		return 0, false, err
	}
	if err := l.State.PutState(context.WithoutCancel(ctx), k.StateKey(), strconv.FormatUint(doc.seq, 10)); err != nil {
		return 0, false, fmt.Errorf("hold %s seq: %w", k.Label(), err)
	}
	l.use(doc)
	l.log().Info("list in use", "kind", string(k), "seq", doc.seq, "issued_at", doc.issuedAt, "previous_seq", held)
	if k == KindTrustList {
		logSkipped(l.log(), filepath.Join(l.Dir, k.FileName()), doc.trust.Skipped())
	}
	if l.Issued != nil {
		if err := l.Issued(context.WithoutCancel(ctx), doc.issuedAt); err != nil {
			l.log().Error("trusted time from a list", "kind", string(k), "err", err)
		}
	}
	return doc.seq, true, nil
}

// use swaps doc in: a new Set, the old one left whole for scans in
// progress.
func (l *Lists) use(doc document) {
	if doc.kind == KindNotices {
		l.notices.Store(doc.notices)
		return
	}
	old := l.cur.Load()
	v := *old.Verifier
	s := &Set{Verifier: &v, TrustList: old.TrustList, root: old.root}
	switch doc.kind {
	case KindTrustList:
		s.TrustList, v.Trust = doc.trustList, doc.trust
	case KindRevocations:
		v.Revocations = doc.revocations
	case KindRoster:
		v.Roster = doc.roster
	}
	l.cur.Store(s)
}

// Verify verifies payload with the current lists.
func (l *Lists) Verify(payload string, at time.Time) card.Result {
	return l.cur.Load().Verifier.Verify(payload, at)
}

// Notice returns the notice for the holder of c, if the notices hold one.
// An entry that does not open for c is logged (without anything of the
// person) and not shown.
func (l *Lists) Notice(c card.Card) (card.Notice, bool) {
	n, ok, err := l.notices.Load().Lookup(c)
	if err != nil {
		l.log().Warn("notice lookup failed", "err", err)
		return card.Notice{}, false
	}
	return n, ok
}

// Current returns the lists in use now.
func (l *Lists) Current() *Set { return l.cur.Load() }

// Status is what staff see of the lists in use at time now.
func (l *Lists) Status(now time.Time) Status { return l.cur.Load().Status(now) }

func (l *Lists) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

// logSkipped warns of each key of a trust file or list that no card may be
// signed with: its issuer's cards will be refused, which staff should hear
// of from the log rather than from the people turned away.
func logSkipped(log *slog.Logger, file string, skipped []card.SkippedKey) {
	for _, s := range skipped {
		log.Warn("trust key skipped: no card may be signed with it", "file", file,
			"kid", hex.EncodeToString(s.KID), "issuer", s.Issuer, "err", s.Err)
	}
}
