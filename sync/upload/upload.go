// Package upload drains the outbox to the upstream: it sends pending
// check-ins in batches to the upload API (sync/API.md) and marks them
// uploaded once the upstream holds them.
//
// The API is idempotent by record id and by (kiosk, seq), so a batch whose
// answer was lost is simply sent again: at least once on the wire, exactly
// once upstream. Run does the work (a drain is a pipeline of goroutines of
// its own, see drain); Status and Kick may be called from any goroutine.
package upload

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/liveness"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Source is the outbox as the uploader sees it. *outbox.Store is one.
type Source interface {
	// PendingAfter returns up to limit unacknowledged records with a seq
	// above seq (0: all), oldest first.
	PendingAfter(ctx context.Context, seq uint64, limit int) ([]wire.Record, error)
	// Ack marks records uploaded.
	Ack(ctx context.Context, ids []string, at time.Time) error
	// Changed signals (at most one signal buffered) after a commit.
	Changed() <-chan struct{}
}

// HeadSource gives the outbox's signed chain head, sent as a heartbeat.
// *outbox.Store is one.
type HeadSource interface {
	Head(ctx context.Context) (wire.Head, error)
}

// Quarantiner marks a record the upstream rejected, durably: the outbox no
// longer offers it as pending, and staff see it counted. *outbox.Store is
// one.
type Quarantiner interface {
	Quarantine(ctx context.Context, id, reason string) error
}

// Defaults of the Uploader's fields.
const (
	DefaultMinBackoff        = 500 * time.Millisecond
	DefaultMaxBackoff        = 30 * time.Second
	DefaultPollInterval      = 30 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
	DefaultHeartbeatInterval = 60 * time.Second
)

const (
	// maxRetryAfter bounds the wait a server's Retry-After can impose.
	maxRetryAfter = 15 * time.Minute
	// maxResponseBytes bounds the body read from the upstream.
	maxResponseBytes = 4 << 20
)

// Uploader drains Store to the upstream at URL, or at the first of URLs
// that answers. Set the fields, then call Run once (Kick and Status may
// come before); do not change them while it runs.
type Uploader struct {
	Store Source
	URL   string // base URL of the upstream, e.g. "https://upstream.example"
	// URLs, if not empty, replaces URL: the base URLs of the agency's
	// upstream replicas, the preferred first. A request that fails with a
	// network error or a 5xx moves the next attempt to the next URL; after
	// RetryPrimary (0: DefaultRetryPrimary) the first is tried again. One
	// Client serves them all: the same pinned CA, the same device.
	URLs         []string
	RetryPrimary time.Duration
	Client       *http.Client  // nil: a client with timeouts
	Log          *slog.Logger  // nil: discard
	BatchSize    int           // records per request; 0 (or more than wire.MaxBatch): wire.MaxBatch
	MinBackoff   time.Duration // 0: DefaultMinBackoff
	MaxBackoff   time.Duration // 0: DefaultMaxBackoff
	PollInterval time.Duration // 0: DefaultPollInterval; a retry even without a commit

	// RequestTimeout bounds each request, from sending to reading the
	// answer. 0: DefaultRequestTimeout.
	RequestTimeout time.Duration

	// Liveness, if set, is Busy while Run drains and heartbeats (renewed
	// at each batch answered) and Idle while it waits: the daemon's
	// watchdog stops pinging when a drain stops making progress. Its
	// limit must exceed LivenessLimit(RequestTimeout).
	Liveness *liveness.Loop

	// Heads, if set, gives the chain head sent to the upstream as a
	// heartbeat every HeartbeatInterval (0: DefaultHeartbeatInterval) and
	// after each drain that uploaded records and left none pending. Not
	// after one that failed: a batch after the one that failed may be held,
	// and the head would show the upstream a gap the retry fills.
	Heads             HeadSource
	HeartbeatInterval time.Duration

	// Quarantine, if set, marks rejected records durably. Without it they
	// are skipped until the process restarts.
	Quarantine Quarantiner

	once sync.Once
	kick chan struct{}
	ep   *endpoints // URL or URLs, and the one in use

	mu     sync.Mutex
	status Status

	// The ids the upstream rejected. They are quarantined in the outbox
	// (Quarantine); should that fail, or without a Quarantiner, they stay
	// pending there but are not sent again by this process, so they cannot
	// block the records behind them. Rejections are rare: the set stays
	// small. Written by a drain's marking stage, read between drains.
	rejected map[string]bool
}

