package staff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York wherever the tests run

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/docketkiosk/checkin-kiosk/internal/browsertest"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/ui"
)

// The card of the tests' check-ins, and what of it may be shown.
const (
	testSerial     = "0f1e2d3c4b5a6978"
	testSerialTail = "…978"
)

// testHistory is a day at the harness's kiosk (its clock: 2026-01-05
// 09:00 UTC): three check-ins, one of them handed over with its whole
// serial, as a daemon that forgot to cut it would.
func testHistory(now time.Time) History {
	from, to := Today(now)
	var h History
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		h.Hourly = append(h.Hourly, HourRow{Start: t})
	}
	h.Hourly[8].Count, h.Hourly[9].Count = 2, 1
	h.Recent = []RecentRow{
		{At: now.Add(-10 * time.Minute), Seq: 3, Outcome: kiosk.OutcomeCheckedIn, SerialTail: testSerial},
		{At: now.Add(-40 * time.Minute), Seq: 2, Outcome: kiosk.OutcomeCheckedIn, SerialTail: "…a1f", Quarantined: true},
		{At: now.Add(-20 * time.Hour), Seq: 1, Outcome: kiosk.OutcomeCheckedIn, SerialTail: "…", Uploaded: true},
	}
	return h
}

// readFrame reads the next frame, which must be a state frame, and
// returns it as sent too.
func readFrame(t *testing.T, conn *websocket.Conn) (stateFrame, []byte) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(wait))
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read a state frame: %v", err)
	}
	var f stateFrame
	if err := json.Unmarshal(b, &f); err != nil || f.V != 1 || f.Type != "state" {
		t.Fatalf("frame %s (%v); want a state frame, v 1", b, err)
	}
	return f, b
}

func historyOf(t *testing.T, f stateFrame) historyJSON {
	t.Helper()
	var h historyJSON
	if err := json.Unmarshal(f.History, &h); err != nil {
		t.Fatalf("history %s: %v", f.History, err)
	}
	return h
}

// TestHistoryOnWebsocket: the state frames carry the history as
// Config.History read it, with the labels the page shows, and the queue
// sampled from the status.
func TestHistoryOnWebsocket(t *testing.T) {
	var calls atomic.Int32
	h := start(t, func(c *Config) {
		c.History = func(context.Context) (History, error) {
			calls.Add(1)
			return testHistory(c.Now()), nil
		}
	})
	c := h.client()
	c.mustLogin(alice, alicePassword)
	conn := c.dashboard()
	f, _ := readFrame(t, conn)
	hist := historyOf(t, f)

	if hist.ReadAt == nil || hist.Error != "" {
		t.Fatalf("history read at %v, error %q; want read, no error", hist.ReadAt, hist.Error)
	}
	want := []recentJSON{
		{When: "08:50", Seq: 3, Card: testSerialTail, Outcome: "checked_in", Upload: "pending"},
		{When: "08:20", Seq: 2, Card: "…a1f", Outcome: "checked_in", Upload: "set_aside"},
		{When: "Jan 4 13:00", Seq: 1, Card: "…", Outcome: "checked_in", Upload: "sent"},
	}
	if len(hist.Recent) != len(want) {
		t.Fatalf("recent = %+v; want %d rows", hist.Recent, len(want))
	}
	for i, w := range want {
		g := hist.Recent[i]
		g.At = time.Time{}
		if g != w {
			t.Errorf("recent[%d] = %+v; want %+v", i, g, w)
		}
	}
	if len(hist.Hourly) != 24 {
		t.Fatalf("hourly = %d hours; want 24", len(hist.Hourly))
	}
	for i, hr := range hist.Hourly {
		wantCount := map[int]int{8: 2, 9: 1}[i]
		if hr.Hour != fmt.Sprintf("%02d", i) || hr.Count != wantCount || hr.Now != (i == 9) {
			t.Errorf("hourly[%d] = %+v; want hour %02d, count %d, now %v", i, hr, i, wantCount, i == 9)
		}
	}
	if len(hist.Queue) == 0 || hist.Queue[0].Pending != testStatus.Outbox.Pending || hist.QueueEveryS != 300 {
		t.Errorf("queue = %+v every %d s; want a sample of pending %d at start, every 300 s",
			hist.Queue, hist.QueueEveryS, testStatus.Outbox.Pending)
	}

	// Frames come every second and at every poke; the history is read
	// once in HistoryPeriod however many there are.
	for range 4 {
		h.srv.pokeNow()
		readFrame(t, conn)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Config.History called %d times for 5 frames; want once in %v", n, HistoryPeriod)
	}
}

