package upload_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// memState is a StateStore in memory.
type memState struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memState) GetState(_ context.Context, k string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok, nil
}

func (s *memState) PutState(_ context.Context, k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
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

func revocations(t *testing.T, root crypto.Signer, seq uint64) []byte {
	t.Helper()
	r := card.NewRevocations(seq)
	r.SetIssuedAt(time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC))
	b, err := r.Sign(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownloader(t *testing.T) {
	root, _, err := card.GenerateKey(card.AlgEdDSA, "root")
	if err != nil {
		t.Fatal(err)
	}
	forger, _, err := card.GenerateKey(card.AlgEdDSA, "forger")
	if err != nil {
		t.Fatal(err)
	}
	srv := &docServer{codes: map[int]int{}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	state := &memState{m: map[string]string{upload.StateKey(upload.KindRevocations): "5"}}
	dir := t.TempDir()
	var accepted []uint64
	d := &upload.Downloader{
		URL: ts.URL, Root: root.Public(), Dir: dir, State: state,
		Kinds:  []upload.Kind{upload.KindRevocations, upload.KindNotices},
		Accept: func(doc upload.Document) { accepted = append(accepted, doc.Seq) },
	}
	file := filepath.Join(dir, upload.FileName(upload.KindRevocations))
	for _, step := range []struct {
		name     string
		serve    []byte
		wantErr  string   // "" for none
		accepted []uint64 // all accepted so far
		held     string
	}{
		{"nothing served", nil, "", nil, "5"},
		{"the seq held", revocations(t, root, 5), "", nil, "5"},
		{"unchanged: 304", revocations(t, root, 5), "", nil, "5"},
		{"a newer list", revocations(t, root, 6), "", []uint64{6}, "6"},
		{"unchanged again", nil, "", []uint64{6}, "6"},
		{"an older list", revocations(t, root, 4), "rollback", []uint64{6}, "6"},
		{"a forged list", revocations(t, forger, 9), "signature", []uint64{6}, "6"},
		{"garbage", []byte("not a list"), "refused", []uint64{6}, "6"},
		{"the next list", revocations(t, root, 7), "", []uint64{6, 7}, "7"},
	} {
		if step.serve != nil || step.name == "nothing served" {
			srv.set(step.serve)
		}
		err := d.Poll(context.Background())
		if (err == nil) != (step.wantErr == "") || err != nil && !strings.Contains(err.Error(), step.wantErr) {
			t.Errorf("%s: Poll() = %v; want an error mentioning %q (none if empty)", step.name, err, step.wantErr)
		}
		if fmtSeqs(accepted) != fmtSeqs(step.accepted) {
			t.Errorf("%s: accepted %v; want %v", step.name, accepted, step.accepted)
		}
		if held, _, _ := state.GetState(context.Background(), upload.StateKey(upload.KindRevocations)); held != step.held {
			t.Errorf("%s: seq held %s; want %s", step.name, held, step.held)
		}
		if len(step.accepted) > 0 {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			r, err := card.OpenRevocations(data, root.Public())
			if err != nil || strconv.FormatUint(r.Seq(), 10) != step.held {
				t.Errorf("%s: file on disk = seq %d, %v; want the list of seq %s", step.name, r.Seq(), err, step.held)
			}
		}
	}
	if srv.codes[304] < 2 {
		t.Errorf("answers %v; want at least two 304 for If-None-Match", srv.codes)
	}
	if st := d.Status()[upload.KindRevocations]; st.Seq != 7 || st.LastError != "" {
		t.Errorf("Status() = %+v; want seq 7, no error", st)
	}
}

func fmtSeqs(s []uint64) string {
	var b strings.Builder
	for _, n := range s {
		b.WriteString(strconv.FormatUint(n, 10) + " ")
	}
	return b.String()
}
