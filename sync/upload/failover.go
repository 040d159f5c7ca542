package upload

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// A kiosk may know several upstream base URLs: the replicas of one agency,
// reached without a load balancer (a small office has none). They share
// one CA and one database, so the same client (mutual TLS, pinned CA) talks
// to each, and a batch sent again to another replica than the first try is
// stored once: the upstream is idempotent by record id and (kiosk, seq).
//
// The first URL is the preferred one. A request that fails with a network
// error or a 5xx moves the kiosk to the next URL for its following attempt
// (the backoff between attempts stays as it was), round the list; after
// RetryPrimary away from the first URL the kiosk tries it again, so that a
// fleet drifts back to its preferred replica once it has recovered.

// DefaultRetryPrimary is how long a kiosk that failed over stays away from
// its first upstream URL before trying it again.
const DefaultRetryPrimary = 5 * time.Minute

// endpoints is the list of upstream base URLs and the one in use. Its
// methods are safe for concurrent use: a drain has batches in flight
// beside a heartbeat.
type endpoints struct {
	urls         []string
	retryPrimary time.Duration
	log          func() *slog.Logger

	mu    sync.Mutex
	cur   int       // index in urls of the one in use
	since time.Time // when the kiosk left the first URL
}

// newEndpoints returns the endpoints of urls, or of the single url when
// urls is empty.
func newEndpoints(url string, urls []string, retryPrimary time.Duration, log func() *slog.Logger) *endpoints {
	if len(urls) == 0 {
		urls = []string{url}
	}
	if retryPrimary <= 0 {
		retryPrimary = DefaultRetryPrimary
	}
	return &endpoints{urls: append([]string(nil), urls...), retryPrimary: retryPrimary, log: log}
}

// pick returns the base URL for the next request, and its index to give
// failed: the URL in use, or the first again once the kiosk has been away
// from it for retryPrimary.
func (e *endpoints) pick() (string, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur != 0 && time.Since(e.since) >= e.retryPrimary {
		e.log().Info("trying the first upstream again", "from", e.urls[e.cur], "to", e.urls[0])
		e.cur = 0
	}
	return e.urls[e.cur], e.cur
}

// current returns the base URL in use.
func (e *endpoints) current() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.urls[e.cur]
}

// failed moves the kiosk on from URL i, which a request just failed on
// (failsOver said so), to the next. A failure at a URL the kiosk already
// left, such as the second batch in flight to a replica that went down,
// moves nothing: each replica is skipped once per failure, not once per
// request.
func (e *endpoints) failed(i int, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.urls) < 2 || i != e.cur {
		return
	}
	if e.cur == 0 {
		e.since = time.Now()
	}
	e.cur = (e.cur + 1) % len(e.urls)
	e.log().Warn("upstream failed over", "from", e.urls[i], "to", e.urls[e.cur], "err", err)
}

// failsOver reports whether a request that ended in err (an error from
// the client, or one reading the answer) or, without err, in status code,
// should move the kiosk to another URL: a network error or a server error,
// but not the end of ctx, the kiosk's own shutdown, and not an answer
// about the request (4xx), which another replica would give too.
func failsOver(ctx context.Context, err error, code int) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return !errors.Is(err, context.Canceled)
	}
	return code >= http.StatusInternalServerError
}
