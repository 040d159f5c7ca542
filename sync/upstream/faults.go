package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Faults injects the failures a kiosk must survive into the upstream's
// answers, each with its probability per request: the tests and `kiosk
// upstream --fault-…` use it to show that no check-in is lost or doubled by
// a hostile network. Enrollment, stats and health are never faulted: they
// are how a test looks at the result.
//
// A request draws once: with ErrorRate it is answered 500 without being
// handled; with ResetRate the connection breaks in the middle of a
// response, before the request is handled; with LostAckRate it is handled
// — a batch is committed — and the connection breaks before the answer;
// with TooManyRate it is answered 429 with Retry-After. The rates add up to
// at most 1. Independently, with LatencyRate, the request waits Latency
// first.
type Faults struct {
	ErrorRate   float64
	ResetRate   float64
	LostAckRate float64
	TooManyRate float64
	RetryAfter  time.Duration // of a 429; whole seconds, at least 1

	Latency     time.Duration
	LatencyRate float64

	// Seed makes the draws reproducible: the same seed and the same order
	// of requests give the same faults.
	Seed uint64

	// Sleep waits d or until ctx ends; nil: a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration)

	mu     sync.Mutex
	rng    *rand.Rand
	counts map[Fault]int64
}

// Fault names one kind of injected failure.
type Fault string

// The faults, as counted by Counts.
const (
	FaultNone    Fault = ""
	FaultError   Fault = "error"
	FaultReset   Fault = "reset"
	FaultLostAck Fault = "lost_ack"
	FaultTooMany Fault = "too_many"
	FaultLatency Fault = "latency"
)

// Check reports whether the rates make sense.
func (f *Faults) Check() error {
	for _, r := range []float64{f.ErrorRate, f.ResetRate, f.LostAckRate, f.TooManyRate, f.LatencyRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("fault rate %v is not within [0, 1]", r)
		}
	}
	sum := f.ErrorRate + f.ResetRate + f.LostAckRate + f.TooManyRate
	if sum > 1 {
		return fmt.Errorf("fault rates add up to %v, more than 1", sum)
	}
	if f.Latency < 0 || f.RetryAfter < 0 {
		return errors.New("fault durations must not be negative")
	}
	return nil
}

// Enabled reports whether f injects anything.
func (f *Faults) Enabled() bool {
	return f != nil && (f.ErrorRate > 0 || f.ResetRate > 0 || f.LostAckRate > 0 || f.TooManyRate > 0 ||
		f.LatencyRate > 0 && f.Latency > 0)
}

// draw picks the fault of one request and whether it waits first.
func (f *Faults) draw() (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng == nil {
		f.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	}
	x, y := f.rng.Float64(), f.rng.Float64()
	slow := y < f.LatencyRate && f.Latency > 0
	for _, c := range []struct {
		rate  float64
		fault Fault
	}{{f.ErrorRate, FaultError}, {f.ResetRate, FaultReset}, {f.LostAckRate, FaultLostAck}, {f.TooManyRate, FaultTooMany}} {
		if x < c.rate {
			return c.fault, slow
		}
		x -= c.rate
	}
	return FaultNone, slow
}

func (f *Faults) count(k Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[Fault]int64{}
	}
	f.counts[k]++
}

// Counts returns how many requests got each fault so far.
func (f *Faults) Counts() map[Fault]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[Fault]int64, len(f.counts))
	for k, v := range f.counts {
		m[k] = v
	}
	return m
}

// faulted reports whether requests to path may be faulted.
func faulted(path string) bool {
	switch path {
	case wire.PathEnroll, wire.PathStats, wire.PathHealth:
		return false
	}
	return strings.HasPrefix(path, "/v1/")
}

// Wrap returns h with f's faults injected. A nil or disabled f returns h.
func (f *Faults) Wrap(h http.Handler) http.Handler {
	if !f.Enabled() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !faulted(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		fault, slow := f.draw()
		if slow {
			f.count(FaultLatency)
			f.sleep(r.Context(), f.Latency)
		}
		if fault != FaultNone {
			f.count(fault)
		}
		switch fault {
		case FaultError:
			writeError(w, http.StatusInternalServerError, "injected fault")
		case FaultTooMany:
			secs := max(int64(f.RetryAfter/time.Second), 1)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			writeError(w, http.StatusTooManyRequests, "injected fault")
		case FaultReset:
			// Half an answer, then the connection breaks: the request was
			// not handled.
			w.Header().Set("Content-Type", wire.ContentType)
			w.Header().Set("Content-Length", "4096")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"results":[{"id":"`))
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			abort(w)
		case FaultLostAck:
			// Handled in full — a batch is committed — but the answer
			// never leaves: the kiosk must send it again and get
			// "duplicate".
			h.ServeHTTP(&discardWriter{header: http.Header{}}, r)
			abort(w)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// abort breaks the connection under w: with HTTP/1 it is hijacked and
// closed with a TCP reset; otherwise (HTTP/2) the handler aborts, which
// resets the stream.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		if tc, ok := nc.NetConn().(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	} else if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func (f *Faults) sleep(ctx context.Context, d time.Duration) {
	if f.Sleep != nil {
		f.Sleep(ctx, d)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// discardWriter takes a response nobody will read.
type discardWriter struct {
	header http.Header
	body   bytes.Buffer
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return d.body.Write(b) }
func (d *discardWriter) WriteHeader(int)             {}
