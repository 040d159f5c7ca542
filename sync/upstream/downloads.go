package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Downloads (sync/API.md, "Downloads"): the signed trust list, revocation
// list, roster and notices, served as the files an administrator puts in a
// directory (SetDocumentDir), each with a strong ETag — the SHA-256 of its
// bytes — so a kiosk polling with If-None-Match gets 304 until the file
// changes. The upstream does not verify them: the kiosk does, against the
// root key it pins, before it uses one.

// DocumentFiles maps each download path to its file name in the document
// directory: the name kiosk/trust gives each kind, which the kiosk keeps
// its downloads under too.
var DocumentFiles = map[string]string{
	wire.PathTrustList:   trust.KindTrustList.FileName(),
	wire.PathRevocations: trust.KindRevocations.FileName(),
	wire.PathRoster:      trust.KindRoster.FileName(),
	wire.PathNotices:     trust.KindNotices.FileName(),
}

// maxDocumentBytes bounds a served document: no kiosk reads a larger one.
const maxDocumentBytes = trust.MaxDocumentLen

// transport is the server's state for what this file and its neighbours
// (tls.go, enroll.go, heartbeat.go) add to the upload API.
type transport struct {
	mu          sync.Mutex
	docDir      string
	docs        map[string]cachedDoc // by file path
	silentAfter time.Duration
}

type cachedDoc struct {
	mod  time.Time
	size int64
	data []byte
	etag string
}

// SetDocumentDir makes the server serve the documents of DocumentFiles from
// dir; "" serves none (404). Call it before serving.
func (s *Server) SetDocumentDir(dir string) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.t.docDir = dir
	s.t.docs = map[string]cachedDoc{}
}

// SetSilentAfter sets how long without a heartbeat makes a kiosk silent in
// the stats (0: DefaultSilentAfter). Call it before serving.
func (s *Server) SetSilentAfter(d time.Duration) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.t.silentAfter = d
}

// document reads the file of path, from a cache while its size and
// modification time stay the same.
func (s *Server) document(path string) (cachedDoc, error) {
	s.t.mu.Lock()
	dir := s.t.docDir
	s.t.mu.Unlock()
	if dir == "" {
		return cachedDoc{}, fs.ErrNotExist
	}
	file := filepath.Join(dir, DocumentFiles[path])
	fi, err := os.Stat(file)
	if err != nil {
		return cachedDoc{}, err
	}
	s.t.mu.Lock()
	c, ok := s.t.docs[file]
	s.t.mu.Unlock()
	if ok && c.mod.Equal(fi.ModTime()) && c.size == fi.Size() {
		return c, nil
	}
	if fi.Size() > maxDocumentBytes {
		return cachedDoc{}, fmt.Errorf("%s: larger than %d bytes", file, maxDocumentBytes)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return cachedDoc{}, err
	}
	h := sha256.Sum256(data)
	c = cachedDoc{mod: fi.ModTime(), size: int64(len(data)), data: data, etag: `"` + hex.EncodeToString(h[:]) + `"`}
	s.t.mu.Lock()
	s.t.docs[file] = c
	s.t.mu.Unlock()
	return c, nil
}

func (s *Server) getDocument(w http.ResponseWriter, r *http.Request) {
	if _, ok := deviceFrom(r.Context()); !ok {
		writeError(w, http.StatusForbidden, "downloads need device authentication")
		return
	}
	doc, err := s.document(r.URL.Path)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, "no such document on this upstream")
		return
	}
	if err != nil {
		s.log.Error("document", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "document unavailable")
		return
	}
	w.Header().Set("ETag", doc.etag)
	w.Header().Set("Cache-Control", "no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", wire.DocumentContentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(doc.data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(doc.data)
	}
}

// etagMatches applies If-None-Match (RFC 9110 §13.1.2): "*" or a list of
// entity tags, compared weakly.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// transportRoutes adds enrollment, heartbeats and downloads to mux.
func (s *Server) transportRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+wire.PathEnroll, s.postEnroll)
	mux.HandleFunc("POST "+wire.PathHeartbeats, s.postHeartbeat)
	for path := range DocumentFiles {
		mux.HandleFunc("GET "+path, s.getDocument)
	}
}
