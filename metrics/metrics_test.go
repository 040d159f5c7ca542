package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/metrics"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

var t0 = time.Date(2025, 11, 25, 19, 43, 0, 0, time.UTC)

// scrape GETs the handler's metrics over HTTP, as Prometheus does, and
// returns each sample by its series ("name{label=\"value\",...}", labels
// in the order the text format writes them: sorted by name) and each
// family's help text.
func scrape(t *testing.T, h http.Handler) (samples map[string]float64, help map[string]string, body string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %s; want 200", resp.Status)
	}
	var b strings.Builder
	samples, help = map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		b.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(rest, " ")
			help[name] = text
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	return samples, help, b.String()
}

// want checks samples against want; a NaN wants the series absent.
func want(t *testing.T, samples map[string]float64, want map[string]float64) {
	t.Helper()
	for series, w := range want {
		got, ok := samples[series]
		switch {
		case math.IsNaN(w) && ok:
			t.Errorf("%s = %v; want it absent", series, got)
		case math.IsNaN(w):
		case !ok:
			t.Errorf("%s missing", series)
		case math.Abs(got-w) > 1e-6:
			t.Errorf("%s = %v; want %v", series, got, w)
		}
	}
}

var absent = math.NaN()

// statusVar is a status the test changes between scrapes.
type statusVar struct {
	mu  sync.Mutex
	st  ui.Status
	err error
}

func (s *statusVar) set(st ui.Status, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st, s.err = st, err
}

func (s *statusVar) get(ctx context.Context) (ui.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st, s.err
}

func fullStatus() ui.Status {
	return ui.Status{
		Screen:  kiosk.ScreenIdle,
		Service: ui.Service{State: ui.InService},
		Scanner: ui.Device{Source: "sim", State: ui.DeviceOK},
		Panel:   ui.Device{Source: "gpio:gpiochip0", State: ui.DeviceFault, Error: "read line 17: input/output error"},
		Display: ui.Device{State: ui.DeviceNone},
		Printer: ui.Device{Source: "lp:/dev/usb/lp0", State: ui.DeviceDisconnected},
		Outbox: ui.Outbox{Pending: 7, UploadedTotal: 1234, Quarantined: 2,
			LastUpload: t0.Add(-time.Minute), OldestPending: t0.Add(-10 * time.Minute)},
		Browser: ui.BrowserState{State: ui.BrowserOK, LastHeartbeat: t0.Add(-3 * time.Second)},
		Upload: ui.Upload{LastAttempt: t0.Add(-30 * time.Second), LastError: "post batch: connection refused",
			LastHeartbeat: t0.Add(-2 * time.Minute), HeadState: "tail_deleted"},
		Clock: ui.Clock{State: kiosk.ClockImplausible, Trusted: t0.Add(-time.Hour)},
		Lists: ui.Lists{TrustSeq: 4, RevocationsSeq: 17, RevocationsIssuedAt: t0.Add(-12 * time.Hour),
			Stale: true, SkippedKeys: 1},
	}
}