// Status is what the uploader has done lately.
type Status struct {
	LastAttempt time.Time // when a batch was last sent
	LastSuccess time.Time // when the upstream last answered a batch
	LastError   string    // why the last round failed; "" once a round succeeds
	Upstream    string    // the base URL in use (Uploader.URLs)
	Uploaded    int64     // records this process had acknowledged
	Quarantined int64     // records the upstream rejected, set aside by this process

	LastHeartbeat  time.Time // when the upstream last answered a heartbeat
	HeadState      string    // its answer: a wire.Head* state
	HeartbeatError string    // why the last heartbeat failed; "" once one succeeds
}

// Status returns the uploader's status. It is safe to call from any goroutine.
func (u *Uploader) Status() Status {
	u.init()
	u.mu.Lock()
	st := u.status
	u.mu.Unlock()
	st.Upstream = u.ep.current()
	return st
}

// Kick makes the uploader try now: it ends a backoff or an idle wait. It
// never blocks.
func (u *Uploader) Kick() {
	u.init()
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

func (u *Uploader) init() {
	u.once.Do(func() {
		u.kick = make(chan struct{}, 1)
		u.rejected = map[string]bool{}
		u.ep = newEndpoints(u.URL, u.URLs, u.RetryPrimary, u.log)
	})
}

// Run uploads until ctx ends, then returns nil. It drains the outbox, waits
// for a commit, a Kick or the poll interval, and drains again; after a
// failure it backs off (full-jitter exponential, or the server's
// Retry-After) before trying again.
func (u *Uploader) Run(ctx context.Context) error {
	u.init()
	client := u.Client
	if client == nil {
		client = defaultClient()
	}
	// A connection left idle, or dialled for a request cancelled at
	// shutdown, would keep the upstream's graceful shutdown waiting.
	defer client.CloseIdleConnections()
	failures := 0
	var nextBeat time.Time // the zero time: a heartbeat is due at once
	for {
		u.Liveness.Busy()
		n, err := u.drain(ctx, client)
		if ctx.Err() != nil {
			return nil
		}
		if u.Heads != nil && (n > 0 && err == nil || !time.Now().Before(nextBeat)) {
			u.heartbeat(ctx, client)
			nextBeat = time.Now().Add(u.heartbeatInterval())
		}
		if err != nil {
			failures++
			wait := u.backoff(failures)
			if se, ok := errors.AsType[*statusError](err); ok && se.retryAfter > wait {
				// Not before the server said; a "Retry-After: 0" still
				// gets the jittered backoff, never a tight loop.
				wait = se.retryAfter
			}
			u.setError(err)
			level := slog.LevelDebug
			if failures == 1 {
				level = slog.LevelWarn
			}
			u.log().Log(ctx, level, "upload failed", "err", err, "failures", failures, "retry_in", wait)
			u.Liveness.Idle()
			if !u.sleep(ctx, wait, nil) {
				return nil
			}
			continue
		}
		if failures > 0 {
			u.log().Info("upload recovered", "failures", failures)
			failures = 0
		}
		u.setError(nil)
		if n > 0 {
			u.log().Info("uploaded", "records", n)
		}
		wait := u.pollInterval()
		if u.Heads != nil {
			wait = min(wait, max(time.Until(nextBeat), 0))
		}
		u.Liveness.Idle()
		if !u.sleep(ctx, wait, u.Store.Changed()) {
			return nil
		}
	}
}

// LivenessLimit is how long Run may go without progress before its
// Liveness calls it stuck, for requests bounded by requestTimeout (0: the
// default): a batch's answer, or a heartbeat's, may take a request's
// time, and the outbox's reads and marks between them take a little.
func LivenessLimit(requestTimeout time.Duration) time.Duration {
	return 2*cmp.Or(requestTimeout, DefaultRequestTimeout) + 30*time.Second
}

// sleep waits for d, a Kick, a signal on changed (nil: none) or the end of
// ctx, and reports whether ctx is still live.
func (u *Uploader) sleep(ctx context.Context, d time.Duration, changed <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-u.kick:
	case <-changed:
	}
	return true
}

