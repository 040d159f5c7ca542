package main

import (
	"crypto"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
)

// downloadsDirName is where, in the state directory, the documents
// downloaded from the upstream are kept.
const downloadsDirName = "lists"

// verifiers is the card verifier the flow uses, swapped at runtime when a
// download brings a new list: Verify reads the current one without a lock,
// so a scan never waits for a swap, and a swap never shows a half-built
// verifier. It also holds the notices.
type verifiers struct {
	log *slog.Logger

	mu      sync.Mutex // serializes swaps
	cur     atomic.Pointer[lists]
	notices atomic.Pointer[card.Notices]

	// issued, if set, is told the issue time of each document accepted: a
	// signed document's time is one to trust.
	issued func(time.Time)
}

var _ kiosk.CardVerifier = (*verifiers)(nil)

func newVerifiers(l *lists, log *slog.Logger) *verifiers {
	h := &verifiers{log: log}
	h.cur.Store(l)
	return h
}

// Verify verifies payload with the current lists.
func (h *verifiers) Verify(payload string, at time.Time) card.Result {
	return h.cur.Load().verifier.Verify(payload, at)
}

// current returns the lists in use now.
func (h *verifiers) current() *lists { return h.cur.Load() }

// accept puts a downloaded document to use. The downloader has verified it
// against the root key, refused a rollback and written it to disk.
func (h *verifiers) accept(doc upload.Document) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if doc.Kind == upload.KindNotices {
		h.notices.Store(doc.Notices)
	} else {
		old := h.cur.Load()
		v := *old.verifier // a copy: the old one stays whole for scans in progress
		l := &lists{verifier: &v, trust: old.trust}
		switch doc.Kind {
		case upload.KindTrustList:
			l.trust, v.Trust = doc.TrustList, doc.Trust
		case upload.KindRevocations:
			v.Revocations = doc.Revocations
		case upload.KindRoster:
			v.Roster = doc.Roster
		}
		h.cur.Store(l)
	}
	h.log.Info("list in use", "kind", string(doc.Kind), "seq", doc.Seq)
	if h.issued != nil {
		h.issued(doc.IssuedAt)
	}
}

// Notice returns the notice for the holder of c, if the notices hold one.
// An entry that does not open for c is logged (without anything of the
// person) and not shown.
func (h *verifiers) Notice(c card.Card) (card.Notice, bool) {
	n, ok, err := h.notices.Load().Lookup(c)
	if err != nil {
		h.log.Warn("notice lookup failed", "err", err)
		return card.Notice{}, false
	}
	return n, ok
}

// loadNotices reads the notices downloaded before a restart, if any: they
// were verified when downloaded and are verified again.
func (h *verifiers) loadNotices(dir string, root crypto.PublicKey) error {
	data, err := os.ReadFile(filepath.Join(dir, upload.FileName(upload.KindNotices)))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read notices: %w", err)
	}
	doc, err := upload.OpenDocument(upload.KindNotices, data, root)
	if err != nil {
		// Not fatal: notices are a courtesy, and the next download
		// replaces them.
		h.log.Warn("downloaded notices refused", "err", err)
		return nil
	}
	h.notices.Store(doc.Notices)
	return nil
}

// notice returns the notice for the holder of c, for the success screen.
func (m *Main) notice(c card.Card) (card.Notice, bool) {
	if m.verifiers == nil {
		return card.Notice{}, false
	}
	return m.verifiers.Notice(c)
}

// newestLists returns c with each list file replaced by the one downloaded
// into dir when that one is newer (a higher seq, both verified against
// c.Root): a kiosk that downloaded a newer list than its configured file
// must start with it, or the file would be refused as a rollback.
func newestLists(c Config, dir string, log *slog.Logger) Config {
	if c.Root == "" {
		return c
	}
	root, err := readPublicKey(c.Root)
	if err != nil {
		return c // readLists reports it
	}
	for _, f := range []struct {
		kind upload.Kind
		file *string
	}{
		{upload.KindTrustList, &c.Trust},
		{upload.KindRevocations, &c.Revocations},
		{upload.KindRoster, &c.Roster},
	} {
		downloaded := filepath.Join(dir, upload.FileName(f.kind))
		data, err := os.ReadFile(downloaded)
		if err != nil {
			continue
		}
		doc, err := upload.OpenDocument(f.kind, data, root)
		if err != nil {
			log.Warn("downloaded list refused", "file", downloaded, "err", err)
			continue
		}
		if f.kind == upload.KindRoster && c.ReferencePrefix == "" {
			continue // no reference cards configured
		}
		if *f.file != "" {
			if cur, err := os.ReadFile(*f.file); err == nil {
				if held, err := upload.OpenDocument(f.kind, cur, root); err == nil && held.Seq >= doc.Seq {
					continue
				}
			}
		}
		*f.file = downloaded
	}
	return c
}

// downloadKinds are the documents the daemon downloads with c: the roster
// only when it takes reference cards.
func downloadKinds(c Config) []upload.Kind {
	kinds := []upload.Kind{upload.KindTrustList, upload.KindRevocations, upload.KindNotices}
	if c.ReferencePrefix != "" {
		kinds = append(kinds, upload.KindRoster)
	}
	return kinds
}