// Each status gauge says what the status says, and every metric of ours
// has a help text.
func TestStatusGauges(t *testing.T) {
	var sv statusVar
	sv.set(fullStatus(), nil)
	m := metrics.New(metrics.Config{Status: sv.get, Now: func() time.Time { return t0 }})
	samples, help, _ := scrape(t, m.Handler())
	want(t, samples, map[string]float64{
		`kiosk_status_up`:                                           1,
		`kiosk_outbox_pending`:                                      7,
		`kiosk_outbox_uploaded_total`:                               1234,
		`kiosk_outbox_quarantined`:                                  2,
		`kiosk_outbox_last_upload_timestamp_seconds`:                float64(t0.Unix() - 60),
		`kiosk_outbox_commit_failed`:                                0,
		`kiosk_device_state{device="scanner",state="ok"}`:           1,
		`kiosk_device_state{device="scanner",state="fault"}`:        0,
		`kiosk_device_state{device="panel",state="fault"}`:          1,
		`kiosk_device_state{device="panel",state="ok"}`:             0,
		`kiosk_device_state{device="display",state="none"}`:         1,
		`kiosk_device_state{device="printer",state="disconnected"}`: 1,
		`kiosk_device_state{device="printer",state="absent"}`:       0,
		`kiosk_device_state{device="printer",state="unknown"}`:      0,
		`kiosk_in_service`:                                          1,
		`kiosk_out_of_service_reason{reason="storage_low"}`:         0,
		`kiosk_out_of_service_reason{reason="other"}`:               0,
		`kiosk_upload_last_error`:                                   1,
		`kiosk_upload_last_attempt_timestamp_seconds`:               float64(t0.Unix() - 30),
		`kiosk_upload_last_heartbeat_timestamp_seconds`:             float64(t0.Unix() - 120),
		`kiosk_upload_head_state{state="tail_deleted"}`:             1,
		`kiosk_upload_head_state{state="in_sync"}`:                  0,
		`kiosk_upload_head_state{state="none"}`:                     0,
		`kiosk_clock_state{state="implausible"}`:                    1,
		`kiosk_clock_state{state="synced"}`:                         0,
		`kiosk_clock_trusted_timestamp_seconds`:                     float64(t0.Unix() - 3600),
		`kiosk_lists_trust_seq`:                                     4,
		`kiosk_lists_revocations_seq`:                               17,
		`kiosk_lists_revocations_issued_timestamp_seconds`:          float64(t0.Unix() - 12*3600),
		`kiosk_lists_stale`:                                         1,
		`kiosk_lists_skipped_keys`:                                  1,
		// Not configured: not exported.
		`kiosk_browser_heartbeat_age_seconds`:     3,   // from the status
		`kiosk_outbox_oldest_pending_age_seconds`: 600, // from the status
	})
	n := 0
	for name := range samples {
		if !strings.HasPrefix(name, "kiosk_") {
			continue
		}
		n++
		family, _, _ := strings.Cut(name, "{")
		family = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(family, "_bucket"), "_sum"), "_count")
		if help[family] == "" {
			t.Errorf("%s has no help text", family)
		}
	}
	if n < 30 {
		t.Errorf("%d kiosk_ samples; want every status metric", n)
	}
}

// The "never" times read 0, and a status of empty states reads unknown,
// never ok.
func TestStatusZero(t *testing.T) {
	m := metrics.New(metrics.Config{Status: func(context.Context) (ui.Status, error) { return ui.Status{}, nil }})
	samples, _, _ := scrape(t, m.Handler())
	want(t, samples, map[string]float64{
		`kiosk_in_service`: 1, // "" reads as in_service, as on the status
		`kiosk_device_state{device="scanner",state="unknown"}`: 1,
		`kiosk_device_state{device="scanner",state="ok"}`:      0,
		`kiosk_clock_state{state="unknown"}`:                   1,
		`kiosk_upload_head_state{state="none"}`:                1,
		`kiosk_upload_last_attempt_timestamp_seconds`:          0,
		`kiosk_outbox_last_upload_timestamp_seconds`:           0,
		`kiosk_lists_revocations_issued_timestamp_seconds`:     0,
		`kiosk_upload_last_error`:                              0,
	})
}

// An enum gauge moves its 1 when the state changes; a state the metrics
// do not know reads unknown (or other), never ok and never as it came.
func TestEnumGaugesFlip(t *testing.T) {
	var sv statusVar
	m := metrics.New(metrics.Config{Status: sv.get})
	for _, tt := range []struct {
		name string
		st   ui.Status
		want map[string]float64
	}{
		{"in service", ui.Status{Scanner: ui.Device{State: ui.DeviceOK}, Upload: ui.Upload{HeadState: "in_sync"}}, map[string]float64{
			`kiosk_device_state{device="scanner",state="ok"}`:           1,
			`kiosk_device_state{device="scanner",state="disconnected"}`: 0,
			`kiosk_in_service`: 1,
			`kiosk_out_of_service_reason{reason="scanner_unavailable"}`: 0,
			`kiosk_upload_head_state{state="in_sync"}`:                  1,
			`kiosk_upload_head_state{state="fork"}`:                     0,
		}},
		{"scanner unplugged", ui.Status{
			Scanner: ui.Device{State: ui.DeviceDisconnected},
			Service: ui.Service{State: ui.OutOfService, Reason: kiosk.ReasonScannerUnavailable, Error: "scanner disconnected"},
			Upload:  ui.Upload{HeadState: "fork"},
		}, map[string]float64{
			`kiosk_device_state{device="scanner",state="ok"}`:           0,
			`kiosk_device_state{device="scanner",state="disconnected"}`: 1,
			`kiosk_in_service`: 0,
			`kiosk_out_of_service_reason{reason="scanner_unavailable"}`: 1,
			`kiosk_out_of_service_reason{reason="storage_low"}`:         0,
			`kiosk_upload_head_state{state="in_sync"}`:                  0,
			`kiosk_upload_head_state{state="fork"}`:                     1,
		}},
		{"words not known", ui.Status{
			Scanner: ui.Device{State: "smoking"},
			Service: ui.Service{State: ui.OutOfService, Reason: "maria_lopez"},
			Clock:   ui.Clock{State: "sundial"},
			Upload:  ui.Upload{HeadState: "maria lopez"},
		}, map[string]float64{
			`kiosk_device_state{device="scanner",state="unknown"}`: 1,
			`kiosk_device_state{device="scanner",state="smoking"}`: absent,
			`kiosk_in_service`: 0,
			`kiosk_out_of_service_reason{reason="other"}`:       1,
			`kiosk_out_of_service_reason{reason="maria_lopez"}`: absent,
			`kiosk_clock_state{state="unknown"}`:                1,
			`kiosk_upload_head_state{state="other"}`:            1,
			`kiosk_upload_head_state{state="maria lopez"}`:      absent,
		}},
	} {
		sv.set(tt.st, nil)
		samples, _, _ := scrape(t, m.Handler())
		t.Run(tt.name, func(t *testing.T) { want(t, samples, tt.want) })
	}
}

