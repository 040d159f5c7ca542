package upstream

import (
	"context"
	"crypto/hpke"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
)

// An upstream's state directory holds its store (as its Store keeps it),
// its seal key (SealKeyFile), its CA and server certificate (TLSDir) and,
// by default, the signed documents it serves (DocumentsDir).
const (
	TLSDir       = "tls"
	DocumentsDir = "documents"
)

// shutdownGrace is how long Serve lets the requests in flight finish when
// its context ends.
const shutdownGrace = 10 * time.Second

// DirOptions configures OpenDir and OpenServer.
type DirOptions struct {
	// OpenStore opens the store kept in the state directory it is given.
	// Required: sync/upstream/sqlite.OpenIn is the embedded one.
	OpenStore func(dir string) (Store, error)
	// Hosts are the DNS names and IP addresses kiosks reach the server by:
	// its certificate names them.
	Hosts []string
	// Documents is the directory of the signed documents served
	// (SetDocumentDir), made 0700 if missing; "": DocumentsDir in the
	// state directory.
	Documents string
	// SilentAfter is how long without a heartbeat makes a kiosk silent
	// (SetSilentAfter); 0: DefaultSilentAfter.
	SilentAfter time.Duration
	// SealKey is the seal private key's file (LoadSealKey), only ever
	// read: replicas share one, given to each. "": SealKeyFile in the
	// state directory, made on first start.
	SealKey string
	// CACert and CAKey are the CA's certificate and private key files
	// (LoadAuthority), both or neither, only ever read: replicas share
	// one CA, as kiosks pin it. "": CACertFile and CAKeyFile in TLSDir,
	// made on first start. The server certificate is in TLSDir either
	// way, each replica's own, made from the CA for Hosts.
	CACert, CAKey string
	// Log is where the server logs; nil discards.
	Log *slog.Logger
}

// Dir is an upstream opened in its state directory, to serve: the
// directory is this process's alone until Close.
type Dir struct {
	Path      string
	Documents string // the directory of the documents served
	Server    *Server
	Authority *Authority
	lock      *statedir.Dir
}

// OpenDir opens the upstream kept in the state directory path, making on
// first start what is missing: the directory (0700), the CA and a server
// certificate naming o.Hosts (TLSDir), the seal key, the store and the
// documents directory. A seal key or CA that o names is read from its
// files, never made nor written. It holds the directory's lock (internal/statedir)
// until Close: a second server in the same directory fails, saying the
// directory is in use (the embedded SQLite store has one writer; replicas
// share a PostgreSQL database, each with its own directory).
func OpenDir(path string, o DirOptions) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create upstream state directory: %w", err)
	}
	lock, err := statedir.Lock(path)
	if err != nil {
		return nil, err
	}
	d := &Dir{Path: path, Documents: o.Documents, lock: lock}
	if d.Documents == "" {
		d.Documents = filepath.Join(path, DocumentsDir)
	}
	// Made at start, so that an administrator finds where the signed
	// lists go. Like the state directory, it is the server's alone.
	if err := os.MkdirAll(d.Documents, 0o700); err != nil {
		lock.Close()
		return nil, fmt.Errorf("create documents directory: %w", err)
	}
	if d.Authority, err = openAuthority(filepath.Join(path, TLSDir), o); err != nil {
		lock.Close()
		return nil, err
	}
	if d.Server, err = OpenServer(path, o); err != nil {
		lock.Close()
		return nil, err
	}
	d.Server.SetDocumentDir(d.Documents)
	return d, nil
}

// Close closes the server's store and releases the state directory. Call
// it once Serve has returned.
func (d *Dir) Close() error {
	return errors.Join(d.Server.Close(), d.lock.Close())
}

// openAuthority opens the CA o names, or the one kept in dir, made if
// missing; and the server certificate kept in dir.
func openAuthority(dir string, o DirOptions) (*Authority, error) {
	switch {
	case o.CACert == "" && o.CAKey == "":
		return LoadOrCreateAuthority(dir, o.Hosts)
	case o.CACert == "" || o.CAKey == "":
		return nil, errors.New("open upstream: a CA certificate and its key go together: name both, or neither")
	}
	return LoadAuthority(dir, o.CACert, o.CAKey, o.Hosts)
}

// OpenServer opens the server kept in the state directory dir — its seal
// key (o.SealKey's, or the directory's, made if missing) and its store,
// made if missing — without taking the directory's lock
// or loading its CA: `kiosk upstream token` writes a token into the store
// beside a running server. It neither sets a document directory.
func OpenServer(dir string, o DirOptions) (*Server, error) {
	if o.OpenStore == nil {
		return nil, errors.New("open upstream: no store to open")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create upstream state directory: %w", err)
	}
	var key hpke.PrivateKey
	var err error
	if o.SealKey != "" {
		key, err = LoadSealKey(o.SealKey)
	} else {
		key, err = LoadOrCreateSealKey(filepath.Join(dir, SealKeyFile))
	}
	if err != nil {
		return nil, fmt.Errorf("open upstream: %w", err)
	}
	st, err := o.OpenStore(dir)
	if err != nil {
		return nil, fmt.Errorf("open upstream: %w", err)
	}
	srv, err := New(st, Options{SealKey: key, Log: o.Log})
	if err != nil {
		st.Close()
		return nil, err
	}
	srv.SetSilentAfter(o.SilentAfter)
	return srv, nil
}

// ServeOptions configures Serve.
type ServeOptions struct {
	Server    *Server    // required
	Authority *Authority // its certificate, and the clients' it asks for; required
	Faults    *Faults    // failures injected, for tests; nil: none
	Log       *slog.Logger
}

// Serve serves o.Server's API over TLS on ln, devices authenticated by
// their client certificates, until ctx ends; then it shuts down
// gracefully: it stops accepting, lets the batches in flight finish (so
// that each is answered, or not applied at all) for up to 10 seconds, and
// returns nil. It closes ln, not the server, which the caller closes
// after.
func Serve(ctx context.Context, ln net.Listener, o ServeOptions) error {
	if o.Server == nil || o.Authority == nil {
		ln.Close()
		return errors.New("serve upstream: a server and its authority are required")
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if f := o.Faults; f.Enabled() {
		log.Warn("fault injection on", "error", f.ErrorRate, "reset", f.ResetRate, "lost_ack", f.LostAckRate,
			"too_many", f.TooManyRate, "latency_rate", f.LatencyRate, "latency", f.Latency, "seed", f.Seed)
	}
	hs := &http.Server{
		Handler:           o.Faults.Wrap(o.Server.Handler()),
		TLSConfig:         o.Authority.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// HTTP/1.1 only: an injected reset or lost answer breaks the
		// connection itself, as a network does.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-served: // ServeTLS returns only on failure before Shutdown
		return fmt.Errorf("serve upstream: %w", err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-served // http.ErrServerClosed
	if err != nil {
		hs.Close()
		return fmt.Errorf("shut down upstream: %w", err)
	}
	log.Info("upstream stopped")
	return nil
}
