package ui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

// contentSecurityPolicy allows the page its own scripts, styles and
// websocket and nothing else: no inline script or style, no framing, no
// forms. The page is built to it (icons are inline SVG, which is markup).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// maxSimScan is the largest body POST /api/v1/sim/scan accepts. Real scans
// are capped far lower by the card decoder; this only bounds the read.
const maxSimScan = 4 << 10

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// staticHandler serves the embedded page. Its files change only with the
// firmware, but Chromium must never keep an old page across an update, so
// it revalidates every time (cheap: it is loopback).
func staticHandler(web fs.FS) http.Handler {
	files := http.FileServerFS(web)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No directory listings: the only directory is the root, whose
		// index.html FileServer serves.
		if r.URL.Path != "/" && strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// status asks Config.Status, bounded in time, and fills the screen from
// Views when the callback leaves it empty.
func (s *Server) status(ctx context.Context) (Status, error) {
	var st Status
	if s.cfg.Status != nil {
		ctx, cancel := context.WithTimeout(ctx, statusTimeout)
		defer cancel()
		var err error
		if st, err = s.cfg.Status(ctx); err != nil {
			return Status{}, err
		}
	}
	if st.Screen == "" {
		st.Screen = s.cfg.Views.View().Screen
	}
	return st, nil
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	if err != nil {
		s.log.Warn("ui: status", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Status: "unavailable", Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// healthBody is the JSON of GET /healthz.
type healthBody struct {
	Status string `json:"status"` // "ok"
}

// errorBody is the JSON of a failed API request.
type errorBody struct {
	Status string `json:"status"`          // "unavailable", "not_found", ...
	Error  string `json:"error,omitempty"` // for the operator; never personal data
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if _, err := s.status(r.Context()); err != nil {
		s.log.Warn("ui: health", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Status: "unavailable", Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
}

// handleSimScan feeds the body to the simulated scanner. The body is the
// scan text; line endings at its end are dropped, as a scanner's Enter
// would be, so `curl --data-binary @valid.txt` works.
func (s *Server) handleSimScan(w http.ResponseWriter, r *http.Request) {
	if s.cfg.SimScan == nil {
		writeJSON(w, http.StatusNotFound, errorBody{Status: "not_found", Error: "the scanner is not simulated"})
		return
	}
	// Any web page can POST text/plain without a preflight; only the
	// kiosk's own origin (or a client sending none, like curl) may scan.
	if !sameOrigin(r) {
		writeJSON(w, http.StatusForbidden, errorBody{Status: "forbidden", Error: "cross-origin request"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSimScan))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Status: "too_large", Error: "scan text over 4 KiB"})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Status: "bad_request", Error: "read body"})
		return
	}
	text := strings.TrimRight(string(body), "\r\n")
	if text == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{Status: "bad_request", Error: "empty scan"})
		return
	}
	if err := s.cfg.SimScan(text); err != nil {
		s.log.Warn("ui: sim scan", "err", err) // the error, never the text
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Status: "unavailable", Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, healthBody{Status: "accepted"})
}

// sameOrigin reports whether r carries no Origin or one naming the host r
// was sent to.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// writeJSON writes v as the JSON body of an API response.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