// The queue's age and the page's heartbeat age are measured at the
// scrape; a page that never sent one is as old as the daemon.
func TestAges(t *testing.T) {
	var mu sync.Mutex
	now, oldest, beat := t0, time.Time{}, time.Time{}
	at := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	m := metrics.New(metrics.Config{
		Now: func() (t time.Time) { at(func() { t = now }); return t },
		Status: func(context.Context) (st ui.Status, err error) {
			at(func() { st.Outbox.OldestPending, st.Browser.LastHeartbeat = oldest, beat })
			return st, nil
		},
	})
	at(func() { now = t0.Add(7 * time.Second) })
	samples, _, _ := scrape(t, m.Handler())
	want(t, samples, map[string]float64{
		`kiosk_browser_heartbeat_age_seconds`:     7,
		`kiosk_outbox_oldest_pending_age_seconds`: 0, // none waiting
	})
	at(func() { oldest, beat = t0.Add(-90*time.Second), t0.Add(5*time.Second) })
	samples, _, _ = scrape(t, m.Handler())
	want(t, samples, map[string]float64{
		`kiosk_browser_heartbeat_age_seconds`:     2,
		`kiosk_outbox_oldest_pending_age_seconds`: 97,
	})
}

// syncBuffer is a log the handler's goroutine writes and the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A status that cannot be read still answers the scrape: the counters, the
// histogram and kiosk_status_up 0, the error logged and counted the
// standard way, and no status gauge made up.
func TestStatusError(t *testing.T) {
	var sv statusVar
	sv.set(fullStatus(), errors.New("stats: database is locked"))
	var log syncBuffer
	m := metrics.New(metrics.Config{Status: sv.get, Log: slog.New(slog.NewTextHandler(&log, nil))})
	m.Show(kiosk.View{Rev: 1, Screen: kiosk.ScreenSuccess, Code: "K7Q4XZ"})
	samples, _, _ := scrape(t, m.Handler())
	want(t, samples, map[string]float64{
		`kiosk_status_up`: 0,
		`kiosk_checkins_total{outcome="checked_in"}`:      1,
		`kiosk_scan_to_screen_seconds_count`:              0,
		`kiosk_outbox_pending`:                            absent,
		`kiosk_outbox_oldest_pending_age_seconds`:         absent,
		`kiosk_in_service`:                                absent,
		`kiosk_device_state{device="scanner",state="ok"}`: absent,
	})
	logged := log.String()
	for _, w := range []string{"metrics scrape incomplete", "status: stats: database is locked"} {
		if !strings.Contains(logged, w) {
			t.Errorf("log = %q; want it to say %q", logged, w)
		}
	}

	// Readable again: the gauges are back, and the failed scrape counted
	// (promhttp counts it after that scrape's gathering).
	sv.set(fullStatus(), nil)
	samples, _, _ = scrape(t, m.Handler())
	want(t, samples, map[string]float64{`kiosk_status_up`: 1, `kiosk_outbox_pending`: 7,
		`promhttp_metric_handler_errors_total{cause="gathering"}`: 1})
}

