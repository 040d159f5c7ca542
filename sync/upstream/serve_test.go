package upstream_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/sync/upload"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// TestOpenDirAndServe: an upstream opened in its state directory makes what
// it needs there, holds the directory against a second server, and serves
// over TLS from its CA until its context ends, then returns nil.
func TestOpenDirAndServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "upstream")
	opts := upstream.DirOptions{OpenStore: sqlite.OpenIn, Hosts: []string{"127.0.0.1"}}
	up, err := upstream.OpenDir(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{sqlite.File, upstream.SealKeyFile, filepath.Join(upstream.TLSDir, upstream.CACertFile)} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after OpenDir: %v", err)
		}
	}
	if fi, err := os.Stat(up.Documents); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 ||
		up.Documents != filepath.Join(dir, upstream.DocumentsDir) {
		t.Errorf("documents directory %s: %v, %v; want %s, a directory, 0700", up.Documents, fi, err, filepath.Join(dir, upstream.DocumentsDir))
	}
	if second, err := upstream.OpenDir(dir, opts); !errors.As(err, new(*statedir.LockedError)) {
		if err == nil {
			second.Close()
		}
		t.Errorf("OpenDir() on a directory held = %v; want a *statedir.LockedError", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- upstream.Serve(ctx, ln, upstream.ServeOptions{Server: up.Server, Authority: up.Authority})
	}()
	client := upload.NewClient(up.Authority.Pool(), tls.Certificate{}, 5*time.Second)
	resp, err := client.Get("https://" + ln.Addr().String() + wire.PathHealth)
	if err != nil {
		t.Fatalf("GET %s over TLS: %v", wire.PathHealth, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("GET %s = %d over TLS %v; want 200 over TLS", wire.PathHealth, resp.StatusCode, resp.TLS != nil)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve() after its context ended = %v; want nil", err)
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := upstream.OpenDir(dir, opts)
	if err != nil {
		t.Fatalf("OpenDir() once the first closed = %v", err)
	}
	again.Close()
}
