package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

func configCommand(ctx context.Context, env *Env, args []string) error {
	return runSubcommand(ctx, env, "kiosk config", args, []command{
		{"check", "check a configuration file; print each error with its line", configCheckCommand},
		{"show", "print the configuration in effect, as TOML", configShowCommand},
		{"default", "print a sample file: every key, its default and what it does", configDefaultCommand},
	})
}

// loadConfig reads the configuration file at path; named says it was
// named on the command line. The default file may be absent (the
// defaults then), a named one may not.
func loadConfig(path string, named bool) (Config, error) {
	c, err := config.Load(path)
	if !named && errors.Is(err, fs.ErrNotExist) {
		return config.Default(), nil
	}
	return c, err
}

func configCheckCommand(_ context.Context, env *Env, args []string) error {
	fl := flag.NewFlagSet("kiosk config check", flag.ContinueOnError)
	fl.SetOutput(env.Stderr)
	fl.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: kiosk config check [FILE]\n\nChecks FILE (default %s) as kiosk run reads it.\n", config.DefaultPath)
	}
	if help, err := cardParseFlags(fl, args); help || err != nil {
		return err
	}
	if fl.NArg() > 1 {
		fmt.Fprintf(env.Stderr, "kiosk config check: unexpected argument %q\n", fl.Arg(1))
		return errUsage
	}
	path := config.DefaultPath
	if fl.NArg() == 1 {
		path = fl.Arg(0)
	}
	if _, err := config.Load(path); err != nil {
		fmt.Fprintln(env.Stderr, err) // one error to a line, each naming its line
		return &exitError{Code: 1}
	}
	fmt.Fprintf(env.Stdout, "%s: ok\n", path)
	return nil
}

func configShowCommand(_ context.Context, env *Env, args []string) error {
	fl := flag.NewFlagSet("kiosk config show", flag.ContinueOnError)
	fl.SetOutput(env.Stderr)
	path := fl.String("config", config.DefaultPath, "TOML `file` to read; when the default is absent, the defaults")
	if help, err := cardParseFlags(fl, args); help || err != nil {
		return err
	}
	named := false
	fl.Visit(func(f *flag.Flag) { named = named || f.Name == "config" })
	c, err := loadConfig(*path, named)
	if err != nil {
		return err
	}
	return c.WriteTOML(env.Stdout)
}

func configDefaultCommand(_ context.Context, env *Env, args []string) error {
	fl := flag.NewFlagSet("kiosk config default", flag.ContinueOnError)
	fl.SetOutput(env.Stderr)
	if help, err := cardParseFlags(fl, args); help || err != nil {
		return err
	}
	return config.WriteDefault(env.Stdout)
}

// Reload puts c, the configuration read again, to use as far as a running
// kiosk can (config.Reload): the screen timeouts from the next screen on,
// and the log level. It logs the keys it applied, and those that changed
// but wait for a restart. c must pass config.Check; m must be running.
func (m *Main) Reload(ctx context.Context, c Config) error {
	if m.flow == nil {
		return errors.New("reload: the kiosk is not running")
	}
	if err := c.Check(); err != nil {
		return err
	}
	level, _ := config.ParseLevel(c.LogLevel) // Check parsed it
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	old := m.Config
	apply, restart := config.Reload(old, c)
	m.flow.SetTimeouts(kiosk.Timeouts{Confirm: c.ConfirmTimeout, Result: c.ResultTimeout, Help: c.HelpTimeout})
	m.level.Set(level)
	// Field by field, not the whole struct: the daemon's goroutines read
	// the others (the devices, the storage check) as it runs.
	m.Config.ConfirmTimeout, m.Config.ResultTimeout, m.Config.HelpTimeout = c.ConfirmTimeout, c.ResultTimeout, c.HelpTimeout
	m.Config.LogLevel = c.LogLevel
	// config.Reload counts the list files and their age among what a
	// running kiosk applies, as the lists can be swapped while cards are
	// verified. Here they are still read at the start only: until the
	// lists can be reopened in place, they wait for a restart too.
	applied := config.Diff(old, m.Config)
	for _, key := range apply {
		if !slices.Contains(applied, key) {
			restart = append(restart, key)
		}
	}
	switch {
	case len(applied) == 0 && len(restart) == 0:
		m.Log.Info("configuration reloaded: nothing changed")
	case len(applied) > 0:
		m.Log.Info("configuration reloaded: settings applied", "keys", applied)
	}
	if len(restart) > 0 {
		m.Log.Warn("configuration reloaded: settings changed that need a restart", "keys", restart)
	}
	return nil
}

// reload reads the configuration again as ParseFlags did and puts it to
// use. A configuration that does not load is logged and left unused: the
// kiosk keeps running with the one it has.
func (m *Main) reload(ctx context.Context) {
	if m.load == nil {
		return // not configured by ParseFlags: nothing to read again
	}
	c, err := m.load()
	if err == nil {
		err = m.Reload(ctx, c)
	}
	if err != nil {
		m.Log.Error("configuration not reloaded: keeping the one in use", "err", err)
	}
}

// waitReloading is Wait, reloading the configuration at each signal on
// hup meanwhile.
func (m *Main) waitReloading(ctx context.Context, hup <-chan os.Signal) error {
	done := make(chan error, 1)
	go func() { done <- m.Wait() }() // ends with the daemon
	for {
		select {
		case err := <-done:
			return err
		case <-hup:
			m.reload(ctx)
		}
	}
}