// TestHistoryHoldsNothingPersonal: of a card, the pushed frames show the
// serial's last 3 characters and nothing more, even when the daemon
// hands over the whole serial; no name or A-number can ride along, the
// rows having no place for one.
func TestHistoryHoldsNothingPersonal(t *testing.T) {
	h := start(t, func(c *Config) {
		c.History = func(context.Context) (History, error) { return testHistory(c.Now()), nil }
	})
	c := h.client()
	c.mustLogin(alice, alicePassword)
	conn := c.dashboard()
	_, b := readFrame(t, conn)
	frame := string(b)
	if !strings.Contains(frame, testSerialTail) {
		t.Fatalf("frame %s; want the serial's tail %q", frame, testSerialTail)
	}
	// Any 4 characters of the serial in a row would be too many.
	for i := 0; i+4 <= len(testSerial); i++ {
		if part := testSerial[i : i+4]; strings.Contains(frame, part) {
			t.Errorf("frame holds %q of the card serial %q; want its last 3 characters only", part, testSerial)
		}
	}
}

// TestHistoryUnavailable: without Config.History the frames have no rows
// (null, not empty) but the queue all the same; a History that fails says
// why, and keeps the rows it read before.
func TestHistoryUnavailable(t *testing.T) {
	h := start(t, nil)
	c := h.client()
	c.mustLogin(alice, alicePassword)
	conn := c.dashboard()
	f, _ := readFrame(t, conn)
	if hist := historyOf(t, f); hist.Recent != nil || hist.Hourly != nil || hist.ReadAt != nil || len(hist.Queue) == 0 {
		t.Errorf("history without Config.History = %s; want recent and hourly null, the queue sampled", f.History)
	}

	var mu sync.Mutex
	fail := false
	h2 := start(t, func(c *Config) {
		c.History = func(context.Context) (History, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return History{}, errors.New("recent: database is locked")
			}
			return testHistory(c.Now()), nil
		}
	})
	c2 := h2.client()
	c2.mustLogin(alice, alicePassword)
	conn2 := c2.dashboard()
	if hist := historyOf(t, readState(t, conn2)); len(hist.Recent) != 3 {
		t.Fatalf("recent = %+v; want 3 rows", hist.Recent)
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	h2.clock.Advance(HistoryPeriod) // a read is due
	h2.srv.pokeNow()
	f = stateUntil(t, conn2, "a history error", func(f stateFrame) bool { return historyOf(t, f).Error != "" })
	if hist := historyOf(t, f); hist.Error != "recent: database is locked" || len(hist.Recent) != 3 || hist.ReadAt == nil {
		t.Errorf("history after a failed read = %s; want its error, and the rows read before", f.History)
	}
}

// TestQueueRing: the ring keeps the last QueuePoints samples, oldest
// first, once it has wrapped too.
func TestQueueRing(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 1, 5, QueuePoints - 1, QueuePoints, QueuePoints + 1, 2*QueuePoints + 12} {
		var r queueRing
		for i := 1; i <= n; i++ {
			r.add(QueuePoint{At: t0.Add(time.Duration(i) * QueueSamplePeriod), Pending: int64(i)})
		}
		got := r.points()
		wantLen := min(n, QueuePoints)
		if len(got) != wantLen {
			t.Errorf("after %d samples: %d points; want %d", n, len(got), wantLen)
			continue
		}
		for i, p := range got {
			want := int64(n - wantLen + 1 + i)
			if p.Pending != want || !p.At.Equal(t0.Add(time.Duration(want)*QueueSamplePeriod)) {
				t.Errorf("after %d samples: points()[%d] = %+v; want sample #%d", n, i, p, want)
				break
			}
		}
	}
	if got := time.Duration(QueuePoints) * QueueSamplePeriod; got != 24*time.Hour {
		t.Errorf("the ring holds %v of samples; want 24h", got)
	}
}

// TestBacklogProgress: how far an upload backlog has got, through the
// statuses a dashboard sees.
func TestBacklogProgress(t *testing.T) {
	type step struct {
		pending, uploaded, quarantined int64
		want                           string // "sent/total", or "" for none shown
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a few waiting is no backlog", []step{{3, 40, 0, ""}, {100, 40, 0, ""}, {60, 80, 0, ""}}},
		{"offline, then the drain", []step{
			{0, 500, 0, ""}, {50, 500, 0, ""}, {12000, 500, 0, "0/12000"},
			{8600, 3900, 0, "3400/12000"}, {1, 12499, 0, "11999/12000"}, {0, 12500, 0, ""},
		}},
		{"check-ins during the drain count in the total", []step{
			{12000, 0, 0, "0/12000"}, {8610, 3400, 0, "3400/12010"},
		}},
		{"set aside counts as sent: the server answered", []step{
			{1000, 0, 0, "0/1000"}, {500, 450, 50, "500/1000"},
		}},
		{"a status without totals: the fall from the peak", []step{
			{2000, 0, 0, "0/2000"}, {1500, 0, 0, "500/2000"}, {1700, 0, 0, "300/2000"},
		}},
		{"a backlog ends at 0, the next starts afresh", []step{
			{5000, 0, 0, "0/5000"}, {0, 5000, 0, ""}, {200, 5000, 0, "0/200"}, {150, 5050, 0, "50/200"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b backlog
			for i, s := range tc.steps {
				p := b.observe(ui.Outbox{Pending: s.pending, UploadedTotal: s.uploaded, Quarantined: s.quarantined})
				got := ""
				if p != nil {
					got = fmt.Sprintf("%d/%d", p.Sent, p.Total)
				}
				if got != s.want {
					t.Errorf("step %d: observe(pending %d, uploaded %d, set aside %d) = %q; want %q",
						i, s.pending, s.uploaded, s.quarantined, got, s.want)
				}
			}
		})
	}
}

// TestToday: the kiosk's day, midnight to midnight, 23 and 25 hours the
// days the clocks change.
func TestToday(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		now   time.Time
		hours int
	}{
		{time.Date(2026, 5, 6, 14, 30, 0, 0, ny), 24},
		{time.Date(2026, 5, 6, 0, 0, 0, 0, ny), 24},
		{time.Date(2026, 3, 8, 12, 0, 0, 0, ny), 23},
		{time.Date(2026, 11, 1, 23, 59, 0, 0, ny), 25},
	} {
		from, to := Today(tc.now)
		if from.Format(time.DateTime) != tc.now.Format(time.DateOnly)+" 00:00:00" || from.Location() != ny ||
			to.Sub(from) != time.Duration(tc.hours)*time.Hour || from.After(tc.now) || !to.After(tc.now) {
			t.Errorf("Today(%v) = %v, %v; want that day's midnight and %d hours later", tc.now, from, to, tc.hours)
		}
	}
}

