package staff

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sessions. A session is a random 32-byte token in a cookie, and what the
// server keeps of it; the server keeps the token's SHA-256 only, so its
// memory does not hold a cookie that would work.
const (
	// cookieName is the session cookie's. The __Secure- prefix makes a
	// browser refuse it unless it is Secure and set over HTTPS.
	cookieName = "__Secure-staff-session"
	// cookiePath keeps the cookie off every path but the dashboard's; the
	// kiosk page is another listener besides (a cookie does not care for
	// ports).
	cookiePath = "/staff"
	// csrfHeader carries the session's CSRF token on every POST.
	csrfHeader = "X-CSRF-Token"

	// DefaultIdleTimeout ends a session no request has used for that
	// long. A dashboard's open websocket counts as use: a screen showing
	// it is being watched, and must go on showing alerts.
	DefaultIdleTimeout = 15 * time.Minute
	// DefaultSessionLifetime ends every session that long after its
	// login, used or not: about a shift.
	DefaultSessionLifetime = 12 * time.Hour
	// maxSessions bounds the sessions held; over it, the one used least
	// recently ends.
	maxSessions = 64
)

// Login throttling: after lockFailures failed logins within failureWindow
// for one account name, or from one address, that name or address is
// refused for lockDuration, whatever the password. A name is counted
// whether or not there is an account of that name, so that a lock says
// nothing of which accounts exist. Someone can lock a colleague out this
// way for a quarter of an hour: the price of slowing a guesser to 20
// guesses an hour.
const (
	lockFailures  = 5
	failureWindow = 15 * time.Minute
	lockDuration  = 15 * time.Minute
	// maxTracked bounds the names and addresses counted; over it, after
	// those no longer counted are dropped, every login is refused as
	// locked until some are: a flood of names fails closed.
	maxTracked = 4096
	// maxLoginWaiting bounds the logins waiting for the password hasher
	// (one at a time); one more is answered 503 at once.
	maxLoginWaiting = 8
	// maxBody bounds a POST's body: a login or an action is a few bytes.
	maxBody = 4 << 10
)

// session is what the server keeps of a login.
type session struct {
	key     [32]byte // SHA-256 of the cookie's token
	account string
	stamp   string // the account's password hash at login: changed or gone, the session ends
	csrf    string // sent by the page with every action (X-CSRF-Token) and on the websocket
	created time.Time
	seen    time.Time // the last use
}

// sessions are the sessions open.
type sessions struct {
	idle, lifetime time.Duration

	mu sync.Mutex
	m  map[[32]byte]*session
}

// newToken returns 32 random bytes in base64url.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read does not fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// create opens a session for account and returns its cookie's token.
func (st *sessions) create(account, stamp string, now time.Time) (string, session) {
	token := newToken()
	s := &session{key: tokenKey(token), account: account, stamp: stamp, csrf: newToken(), created: now, seen: now}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.pruneLocked(now)
	if len(st.m) >= maxSessions {
		var oldest *session
		for _, x := range st.m {
			if oldest == nil || x.seen.Before(oldest.seen) {
				oldest = x
			}
		}
		delete(st.m, oldest.key)
	}
	st.m[s.key] = s
	return token, *s
}

// get returns the session of token, unless it has ended (it is forgotten
// then); with touch, it counts as used now.
func (st *sessions) get(token string, now time.Time, touch bool) (session, bool) {
	return st.getKey(tokenKey(token), now, touch)
}

func (st *sessions) getKey(key [32]byte, now time.Time, touch bool) (session, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.m[key]
	if !ok {
		return session{}, false
	}
	if st.endedLocked(s, now) {
		delete(st.m, key)
		return session{}, false
	}
	if touch {
		s.seen = now
	}
	return *s, true
}

// end forgets the session key.
func (st *sessions) end(key [32]byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, key)
}

func (st *sessions) endedLocked(s *session, now time.Time) bool {
	return now.Sub(s.seen) >= st.idle || now.Sub(s.created) >= st.lifetime
}

func (st *sessions) pruneLocked(now time.Time) {
	for k, s := range st.m {
		if st.endedLocked(s, now) {
			delete(st.m, k)
		}
	}
}

// throttle counts failed logins by key (an account name, an address) and
// locks a key that failed too often.
type throttle struct {
	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	at    []time.Time // failures within failureWindow, oldest first
	until time.Time   // locked until then
}

// lockedUntil returns when key's lock ends, or the zero time if it is not
// locked. Over maxTracked keys, every key is locked for a while.
func (t *throttle) lockedUntil(key string, now time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f, ok := t.m[key]; ok && now.Before(f.until) {
		return f.until
	}
	if len(t.m) >= maxTracked {
		t.pruneLocked(now)
		if len(t.m) >= maxTracked {
			return now.Add(time.Minute)
		}
	}
	return time.Time{}
}

