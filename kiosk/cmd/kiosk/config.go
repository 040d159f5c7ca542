package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
)

func configCheck(*flag.FlagSet) cli.Action {
	return func(_ context.Context, env *cli.Env, args []string) error {
		path := config.DefaultPath
		if len(args) == 1 {
			path = args[0]
		}
		if _, err := config.Load(path); err != nil {
			fmt.Fprintln(env.Stderr, err) // one error to a line, each naming its file and line
			return &cli.ExitError{Code: 1}
		}
		fmt.Fprintf(env.Stdout, "%s: ok\n", path)
		return nil
	}
}

func configShow(fs *flag.FlagSet) cli.Action {
	conf := config.FileFlag(fs, "TOML `file` to read")
	return func(_ context.Context, env *cli.Env, _ []string) error {
		c, err := conf()
		if err != nil {
			return err
		}
		return c.WriteTOML(env.Stdout)
	}
}

func configDefault(*flag.FlagSet) cli.Action {
	return func(_ context.Context, env *cli.Env, _ []string) error { return config.WriteDefault(env.Stdout) }
}

// Reload puts c, the configuration read again, to use as far as a running
// kiosk can (config.Reload): the list files and their maximum age, the
// lists reopened and swapped whole (trust.Lists.Reopen); the screen
// timeouts from the next screen on; and the log level. It logs the keys it
// applied, and those that changed but wait for a restart. A list that does
// not open or is older than one accepted is an error naming its file, and
// nothing of c is applied. c must pass config.Check; m must be running.
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
	next := config.Apply(old, c, apply)
	// The lists first: the one part that can refuse, before anything else
	// is applied. Read again on every reload, changed paths or not: an
	// admin who puts a new revocation list in place of the old file and
	// sends SIGHUP expects it in use.
	if err := m.lists.Reopen(ctx, listFiles(next)); err != nil {
		return fmt.Errorf("reopen lists: %w", err)
	}
	m.flow.SetTimeouts(kiosk.Timeouts{Confirm: next.ConfirmTimeout, Result: next.ResultTimeout, Help: next.HelpTimeout})
	m.level.Set(level)
	// Field by field, not the whole struct: the daemon's goroutines read
	// the others (the devices, the storage check) as it runs.
	m.Config.ConfirmTimeout, m.Config.ResultTimeout, m.Config.HelpTimeout = next.ConfirmTimeout, next.ResultTimeout, next.HelpTimeout
	m.Config.LogLevel = next.LogLevel
	m.Config.Trust, m.Config.Revocations, m.Config.Roster, m.Config.MaxListAge = next.Trust, next.Revocations, next.Roster, next.MaxListAge
	applied := config.Diff(old, m.Config)
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