// A screen counts once, when it is entered: the same success screen shown
// again as it changes in place (a new Rev) is not a second check-in.
func TestCountsEnteredScreens(t *testing.T) {
	success := func(code string) kiosk.View { return kiosk.View{Screen: kiosk.ScreenSuccess, Code: code} }
	refused := func(r kiosk.Reason) kiosk.View { return kiosk.View{Screen: kiosk.ScreenSeeStaff, Reason: r} }
	idle := kiosk.View{Screen: kiosk.ScreenIdle}
	confirm := kiosk.View{Screen: kiosk.ScreenConfirm, Name: "Maria Lopez"}
	with := func(v kiosk.View, f func(*kiosk.View)) kiosk.View { f(&v); return v }
	// again marks v as the screen before it, updated in place (the flow
	// keeps its Since); every other view is a screen entered.
	const inPlace = ^uint64(0)
	again := func(v kiosk.View) kiosk.View { v.Since = inPlace; return v }
	for _, tt := range []struct {
		name  string
		views []kiosk.View
		want  map[string]float64
	}{
		{"success updated in place", []kiosk.View{
			idle, confirm,
			with(success("AAA111"), func(v *kiosk.View) { v.Receipt = kiosk.ReceiptPrinting }),
			again(with(success("AAA111"), func(v *kiosk.View) { v.Receipt = kiosk.ReceiptPrinted })),
			again(with(success("AAA111"), func(v *kiosk.View) { v.Lang = "es"; v.Notice = "Ventanilla 3" })),
			again(with(success("AAA111"), func(v *kiosk.View) { v.Lang = "es"; v.Expires = t0.Add(time.Minute) })),
			idle,
		}, map[string]float64{
			`kiosk_checkins_total{outcome="checked_in"}`: 1,
			`kiosk_checkins_total{outcome="already"}`:    0,
		}},
		{"a household", []kiosk.View{
			confirm, success("AAA111"), idle, confirm, success("BBB222"), again(success("BBB222")),
			// Another person's success straight after: entered too.
			success("CCC333"),
		}, map[string]float64{
			`kiosk_checkins_total{outcome="checked_in"}`: 3,
		}},
		{"already", []kiosk.View{
			kiosk.View{Screen: kiosk.ScreenAlready, Code: "AAA111"},
			again(with(kiosk.View{Screen: kiosk.ScreenAlready, Code: "AAA111"}, func(v *kiosk.View) { v.Lang = "fr" })),
			kiosk.View{Screen: kiosk.ScreenAlready, Code: "BBB222"},
			success("BBB222"),
		}, map[string]float64{
			`kiosk_checkins_total{outcome="already"}`:    2,
			`kiosk_checkins_total{outcome="checked_in"}`: 1,
		}},
		{"refusals", []kiosk.View{
			refused(kiosk.ReasonCardExpired),
			again(with(refused(kiosk.ReasonCardExpired), func(v *kiosk.View) { v.Lang = "ar" })),
			refused(kiosk.ReasonCardRevoked),
			idle,
			refused(kiosk.ReasonCardExpired),
			confirm,
			refused(kiosk.ReasonPersonDenied),
			refused("a_reason_from_the_future"),
		}, map[string]float64{
			`kiosk_refusals_total{reason="card_expired"}`:             2,
			`kiosk_refusals_total{reason="card_revoked"}`:             1,
			`kiosk_refusals_total{reason="person_denied"}`:            1,
			`kiosk_refusals_total{reason="other"}`:                    1,
			`kiosk_refusals_total{reason="not_a_card"}`:               0, // there from the start
			`kiosk_refusals_total{reason="a_reason_from_the_future"}`: absent,
			`kiosk_checkins_total{outcome="checked_in"}`:              0,
		}},
		{"help", []kiosk.View{
			{Screen: kiosk.ScreenHelp}, again(kiosk.View{Screen: kiosk.ScreenHelp, Lang: "uk"}), idle, {Screen: kiosk.ScreenHelp},
		}, map[string]float64{
			`kiosk_help_requests_total`: 2,
		}},
		{"the same refusal again, a screen entered again", []kiosk.View{
			refused(kiosk.ReasonCardExpired), refused(kiosk.ReasonCardExpired),
		}, map[string]float64{
			`kiosk_refusals_total{reason="card_expired"}`: 2, // two scans, two refusals
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New(metrics.Config{})
			var since uint64
			for i, v := range tt.views {
				v.Rev = uint64(i + 1)
				if v.Since != inPlace {
					since = v.Rev
				}
				v.Since = since
				m.Show(v)
			}
			samples, _, _ := scrape(t, m.Handler())
			want(t, samples, tt.want)
		})
	}
}