// fail counts a failed login for key at now, and reports whether it locked
// key.
func (t *throttle) fail(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[key]
	if !ok {
		if len(t.m) >= maxTracked {
			t.pruneLocked(now)
		}
		f = &failures{}
		t.m[key] = f
	}
	recent := f.at[:0]
	for _, at := range f.at {
		if now.Sub(at) < failureWindow {
			recent = append(recent, at)
		}
	}
	f.at = append(recent, now)
	if len(f.at) >= lockFailures {
		f.at, f.until = nil, now.Add(lockDuration)
		return true
	}
	return false
}

// reset forgets key's failures: its account logged in.
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

// pruneLocked drops the keys neither locked nor with a failure in the
// window.
func (t *throttle) pruneLocked(now time.Time) {
	for k, f := range t.m {
		if now.Before(f.until) {
			continue
		}
		if len(f.at) == 0 || now.Sub(f.at[len(f.at)-1]) >= failureWindow {
			delete(t.m, k)
		}
	}
}

// loginRequest is the body of POST /staff/login.
type loginRequest struct {
	Account  string `json:"account"`
	Password string `json:"password"`
}

// Answers of the dashboard's API: a status, and for a refusal, why, in
// words for staff.
type apiBody struct {
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
	Account string `json:"account,omitempty"`
}

// badLogin is the one answer to a wrong password and to an account that
// does not exist: which of the two, an attacker must not learn.
var badLogin = apiBody{Status: "unauthorized", Error: "wrong account or password"}

// normalizeName is the account a login names: what was typed, trimmed and
// in lower case (accounts are lower case), at most a little longer than
// a name can be, so that a key of the throttle stays small.
func normalizeName(typed string) string {
	name := strings.ToLower(strings.TrimSpace(typed))
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// handleLogin checks an account and password and opens a session. Every
// answer but a lock costs one argon2id hash: an account that does not
// exist is checked against a hash of a random password, so that time says
// nothing of which accounts exist either. Logins are taken one at a time,
// from the lock's check to the count of a failure, so that a burst of
// guesses sent at once is counted as the guesses sent one by one are.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if why := crossSite(r); why != "" {
		writeJSON(w, http.StatusForbidden, apiBody{Status: "forbidden", Error: why})
		return
	}
	var req loginRequest
	if err := readJSON(w, r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiBody{Status: "bad_request", Error: err.Error()})
		return
	}
	release, ok := s.takeHasher(w, r)
	if !ok {
		return // answered
	}
	defer release()

	name, addr, now := normalizeName(req.Account), remoteAddr(r), s.now()
	nameKey, addrKey := "account:"+name, "address:"+addr
	if until := later(s.throttle.lockedUntil(nameKey, now), s.throttle.lockedUntil(addrKey, now)); !until.IsZero() {
		secs := int(until.Sub(now).Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, apiBody{Status: "locked",
			Error: "too many failed logins: try again in " + strconv.Itoa((secs+59)/60) + " minutes"})
		return
	}
	hash, exists, err := s.accounts.lookup(name)
	if err != nil {
		s.log.Error("staff: read accounts", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, apiBody{Status: "unavailable", Error: "the accounts cannot be read"})
		return
	}
	against := hash
	if !exists {
		against = s.dummyHash()
	}
	right, err := verifyPassword(against, req.Password)
	s.hashed.Add(1)
	if err != nil {
		s.log.Error("staff: a stored password hash is unreadable", "err", err) // the error names no account
	}

	if !right || !exists {
		locked := s.throttle.fail(nameKey, now)
		locked = s.throttle.fail(addrKey, now) || locked
		who := ""
		if exists {
			who = name // its password was wrong
		}
		s.audit(AuditRecord{Account: who, Remote: addr, Action: AuditLoginFailed})
		if locked {
			s.audit(AuditRecord{Account: who, Remote: addr, Action: AuditLoginLocked,
				Detail: "locked for " + lockDuration.String()})
		}
		writeJSON(w, http.StatusUnauthorized, badLogin)
		return
	}
	s.throttle.reset(nameKey)
	if err := s.audit(AuditRecord{Account: name, Remote: addr, Action: AuditLoginOK}); err != nil {
		// No session without its record.
		writeJSON(w, http.StatusInternalServerError, apiBody{Status: "error", Error: "could not write the audit log"})
		return
	}
	token, _ := s.sessions.create(name, hash, now)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: cookiePath,
		MaxAge: int(s.sessions.lifetime / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, apiBody{Status: "ok", Account: name})
}