// inFlight is how many batches drain keeps in flight: while the upstream
// stores one, it checks the next.
const inFlight = 2

// drain sends pending records until none is left but those rejected, and
// returns how many the upstream now holds.
//
// It is a pipeline of three stages, each on its own goroutine, so that the
// kiosk's share of the work hides behind the upstream's: one reads batches
// from the outbox in seq order and encodes them; one keeps inFlight of them
// in flight and takes the answers in the order sent; one marks the answered
// records uploaded (all the answers waiting, in one transaction) and sets
// the rejected ones aside. A record is marked uploaded only once the
// upstream answered for it. An upstream may store the batches in flight
// out of order (sync/API.md; the reference one waits to store them in
// order). After a failure drain sends nothing more,
// takes the answers still due, marks what they hold, and returns the error:
// the next drain starts again from the oldest record not acknowledged.
func (u *Uploader) drain(ctx context.Context, client *http.Client) (int, error) {
	size := u.BatchSize
	if size <= 0 || size > wire.MaxBatch {
		size = wire.MaxBatch
	}
	fetchCtx, stopFetching := context.WithCancel(ctx)
	defer stopFetching()
	// Records set aside by this process before this drain (their
	// quarantine failed): the stage that marks records changes u.rejected
	// while the one that reads batches runs.
	skip := maps.Clone(u.rejected)

	batches := make(chan fetched, 1)
	go func() {
		defer close(batches)
		var after uint64
		for {
			f := u.fetch(fetchCtx, after, size, skip)
			if f.err == nil && len(f.batch) == 0 {
				return
			}
			select {
			case batches <- f:
			case <-fetchCtx.Done():
				return
			}
			if f.err != nil {
				return
			}
			after = f.batch[len(f.batch)-1].Seq
		}
	}()

	answers := make(chan answered, inFlight)
	marked := make(chan settled, 1)
	go func() { marked <- u.markAnswered(ctx, answers) }()

	type flight struct {
		batch []wire.Record
		done  chan posted
	}
	var (
		queue   []flight
		more    = true
		failure error
	)
	for {
		for more && failure == nil && len(queue) < inFlight {
			f, ok := <-batches
			switch {
			case !ok:
				more = false
			case f.err != nil:
				failure = f.err
			default:
				done := make(chan posted, 1)
				go func() {
					results, err := u.post(ctx, client, f.body)
					done <- posted{results, err}
				}()
				queue = append(queue, flight{f.batch, done})
			}
		}
		if len(queue) == 0 {
			break
		}
		fl := queue[0]
		queue = queue[1:]
		p := <-fl.done
		u.Liveness.Busy() // a batch answered: progress
		if p.err != nil {
			failure = cmp.Or(failure, p.err)
			continue
		}
		acks, rejected, protoErr := u.sortResults(fl.batch, p.results)
		answers <- answered{acks, rejected}
		failure = cmp.Or(failure, protoErr)
	}
	close(answers)
	stopFetching()
	for range batches { // let the reading stage end
	}
	m := <-marked
	return m.n, cmp.Or(failure, m.err)
}

// fetched is a batch read from the outbox and encoded, or why it could not be.
type fetched struct {
	batch []wire.Record
	body  []byte
	err   error
}

