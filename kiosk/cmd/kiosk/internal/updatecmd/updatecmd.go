// Package updatecmd is "kiosk update": the admin's, and
// kiosk-update.service's, tools to install signed releases and take them
// back (check, apply, rollback, recover, status), and the release
// engineer's to make them (keygen, pack). Package update does the work;
// this package holds the flags, the settings it reads from the daemon's
// configuration file ([update], and kiosk.listen where the daemon answers)
// and the output. docs/UPDATE.md is the manual.
//
// apply, rollback and recover run as root (kiosk-update.service): they
// write /opt/kiosk and restart kioskd with systemctl.
//
// Like the other command groups (cardcmd, hwcmd, staffcmd), it is part of
// the binary, not of the daemon's wiring.
package updatecmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/update"
)

// deps is what the commands work on: the system's on a kiosk; a
// temporary root and a double of systemd in tests.
type deps struct {
	root     string          // "/" on a kiosk
	services update.Services // systemctl on a kiosk
	hook     func(update.Step)
}

// Command is "kiosk update", for the binary's command table.
func Command() *cli.Command {
	return command(deps{root: "/", services: update.Systemctl{}})
}

func command(d deps) *cli.Command {
	const conf = "[--config FILE]"
	return &cli.Command{Name: "update", Summary: "check, apply and roll back signed releases; make them",
		Usage: "COMMAND [FLAGS]", Example: "sudo kiosk update check\nsudo kiosk update apply /media/usb/kiosk\nsudo kiosk update status",
		Subcommands: []*cli.Command{
			{Name: "check", Summary: "fetch and verify a release's manifest, and say what apply would do",
				Usage: conf + " [--allow-downgrade] [--force] [--if-configured] [SOURCE]",
				Description: "SOURCE (default: update.source) is an https:// URL or a local path, of a release directory\n" +
					"(its newest release for this machine's architecture) or of one .manifest.json. Nothing is\n" +
					"downloaded but the manifest and its signature, and nothing is written. Exits 1 when the\n" +
					"release would be refused.",
				Example: "sudo kiosk update check\nsudo kiosk update check /media/usb/kiosk", Args: "[SOURCE]", Run: d.check},
			{Name: "apply", Summary: "apply a release: verify, unpack, wait for idle, switch, restart, health-check",
				Usage: conf + " [--allow-downgrade] [--force] [--if-configured] [SOURCE]",
				Description: "Waits (update.idle_timeout) for no one to be using the kiosk before the switch; rolls back\n" +
					"and marks the release bad if it does not answer healthy within update.health_timeout, and\n" +
					"exits 1. A release older than the current one needs --allow-downgrade, one marked bad --force.",
				Example: "sudo kiosk update apply\nsudo kiosk update apply /media/usb/kiosk", Args: "[SOURCE]", Run: d.apply},
			{Name: "rollback", Summary: "switch back to the previous release, health-checked, and mark the one left bad",
				Usage: conf,
				Description: "An admin's command: it always leaves the current release. After a failed apply,\n" +
					"kiosk-update-rollback.service runs kiosk update recover instead, which undoes only a\n" +
					"switch that was not confirmed.",
				Example: "sudo kiosk update rollback", Run: d.rollback},
			{Name: "recover", Summary: "finish or undo an update a crash or power cut interrupted; else do nothing",
				Usage: conf,
				Description: "For kiosk-update.service's OnFailure unit and for boot: after an apply that ended (applied,\n" +
					"refused, failed or rolled back) it does nothing.",
				Example: "sudo kiosk update recover", Run: d.recover},
			{Name: "status", Summary: "print the current and previous releases, bad ones, the last attempt and the download",
				Usage: conf + " [--json]", Description: "As root: the update's state (/var/lib/kiosk-update) is root's alone.",
				Example: "sudo kiosk update status\nsudo kiosk update status --json", Run: d.status},
			{Name: "keygen", Summary: "make a release key pair (minisign)", Usage: "--out DIR",
				Description: "Writes DIR/" + update.KeyFile + " (the private key: keep it offline, never on a kiosk) and\n" +
					"DIR/" + update.PublicKeyFile + ", and prints the public key for update.release_key. It never\n" +
					"replaces a file.",
				Example: "kiosk update keygen --out ~/release-key", Required: []string{"out"}, Run: keygen},
			{Name: "pack", Summary: "make a signed release of a directory of files",
				Usage: "--key FILE --version V --min-from V --arch ARCH --out DIR TREE",
				Description: "TREE holds the release's files as they are to be unpacked: bin/kiosk (built with\n" +
					"-ldflags '-X main.version=V') and any others. Writes the tarball, the manifest and its\n" +
					"signature to DIR, and the manifest again as DIR's latest for ARCH unless a newer one is there.",
				Example:  "kiosk update pack --key ~/release-key/" + update.KeyFile + " --version 1.5.0 --min-from 1.2.0 --arch arm64 --out dist/ build/arm64",
				Required: []string{"key", "version", "min-from", "arch", "out"}, Args: "TREE", Run: pack},
		}}
}

