package upstream_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// logBuffer keeps what a logger wrote, for a test to read while a server
// writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns the lines written since the last take.
func (l *logBuffer) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSpace(l.b.String())
	l.b.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestGapLogs: a gap is logged as what it is. A record stored before its
// predecessor (the later of two batches in flight stored first) is noted,
// not warned of, and so is the batch that fills it; a gap below a kiosk's
// chain head, which its heartbeat shows, is warned of once, and noted when
// it fills.
func TestGapLogs(t *testing.T) {
	ctx := context.Background()
	var logs logBuffer
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "upstream.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := upstream.New(st, upstream.Options{SealKey: sealKey(), Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Authenticate: urlUserDevice})
	if err != nil {
		t.Fatal(err)
	}
	const k = "k6"
	if err := srv.RegisterDevice(ctx, k, deviceOf(k).Public()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	send := func(seqs ...uint64) func() {
		return func() {
			b := wire.Batch{KioskID: k}
			for _, s := range seqs {
				b.Records = append(b.Records, record(k, s))
			}
			if got := statuses(postBatch(t, ts.URL, b)); strings.Contains(got, wire.StatusRejected) {
				t.Fatalf("send %v: %s; want them accepted", seqs, got)
			}
		}
	}
	beat := func(seq uint64) func() {
		return func() {
			h := wire.Head{KioskID: k, Seq: seq, Hash: record(k, seq).Hash, At: time.Now()}
			h.Sign(deviceOf(k).PrivateKey())
			if _, err := srv.Heartbeat(ctx, h, deviceOf(k).Public()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, step := range []struct {
		name string
		do   func()
		want []string // level and message of each line logged, but the batch counts
	}{
		{"records 1-2", send(1, 2), nil},
		{"the later batch of two in flight first", send(5, 6),
			[]string{`level=INFO msg="record stored before its predecessor" kiosk=k6 seq=5 held_max=2`}},
		{"the earlier batch", send(3, 4),
			[]string{`level=INFO msg="gap filled" kiosk=k6 seq=4 held_max=6`}},
		{"head 6", beat(6), nil},
		{"record 8, 7 deleted at the kiosk", send(8),
			[]string{`level=INFO msg="record stored before its predecessor" kiosk=k6 seq=8 held_max=6`}},
		{"head 8", beat(8),
			[]string{`level=WARN msg="gap in a kiosk's sequence: records below its chain head are missing" kiosk=k6 head_seq=8 held=7 missing=1`}},
		{"head 8 again", beat(8), nil},
		{"record 7 after all", send(7),
			[]string{`level=INFO msg="gap filled" kiosk=k6 seq=7 held_max=8`}},
		{"head 8 once more", beat(8),
			[]string{`level=INFO msg="gap in a kiosk's sequence filled" kiosk=k6 head_seq=8`}},
	} {
		logs.take()
		step.do()
		var got []string
		for _, l := range logs.take() {
			if strings.Contains(l, `msg=batch `) {
				continue
			}
			_, l, _ = strings.Cut(l, " ") // the time
			got = append(got, l)
		}
		if strings.Join(got, "\n") != strings.Join(step.want, "\n") {
			t.Errorf("%s: logged\n\t%s\nwant\n\t%s", step.name, strings.Join(got, "\n\t"), strings.Join(step.want, "\n\t"))
		}
	}
	if st := stats(t, srv); st.Gaps != 0 || st.CheckIns != 8 {
		t.Errorf("stats %+v; want 8 records, no gap", st)
	}
}
