package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// The demo's issuing authority and sample cards. The people are invented.
const demoIssuer = "SDC-DEMO"

var demoSamples = []string{"valid", "expired", "revoked", "forged", "reference"}

// demoReferencePrefix is the URL prefix of the demo's reference cards, under
// a top-level domain reserved for examples.
const demoReferencePrefix = "https://docket.example/c/"

// demoKit is what the demo keeps in STATE/demo: a root key and an issuer
// key kept across runs, the root public key, trust list and revocation list
// the kiosk reads, and sample cards.
type demoKit struct {
	Dir         string
	Root        string            // PEM file: the demo root public key
	Trust       string            // signed trust list: the demo issuer, for office DEMO
	Revocations string            // signed revocation list naming the revoked sample
	Roster      string            // signed roster resolving the reference sample
	Samples     map[string]string // sample name → payload, also in Dir/NAME.txt
}

// prepareDemo creates or refreshes the demo kit in dir: the root and issuer
// keys are made once and kept; the lists are signed and the samples issued
// anew against now. The lists' seq is now in seconds, so that a restart
// never offers the kiosk a lower seq than it accepted before.
func prepareDemo(dir string, now time.Time) (*demoKit, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create demo directory: %w", err)
	}
	signer, cert, err := demoIssuerKey(dir)
	if err != nil {
		return nil, err
	}
	root, err := demoRootKey(dir)
	if err != nil {
		return nil, err
	}
	kit := &demoKit{
		Dir:         dir,
		Root:        filepath.Join(dir, "root.pem"),
		Trust:       filepath.Join(dir, trust.KindTrustList.FileName()),
		Revocations: filepath.Join(dir, trust.KindRevocations.FileName()),
		Roster:      filepath.Join(dir, trust.KindRoster.FileName()),
		Samples:     map[string]string{},
	}
	rootPEM, err := card.MarshalPublicKeyPEM(root.Public())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kit.Root, rootPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write demo root public key: %w", err)
	}
	seq := uint64(max(now.Unix(), 0))
	trustList := &card.TrustList{Seq: seq, IssuedAt: now, Entries: []card.TrustEntry{{
		Issuer: demoIssuer, Certificate: cert,
		NotBefore: now.AddDate(-5, 0, 0), NotAfter: now.AddDate(5, 0, 0), Offices: []string{"DEMO"},
	}}}
	trustData, err := trustList.Sign(root)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kit.Trust, trustData, 0o644); err != nil {
		return nil, fmt.Errorf("write trust list: %w", err)
	}
	issuer := &card.Issuer{Name: demoIssuer, Signer: signer, KID: card.KIDOfCertificate(cert)}
	// A forger holds a key of their own but copies the real issuer's kid.
	forgerKey, _, err := card.GenerateKey("ES256", "forger")
	if err != nil {
		return nil, err
	}
	forger := &card.Issuer{Name: demoIssuer, Signer: forgerKey, KID: issuer.KID}

	person := func(serial, given, family string) card.Card {
		return card.Card{
			Serial: serial, ANumber: "201555" + serial[len(serial)-3:],
			GivenName: given, FamilyName: family, DateOfBirth: "1991-04-12", Office: "DEMO",
			IssuedAt: now.Add(-24 * time.Hour), ExpiresAt: now.AddDate(1, 0, 0),
		}
	}
	valid := person("d0c0000000000001", "Amina", "Haddad")
	expired := person("d0c0000000000002", "Tomás", "Quispe")
	expired.IssuedAt, expired.ExpiresAt = now.AddDate(-2, 0, 0), now.AddDate(0, -1, 0)
	revoked := person("d0c0000000000003", "Lan", "Nguyen")
	forged := person("d0c0000000000004", "Yusuf", "Demir")

	rev := card.NewRevocations(seq)
	if err := rev.Add(demoIssuer, revoked.Serial); err != nil {
		return nil, err
	}
	rev.SetIssuedAt(now)
	revData, err := rev.Sign(root)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kit.Revocations, revData, 0o644); err != nil {
		return nil, fmt.Errorf("write revocation list: %w", err)
	}

	// A notice for the valid sample's holder, sealed so that only their
	// card opens it; the in-process upstream serves it to the kiosk.
	notices, err := card.NewNotices(seq, now)
	if err != nil {
		return nil, err
	}
	holder := valid
	holder.Issuer = demoIssuer
	if err := notices.Add(holder, card.Notice{
		Text:        map[string]string{"en": "Please go to window 3.", "es": "Por favor, vaya a la ventanilla 3."},
		Appointment: now.AddDate(0, 0, 28).Truncate(time.Hour),
	}); err != nil {
		return nil, err
	}
	noticesData, err := notices.Sign(root)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, trust.KindNotices.FileName()), noticesData, 0o644); err != nil {
		return nil, fmt.Errorf("write notices: %w", err)
	}

	// A reference card: its QR holds only a URL; the roster resolves it.
	referenced := person("d0c0000000000005", "Mariam", "Okonkwo-Adeyemi")
	referenced.Issuer = demoIssuer
	ref, err := card.NewReference()
	if err != nil {
		return nil, err
	}
	roster, err := card.NewRoster(seq, now)
	if err != nil {
		return nil, err
	}
	if err := roster.Add(ref, referenced); err != nil {
		return nil, err
	}
	rosterData, err := roster.Sign(root)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(kit.Roster, rosterData, 0o644); err != nil {
		return nil, fmt.Errorf("write roster: %w", err)
	}
	if err := writeSample(kit, "reference", demoReferencePrefix+ref); err != nil {
		return nil, err
	}

	for _, s := range []struct {
		name   string
		issuer *card.Issuer
		card   card.Card
	}{
		{"valid", issuer, valid},
		{"expired", issuer, expired},
		{"revoked", issuer, revoked},
		{"forged", forger, forged},
	} {
		payload, err := s.issuer.Issue(s.card)
		if err != nil {
			return nil, fmt.Errorf("issue %s sample: %w", s.name, err)
		}
		if err := writeSample(kit, s.name, payload); err != nil {
			return nil, err
		}
	}
	return kit, nil
}

