// Command kiosk is the check-in kiosk: the daemon, its demo, and the tools
// that go with it (card issuing and verification, the reference upstream).
//
// It is the only package that imports every other package of the module: it
// builds the graph and nothing else does.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand's
// name; it returns an *exitError to choose an exit code other than 1.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// Env is what a subcommand may touch of the process: tests give their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// exitError ends the process with Code, printing nothing more.
type exitError struct{ Code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

func commands() []command {
	return []command{
		{"run", "run the kiosk daemon", runCommand},
		{"config", "check, show and sample the daemon's configuration file", configCommand},
		{"demo", "run the kiosk with simulated hardware and an in-process upstream", demoCommand},
		{"card", "issue, inspect and verify Secure Docket Cards", cardCommand},
		{"upstream", "run the reference upstream server; make enrollment tokens", upstreamCommand},
		{"enroll", "pair this kiosk with an upstream", enrollCommand},
		{"version", "print the version", versionCommand},
		{"help", "list the commands", nil},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	code := dispatch(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// dispatch runs the subcommand named by args[0] and returns the exit code.
func dispatch(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		usage(env.Stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != name || c.run == nil {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var ee *exitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.Code
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(env.Stderr, "kiosk %s: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(env.Stderr, "kiosk: unknown command %q\n\n", name)
	usage(env.Stderr)
	return 2
}

// runSubcommand runs the subcommand of subs named by args[0]. With no
// name, an unknown one, or help, it lists subs: on stdout and successfully
// for help, else on stderr as a usage error.
func runSubcommand(ctx context.Context, env *Env, name string, args []string, subs []command) error {
	if len(args) > 0 {
		for _, s := range subs {
			if s.name == args[0] {
				return s.run(ctx, env, args[1:])
			}
		}
	}
	w := env.Stderr
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		w = env.Stdout
	} else if len(args) > 0 {
		fmt.Fprintf(w, "%s: unknown subcommand %q\n\n", name, args[0])
	}
	fmt.Fprintf(w, "Usage: %s SUBCOMMAND [FLAGS]\n\n", name)
	for _, s := range subs {
		fmt.Fprintf(w, "  %-12s %s\n", s.name, s.summary)
	}
	if w == env.Stdout {
		return nil
	}
	return errUsage
}

// errUsage reports bad arguments that the flag package has already explained.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "kiosk: the Secure Docket Card check-in kiosk")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: kiosk COMMAND [ARGUMENTS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "kiosk COMMAND -h" for a command's flags.`)
}