// The flow shows views on its goroutine while scrapes run on the
// server's: the race detector watches them meet.
func TestShowWhileScraping(t *testing.T) {
	var sv statusVar
	sv.set(fullStatus(), nil)
	m := metrics.New(metrics.Config{Status: sv.get})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			code := "C" + strconv.Itoa(i)
			entered := uint64(2*i + 1)
			m.Show(kiosk.View{Rev: entered, Since: entered, Screen: kiosk.ScreenSuccess, Code: code})
			m.Show(kiosk.View{Rev: entered + 1, Since: entered, Screen: kiosk.ScreenSuccess, Code: code, Receipt: kiosk.ReceiptPrinted})
			m.ObserveScan(time.Millisecond)
		}
	}()
	for range 3 {
		scrape(t, m.Handler())
	}
	<-done
	samples, _, _ := scrape(t, m.Handler())
	want(t, samples, map[string]float64{
		`kiosk_checkins_total{outcome="checked_in"}`: 200,
		`kiosk_scan_to_screen_seconds_count`:         200,
	})
}

// Scan latencies land in the buckets that hold them.
func TestScanHistogram(t *testing.T) {
	m := metrics.New(metrics.Config{})
	for _, d := range []time.Duration{150 * time.Microsecond, 3 * time.Millisecond, 2 * time.Second} {
		m.ObserveScan(d)
	}
	samples, _, _ := scrape(t, m.Handler())
	want(t, samples, map[string]float64{
		`kiosk_scan_to_screen_seconds_count`:                3,
		`kiosk_scan_to_screen_seconds_sum`:                  2.00315,
		`kiosk_scan_to_screen_seconds_bucket{le="0.0001"}`:  0,
		`kiosk_scan_to_screen_seconds_bucket{le="0.00025"}`: 1,
		`kiosk_scan_to_screen_seconds_bucket{le="0.0025"}`:  1,
		`kiosk_scan_to_screen_seconds_bucket{le="0.005"}`:   2,
		`kiosk_scan_to_screen_seconds_bucket{le="1"}`:       2,
		`kiosk_scan_to_screen_seconds_bucket{le="+Inf"}`:    3,
	})
}

// Nothing a person could be known by reaches the metrics: not from the
// views (name, code, household) nor from the status's free text.
func TestNoPersonalData(t *testing.T) {
	const (
		name    = "Maria Lopez-Garcia"
		aNumber = "A123456789"
		code    = "K7Q4XZ"
		serial  = "SER-88231"
	)
	var sv statusVar
	st := fullStatus()
	st.Panel.Error = "card " + serial + " stuck"
	st.Upload.LastError = "rejected " + aNumber
	st.Outbox.LastError = "insert " + name + ": disk full"
	st.Service = ui.Service{State: ui.OutOfService, Reason: kiosk.ReasonRecordFailed, Error: "commit " + aNumber}
	sv.set(st, nil)
	m := metrics.New(metrics.Config{Status: sv.get})
	household := []kiosk.Member{{Name: name, Code: code}}
	for i, v := range []kiosk.View{
		{Screen: kiosk.ScreenConfirm, Name: name},
		{Screen: kiosk.ScreenSuccess, Code: code, Household: household, Notice: "Window 3, " + name},
		{Screen: kiosk.ScreenAlready, Code: code, Household: household},
		{Screen: kiosk.ScreenIdle, Household: household},
	} {
		v.Rev = uint64(i + 1)
		m.Show(v)
	}
	samples, _, body := scrape(t, m.Handler())
	// The views were counted: the test would see what they leaked.
	want(t, samples, map[string]float64{
		`kiosk_checkins_total{outcome="checked_in"}`: 1,
		`kiosk_checkins_total{outcome="already"}`:    1,
	})
	for _, secret := range []string{name, "Maria", "Lopez", aNumber, code, serial} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}
}

// Two daemons in one process each have their own metrics.
func TestTwoInstances(t *testing.T) {
	a, b := metrics.New(metrics.Config{}), metrics.New(metrics.Config{})
	a.Show(kiosk.View{Rev: 1, Screen: kiosk.ScreenSuccess, Code: "AAA111"})
	sa, _, _ := scrape(t, a.Handler())
	sb, _, _ := scrape(t, b.Handler())
	want(t, sa, map[string]float64{`kiosk_checkins_total{outcome="checked_in"}`: 1})
	want(t, sb, map[string]float64{`kiosk_checkins_total{outcome="checked_in"}`: 0})
}

// BenchmarkShow is what the flow's goroutine pays per view: counting must
// stay cheap.
func BenchmarkShow(b *testing.B) {
	m := metrics.New(metrics.Config{})
	views := []kiosk.View{
		{Screen: kiosk.ScreenSuccess, Code: "AAA111"},
		{Screen: kiosk.ScreenSuccess, Code: "AAA111", Receipt: kiosk.ReceiptPrinted},
		{Screen: kiosk.ScreenIdle},
	}
	for i := 0; b.Loop(); i++ {
		m.Show(views[i%len(views)])
	}
}
