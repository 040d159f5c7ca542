package upload_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// fakeLists is an Acceptor that holds a seq per kind, as *trust.Lists does
// (kiosk/trust tests the real one): "list N" is a list of seq N; anything
// else is refused, and so is a seq lower than the one held.
type fakeLists struct {
	mu    sync.Mutex
	held  map[trust.Kind]uint64
	calls []string // "kind data", in order
}

func (f *fakeLists) Accept(_ context.Context, k trust.Kind, data []byte) (uint64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, string(k)+" "+string(data))
	n, ok := strings.CutPrefix(string(data), "list ")
	seq, err := strconv.ParseUint(n, 10, 64)
	switch {
	case !ok || err != nil:
		return 0, false, errors.New("refused: not a list")
	case seq < f.held[k]:
		return 0, false, fmt.Errorf("refused: seq %d is lower than seq %d: list rollback", seq, f.held[k])
	case seq == f.held[k]:
		return seq, false, nil
	}
	f.held[k] = seq
	return seq, true, nil
}

// docServer serves one revocation list at a time, with an ETag, and counts
// the answers by status.
type docServer struct {
	mu    sync.Mutex
	data  []byte
	codes map[int]int
}

func (d *docServer) set(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.data = b
}

func (d *docServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.URL.Path != wire.PathRevocations || d.data == nil {
		d.codes[404]++
		http.NotFound(w, r)
		return
	}
	h := sha256.Sum256(d.data)
	etag := `"` + hex.EncodeToString(h[:]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		d.codes[304]++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	d.codes[200]++
	w.Write(d.data)
}

// TestDownloader: each list is fetched with If-None-Match and handed to
// the Acceptor, which alone says what it is worth: what it accepts is in
// the status, what it refuses is an error of the poll, and a list refused
// is fetched (and handed over) again rather than taken for unchanged.
func TestDownloader(t *testing.T) {
	srv := &docServer{codes: map[int]int{}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	lists := &fakeLists{held: map[trust.Kind]uint64{trust.KindRevocations: 5}}
	d := &upload.Downloader{
		URL: ts.URL, Lists: lists,
		Kinds: []trust.Kind{trust.KindRevocations, trust.KindNotices},
	}
	for _, step := range []struct {
		name     string
		serve    []byte
		wantErr  string // "" for none
		handed   int    // lists handed to Accept so far
		want200  int    // answers 200 so far
		seq      uint64 // in the status
		accepted bool   // the last poll changed the list
	}{
		{"nothing served", nil, "", 0, 0, 0, false},
		{"the seq held", []byte("list 5"), "", 1, 1, 5, false},
		{"unchanged: 304", []byte("list 5"), "", 1, 1, 5, false},
		{"a newer list", []byte("list 6"), "", 2, 2, 6, true},
		{"unchanged again", nil, "", 2, 2, 6, false},
		{"an older list", []byte("list 4"), "rollback", 3, 3, 6, false},
		{"garbage", []byte("not a list"), "refused", 4, 4, 6, false},
		{"the same garbage: fetched again", nil, "refused", 5, 5, 6, false},
		{"the next list", []byte("list 7"), "", 6, 6, 7, true},
	} {
		if step.serve != nil || step.name == "nothing served" {
			srv.set(step.serve)
		}
		before := d.Status()[trust.KindRevocations].LastChange
		err := d.Poll(context.Background())
		if (err == nil) != (step.wantErr == "") || err != nil && !strings.Contains(err.Error(), step.wantErr) {
			t.Errorf("%s: Poll() = %v; want an error mentioning %q (none if empty)", step.name, err, step.wantErr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "revocation list: ") {
			t.Errorf("%s: Poll() = %v; want it to name the revocation list", step.name, err)
		}
		st := d.Status()[trust.KindRevocations]
		if (st.LastError != "") != (step.wantErr != "") {
			t.Errorf("%s: Status().LastError = %q; want an error: %v", step.name, st.LastError, step.wantErr != "")
		}
		if len(lists.calls) != step.handed || srv.codes[200] != step.want200 {
			t.Errorf("%s: %d lists handed over, %d answers 200; want %d, %d", step.name, len(lists.calls), srv.codes[200], step.handed, step.want200)
		}
		if st.Seq != step.seq || st.LastCheck.IsZero() {
			t.Errorf("%s: Status() = %+v; want seq %d, checked", step.name, st, step.seq)
		}
		if changed := !st.LastChange.Equal(before); changed != step.accepted {
			t.Errorf("%s: LastChange moved: %v; want %v", step.name, changed, step.accepted)
		}
	}
	for _, c := range lists.calls {
		if !strings.HasPrefix(c, string(trust.KindRevocations)+" ") {
			t.Errorf("Accept(%s); want only revocation lists, the one kind served", c)
		}
	}
	if srv.codes[304] < 2 {
		t.Errorf("answers %v; want at least two 304 for If-None-Match", srv.codes)
	}
	if st := d.Status()[trust.KindRevocations]; st.Seq != 7 || st.LastError != "" {
		t.Errorf("Status() = %+v; want seq 7, no error", st)
	}
	if st, ok := d.Status()[trust.KindNotices]; !ok || st.LastCheck.IsZero() || st.Seq != 0 {
		t.Errorf("Status()[notices] = %+v, %v; want checked (404: none served), seq 0", st, ok)
	}
}

var (
	_ upload.Acceptor = (*fakeLists)(nil)
	_ upload.Acceptor = (*trust.Lists)(nil) // the kiosk's
)

// TestDownloaderPolled: Polled is closed once Run's first poll has ended,
// each kind fetched, the lists it served accepted; not before.
func TestDownloaderPolled(t *testing.T) {
	srv := &docServer{codes: map[int]int{}}
	srv.set([]byte("list 6"))
	hold := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-hold
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	lists := &fakeLists{held: map[trust.Kind]uint64{}}
	d := &upload.Downloader{URL: ts.URL, Lists: lists, Kinds: []trust.Kind{trust.KindRevocations, trust.KindNotices}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-d.Polled():
		t.Fatal("Polled() closed before the upstream answered")
	default:
	}
	close(hold)
	<-d.Polled()
	if st := d.Status(); len(st) != 2 || st[trust.KindRevocations].Seq != 6 {
		t.Errorf("Status() once Polled() = %+v; want both kinds, revocations at seq 6", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v", err)
	}
}