// TestSerialTail: no more than the last 3 characters, whatever the
// dashboard is given.
func TestSerialTail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"…a1f", "…a1f"},
		{"…", "…"},
		{"…ñáé", "…ñáé"},
		{testSerial, testSerialTail},
		{"…" + testSerial, testSerialTail},
		{"ÄÖÜ-ñáé", "…ñáé"},
		{"short", "…"},
		{"", "…"},
	} {
		if got := serialTail(tc.in); got != tc.want {
			t.Errorf("serialTail(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestHistoryInBrowser draws the history in headless Chromium, under the
// page's CSP: the bars with their counts and hours, the queue's line,
// the recent check-ins and the upload progress, and no style attribute
// anywhere. It skips without Chromium, unless KIOSK_REQUIRE_ALL=1.
func TestHistoryInBrowser(t *testing.T) {
	var statuses atomic.Int32
	h := start(t, func(c *Config) {
		c.Now = time.Now
		// In UTC: the day has 24 hours wherever the test runs.
		c.History = func(context.Context) (History, error) { return testHistory(time.Now().UTC()), nil }
		// The first status (the queue's first sample) finds a backlog of
		// 12,000; the later ones, 3,400 of them uploaded.
		c.Status = func(context.Context) (ui.Status, error) {
			st := testStatus
			if statuses.Add(1) == 1 {
				st.Outbox = ui.Outbox{Pending: 12000}
			} else {
				st.Outbox = ui.Outbox{Pending: 8600, UploadedTotal: 3400}
			}
			return st, nil
		}
	})
	ctx := browsertest.New(t, 90*time.Second, browsertest.SelfSigned)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return got
	}
	do("log in and see the history",
		chromedp.EmulateViewport(1280, 2000),
		chromedp.Navigate(h.base+"/staff/login"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		chromedp.SendKeys(chromedp.CSS(`#account`), alice),
		chromedp.SendKeys(chromedp.CSS(`#password`), alicePassword),
		chromedp.Click(chromedp.CSS(`#login-button`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-connection="live"] #recent-rows tr`)),
		chromedp.WaitVisible(chromedp.CSS(`#queue-progress`)),
	)
	if dir := os.Getenv("KIOSK_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "staff-history.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct{ what, js, want string }{
		{"bars", `String(document.querySelectorAll("#chart-hourly rect.bar").length)`, "2"},
		{"counts on the bars", `[...document.querySelectorAll("#chart-hourly text.count")].map(e => e.textContent).join(",")`, "2,1"},
		{"hour labels", `String(document.querySelectorAll("#chart-hourly text.hour").length)`, "24"},
		{"first and last hour", `(l => l[0].textContent + "-" + l[l.length-1].textContent)(document.querySelectorAll("#chart-hourly text.hour"))`, "00-23"},
		{"hourly summary", `document.querySelector("#hourly-summary").textContent`, "3 check-ins today · busiest hour 08:00 (2)"},
		{"queue drawn", `String(document.querySelectorAll("#chart-queue path.line, #chart-queue circle.dot").length > 0)`, "true"},
		{"recent rows", `[...document.querySelectorAll("#recent-rows tr")].map(tr => [...tr.cells].slice(1).map(td => td.textContent).join("|")).join(";")`,
			"…978|Checked in|Waiting;…a1f|Checked in|Set aside by the server;…|Checked in|Sent"},
		{"progress", `document.querySelector("#queue-progress-text").textContent`, "3,400 of 12,000 sent"},
		{"no style attribute", `String(document.querySelectorAll("[style]").length)`, "0"},
		{"no serial", `String(document.body.innerHTML.includes("` + testSerial[len(testSerial)-4:] + `"))`, "false"},
	} {
		if got := eval(tc.js); got != tc.want {
			t.Errorf("%s: %s = %q; want %q", tc.what, tc.js, got, tc.want)
		}
	}
}
