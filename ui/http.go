package ui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
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
	return SecurityHeaders(next, contentSecurityPolicy)
}

// SecurityHeaders sets the headers every response of a page served here
// carries, with csp its Content-Security-Policy: no sniffing, no
// referrer, no framing, no cross-origin use. The kiosk page and the staff
// dashboard each give their own policy.
func SecurityHeaders(next http.Handler, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses, with 421 Misdirected Request, a request whose Host
// names neither localhost nor the address it arrived on. A web page the
// kiosk's browser opens elsewhere can point its own name at 127.0.0.1 (DNS
// rebinding) and so reach this listener as same-origin; its requests
// still carry its name in Host, and are refused here, websocket included.
// An IP address in Host cannot be rebound, and any port will do: the port
// is not what a rebinding attacker lacks.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r) {
			host := r.Host
			if len(host) > 64 {
				host = host[:64]
			}
			s.logRefusal("misdirected host", "host", host, "remote", r.RemoteAddr)
			writeJSON(w, http.StatusMisdirectedRequest, errorBody{Status: "misdirected",
				Error: "this server answers to localhost or its own address only"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether r's Host is localhost or the IP address of
// the listener r arrived on (http.LocalAddrContextKey), with any port or
// none.
func hostAllowed(r *http.Request) bool {
	host := r.Host
	if h, port, err := net.SplitHostPort(host); err == nil {
		if strings.Trim(port, "0123456789") != "" {
			return false
		}
		host = h
	} else if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1] // an IPv6 address without a port
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	ap, err := netip.ParseAddrPort(local.String())
	if err != nil {
		return false
	}
	return ip.Unmap().WithZone("") == ap.Addr().Unmap().WithZone("")
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
		// A name the file system cannot hold (invalid UTF-8, say
		// /%c0%ae%c0%ae/etc/passwd) is not there: FileServer would
		// answer 500 for the error opening it.
		if name := strings.TrimPrefix(path.Clean(r.URL.Path), "/"); name != "" && !fs.ValidPath(name) {
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
	st.Browser = s.Browser() // only the Server knows it
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
	Status  string `json:"status"`            // "ok"
	Version string `json:"version,omitempty"` // Config.Version: the updater's health gate checks it
}

// errorBody is the JSON of a failed API request.
type errorBody struct {
	Status string `json:"status"`          // "unavailable", "not_found", ...
	Error  string `json:"error,omitempty"` // for the operator; never personal data
}

// outOfServiceBody is the JSON of GET /healthz while the kiosk cannot take
// check-ins.
type outOfServiceBody struct {
	Status  string       `json:"status"` // "out_of_service"
	Reason  kiosk.Reason `json:"reason"` // storage_low, record_failed
	Error   string       `json:"error"`  // what failed, for the operator
	Version string       `json:"version,omitempty"`
}

// handleHealth answers 200 only when the kiosk can take a check-in: its
// status can be read, and it is in service. A kiosk that would send every
// person to staff is not healthy, whatever else works.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	if err != nil {
		s.log.Warn("ui: health", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Status: "unavailable", Error: err.Error()})
		return
	}
	if st.Service.State == OutOfService {
		writeJSON(w, http.StatusServiceUnavailable, outOfServiceBody{
			Status: string(OutOfService), Reason: st.Service.Reason, Error: st.Service.Error, Version: s.cfg.Version})
		return
	}
	writeJSON(w, http.StatusOK, healthBody{Status: "ok", Version: s.cfg.Version})
}

// handleSimScan feeds the body to the simulated scanner. The body is the
// scan text; white space around it is dropped, as the demo's stdin does,
// so `curl --data-binary @valid.txt` works, and so does text pasted with a
// trailing tab or space.
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
	// Trimming cannot change a valid scan. Every payload begins with a
	// prefix ("SDC1:", a reference card's URL), and neither a reference
	// (Crockford base32) nor Base45 can end in white space: the only one
	// in the Base45 alphabet is space, value 36, and the last character
	// of a 3-character group is its most significant digit (36·45² >
	// 65535), that of a 2-character tail too (36·45 > 255).
	text := strings.TrimSpace(string(body))
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
