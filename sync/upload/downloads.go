package upload

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/internal/atomicfile"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Kind names a signed document the kiosk downloads from the upstream.
type Kind string

// The documents.
const (
	KindTrustList   Kind = "trust_list"
	KindRevocations Kind = "revocations"
	KindRoster      Kind = "roster"
	KindNotices     Kind = "notices"
)

// Kinds are every kind of document, in the order a Downloader polls them:
// the trust list first, as the others are only useful with it.
var Kinds = []Kind{KindTrustList, KindRevocations, KindRoster, KindNotices}

type kindInfo struct {
	path     string // on the upstream
	file     string // in Downloader.Dir
	stateKey string // the highest seq accepted, in the kiosk's state
	label    string // for card.CheckSeq and logs
}

var kindInfos = map[Kind]kindInfo{
	KindTrustList:   {wire.PathTrustList, "trustlist.cose", "card.trustlist.seq", "trust list"},
	KindRevocations: {wire.PathRevocations, "revocations.cose", "card.revocations.seq", "revocation list"},
	KindRoster:      {wire.PathRoster, "roster.cose", "card.roster.seq", "roster"},
	KindNotices:     {wire.PathNotices, "notices.cose", "card.notices.seq", "notices"},
}

// FileName is the name a document of kind k is kept under in
// Downloader.Dir.
func FileName(k Kind) string { return kindInfos[k].file }

// StateKey is the kiosk-state key holding the highest seq of kind k the
// kiosk accepted, from a file or a download: never lower.
func StateKey(k Kind) string { return kindInfos[k].stateKey }

// DefaultDownloadInterval is how often a Downloader polls.
const DefaultDownloadInterval = 5 * time.Minute

// StateStore keeps the highest seqs accepted across restarts. *outbox.Store
// is one.
type StateStore interface {
	GetState(ctx context.Context, key string) (string, bool, error)
	PutState(ctx context.Context, key, value string) error
}

// Document is a signed document verified against the root key. Exactly one
// of the pointers is set, after Kind.
type Document struct {
	Kind     Kind
	Seq      uint64
	IssuedAt time.Time
	Data     []byte // the signed bytes
	File     string // where a Downloader wrote it; "" for OpenDocument

	TrustList   *card.TrustList
	Trust       *card.Trust // the trust list's keys
	Revocations *card.Revocations
	Roster      *card.Roster
	Notices     *card.Notices
}

// OpenDocument verifies data as a document of kind k signed by root and
// decodes it. Nothing of a document that does not verify is returned.
func OpenDocument(k Kind, data []byte, root crypto.PublicKey) (Document, error) {
	d := Document{Kind: k, Data: data}
	var err error
	switch k {
	case KindTrustList:
		if d.TrustList, err = card.OpenTrustList(data, root); err == nil {
			d.Seq, d.IssuedAt = d.TrustList.Seq, d.TrustList.IssuedAt
			d.Trust, err = d.TrustList.Trust()
		}
	case KindRevocations:
		if d.Revocations, err = card.OpenRevocations(data, root); err == nil {
			d.Seq, d.IssuedAt = d.Revocations.Seq(), d.Revocations.IssuedAt()
		}
	case KindRoster:
		if d.Roster, err = card.OpenRoster(data, root); err == nil {
			d.Seq, d.IssuedAt = d.Roster.Seq(), d.Roster.IssuedAt()
		}
	case KindNotices:
		if d.Notices, err = card.OpenNotices(data, root); err == nil {
			d.Seq, d.IssuedAt = d.Notices.Seq(), d.Notices.IssuedAt()
		}
	default:
		return Document{}, fmt.Errorf("unknown document kind %q", k)
	}
	if err != nil {
		return Document{}, err
	}
	return d, nil
}

// Downloader keeps the kiosk's signed documents up to date: it polls the
// upstream for each, with If-None-Match, verifies what it gets against Root
// before anything else, refuses a lower seq than the one held (no
// rollback), writes an accepted document atomically into Dir, raises the
// seq held, and only then hands it to Accept. Set the fields, then call Run
// once.
type Downloader struct {
	URL      string
	Client   *http.Client     // nil: a client with timeouts (plain HTTP or system roots: tests only)
	Root     crypto.PublicKey // the pinned root key the documents are signed with
	Dir      string           // where accepted documents are written, FileName(kind)
	State    StateStore
	Kinds    []Kind        // nil: Kinds
	Interval time.Duration // 0: DefaultDownloadInterval
	Log      *slog.Logger  // nil: discard

	// Accept receives each document accepted, from Run's goroutine, once
	// it is on disk and its seq is held. A document of the seq already held
	// is not handed over again.
	Accept func(Document)

	once sync.Once
	kick chan struct{}

	mu     sync.Mutex
	etags  map[Kind]string
	status map[Kind]DownloadStatus
}

// DownloadStatus is what a Downloader knows of one kind of document.
type DownloadStatus struct {
	LastCheck  time.Time // when the upstream last answered
	LastChange time.Time // when a new edition was last accepted
	Seq        uint64    // the seq last accepted or seen; 0: none
	LastError  string    // of the last poll; "" if it went well
}

