package ui

import (
	"net"
	"sync"
	"time"
)

// What the kiosk listener holds at most, whoever connects to it. The kiosk
// page is one browser tab on the kiosk itself; anything beyond a handful of
// clients is a fault or an attack, and is refused rather than served.
const (
	// DefaultMaxPages is Config.MaxPages when it is 0: one browser is
	// the normal case, a reload overlapping its old page makes two, and
	// a staff member's second look a few more.
	DefaultMaxPages = 4
	// maxOtherConns is how many TCP connections the listener holds
	// besides the pages' websockets: the browser's fetches (six at most
	// per host), health probes, curl. Over MaxPages+maxOtherConns a new
	// connection is closed as soon as it is accepted.
	maxOtherConns = 60

	// A page may send pageFrameRate frames a second on average, in bursts
	// of up to pageFrameBurst. A person taps a few times a second at most
	// and the page pings every 15 s; a page over the budget is not a
	// person, and is dropped (close code 1008).
	pageFrameRate  = 20
	pageFrameBurst = 40

	// At most refusalLogBurst log lines about refused requests, then one
	// every refusalLogEvery: a flood of refusals must not flood the log.
	// Each line counts the refusals it did not log.
	refusalLogBurst = 5
	refusalLogEvery = 10 * time.Second
)

// bucket is a token bucket: it holds up to burst tokens, refills at rate
// tokens a second, and each event takes one. The caller passes the time,
// so a test can drive it with any clock. The zero bucket allows nothing.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

// newBucket returns a full bucket.
func newBucket(rate, burst float64, now time.Time) bucket {
	return bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// take reports whether an event at now is within the budget, and counts it
// if it is.
func (b *bucket) take(now time.Time) bool {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// logLimiter lets a few log lines of one kind through and counts the rest.
type logLimiter struct {
	mu         sync.Mutex
	b          bucket
	suppressed int
}

func newLogLimiter(now time.Time) *logLimiter {
	return &logLimiter{b: newBucket(1/refusalLogEvery.Seconds(), refusalLogBurst, now)}
}

// allow reports whether a line may be logged at now, and how many were
// not logged since the last one that was.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.b.take(now) {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.suppressed = 0
	return true, n
}

// capListener accepts at most cap(slots) connections at once. Over that, a
// new connection is closed as soon as it is accepted rather than left in
// the backlog: whoever opens connections by the thousand gets them closed,
// and the server's memory stays bounded.
type capListener struct {
	net.Listener
	slots   chan struct{}
	refused func(net.Conn) // called for each connection closed over the cap, before it is
}

func newCapListener(ln net.Listener, max int, refused func(net.Conn)) *capListener {
	return &capListener{Listener: ln, slots: make(chan struct{}, max), refused: refused}
}

// Accept returns the next connection within the cap. It returns an error
// only when the underlying listener does.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &cappedConn{Conn: c, slots: l.slots}, nil
		default:
			l.refused(c)
			c.Close()
		}
	}
}

// cappedConn gives its slot back when it is closed, once, whoever closes it:
// the http.Server, or the websocket that hijacked it.
type cappedConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}