// settings declares --config; the function it returns reads the file as
// the daemon does.
func settings(fs *flag.FlagSet) func() (config.Config, error) {
	return config.FileFlag(fs, "TOML `file` of the daemon's settings: its [update] table, and kiosk.listen")
}

// applyFlags declares the flags that loosen apply's refusals.
func applyFlags(fs *flag.FlagSet) *update.ApplyOptions {
	var o update.ApplyOptions
	fs.BoolVar(&o.AllowDowngrade, "allow-downgrade", false, "apply a release older than the current one")
	fs.BoolVar(&o.Force, "force", false, "apply a release marked bad")
	return &o
}

// updater returns the updater the configuration describes.
func (d deps) updater(c config.Config, env *cli.Env) (*update.Updater, error) {
	key := c.UpdateKey
	if c.UpdateKeyFile != "" {
		b, err := os.ReadFile(c.UpdateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("update.release_key_file: %w", err)
		}
		key = string(b)
	}
	if key == "" {
		return nil, errors.New("no release key: set update.release_key (or update.release_key_file) in the configuration")
	}
	client, err := httpClient(c.UpdateCA)
	if err != nil {
		return nil, err
	}
	daemon := update.NewDaemonClient(c.Listen)
	u, err := update.New(update.Config{
		Root: d.root, Key: key, Client: client, Services: d.services, Health: daemon, Idle: daemon,
		HealthTimeout: c.UpdateHealthTimeout, IdleTimeout: c.UpdateIdleTimeout, Reserve: c.DiskReserve,
		Progress: progressLine(env.Stderr), Log: slog.New(slog.NewTextHandler(env.Stderr, nil)), Hook: d.hook,
	})
	if err != nil {
		return nil, fmt.Errorf("update.release_key: %w", err)
	}
	return u, nil
}

