// Package metrics is the kiosk's GET /metrics: Prometheus metrics for the
// people who keep a fleet of kiosks working.
//
// Two kinds of source feed it. The kiosk's status (ui.Status, the same one
// GET /api/v1/status returns) is read afresh on every scrape, so the
// metrics and the dashboard never disagree: queue depth, devices, service,
// upload, clock and lists. The views the check-in flow shows (Show, a
// kiosk.ViewSink) and its scan latencies (ObserveScan) are counted as they
// happen, on the flow's goroutine, with atomic counters that never make it
// wait.
//
// Nothing personal is exported: labels take their values from fixed sets
// (device states, reason codes), and a person's name, card or confirmation
// code never becomes a label or a value. Each Metrics has a registry of its
// own, so two daemons in one process (the tests) do not collide.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// DefaultStatusTimeout bounds each scrape's call of Config.Status, as the
// status endpoint bounds its own: a scrape must not hang on a busy
// database.
const DefaultStatusTimeout = 2 * time.Second

// Config is what the metrics read. Every field may be left zero.
type Config struct {
	// Status is the kiosk's status, the callback GET /api/v1/status uses
	// (ui.Config.Status). Nil: no status metrics, only what Show and
	// ObserveScan count.
	Status func(ctx context.Context) (ui.Status, error)
	// StatusTimeout bounds each call of Status. 0: DefaultStatusTimeout.
	StatusTimeout time.Duration
	// Now is the time ages are measured at. Nil: time.Now.
	Now func() time.Time
	// Log is told of scrapes that could not read everything. Nil: discarded.
	Log *slog.Logger
}

// Metrics holds the kiosk's metrics and serves them. It is a
// kiosk.ViewSink: add it to the flow's Sinks.
type Metrics struct {
	cfg     Config
	start   time.Time // ages of things not seen yet are counted from here
	reg     *prometheus.Registry
	handler http.Handler

	checkins *prometheus.CounterVec
	refusals *prometheus.CounterVec
	help     prometheus.Counter
	scan     prometheus.Histogram
}

var _ kiosk.ViewSink = (*Metrics)(nil)

// New returns the kiosk's metrics, registered on a registry of their own
// together with the Go runtime's and the process's (memory, CPU: the idle
// daemon has a budget).
func New(cfg Config) *Metrics {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StatusTimeout <= 0 {
		cfg.StatusTimeout = DefaultStatusTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		cfg:   cfg,
		start: cfg.Now(),
		reg:   prometheus.NewRegistry(),
		checkins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_checkins_total",
			Help: "Check-in screens entered, by outcome: checked_in (recorded, the success screen) or already (checked in earlier the same day).",
		}, []string{"outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_refusals_total",
			Help: "See-staff screens entered, by reason code (card_expired, card_revoked, person_denied, record_failed...; other for a code this version does not know). A screen updated in place (another language, more time) counts once.",
		}, []string{"reason"}),
		help: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kiosk_help_requests_total",
			Help: "Help screens entered: a person asked for a human.",
		}),
		scan: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kiosk_scan_to_screen_seconds",
			Help: "Time from a scan's last byte to the screen it led to.",
			// 0.1 ms to 1 s, dense around the 5 ms p99 target.
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
		}),
	}
	// Every series exists from the start, so rate() sees the first one.
	m.checkins.WithLabelValues(outcomeCheckedIn)
	m.checkins.WithLabelValues(outcomeAlready)
	for _, r := range refusalReasons {
		m.refusals.WithLabelValues(string(r))
	}
	m.reg.MustRegister(m.checkins, m.refusals, m.help, m.scan, &statusCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A status that cannot be read loses the status gauges of that
		// scrape, not the counters: those are the ones that cannot be
		// read again later.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      errorLog{cfg.Log},
		Registry:      m.reg, // promhttp_metric_handler_errors_total
	})
	return m
}

// Handler serves the metrics in the Prometheus text format (or OpenMetrics,
// as negotiated): mount it at GET /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// ObserveScan records how long a scan took from its last byte to the
// screen it led to. It never blocks: give it to kiosk.Flow.ScanLatency.
func (m *Metrics) ObserveScan(d time.Duration) { m.scan.Observe(d.Seconds()) }