// writeSample keeps a sample payload in the kit and in Dir/NAME.txt.
func writeSample(kit *demoKit, name, payload string) error {
	kit.Samples[name] = payload
	if err := os.WriteFile(filepath.Join(kit.Dir, name+".txt"), []byte(payload+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s sample: %w", name, err)
	}
	return nil
}

// demoIssuerKey loads the demo issuer's key and certificate from dir, making
// them on first start.
func demoIssuerKey(dir string) (crypto.Signer, *x509.Certificate, error) {
	keyFile, certFile := filepath.Join(dir, "issuer-key.pem"), filepath.Join(dir, "issuer-cert.pem")
	keyPEM, kerr := os.ReadFile(keyFile)
	certPEM, cerr := os.ReadFile(certFile)
	if errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist) {
		signer, cert, err := card.GenerateKey("ES256", "Secure Docket Card demo issuer")
		if err != nil {
			return nil, nil, err
		}
		keyPEM, err := card.MarshalPrivateKeyPEM(signer)
		if err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return nil, nil, fmt.Errorf("write demo issuer key: %w", err)
		}
		if err := os.WriteFile(certFile, card.MarshalCertificatePEM(cert), 0o644); err != nil {
			return nil, nil, fmt.Errorf("write demo issuer certificate: %w", err)
		}
		return signer, cert, nil
	}
	if err := errors.Join(kerr, cerr); err != nil {
		return nil, nil, fmt.Errorf("read demo issuer: %w", err)
	}
	signer, err := card.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return signer, cert, nil
}

// demoRootKey loads the demo root key from dir, making it on first start.
// A real root key never sits next to a kiosk; the demo plays every part.
func demoRootKey(dir string) (crypto.Signer, error) {
	keyFile := filepath.Join(dir, "root-key.pem")
	keyPEM, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		signer, _, err := card.GenerateKey(card.AlgEdDSA, "Secure Docket Card demo root")
		if err != nil {
			return nil, err
		}
		keyPEM, err := card.MarshalPrivateKeyPEM(signer)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return nil, fmt.Errorf("write demo root key: %w", err)
		}
		return signer, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read demo root key: %w", err)
	}
	signer, err := card.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return signer, nil
}

