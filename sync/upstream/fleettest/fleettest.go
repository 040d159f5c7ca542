// Package fleettest plays an agency's fleet for tests: a TCP round-robin
// proxy standing in for the load balancer in front of the upstream's
// replicas, and kiosks, each with its own device key, enrolled through the
// real enrollment path, its own outbox of check-ins and its own uploader.
// Nothing in it is a fake of the parts under test: the kiosks are the
// product's outbox and uploader, the enrollment its client, and the proxy
// only moves bytes (TLS passes through it, as through a layer-4 balancer).
package fleettest

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// Proxy hands each TCP connection it accepts to the next of its backends
// in turn, skipping one that refuses the connection (as a balancer's
// health check would), and copies bytes both ways until either side
// closes.
type Proxy struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string
	next     atomic.Uint64
	conns    sync.WaitGroup
	open     map[net.Conn]struct{}
	accepted atomic.Int64
}

// StartProxy listens on a loopback port for the rest of the test.
func StartProxy(t testing.TB, backends ...string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, backends: backends, open: make(map[net.Conn]struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.serve()
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		p.closeAll()
		p.conns.Wait()
	})
	return p
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections the proxy has taken.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.conns.Add(1)
		go func() {
			defer p.conns.Done()
			p.relay(c)
		}()
	}
}

// relay connects c to a backend, trying each once from the next in turn.
func (p *Proxy) relay(c net.Conn) {
	defer c.Close()
	p.mu.Lock()
	backends := append([]string(nil), p.backends...)
	p.mu.Unlock()
	var b net.Conn
	for range backends {
		addr := backends[p.next.Add(1)%uint64(len(backends))]
		var err error
		if b, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			break
		}
	}
	if b == nil {
		return // no backend answers: the client sees the connection closed
	}
	defer b.Close()
	if !p.track(c, b) {
		return
	}
	defer p.untrack(c, b)
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, c); closeWrite(b); done <- struct{}{} }()
	go func() { io.Copy(c, b); closeWrite(c); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// track keeps c and b to close when the test ends; false once it has.
func (p *Proxy) track(c, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		return false
	}
	p.open[c], p.open[b] = struct{}{}, struct{}{}
	return true
}

func (p *Proxy) untrack(c, b net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.open, c)
	delete(p.open, b)
}

// closeAll closes every connection under way, so that the test's end does
// not wait for a client's idle keep-alive.
func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.open {
		c.Close()
	}
	p.open = nil
}

// Upstream is what a kiosk of the fleet needs of the agency: where to
// enroll and upload, the CA to pin, and a one-time token for a kiosk id
// (what `kiosk upstream token` prints).
type Upstream struct {
	URL   string // https://HOST:PORT, the proxy's address
	CAPEM []byte
	Token func(ctx context.Context, kioskID string) (string, error)
}

// Kiosk is one kiosk of the fleet: its own directory (device key,
// enrollment), outbox and uploader.
type Kiosk struct {
	ID       string
	Dir      string
	Store    *outbox.Store
	Uploader *upload.Uploader
	records  int
}

// NewKiosk enrolls kioskID with up through the real enrollment path, into
// dir, and opens its outbox there. records check-ins are committed to it
// as a kiosk would, each with its own person.
func NewKiosk(ctx context.Context, up Upstream, dir, kioskID string, records int) (*Kiosk, error) {
	token, err := up.Token(ctx, kioskID)
	if err != nil {
		return nil, fmt.Errorf("token for %s: %w", kioskID, err)
	}
	e, err := enroll.Enroll(ctx, up.URL, up.CAPEM, token, kioskID, dir)
	if err != nil {
		return nil, fmt.Errorf("enroll %s: %w", kioskID, err)
	}
	id, err := device.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("device key of %s: %w", kioskID, err)
	}
	seal, err := e.SealKey()
	if err != nil {
		return nil, fmt.Errorf("seal key of %s: %w", kioskID, err)
	}
	store, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Options{KioskID: kioskID, Device: id, SealKey: seal})
	if err != nil {
		return nil, fmt.Errorf("outbox of %s: %w", kioskID, err)
	}
	client, err := enroll.Client(up.URL, "", e, id, kioskID)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("client of %s: %w", kioskID, err)
	}
	k := &Kiosk{ID: kioskID, Dir: dir, Store: store, records: records}
	k.Uploader = &upload.Uploader{
		Store: store, Heads: store, Quarantine: store, URL: up.URL, Client: client,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, HeartbeatInterval: time.Second,
	}
	if err := k.commit(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return k, nil
}

// commit commits the kiosk's check-ins, a minute apart, ending now.
func (k *Kiosk) commit(ctx context.Context) error {
	c := card.Card{
		Issuer: "US-DHS-TEST", Office: "SFR", DateOfBirth: "1987-11-23", GivenName: "Xiomarelly",
		FamilyName: "Quetzalcoatlova", IssuedAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
		ExpiresAt: time.Now().AddDate(1, 0, 0),
	}
	start := time.Now().Add(-time.Duration(k.records) * time.Minute)
	for i := range k.records {
		c.Serial = fmt.Sprintf("%08x%08x", fnv(k.ID), i+1)
		c.ANumber = fmt.Sprintf("A%09d", i+1)
		ci := kiosk.CheckIn{At: start.Add(time.Duration(i) * time.Minute), Outcome: kiosk.OutcomeCheckedIn, Card: c}
		if _, err := k.Store.Commit(ctx, ci); err != nil {
			return fmt.Errorf("commit %d of %s: %w", i, k.ID, err)
		}
	}
	return nil
}

// Close closes the kiosk's outbox.
func (k *Kiosk) Close() error { return k.Store.Close() }

// Drain runs every kiosk's uploader until each has sent its whole outbox
// and heartbeated a head the upstream holds in sync, or until ctx ends.
func Drain(ctx context.Context, kiosks []*Kiosk) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, k := range kiosks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.Uploader.Run(ctx)
		}()
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		left, err := Pending(ctx, kiosks)
		if err != nil {
			return err
		}
		if left == 0 && InSync(kiosks) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain: %d records still pending, %d kiosks not in sync (%s): %w",
				left, notInSync(kiosks), firstError(kiosks), ctx.Err())
		case <-t.C:
		}
	}
}

// Pending counts the records not yet acknowledged, over every kiosk.
func Pending(ctx context.Context, kiosks []*Kiosk) (int64, error) {
	var n int64
	for _, k := range kiosks {
		st, err := k.Store.Stats(ctx)
		if err != nil {
			return 0, fmt.Errorf("stats of %s: %w", k.ID, err)
		}
		n += st.Pending
	}
	return n, nil
}

// InSync reports whether every kiosk's last heartbeat found its head in
// sync at the upstream.
func InSync(kiosks []*Kiosk) bool {
	for _, k := range kiosks {
		if k.Uploader.Status().HeadState != wire.HeadInSync {
			return false
		}
	}
	return true
}

// notInSync counts the kiosks whose head is not in sync.
func notInSync(kiosks []*Kiosk) int {
	n := 0
	for _, k := range kiosks {
		if k.Uploader.Status().HeadState != wire.HeadInSync {
			n++
		}
	}
	return n
}

// firstError is the first kiosk's last upload error, for a drain's
// failure: "none" when every upload went through.
func firstError(kiosks []*Kiosk) string {
	for _, k := range kiosks {
		if st := k.Uploader.Status(); st.LastError != "" {
			return k.ID + ": " + st.LastError
		}
	}
	return "no upload error"
}

// fnv is a short stable hash of s: each kiosk's serials its own.
func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := range len(s) {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