// The outcomes of kiosk_checkins_total.
const (
	outcomeCheckedIn = string(kiosk.OutcomeCheckedIn)
	outcomeAlready   = string(kiosk.ScreenAlready)
)

// Show counts the screen v when it is entered: a success screen is a
// check-in, an already screen a repeat, a see_staff screen a refusal by its
// reason, a help screen a request for a human. The flow shows a screen
// again, with a new Rev, when it changes in place (a receipt printed, a
// language chosen, more time asked for): that is not a second check-in,
// and kiosk.View.Entered tells it apart.
//
// It is called on the flow's goroutine; the counters are safe for
// scrapes.
func (m *Metrics) Show(v kiosk.View) {
	if !v.Entered() {
		return
	}
	switch v.Screen {
	case kiosk.ScreenSuccess:
		m.checkins.WithLabelValues(outcomeCheckedIn).Inc()
	case kiosk.ScreenAlready:
		m.checkins.WithLabelValues(outcomeAlready).Inc()
	case kiosk.ScreenSeeStaff:
		m.refusals.WithLabelValues(reasonLabel(v.Reason, refusalReasons)).Inc()
	case kiosk.ScreenHelp:
		m.help.Inc()
	}
}

// refusalReasons are the reasons a see_staff screen gives. A label takes
// its value from a fixed set, never from a string as it comes: whatever a
// future reason holds, it cannot leak into the metrics.
var refusalReasons = []kiosk.Reason{
	kiosk.ReasonCardExpired, kiosk.ReasonCardNotYetValid, kiosk.ReasonCardRevoked,
	kiosk.ReasonCardUnknownIssuer, kiosk.ReasonCardBadSignature, kiosk.ReasonCardUnreadable,
	kiosk.ReasonCardWrongContext, kiosk.ReasonNotACard, kiosk.ReasonListsStale,
	kiosk.ReasonPersonDenied, kiosk.ReasonRecordFailed, kiosk.ReasonChallengeFailed,
}

// outOfServiceReasons are the reasons the kiosk gives for being out of
// service (ui.Service.Reason).
var outOfServiceReasons = []kiosk.Reason{
	kiosk.ReasonEnclosureOpen, kiosk.ReasonStorageLow, kiosk.ReasonRecordFailed, kiosk.ReasonScannerUnavailable,
}

// reasonOther is the label of a reason not in the set it is checked against.
const reasonOther = "other"

func reasonLabel(r kiosk.Reason, known []kiosk.Reason) string {
	if slices.Contains(known, r) {
		return string(r)
	}
	return reasonOther
}