// defaultDemoDir is where the demo keeps its state across runs:
// $XDG_STATE_HOME/checkin-kiosk-demo, else ~/.local/state/checkin-kiosk-demo.
func defaultDemoDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "checkin-kiosk-demo")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "checkin-kiosk-demo")
	}
	return filepath.Join(os.TempDir(), "checkin-kiosk-demo")
}

func demoCommand(ctx context.Context, env *Env, args []string) error {
	m := NewMain()
	m.Config.StateDir = defaultDemoDir(env.Getenv)
	m.Config.KioskID = "demo-kiosk"
	m.Config.UploadMaxBackoff = 5 * time.Second
	upstreamListen := "127.0.0.1:0"

	fs := flag.NewFlagSet("kiosk demo", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&m.Config.Listen, "listen", m.Config.Listen, "`address` of the kiosk page and API")
	fs.StringVar(&m.Config.StateDir, "state-dir", m.Config.StateDir, "`directory` for the demo's state, kept across runs")
	fs.StringVar(&upstreamListen, "upstream-listen", upstreamListen, "`address` of the in-process upstream")
	fs.StringVar(&m.Config.LogLevel, "log-level", m.Config.LogLevel, "log `level`: debug, info (without the routine lines of the start), warn, error")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "kiosk demo: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	log, started := newDemoLogger(env.Stderr, m.Config.LogLevel)
	m.Log = log
	return runDemo(ctx, env, m, upstreamListen, started)
}

// newDemoLogger returns the demo's logger and the function that ends its
// start. At level info, the routine lines of the start (lists loaded,
// enrolled, serving…), which the banner sums up, are left out, so that
// what follows the banner is what the newcomer does; warnings and errors
// always pass, and so does everything at level debug.
func newDemoLogger(w io.Writer, level string) (*slog.Logger, func()) {
	log := newLogger(w, level)
	if log.Enabled(context.Background(), slog.LevelDebug) {
		return log, func() {}
	}
	h := &quietStart{Handler: log.Handler(), starting: new(atomic.Bool)}
	h.starting.Store(true)
	return slog.New(h), func() { h.starting.Store(false) }
}

// quietStart is a slog.Handler that drops records below warn while
// starting is set.
type quietStart struct {
	slog.Handler
	starting *atomic.Bool
}

func (h *quietStart) Enabled(ctx context.Context, l slog.Level) bool {
	return (l >= slog.LevelWarn || !h.starting.Load()) && h.Handler.Enabled(ctx, l)
}

func (h *quietStart) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn && h.starting.Load() {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *quietStart) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &quietStart{Handler: h.Handler.WithAttrs(attrs), starting: h.starting}
}

func (h *quietStart) WithGroup(name string) slog.Handler {
	return &quietStart{Handler: h.Handler.WithGroup(name), starting: h.starting}
}