// takeHasher waits for the password hasher, which takes one login at a
// time, and returns its release. With maxLoginWaiting logins waiting
// already, or the request ended, it answers the request itself and
// returns false.
func (s *Server) takeHasher(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if s.loginWaiting.Add(1) > maxLoginWaiting {
		s.loginWaiting.Add(-1)
		writeJSON(w, http.StatusServiceUnavailable, apiBody{Status: "busy", Error: "too many logins at once: try again"})
		return nil, false
	}
	defer s.loginWaiting.Add(-1)
	select {
	case s.hashing <- struct{}{}:
		return func() { <-s.hashing }, true
	case <-r.Context().Done():
		// The client left, or the server is shutting down: an answer
		// for the second case, lest an empty 200 read as a login.
		writeJSON(w, http.StatusServiceUnavailable, apiBody{Status: "unavailable", Error: "the kiosk is shutting down"})
		return nil, false
	}
}

// dummyHash is the hash an unknown account's login is checked against:
// of a random password no one knows, with the costs of a real one.
func (s *Server) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy = hashPassword(GeneratePassword(), defaultParams) })
	return s.dummy
}

// later is the later of two times, the zero time counting as earliest.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// handleLogout ends the session, and the dashboards showing it.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, sess session) {
	s.audit(AuditRecord{Account: sess.account, Remote: remoteAddr(r), Action: AuditLogout})
	s.sessions.end(sess.key)
	s.closeSession(sess.key, "logged out")
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, apiBody{Status: "ok"})
}

// sessionBody is GET /staff/session: who is logged in, and the token the
// page sends with each action.
type sessionBody struct {
	Account   string    `json:"account"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"` // the session's end at the latest, however used
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request, sess session) {
	writeJSON(w, http.StatusOK, sessionBody{Account: sess.account, CSRFToken: sess.csrf,
		ExpiresAt: sess.created.Add(s.sessions.lifetime).UTC()})
}

// session returns r's session if it has one that has not ended, and
// whose account still has the password it logged in with; it counts as
// used now.
func (s *Server) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	sess, ok := s.sessions.get(c.Value, s.now(), true)
	if !ok {
		return session{}, false
	}
	return sess, s.accountStill(sess)
}

// accountStill reports whether sess's account has the password it logged
// in with; if not, the session ends.
func (s *Server) accountStill(sess session) bool {
	hash, ok, err := s.accounts.lookup(sess.account)
	if err != nil {
		s.log.Error("staff: read accounts", "err", err)
		return false // unreadable: no one is let in, no one is logged out
	}
	if !ok || hash != sess.stamp {
		s.sessions.end(sess.key)
		return false
	}
	return true
}

// withSession answers 401 to a request without a session, and passes the
// session to h otherwise.
func (s *Server) withSession(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.session(r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, apiBody{Status: "unauthorized", Error: "log in first"})
			return
		}
		h(w, r, sess)
	}
}

// action guards a POST that does something: a request from another site
// is refused (403), one without a session answered 401, and one without
// the session's CSRF token in X-CSRF-Token refused (403).
func (s *Server) action(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return s.withSession(func(w http.ResponseWriter, r *http.Request, sess session) {
		if why := crossSite(r); why != "" {
			writeJSON(w, http.StatusForbidden, apiBody{Status: "forbidden", Error: why})
			return
		}
		if !validCSRF(sess, r.Header.Get(csrfHeader)) {
			writeJSON(w, http.StatusForbidden, apiBody{Status: "forbidden", Error: "missing or wrong " + csrfHeader})
			return
		}
		h(w, r, sess)
	})
}

// validCSRF reports whether token is sess's CSRF token, in time that does
// not depend on where they differ.
func validCSRF(sess session, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.csrf)) == 1
}

// crossSite says why r comes from another site, or "" if it does not: its
// Origin, when it has one, must be this server's (https and the Host it
// was sent to), and its Sec-Fetch-Site, when it has one, same-origin or
// none. A client that sends neither is not a browser another site's page
// could drive.
func crossSite(r *http.Request) string {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, r.Host) {
			return "cross-origin request"
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return ""
	}
	return "cross-site request"
}

// remoteAddr is the client's IP address. The dashboard is served to the
// LAN directly, with no proxy whose headers it would have to trust.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// readJSON decodes r's body, at most maxBody bytes of one JSON object,
// into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return errors.New("want a JSON object of at most 4 KiB")
	}
	return nil
}

// writeJSON writes v as the JSON body of an API answer.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