// fetch reads and encodes the next batch of up to size records after seq,
// skipping the records in skip.
func (u *Uploader) fetch(ctx context.Context, seq uint64, size int, skip map[string]bool) fetched {
	// Ask for enough to fill a batch past the records skipped.
	recs, err := u.Store.PendingAfter(ctx, seq, size+len(skip))
	if err != nil {
		return fetched{err: fmt.Errorf("read outbox: %w", err)}
	}
	batch := nextBatch(recs, size, skip)
	if len(batch) == 0 {
		return fetched{}
	}
	body, err := wire.MarshalBatch(wire.Batch{KioskID: batch[0].KioskID, Records: batch})
	return fetched{batch: batch, body: body, err: err}
}

// posted is the upstream's answer to a batch.
type posted struct {
	results []wire.ItemResult
	err     error
}

// answered is what the upstream answered for a batch: the ids it holds and
// the records it rejected.
type answered struct {
	acks     []string
	rejected []wire.ItemResult
}

// settled is what markAnswered did: how many records it marked uploaded,
// and why it stopped marking, if it did.
type settled struct {
	n   int
	err error
}

// markAnswered sets the rejected records aside and marks the others
// uploaded, for each answer until answers closes. The answers waiting when
// it gets to them are marked together, in one transaction. After a
// failure to mark, it takes the rest of the answers without marking them.
func (u *Uploader) markAnswered(ctx context.Context, answers <-chan answered) settled {
	var s settled
	for a := range answers {
		acks := a.acks
		u.quarantine(ctx, a.rejected)
	more:
		for {
			select {
			case b, ok := <-answers:
				if !ok {
					break more
				}
				u.quarantine(ctx, b.rejected)
				acks = append(acks, b.acks...)
			default:
				break more
			}
		}
		if s.err != nil || len(acks) == 0 {
			continue
		}
		// The upstream holds them now; a shutdown must not undo that
		// bookkeeping (it would only cost a resend).
		if err := u.Store.Ack(context.WithoutCancel(ctx), acks, time.Now()); err != nil {
			s.err = fmt.Errorf("ack: %w", err)
			continue
		}
		s.n += len(acks)
		u.mu.Lock()
		u.status.Uploaded += int64(len(acks))
		u.mu.Unlock()
	}
	return s
}

// nextBatch picks up to size records of recs to send: not in skip, and all
// of the first one's kiosk (a batch names one kiosk; the kiosk id changes
// only if the kiosk is re-provisioned).
func nextBatch(recs []wire.Record, size int, skip map[string]bool) []wire.Record {
	var batch []wire.Record
	for _, r := range recs {
		if skip[r.ID] {
			continue
		}
		if len(batch) > 0 && r.KioskID != batch[0].KioskID {
			break
		}
		batch = append(batch, r)
		if len(batch) == size {
			break
		}
	}
	return batch
}

// sortResults returns the ids to acknowledge and the rejected results. A
// result missing or unknown is a protocol error: that record is left
// pending and sent again after a backoff.
func (u *Uploader) sortResults(batch []wire.Record, results []wire.ItemResult) ([]string, []wire.ItemResult, error) {
	byID := make(map[string]wire.ItemResult, len(results))
	for _, r := range results {
		byID[r.ID] = r
	}
	var acks []string
	var rejected []wire.ItemResult
	var bad int
	for _, rec := range batch {
		r, ok := byID[rec.ID]
		switch {
		case !ok:
			bad++
		case r.Status == wire.StatusAccepted || r.Status == wire.StatusDuplicate:
			acks = append(acks, rec.ID)
		case r.Status == wire.StatusRejected:
			rejected = append(rejected, r)
			u.log().Error("record rejected by upstream", "id", rec.ID, "kiosk", rec.KioskID, "seq", rec.Seq, "reason", r.Reason)
		default:
			bad++
		}
	}
	if bad > 0 {
		return acks, rejected, fmt.Errorf("upstream answered %d of %d records with no known status", bad, len(batch))
	}
	return acks, rejected, nil
}