func (d *Downloader) init() {
	d.once.Do(func() {
		d.kick = make(chan struct{}, 1)
		d.etags = map[Kind]string{}
		d.status = map[Kind]DownloadStatus{}
	})
}

// Kick makes the downloader poll now. It never blocks.
func (d *Downloader) Kick() {
	d.init()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Status returns the state of each kind polled so far.
func (d *Downloader) Status() map[Kind]DownloadStatus {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[Kind]DownloadStatus, len(d.status))
	for k, v := range d.status {
		m[k] = v
	}
	return m
}

// Run polls at once, then every Interval or Kick, until ctx ends; then it
// returns nil. A failed poll is logged and kept in the status.
func (d *Downloader) Run(ctx context.Context) error {
	d.init()
	interval := d.Interval
	if interval <= 0 {
		interval = DefaultDownloadInterval
	}
	if d.Client != nil {
		defer d.Client.CloseIdleConnections()
	}
	for {
		if err := d.Poll(ctx); err != nil && ctx.Err() == nil {
			d.log().Warn("download failed", "err", err)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-d.kick:
			t.Stop()
		}
	}
}

// Poll fetches each kind once. Run calls it; a test may call it instead of
// Run, never alongside it.
func (d *Downloader) Poll(ctx context.Context) error {
	d.init()
	kinds := d.Kinds
	if kinds == nil {
		kinds = Kinds
	}
	client := d.Client
	if client == nil {
		client = defaultClient()
	}
	var errs []error
	for _, k := range kinds {
		err := d.fetch(ctx, client, k)
		d.mu.Lock()
		st := d.status[k]
		if err != nil {
			st.LastError = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", kindInfos[k].label, err))
		} else {
			st.LastError = ""
		}
		d.status[k] = st
		d.mu.Unlock()
	}
	return errors.Join(errs...)
}

// fetch gets one document and, if it is new, accepts it.
func (d *Downloader) fetch(ctx context.Context, client *http.Client, k Kind) error {
	info, ok := kindInfos[k]
	if !ok {
		return fmt.Errorf("unknown document kind %q", k)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(d.URL, "/")+info.path, nil)
	if err != nil {
		return err
	}
	d.mu.Lock()
	etag := d.etags[k]
	d.mu.Unlock()
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified, http.StatusNotFound:
		// Unchanged, or not served by this upstream: keep what is held.
		d.checked(k, 0, false)
		return nil
	default:
		se := newStatusError(resp, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("get: %d %s %s", se.code, http.StatusText(se.code), se.msg)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, card.MaxDocumentLen+1))
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if len(data) > card.MaxDocumentLen {
		return fmt.Errorf("get: document larger than %d bytes", card.MaxDocumentLen)
	}
	// Verified before anything else is done with it, and before its ETag
	// is remembered: a bad document is fetched (and refused) again.
	doc, err := OpenDocument(k, data, d.Root)
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	held, err := d.heldSeq(ctx, info.stateKey)
	if err != nil {
		return err
	}
	if err := card.CheckSeq(info.label, held, doc.Seq); err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	newETag := resp.Header.Get("ETag")
	if doc.Seq == held {
		// The edition held already (from a file, or downloaded before a
		// restart): nothing to swap.
		d.rememberETag(k, newETag)
		d.checked(k, doc.Seq, false)
		return nil
	}
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", d.Dir, err)
	}
	doc.File = filepath.Join(d.Dir, info.file)
	// On disk before the seq is raised: a crash in between leaves a file
	// of a higher seq than held, which loads; never the other way round.
	if err := WriteFile(doc.File, data, 0o600); err != nil {
		return err
	}
	if err := d.State.PutState(context.WithoutCancel(ctx), info.stateKey, strconv.FormatUint(doc.Seq, 10)); err != nil {
		return fmt.Errorf("hold seq: %w", err)
	}
	d.rememberETag(k, newETag)
	d.checked(k, doc.Seq, true)
	d.log().Info("document accepted", "kind", string(k), "seq", doc.Seq, "issued_at", doc.IssuedAt, "previous_seq", held)
	if d.Accept != nil {
		d.Accept(doc)
	}
	return nil
}

func (d *Downloader) heldSeq(ctx context.Context, key string) (uint64, error) {
	s, ok, err := d.State.GetState(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("read seq held: %w", err)
	}
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("state %s: %w", key, err)
	}
	return n, nil
}

func (d *Downloader) rememberETag(k Kind, etag string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.etags[k] = etag
}

func (d *Downloader) checked(k Kind, seq uint64, changed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.status[k]
	st.LastCheck = time.Now()
	if seq != 0 {
		st.Seq = seq
	}
	if changed {
		st.LastChange = st.LastCheck
	}
	d.status[k] = st
}

func (d *Downloader) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// WriteFile writes a file whole or not at all, durably (see
// atomicfile.Write); the kiosk command's files go through it too.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm)
}
