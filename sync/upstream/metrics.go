package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Metrics (sync/API.md, "Operators"): GET /metrics serves, in the
// Prometheus text format, the records stored and rejected, the batch
// latency, each kiosk's heartbeat age, and this replica's and its
// database's health. It is served behind the admin token on the API's
// own listener, not on a listener of its own: a replica has one port to
// open and one TLS setup, and Prometheus sends a bearer token
// (authorization.credentials_file) and pins a CA (tls_config.ca_file) as
// well as anyone. The registry is the server's own, not the global one:
// two servers in one process (tests, the demo) count apart.
//
// Label values are fixed sets — statuses, rejection reasons, HTTP codes —
// but for the kiosk id of the heartbeat age, which is not personal data
// and is bounded by the kiosks enrolled.

// scrapeTimeout bounds the store queries a scrape makes.
const scrapeTimeout = 5 * time.Second

// rejectReasons are the reason label values of records_rejected: the
// reasons of sync/API.md, and "other" for any the server might answer
// later, so that no value comes from a request.
var rejectReasons = []string{
	wire.ReasonMalformed, wire.ReasonBadID, wire.ReasonKioskMismatch, wire.ReasonBadSeq, wire.ReasonBadTime,
	wire.ReasonBadField, wire.ReasonBadSignature, wire.ReasonUnsealable, wire.ReasonChainBroken, wire.ReasonFork,
	wire.ReasonIDConflict, wire.ReasonSeqConflict, "other",
}

// serverMetrics are a server's metrics and their registry.
type serverMetrics struct {
	reg       *prometheus.Registry
	stored    *prometheus.CounterVec   // status: accepted, duplicate
	rejected  *prometheus.CounterVec   // reason
	batchTime *prometheus.HistogramVec // code
}

// metrics returns the server's metrics, made on first use.
func (s *Server) metrics() *serverMetrics {
	s.ops.once.Do(func() { s.ops.metrics = newServerMetrics(s) })
	return s.ops.metrics
}

func newServerMetrics(s *Server) *serverMetrics {
	m := &serverMetrics{
		reg: prometheus.NewRegistry(),
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_upstream_records_total",
			Help: "Records answered accepted (stored now) or duplicate (held already), by this replica.",
		}, []string{"status"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_upstream_records_rejected_total",
			Help: "Records answered rejected by this replica, by reason.",
		}, []string{"reason"}),
		batchTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kiosk_upstream_batch_seconds",
			Help: "Time to handle a POST of a batch, from its headers to its answer, by HTTP status code.",
			// From a small batch on a quiet replica to one waiting its
			// turn behind a kiosk's earlier batch (up to 2 s) on a busy one.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"code"}),
	}
	// Every label value appears from the first scrape, at 0: a rate over
	// a series that starts at its first event misses that event.
	for _, st := range []string{wire.StatusAccepted, wire.StatusDuplicate} {
		m.stored.WithLabelValues(st)
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	m.reg.MustRegister(m.stored, m.rejected, m.batchTime,
		&fleetCollector{s: s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// handler serves the registry.
func (m *serverMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observeBatches wraps the handler of POST /v1/checkins: it times each
// batch and counts its records by the answer's statuses and reasons, read
// back from the answer itself, so that the handler has nothing to report.
func (s *Server) observeBatches(h http.Handler) http.Handler {
	m := s.metrics()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &answerRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		m.batchTime.WithLabelValues(strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
		if rec.code != http.StatusOK {
			return
		}
		var res wire.BatchResult
		if json.Unmarshal(rec.body.Bytes(), &res) != nil {
			return
		}
		var accepted, duplicate float64
		for _, it := range res.Results {
			switch it.Status {
			case wire.StatusAccepted:
				accepted++
			case wire.StatusDuplicate:
				duplicate++
			default:
				m.rejected.WithLabelValues(knownReason(it.Reason)).Inc()
			}
		}
		m.stored.WithLabelValues(wire.StatusAccepted).Add(accepted)
		m.stored.WithLabelValues(wire.StatusDuplicate).Add(duplicate)
	})
}

// knownReason returns reason if it is one of rejectReasons, else "other".
func knownReason(reason string) string {
	for _, r := range rejectReasons {
		if r == reason {
			return r
		}
	}
	return "other"
}

// answerRecorder passes an answer on and keeps its status and body.
type answerRecorder struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (a *answerRecorder) WriteHeader(code int) {
	a.code = code
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	a.body.Write(b)
	return a.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (a *answerRecorder) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// fleetCollector reads the store at each scrape: each kiosk's heartbeat
// age, and whether the store answers.
type fleetCollector struct{ s *Server }

var (
	heartbeatAgeDesc = prometheus.NewDesc("kiosk_upstream_heartbeat_age_seconds",
		"Seconds since the kiosk's last heartbeat reached any replica; kiosks never heard from are absent.",
		[]string{"kiosk_id"}, nil)
	storeUpDesc = prometheus.NewDesc("kiosk_upstream_store_up",
		"1 if this replica's store answered a ping at this scrape, else 0.", nil, nil)
	storePingDesc = prometheus.NewDesc("kiosk_upstream_store_ping_seconds",
		"Time the store took to answer a ping at this scrape.", nil, nil)
	replicaDesc = prometheus.NewDesc("kiosk_upstream_replica_info",
		"Always 1; names the replica (its host name) that answered the scrape.", []string{"replica"}, nil)
)

// Describe sends the descriptions of the metrics.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- heartbeatAgeDesc
	ch <- storeUpDesc
	ch <- storePingDesc
	ch <- replicaDesc
}

// Collect pings the store and reads the kiosks' heartbeats.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	ch <- prometheus.MustNewConstMetric(replicaDesc, prometheus.GaugeValue, 1, host)

	start := time.Now()
	up := 1.0
	if err := c.s.store.Ping(ctx); err != nil {
		c.s.log.Error("metrics: ping store", "err", err)
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(storePingDesc, prometheus.GaugeValue, time.Since(start).Seconds())
	ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, up)
	if up == 0 {
		return
	}
	beats, err := c.s.store.Beats(ctx)
	if err != nil {
		c.s.log.Error("metrics: heartbeats", "err", err)
		return
	}
	now := c.s.now()
	for _, b := range beats {
		if b.Last == nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(heartbeatAgeDesc, prometheus.GaugeValue,
			now.Sub(b.Last.Received).Seconds(), b.KioskID)
	}
}