// httpClient returns the client of https:// sources: with the CAs of the
// file ca, or nil (update's default, the system's) without one.
func httpClient(ca string) (*http.Client, error) {
	if ca == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("update.ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("update.ca: %s holds no PEM certificate", ca)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}, nil
}

// progressLine returns what shows a download's progress: a line redrawn
// in place on a terminal, at each whole percent; nothing elsewhere (the
// journal has the log, and status the progress file).
func progressLine(w io.Writer) func(update.Progress) {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	last := int64(-1)
	return func(p update.Progress) {
		pct := int64(100)
		if p.Total > 0 {
			pct = p.Done * 100 / p.Total
		}
		if pct == last {
			return
		}
		last = pct
		fmt.Fprintf(w, "\rdownloading %s: %s of %s (%d%%)", p.Version, mib(p.Done), mib(p.Total), pct)
		if p.Done >= p.Total {
			fmt.Fprintln(w)
		}
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// source is the source named on the command line, else update.source.
func source(args []string, c config.Config) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	if c.UpdateSource == "" {
		return "", cli.Usagef("no SOURCE, and update.source is not set")
	}
	return c.UpdateSource, nil
}

// sourced reads the settings, and returns the updater they make and the
// source to take a release from: what check and apply begin with.
func (d deps) sourced(conf func() (config.Config, error), args []string, env *cli.Env) (*update.Updater, string, error) {
	c, err := conf()
	if err != nil {
		return nil, "", err
	}
	src, err := source(args, c)
	if err != nil {
		return nil, "", err
	}
	u, err := d.updater(c, env)
	if err != nil {
		return nil, "", err
	}
	return u, src, nil
}

func (d deps) check(fs *flag.FlagSet) cli.Action {
	conf := settings(fs)
	opts := applyFlags(fs)
	return func(ctx context.Context, env *cli.Env, args []string) error {
		u, src, err := d.sourced(conf, args, env)
		if err != nil {
			return err
		}
		p, err := u.Check(ctx, src, *opts)
		if err != nil {
			return err
		}
		m := p.Manifest
		var size int64
		for _, f := range m.Files {
			size += f.Size
		}
		fmt.Fprintf(env.Stdout, "release   %s (%s), signed, min_from %s, created %s\n", m.Version, m.Arch, m.MinFrom, m.Created)
		fmt.Fprintf(env.Stdout, "manifest  %s\n", p.Source)
		fmt.Fprintf(env.Stdout, "tarball   %s, %s; %d files, %s unpacked\n", m.Tarball.Name, mib(m.Tarball.Size), len(m.Files), mib(size))
		fmt.Fprintf(env.Stdout, "current   %s\n", p.Current)
		switch {
		case p.Refusal != nil:
			fmt.Fprintf(env.Stdout, "apply     would refuse it: %v\n", p.Refusal)
			return &cli.ExitError{Code: 1}
		case p.UpToDate:
			fmt.Fprintln(env.Stdout, "apply     nothing to do: it is the current release")
		default:
			fmt.Fprintf(env.Stdout, "apply     would switch %s -> %s\n", p.Current, m.Version)
		}
		return nil
	}
}

func (d deps) apply(fs *flag.FlagSet) cli.Action {
	conf := settings(fs)
	opts := applyFlags(fs)
	ifConfigured := fs.Bool("if-configured", false, "with no SOURCE and no update.source, do nothing and succeed\n"+
		"(kiosk-update.timer's nightly run on a kiosk that takes its updates by hand or by package)")
	return func(ctx context.Context, env *cli.Env, args []string) error {
		if *ifConfigured && len(args) == 0 {
			c, err := conf()
			if err != nil {
				return err
			}
			if c.UpdateSource == "" {
				// Not a failure: a unit that failed every night would
				// show a healthy kiosk as degraded.
				fmt.Fprintln(env.Stdout, "updates not configured (update.source is empty): nothing to do")
				return nil
			}
		}
		u, src, err := d.sourced(conf, args, env)
		if err != nil {
			return err
		}
		p, err := u.Apply(ctx, src, *opts)
		if err != nil {
			return err
		}
		if p.UpToDate {
			fmt.Fprintf(env.Stdout, "up to date: %s\n", p.Current)
		} else {
			fmt.Fprintf(env.Stdout, "applied %s (was %s)\n", p.Manifest.Version, p.Current)
		}
		return nil
	}
}

func (d deps) rollback(fs *flag.FlagSet) cli.Action {
	conf := settings(fs)
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		c, err := conf()
		if err != nil {
			return err
		}
		u, err := d.updater(c, env)
		if err != nil {
			return err
		}
		if err := u.Rollback(ctx); err != nil {
			return err
		}
		st, err := update.ReadStatus(d.root)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "rolled back to %s; %s is marked bad\n", st.Current, st.State.Previous)
		return nil
	}
}

func (d deps) recover(fs *flag.FlagSet) cli.Action {
	conf := settings(fs)
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		c, err := conf()
		if err != nil {
			return err
		}
		u, err := d.updater(c, env)
		if err != nil {
			return err
		}
		did, err := u.Recover(ctx)
		if err != nil {
			return err
		}
		if !did {
			fmt.Fprintln(env.Stdout, "nothing to recover")
			return nil
		}
		st, err := update.ReadStatus(d.root)
		if err != nil {
			return err
		}
		a := st.State.Last
		fmt.Fprintf(env.Stdout, "recovered: %s %s -> %s %s; current %s\n", a.Kind, a.From, a.To, a.Phase, st.Current)
		return nil
	}
}