// runDemo runs m with the demo kit and an in-process upstream until ctx
// ends. It prints the banner before anything starts, and calls started
// once the kiosk has its first downloads and takes scans typed in.
func runDemo(ctx context.Context, env *Env, m *Main, upstreamListen string, started func()) error {
	state := m.Config.StateDir
	// The state directory first: a second demo on it must not rewrite
	// the kit under the first. Main.Run keeps the lock, and Close
	// releases it; this is for a failure before.
	lock, err := statedir.Lock(state)
	if err != nil {
		return err
	}
	defer lock.Close()
	m.lock = lock
	kit, err := prepareDemo(filepath.Join(state, "demo"), time.Now())
	if err != nil {
		return err
	}
	// Both listeners first: the banner needs only their addresses, and a
	// browser that connects before the kiosk serves waits in the backlog.
	if m.Listener == nil {
		if m.Listener, err = net.Listen("tcp", m.Config.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	defer m.Listener.Close() // Run takes it over; this is for a failure before
	upLn, err := net.Listen("tcp", upstreamListen)
	if err != nil {
		return fmt.Errorf("listen for upstream: %w", err)
	}
	defer upLn.Close() // upstream.Serve closes it; this is for a failure before
	printDemo(env.Stdout, m.Listener.Addr().String(), kit, state, upLn.Addr().String())

	// The upstream decrypts what it receives, so it keeps its store apart.
	up, err := openUpstream(filepath.Join(state, "upstream"), m.Log.With("part", "upstream"), []string{"127.0.0.1", "localhost"})
	if err != nil {
		return err
	}
	defer up.Close()
	// The upstream serves the kit's signed lists (the same files the
	// kiosk starts with) and notices.
	up.Server.SetDocumentDir(kit.Dir)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return upstream.Serve(gctx, upLn, upstream.ServeOptions{Server: up.Server, Authority: up.Authority, Log: m.Log.With("part", "upstream")})
	})

	m.Config.Root = kit.Root
	m.Config.Trust = kit.Trust
	m.Config.Revocations = kit.Revocations
	m.Config.Roster = kit.Roster
	m.Config.ReferencePrefix = demoReferencePrefix
	m.Config.Upstream = "https://" + upLn.Addr().String()
	// The demo plays the administrator too: a token, and the kiosk enrolls
	// with it (again on every run, as the upstream's port changes).
	token, err := up.Server.NewEnrollToken(ctx, m.Config.KioskID, time.Minute)
	if err == nil {
		_, err = enroll.Enroll(ctx, m.Config.Upstream, up.Authority.CAPEM, token, m.Config.KioskID, state)
	}
	if err != nil {
		cancel()
		g.Wait()
		return fmt.Errorf("enroll the demo kiosk: %w", err)
	}
	if err := m.Run(gctx); err != nil {
		cancel()
		g.Wait()
		return err
	}
	g.Go(m.Wait)
	// The upstream is in this process: the kiosk's first downloads (its
	// lists and the notices) come before the first scan typed in, so the
	// demo shows them from the start.
	firstDownload(gctx, m)
	started()
	go feedLines(env.Stdin, func(text string) error {
		if p, ok := kit.Samples[text]; ok {
			text = p
		}
		err := m.Scan(gctx, text)
		if err != nil && gctx.Err() == nil {
			fmt.Fprintf(env.Stderr, "scan: %v\n", err)
		}
		return err
	}, env.Stderr)

	err = g.Wait()
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// firstDownload waits until m's downloader has polled each kind of
// document once, which it does as soon as Run starts it, or ctx ends. It
// watches rather than polls itself: a Poll beside the downloader's own
// would fetch, accept and log the same documents twice. A failed download
// is the downloader's to log; the demo goes on without it.
func firstDownload(ctx context.Context, m *Main) {
	d := m.downloader
	if d == nil {
		return
	}
	kinds := len(d.Kinds)
	if d.Kinds == nil {
		kinds = len(trust.Kinds)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(d.Status()) < kinds {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// printDemo prints the banner: where the kiosk page is, how to scan.
func printDemo(w io.Writer, addr string, kit *demoKit, state, upstreamAddr string) {
	page := "http://" + addr + "/"
	fmt.Fprintf(w, `Check-in kiosk demo: all hardware simulated.

  Kiosk page      %s
  Status          %sapi/v1/status
  Upstream stats  https://%s/v1/stats  (curl --cacert %s)
  State           %s
  Sample cards    %s/{%s}.txt

To scan a card, type a sample's name (%s) or paste a card payload
here and press Enter, or send it to the simulated scanner:

  curl --data-binary @%s %sapi/v1/sim/scan

Press Ctrl-C to stop.
`, page, page, upstreamAddr, filepath.Join(state, "upstream", upstreamTLSDirName, upstream.CACertFile), state, kit.Dir, strings.Join(demoSamples, ","),
		strings.Join(demoSamples, ", "), filepath.Join(kit.Dir, "valid.txt"), page)
}

// maxDemoLine is the longest line the demo reads on stdin, far more than
// any card.
const maxDemoLine = 64 << 10

// feedLines hands each line read from r, trimmed, to scan, skipping blank
// ones, until r ends or scan fails. A line longer than maxDemoLine is
// refused with a message on errw and skipped to its end. A read blocked on
// a terminal ends with the process.
func feedLines(r io.Reader, scan func(string) error, errw io.Writer) {
	br := bufio.NewReaderSize(r, maxDemoLine+1) // the line and its newline
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			fmt.Fprintf(errw, "line over %d KiB ignored\n", maxDemoLine>>10)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		} else if text := strings.TrimSpace(string(line)); text != "" {
			if scan(text) != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(errw, "read stdin: %v\n", err)
			}
			return
		}
	}
}