// The status metrics, read on each scrape.
var (
	descStatusUp = prometheus.NewDesc("kiosk_status_up",
		"1 if this scrape read the kiosk's status (as GET /api/v1/status does); 0 if it failed, and the status metrics are missing from this scrape.", nil, nil)
	descPending = prometheus.NewDesc("kiosk_outbox_pending",
		"Check-ins recorded but not yet acknowledged upstream: the queue's depth.", nil, nil)
	descUploaded = prometheus.NewDesc("kiosk_outbox_uploaded_total",
		"Check-ins acknowledged upstream, ever.", nil, nil)
	descQuarantined = prometheus.NewDesc("kiosk_outbox_quarantined",
		"Check-ins the upstream rejected, set aside for staff.", nil, nil)
	descLastUpload = prometheus.NewDesc("kiosk_outbox_last_upload_timestamp_seconds",
		"When the upstream last acknowledged a check-in, in Unix seconds; 0: never.", nil, nil)
	descCommitFailed = prometheus.NewDesc("kiosk_outbox_commit_failed",
		"1 if the last commit of a check-in failed (disk full, I/O error), else 0.", nil, nil)
	descOldestPending = prometheus.NewDesc("kiosk_outbox_oldest_pending_age_seconds",
		"Age of the oldest check-in not yet acknowledged upstream; 0 when none is pending.", nil, nil)
	descDevice = prometheus.NewDesc("kiosk_device_state",
		"1 for each device's current state (ok, disconnected, fault, absent, none: not configured, unknown: not reported), 0 for the others.",
		[]string{"device", "state"}, nil)
	descInService = prometheus.NewDesc("kiosk_in_service",
		"1 if the kiosk can take check-ins, 0 if it is out of service (kiosk_out_of_service_reason says why).", nil, nil)
	descOutOfService = prometheus.NewDesc("kiosk_out_of_service_reason",
		"1 for the reason the kiosk is out of service (enclosure_open, storage_low, record_failed, scanner_unavailable, other), 0 for the others; all 0 in service.",
		[]string{"reason"}, nil)
	descUploadError = prometheus.NewDesc("kiosk_upload_last_error",
		"1 if the uploader's last attempt failed, else 0.", nil, nil)
	descUploadAttempt = prometheus.NewDesc("kiosk_upload_last_attempt_timestamp_seconds",
		"When the uploader last tried to reach the upstream, in Unix seconds; 0: never.", nil, nil)
	descUploadHeartbeat = prometheus.NewDesc("kiosk_upload_last_heartbeat_timestamp_seconds",
		"When the upstream last answered a heartbeat, in Unix seconds; 0: never.", nil, nil)
	descHeadState = prometheus.NewDesc("kiosk_upload_head_state",
		"1 for what the upstream last said of the kiosk's chain head (in_sync, behind, gaps, tail_deleted, fork; none: no answer yet; other: a word this version does not know), 0 for the others.",
		[]string{"state"}, nil)
	descBrowser = prometheus.NewDesc("kiosk_browser_heartbeat_age_seconds",
		"Seconds since the kiosk page last sent a heartbeat, or since the daemon started if it has sent none.", nil, nil)
	descClock = prometheus.NewDesc("kiosk_clock_state",
		"1 for the clock's current state (synced, unsynced, implausible, unknown), 0 for the others.", []string{"state"}, nil)
	descClockTrusted = prometheus.NewDesc("kiosk_clock_trusted_timestamp_seconds",
		"The last time the kiosk trusted, in Unix seconds; 0: none.", nil, nil)
	descTrustSeq = prometheus.NewDesc("kiosk_lists_trust_seq",
		"Sequence number of the signed trust list held; 0: none (development keys).", nil, nil)
	descRevocationsSeq = prometheus.NewDesc("kiosk_lists_revocations_seq",
		"Sequence number of the revocation list held; 0: none.", nil, nil)
	descRevocationsIssued = prometheus.NewDesc("kiosk_lists_revocations_issued_timestamp_seconds",
		"When the revocation list held was issued, in Unix seconds; 0: none.", nil, nil)
	descListsStale = prometheus.NewDesc("kiosk_lists_stale",
		"1 if the revocation list is too old to trust or missing (every card is sent to staff), else 0.", nil, nil)
	descSkippedKeys = prometheus.NewDesc("kiosk_lists_skipped_keys",
		"Keys of the trust list no card may be signed with: their issuers' cards are refused.", nil, nil)
)

// The enums' values, each exported as a 0/1 series so a change of state
// is a change of value, not a series that vanishes.
var (
	deviceStates = []ui.DeviceState{ui.DeviceOK, ui.DeviceDisconnected, ui.DeviceFault, ui.DeviceAbsent, ui.DeviceNone, ui.DeviceUnknown}
	clockStates  = []kiosk.ClockState{kiosk.ClockSynced, kiosk.ClockUnsynced, kiosk.ClockImplausible, clockUnknown}
)

const clockUnknown kiosk.ClockState = "unknown" // as ui.Clock reads ""

// statusCollector reads the status on each scrape.
type statusCollector struct{ m *Metrics }

var _ prometheus.Collector = (*statusCollector)(nil)

// Describe implements prometheus.Collector.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStatusUp, descPending, descUploaded, descQuarantined, descLastUpload,
		descCommitFailed, descOldestPending, descDevice, descInService, descOutOfService, descUploadError,
		descUploadAttempt, descUploadHeartbeat, descHeadState, descBrowser, descClock, descClockTrusted,
		descTrustSeq, descRevocationsSeq, descRevocationsIssued, descListsStale, descSkippedKeys} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A status it cannot read is an