// quarantine sets the rejected records aside: durably in the outbox when it
// can, and in any case for the rest of this process, so they never block the
// records behind them.
func (u *Uploader) quarantine(ctx context.Context, rejected []wire.ItemResult) {
	for _, r := range rejected {
		u.rejected[r.ID] = true
		if u.Quarantine != nil {
			// Like an ack: bookkeeping a shutdown must not undo.
			if err := u.Quarantine.Quarantine(context.WithoutCancel(ctx), r.ID, r.Reason); err != nil {
				u.log().Error("quarantine", "id", r.ID, "err", err)
			}
		}
		u.mu.Lock()
		u.status.Quarantined++
		u.mu.Unlock()
	}
}

// post sends one encoded batch and returns the upstream's per-record
// results.
func (u *Uploader) post(ctx context.Context, client *http.Client, body []byte) ([]wire.ItemResult, error) {
	rctx, cancel := context.WithTimeout(ctx, u.requestTimeout())
	defer cancel()
	base, at := u.ep.pick()
	url := strings.TrimSuffix(base, "/") + wire.PathCheckIns
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", wire.BatchContentType)
	req.Header.Set("Accept", wire.ContentType)

	u.mu.Lock()
	u.status.LastAttempt = time.Now()
	u.mu.Unlock()
	resp, err := client.Do(req)
	if err != nil {
		err = fmt.Errorf("post batch: %w", err)
		if failsOver(ctx, err, 0) {
			u.ep.failed(at, err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	lr := io.LimitReader(resp.Body, maxResponseBytes)
	if resp.StatusCode != http.StatusOK {
		se := newStatusError(resp, lr)
		if failsOver(ctx, nil, se.code) {
			u.ep.failed(at, se)
		}
		return nil, se
	}
	var res wire.BatchResult
	if err := json.NewDecoder(lr).Decode(&res); err != nil {
		// A connection broken in the middle of the answer, most
		// likely: the batch may be stored, and is sent again.
		err = fmt.Errorf("post batch: read answer: %w", err)
		if failsOver(ctx, err, 0) {
			u.ep.failed(at, err)
		}
		return nil, err
	}
	u.mu.Lock()
	u.status.LastSuccess = time.Now()
	u.mu.Unlock()
	return res.Results, nil
}

// statusError is an answer other than 200.
type statusError struct {
	code       int
	msg        string
	retryAfter time.Duration // from Retry-After on 429 and 503; -1 if none
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("post batch: %d %s", e.code, http.StatusText(e.code))
	}
	return fmt.Sprintf("post batch: %d %s: %s", e.code, http.StatusText(e.code), e.msg)
}

func newStatusError(resp *http.Response, body io.Reader) *statusError {
	e := &statusError{code: resp.StatusCode, retryAfter: -1}
	var we wire.Error
	if json.NewDecoder(io.LimitReader(body, 4096)).Decode(&we) == nil {
		e.msg = we.Message
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		e.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return e
}

// parseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): seconds or
// an HTTP date. It returns -1 if there is none, and never more than
// maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 63); err == nil {
		d = time.Duration(min(secs, uint64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return -1
	}
	return min(d, maxRetryAfter)
}

// backoff returns the wait after the nth failure in a row: full jitter,
// uniform in [0, min(MaxBackoff, MinBackoff·2^(n-1))].
func (u *Uploader) backoff(n int) time.Duration {
	base, ceiling := u.MinBackoff, u.MaxBackoff
	if base <= 0 {
		base = DefaultMinBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxBackoff
	}
	d := ceiling
	if n-1 < 62 {
		if x := base << (n - 1); x > 0 && x < ceiling {
			d = x
		}
	}
	return rand.N(d + 1)
}

func (u *Uploader) pollInterval() time.Duration {
	if u.PollInterval <= 0 {
		return DefaultPollInterval
	}
	return u.PollInterval
}

func (u *Uploader) setError(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err == nil {
		u.status.LastError = ""
	} else {
		u.status.LastError = err.Error()
	}
}

func (u *Uploader) log() *slog.Logger {
	if u.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.Log
}

// defaultClient bounds every phase of a request, on top of the per-request
// context deadline.
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = DefaultRequestTimeout
	t.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: t, Timeout: 2 * DefaultRequestTimeout}
}
