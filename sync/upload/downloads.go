package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// paths are where the upstream serves each kind of list (sync/API.md,
// "Downloads").
var paths = map[trust.Kind]string{
	trust.KindTrustList:   wire.PathTrustList,
	trust.KindRevocations: wire.PathRevocations,
	trust.KindRoster:      wire.PathRoster,
	trust.KindNotices:     wire.PathNotices,
}

// DefaultDownloadInterval is how often a Downloader polls.
const DefaultDownloadInterval = 5 * time.Minute

// Acceptor verifies a downloaded list and, if it is new, keeps it and puts
// it to use. *trust.Lists is one.
type Acceptor interface {
	// Accept returns the list's seq and whether it was new (false: the
	// edition held already); an error if it was refused or not kept.
	Accept(ctx context.Context, k trust.Kind, data []byte) (seq uint64, changed bool, err error)
}

// Downloader keeps the kiosk's signed lists up to date: it polls the
// upstream for each kind, with If-None-Match, and hands what it gets to
// Lists, which verifies it against the root key before anything else is
// done with it, refuses a rollback, and keeps and uses a new one. The
// Downloader is transport only: it trusts nothing it fetches. Set the
// fields, then call Run once.
type Downloader struct {
	URL string
	// URLs, if not empty, replaces URL, and RetryPrimary (0:
	// DefaultRetryPrimary) says when to try the first again: failover as
	// the Uploader's.
	URLs         []string
	RetryPrimary time.Duration

	Client   *http.Client  // nil: a client with timeouts (plain HTTP or system roots: tests only)
	Lists    Acceptor      // verifies, keeps and uses each list fetched
	Kinds    []trust.Kind  // nil: trust.Kinds
	Interval time.Duration // 0: DefaultDownloadInterval
	Log      *slog.Logger  // nil: discard

	once   sync.Once
	kick   chan struct{}
	polled chan struct{} // closed when Run's first poll ends
	ep     *endpoints    // URL or URLs, and the one in use

	mu     sync.Mutex
	etags  map[trust.Kind]string
	status map[trust.Kind]DownloadStatus
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
		d.polled = make(chan struct{})
		d.etags = map[trust.Kind]string{}
		d.status = map[trust.Kind]DownloadStatus{}
		d.ep = newEndpoints(d.URL, d.URLs, d.RetryPrimary, d.log)
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
func (d *Downloader) Status() map[trust.Kind]DownloadStatus {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[trust.Kind]DownloadStatus, len(d.status))
	for k, v := range d.status {
		m[k] = v
	}
	return m
}

// Polled returns a channel closed once Run's first poll has ended: each
// kind fetched (or failed, which Run logs) once. A kiosk that starts with
// its upstream at hand (the demo's, in process) waits on it to show what
// the upstream has from the first scan on.
func (d *Downloader) Polled() <-chan struct{} {
	d.init()
	return d.polled
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
	for first := true; ; first = false {
		if err := d.Poll(ctx); err != nil && ctx.Err() == nil {
			d.log().Warn("download failed", "err", err)
		}
		if first {
			close(d.polled)
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
		kinds = trust.Kinds
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
			errs = append(errs, fmt.Errorf("%s: %w", k.Label(), err))
		} else {
			st.LastError = ""
		}
		d.status[k] = st
		d.mu.Unlock()
	}
	return errors.Join(errs...)
}

// fetch gets one list and hands it to d.Lists.
func (d *Downloader) fetch(ctx context.Context, client *http.Client, k trust.Kind) error {
	path, ok := paths[k]
	if !ok {
		return fmt.Errorf("unknown list kind %q", k)
	}
	rctx, cancel := context.WithTimeout(ctx, DefaultRequestTimeout)
	defer cancel()
	base, at := d.ep.pick()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return err
	}
	d.mu.Lock()
	etag := d.etags[k]
	d.mu.Unlock()
	if etag != "" {
		// The replicas serve the same files, so the same ETags.
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := client.Do(req)
	if err != nil {
		err = fmt.Errorf("get: %w", err)
		if failsOver(ctx, err, 0) {
			d.ep.failed(at, err)
		}
		return err
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
		err := fmt.Errorf("get: %d %s %s", se.code, http.StatusText(se.code), se.msg)
		if failsOver(ctx, nil, se.code) {
			d.ep.failed(at, err)
		}
		return err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, trust.MaxDocumentLen+1))
	if err != nil {
		err = fmt.Errorf("get: %w", err)
		if failsOver(ctx, err, 0) {
			d.ep.failed(at, err)
		}
		return err
	}
	if len(data) > trust.MaxDocumentLen {
		return fmt.Errorf("get: document larger than %d bytes", trust.MaxDocumentLen)
	}
	// Its ETag is remembered only once the list is accepted: one refused
	// is fetched (and refused) again, and one not kept is fetched again.
	seq, changed, err := d.Lists.Accept(ctx, k, data)
	if err != nil {
		return err
	}
	d.rememberETag(k, resp.Header.Get("ETag"))
	d.checked(k, seq, changed)
	if changed {
		d.log().Info("document accepted", "kind", string(k), "seq", seq)
	}
	return nil
}

func (d *Downloader) rememberETag(k trust.Kind, etag string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.etags[k] = etag
}

func (d *Downloader) checked(k trust.Kind, seq uint64, changed bool) {
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