// invalid metric, the registry's way to report a collector's error: the
// handler logs it, counts it in promhttp_metric_handler_errors_total and
// serves the rest, with kiosk_status_up 0. No status gauge is made up: a
// queue of 0 read from nothing would be a false all-clear.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	cfg := c.m.cfg
	now := cfg.Now()
	if cfg.Status == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StatusTimeout)
	st, err := cfg.Status(ctx)
	cancel()
	if err != nil {
		ch <- gauge(descStatusUp, 0)
		ch <- prometheus.NewInvalidMetric(descStatusUp, fmt.Errorf("status: %w", err))
		return
	}
	ch <- gauge(descStatusUp, 1)

	ch <- gauge(descPending, float64(st.Outbox.Pending))
	ch <- prometheus.MustNewConstMetric(descUploaded, prometheus.CounterValue, float64(st.Outbox.UploadedTotal))
	ch <- gauge(descQuarantined, float64(st.Outbox.Quarantined))
	ch <- gauge(descLastUpload, unix(st.Outbox.LastUpload))
	ch <- gauge(descCommitFailed, bit(st.Outbox.LastError != ""))
	oldest := 0.0 // none waiting
	if !st.Outbox.OldestPending.IsZero() {
		oldest = max(now.Sub(st.Outbox.OldestPending).Seconds(), 0)
	}
	ch <- gauge(descOldestPending, oldest)
	last := st.Browser.LastHeartbeat
	if last.IsZero() { // never: as old as the daemon, so a page that never came trips an alert
		last = c.m.start
	}
	ch <- gauge(descBrowser, max(now.Sub(last).Seconds(), 0))

	for _, d := range []struct {
		name string
		dev  ui.Device
	}{{"scanner", st.Scanner}, {"panel", st.Panel}, {"display", st.Display}, {"printer", st.Printer}} {
		state := d.dev.State
		if !slices.Contains(deviceStates, state) {
			state = ui.DeviceUnknown // "" and anything else: not ok
		}
		for _, s := range deviceStates {
			ch <- gauge(descDevice, bit(s == state), d.name, string(s))
		}
	}

	out := st.Service.State == ui.OutOfService
	ch <- gauge(descInService, bit(!out))
	reason := ""
	if out {
		reason = reasonLabel(st.Service.Reason, outOfServiceReasons)
	}
	for _, r := range outOfServiceReasons {
		ch <- gauge(descOutOfService, bit(reason == string(r)), string(r))
	}
	ch <- gauge(descOutOfService, bit(reason == reasonOther), reasonOther)

	ch <- gauge(descUploadError, bit(st.Upload.LastError != ""))
	ch <- gauge(descUploadAttempt, unix(st.Upload.LastAttempt))
	ch <- gauge(descUploadHeartbeat, unix(st.Upload.LastHeartbeat))
	head := headStateLabel(st.Upload.HeadState)
	for _, s := range headStates {
		ch <- gauge(descHeadState, bit(s == head), s)
	}

	clock := st.Clock.State
	if !slices.Contains(clockStates, clock) {
		clock = clockUnknown
	}
	for _, s := range clockStates {
		ch <- gauge(descClock, bit(s == clock), string(s))
	}
	ch <- gauge(descClockTrusted, unix(st.Clock.Trusted))

	ch <- gauge(descTrustSeq, float64(st.Lists.TrustSeq))
	ch <- gauge(descRevocationsSeq, float64(st.Lists.RevocationsSeq))
	ch <- gauge(descRevocationsIssued, unix(st.Lists.RevocationsIssuedAt))
	ch <- gauge(descListsStale, bit(st.Lists.Stale))
	ch <- gauge(descSkippedKeys, float64(st.Lists.SkippedKeys))
}

// headStates are what the upstream says of the kiosk's chain head
// (sync/API.md), and what the metric says before its first answer
// (none) or of a word it does not know (other). The word comes over the
// network, so it is taken only from this set.
var headStates = []string{wire.HeadInSync, wire.HeadBehind, wire.HeadGaps, wire.HeadTailDeleted, wire.HeadFork,
	headNone, reasonOther}

const headNone = "none"

func headStateLabel(s string) string {
	switch {
	case s == "":
		return headNone
	case s == headNone || !slices.Contains(headStates, s):
		return reasonOther
	}
	return s
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unix is t in Unix seconds, 0 for the zero time ("never").
func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// errorLog hands promhttp's errors (a status that could not be read) to
// the daemon's log.
type errorLog struct{ log *slog.Logger }

// Println implements promhttp.Logger.
func (l errorLog) Println(v ...any) {
	l.log.Warn("metrics scrape incomplete", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}