func (d deps) status(fs *flag.FlagSet) cli.Action {
	conf := settings(fs)
	asJSON := fs.Bool("json", false, "print the status as one JSON object")
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		c, err := conf()
		if err != nil {
			return err
		}
		st, err := update.ReadStatus(d.root)
		if err != nil {
			return err
		}
		running, health := "", ""
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if v, err := update.NewDaemonClient(c.Listen).Check(ctx); err != nil {
			health = err.Error()
		} else {
			running = v
		}
		if *asJSON {
			out := struct {
				update.Status
				Running string `json:"running"`          // the version the daemon answers as; "" if it does not
				Health  string `json:"health,omitempty"` // why it does not
			}{st, running, health}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return fmt.Errorf("encode status: %w", err)
			}
			fmt.Fprintln(env.Stdout, string(b))
			return nil
		}
		w := env.Stdout
		fmt.Fprintf(w, "current   %s\n", orNone(st.Current))
		if running != "" {
			fmt.Fprintf(w, "running   %s, healthy\n", running)
		} else {
			fmt.Fprintf(w, "running   not healthy: %s\n", health)
		}
		fmt.Fprintf(w, "previous  %s\n", orNone(st.State.Previous))
		fmt.Fprintf(w, "on disk   %s\n", orNone(strings.Join(st.Releases, " ")))
		for _, b := range st.State.Bad {
			fmt.Fprintf(w, "bad       %s since %s: %s\n", b.Version, b.At.Format(time.RFC3339), b.Reason)
		}
		if a := st.State.Last; a != nil {
			fmt.Fprintf(w, "last      %s %s -> %s: %s at %s\n", a.Kind, a.From, a.To, a.Phase, a.Updated.Format(time.RFC3339))
			if a.Error != "" {
				fmt.Fprintf(w, "          %s\n", a.Error)
			}
		}
		if p := st.Progress; p != nil {
			fmt.Fprintf(w, "download  %s: %s of %s at %s\n", p.Version, mib(p.Done), mib(p.Total), p.Updated.Format(time.RFC3339))
		}
		return nil
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func keygen(fs *flag.FlagSet) cli.Action {
	out := fs.String("out", "", "`directory` to write the key pair to")
	return func(_ context.Context, env *cli.Env, _ []string) error {
		pub, err := update.GenerateKey(*out)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "release key pair written to %s: keep %s offline; pin the public key in kiosk.toml:\n",
			*out, filepath.Join(*out, update.KeyFile))
		fmt.Fprintf(env.Stdout, "[update]\nrelease_key = %q\n", pub)
		return nil
	}
}

func pack(fs *flag.FlagSet) cli.Action {
	key := fs.String("key", "", "the release's private key `file` (kiosk update keygen)")
	version := fs.String("version", "", "the release's `version`: MAJOR.MINOR.PATCH")
	minFrom := fs.String("min-from", "", "the oldest `version` it may be applied over")
	arch := fs.String("arch", "", "the `GOARCH` its files are built for: arm64, arm (GOARM=7), amd64")
	out := fs.String("out", "", "`directory` to write the release to")
	return func(_ context.Context, env *cli.Env, args []string) error {
		if _, err := update.ParseVersion(*version); err != nil {
			return cli.Usagef("--version: %v", err)
		}
		if _, err := update.ParseVersion(*minFrom); err != nil {
			return cli.Usagef("--min-from: %v", err)
		}
		k, err := os.ReadFile(*key)
		if err != nil {
			return fmt.Errorf("read release key: %w", err)
		}
		p, err := update.Pack(update.PackConfig{Key: k, Version: *version, MinFrom: *minFrom, Arch: *arch, Tree: args[0], Out: *out})
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, p.Tarball)
		fmt.Fprintln(env.Stdout, p.Path)
		fmt.Fprintln(env.Stdout, p.Path+update.SignatureSuffix)
		if p.Latest {
			fmt.Fprintf(env.Stderr, "%s is now the latest for %s in %s\n", p.Manifest.Version, p.Manifest.Arch, *out)
		}
		return nil
	}
}
