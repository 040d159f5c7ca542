// Package staffcmd is "kiosk staff": the admin's tools for the staff
// dashboard's accounts, kept in STATE/staff/accounts.json of the daemon's
// state directory (package ui/staff does the work). They may run while the
// daemon does: it reads the file again when it changes, so an account
// removed, or given a new password, is logged out within a second.
//
// Passwords: by default `add` and `passwd` generate a strong password
// (ui/staff.GeneratePassword, 99 bits) and print it once; nothing keeps it
// in the clear. With --password-stdin they read one line from stdin
// instead, for a password manager or a script; they refuse a terminal
// there, where the password would show as it is typed (the module has no
// terminal package to turn echo off).
//
// Run them as the daemon's user (sudo -u kiosk kiosk staff add NAME); run
// as root, the files they write are given to the owner of the state
// directory.
//
// Like the other command groups (cardcmd, hwcmd), it is part of the
// binary, not of the daemon's wiring.
package staffcmd

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docketkiosk/checkin-kiosk/config"
	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/ui/staff"
)

// Command is "kiosk staff", for the binary's command table.
func Command() *cli.Command {
	const dirs = "[--config FILE] [--state-dir DIR]"
	return &cli.Command{Name: "staff", Summary: "add, remove and list the staff dashboard's accounts",
		Usage: "COMMAND [FLAGS]", Example: "sudo -u kiosk kiosk staff add alice\nkiosk staff list",
		Subcommands: []*cli.Command{
			{Name: "add", Summary: "add a staff account and print its password, generated, once",
				Usage: dirs + " [--password-stdin] NAME",
				Description: "NAME is 1 to 32 of a-z, 0-9, '.', '_' and '-'. The password is generated and printed\n" +
					"once (give it to the person, by hand); with --password-stdin it is the first line of\n" +
					"stdin instead, at least 12 characters. It is stored hashed (argon2id).",
				Example: "sudo -u kiosk kiosk staff add alice\n" +
					"pass show kiosk/alice | sudo -u kiosk kiosk staff add --password-stdin alice",
				Args: "NAME", Run: add},
			{Name: "passwd", Summary: "give a staff account a new password, printed once, and end its sessions",
				Usage: dirs + " [--password-stdin] NAME", Example: "sudo -u kiosk kiosk staff passwd alice",
				Args: "NAME", Run: passwd},
			{Name: "remove", Summary: "remove a staff account and end its sessions",
				Usage: dirs + " NAME", Example: "sudo -u kiosk kiosk staff remove alice",
				Args: "NAME", Run: remove},
			{Name: "list", Summary: "list the staff accounts", Usage: dirs,
				Example: "kiosk staff list", Run: list},
		}}
}

// accountsFlags declares --config and --state-dir on fs; the function it
// returns, once fs is parsed, opens the accounts of the state directory:
// --state-dir, else kiosk.state_dir of the configuration file, as the
// daemon reads it.
func accountsFlags(fs *flag.FlagSet) func() (*staff.Accounts, error) {
	conf := config.FileFlag(fs, "TOML `file` whose kiosk.state_dir holds the accounts")
	stateDir := fs.String("state-dir", "", "the daemon's state `directory` (default: kiosk.state_dir of the configuration file)")
	return func() (*staff.Accounts, error) {
		if *stateDir != "" {
			return staff.NewAccounts(*stateDir), nil
		}
		c, err := conf()
		if err != nil {
			return nil, err
		}
		return staff.NewAccounts(c.StateDir), nil
	}
}

// passwordFlag declares --password-stdin; the function it returns gives
// the password to set: the first line of stdin with it, else a new one
// generated, which it reports so that it is printed.
func passwordFlag(fs *flag.FlagSet) func(env *cli.Env) (password string, generated bool, err error) {
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (a pipe) instead of generating one")
	return func(env *cli.Env) (string, bool, error) {
		if !*fromStdin {
			return staff.GeneratePassword(), true, nil
		}
		if f, ok := env.Stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				return "", false, cli.Usagef("--password-stdin reads a pipe, and stdin is a terminal, where the password would show as typed: " +
					"pipe it in, or leave the flag out for a generated password")
			}
		}
		pw, err := readLine(env.Stdin)
		if err != nil {
			return "", false, err
		}
		return pw, false, staff.CheckPassword(pw)
	}
}

// readLine reads the first line of r, without its line ending, at most a
// little over the longest password.
func readLine(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, staff.MaxPasswordLen+3), staff.MaxPasswordLen+3)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	if errors.Is(err, io.EOF) && len(line) > staff.MaxPasswordLen+1 {
		return "", fmt.Errorf("password too long: want at most %d bytes", staff.MaxPasswordLen)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// printPassword prints a generated password once, alone on its line, so
// that it can be read off or piped.
func printPassword(env *cli.Env, what, name, password string) {
	fmt.Fprintf(env.Stderr, "%s; its password, shown this once (give it to %s by hand):\n", what, name)
	fmt.Fprintln(env.Stdout, password)
}

func add(fs *flag.FlagSet) cli.Action {
	open := accountsFlags(fs)
	password := passwordFlag(fs)
	return func(_ context.Context, env *cli.Env, args []string) error {
		name := args[0]
		if err := staff.CheckName(name); err != nil {
			return cli.Usagef("%v", err)
		}
		a, err := open()
		if err != nil {
			return err
		}
		pw, generated, err := password(env)
		if err != nil {
			return err
		}
		if err := a.Add(name, pw); err != nil {
			return err
		}
		if generated {
			printPassword(env, "staff account "+name+" added", name, pw)
		} else {
			fmt.Fprintf(env.Stderr, "staff account %s added\n", name)
		}
		return nil
	}
}

func passwd(fs *flag.FlagSet) cli.Action {
	open := accountsFlags(fs)
	password := passwordFlag(fs)
	return func(_ context.Context, env *cli.Env, args []string) error {
		name := args[0]
		a, err := open()
		if err != nil {
			return err
		}
		pw, generated, err := password(env)
		if err != nil {
			return err
		}
		if err := a.SetPassword(name, pw); err != nil {
			return err
		}
		what := "staff account " + name + " has a new password, and its sessions end"
		if generated {
			printPassword(env, what, name, pw)
		} else {
			fmt.Fprintln(env.Stderr, what)
		}
		return nil
	}
}

func remove(fs *flag.FlagSet) cli.Action {
	open := accountsFlags(fs)
	return func(_ context.Context, env *cli.Env, args []string) error {
		a, err := open()
		if err != nil {
			return err
		}
		if err := a.Remove(args[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "staff account %s removed, and its sessions end\n", args[0])
		return nil
	}
}

func list(fs *flag.FlagSet) cli.Action {
	open := accountsFlags(fs)
	return func(_ context.Context, env *cli.Env, _ []string) error {
		a, err := open()
		if err != nil {
			return err
		}
		names, err := a.Names()
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintln(env.Stdout, n)
		}
		return nil
	}
}
