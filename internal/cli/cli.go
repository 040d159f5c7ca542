// Package cli is the one subcommand dispatcher of the kiosk binary: a tree
// of Commands, each with its flags, and one policy for help and errors that
// Run applies to every command, nested ones included, so that no command
// can answer -h or a mistake differently from the others:
//
//   - "-h" or "--help" after a command, or "help" before it ("kiosk help
//     card issue"), prints its usage, its one-line summary, its flags and
//     an example on stdout, and exits 0;
//   - a usage error (an unknown flag, a required flag missing, an argument
//     too many or missing, an unknown subcommand, or an error a command
//     returns from Usagef) prints the error and the usage on stderr and
//     exits 2;
//   - any other error a command returns prints "kiosk SUB: what failed: why"
//     on stderr and exits 1; an *ExitError exits with its code, printing
//     nothing more (the command has said why).
//
// The package imports only the standard library.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Env is what a command may touch of the process: tests give their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// Action runs a command, its flags parsed, with the arguments left after
// them.
type Action func(ctx context.Context, env *Env, args []string) error

// Command is one command of the tree, named by its path from the root
// ("kiosk card issue").
type Command struct {
	Name string
	// Summary is one line, lower case, no final period: the command's
	// entry in its parent's list, and the head of its help.
	Summary string
	// Usage is what follows the command's path on its usage line:
	// "--key FILE --cert FILE [FLAGS]".
	Usage string
	// Description says more than Summary, for -h; may be "".
	Description string
	// Example is one or more command lines, for -h.
	Example string
	// Required are the flags that must be given a value that is not "".
	Required []string
	// Args names the arguments after the flags, which Run counts: "" for
	// none, "LIST" for one, "[FILE]" for one at most.
	Args string
	// Run declares the command's flags on fs and returns the action that
	// runs it once they are parsed; nil for a command that only groups
	// its Subcommands.
	Run func(fs *flag.FlagSet) Action
	// Subcommands are named by the first argument; "help" is taken.
	Subcommands []*Command
}

// UsageError is an error in how a command was called: Run prints it with
// the usage, and exits 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

// Usagef returns a *UsageError, for a command that finds its arguments
// wrong once its flags are parsed (a flag that needs another, a time that
// does not parse).
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Sprintf(format, args...)}
}

// ExitError ends the command with Code, printing nothing more: for a
// command that has printed its own verdict (an invalid card, each error of
// a file with its line).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Run runs the command of root that args name, and returns the process's
// exit code.
func Run(ctx context.Context, env *Env, root *Command, args []string) int {
	path := []*Command{root}
	cmd := root
	for len(cmd.Subcommands) > 0 && len(args) > 0 {
		if args[0] == "help" {
			return help(env, path, args[1:])
		}
		sub := cmd.sub(args[0])
		if sub == nil {
			break
		}
		path, cmd, args = append(path, sub), sub, args[1:]
	}
	if cmd.Run == nil {
		switch {
		case len(args) > 0 && isHelp(args[0]):
			writeHelp(env.Stdout, path, true)
			return 0
		case len(args) == 0:
			return usageError(env, path, fmt.Sprintf("want a command: %s", strings.Join(cmd.names(), ", ")))
		}
		return usageError(env, path, fmt.Sprintf("unknown command %q", args[0]))
	}
	fs := flagSet(cmd)
	action := cmd.Run(fs)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		writeHelp(env.Stdout, path, true)
		return 0
	case err != nil:
		return usageError(env, path, err.Error())
	}
	for _, name := range cmd.Required {
		if fs.Lookup(name).Value.String() == "" {
			return usageError(env, path, fmt.Sprintf("--%s is required", name))
		}
	}
	if err := checkArgs(cmd.Args, fs.Args()); err != nil {
		return usageError(env, path, err.Error())
	}
	err := action(ctx, env, fs.Args())
	var ue *UsageError
	var ee *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return usageError(env, path, ue.msg)
	}
	fmt.Fprintf(env.Stderr, "%s: %v\n", pathName(path), err)
	return 1
}

// flagSet is a new flag set for cmd that reports nothing itself: Run
// reports its errors, as it does every other command's.
func flagSet(cmd *Command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// help prints the help of the command args name below path: "kiosk help
// card issue".
func help(env *Env, path []*Command, args []string) int {
	for _, a := range args {
		sub := path[len(path)-1].sub(a)
		if sub == nil {
			return usageError(env, path, fmt.Sprintf("help: unknown command %q", a))
		}
		path = append(path, sub)
	}
	writeHelp(env.Stdout, path, true)
	return 0
}

func usageError(env *Env, path []*Command, msg string) int {
	fmt.Fprintf(env.Stderr, "%s: %s\n\n", pathName(path), msg)
	writeHelp(env.Stderr, path, false)
	return 2
}

// writeHelp writes the usage of the last command of path: with full, its
// summary, description and example too.
func writeHelp(w io.Writer, path []*Command, full bool) {
	cmd, name := path[len(path)-1], pathName(path)
	if full {
		fmt.Fprintf(w, "%s: %s\n\n", name, cmd.Summary)
	}
	fmt.Fprintf(w, "Usage: %s %s\n", name, cmd.Usage)
	if full && cmd.Description != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(cmd.Description, "\n"))
	}
	if len(cmd.Subcommands) > 0 {
		fmt.Fprintf(w, "\nCommands:\n")
		width := 4 // help
		for _, s := range cmd.Subcommands {
			width = max(width, len(s.Name))
		}
		for _, s := range cmd.Subcommands {
			fmt.Fprintf(w, "  %-*s  %s\n", width, s.Name, s.Summary)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, "help", "print a command's usage, flags and example")
	}
	if cmd.Run != nil {
		fs := flagSet(cmd)
		cmd.Run(fs)
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		if flags.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
		}
	}
	if full && cmd.Example != "" {
		fmt.Fprintf(w, "\nExample:\n")
		for _, l := range strings.Split(strings.TrimRight(cmd.Example, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if len(cmd.Subcommands) > 0 {
		fmt.Fprintf(w, "\nRun \"%s COMMAND -h\" for a command's usage.\n", name)
	}
}

// checkArgs counts args against what names says: each word one argument,
// one in brackets optional.
func checkArgs(names string, args []string) error {
	words := strings.Fields(names)
	need := 0
	for _, w := range words {
		if !strings.HasPrefix(w, "[") {
			need++
		}
	}
	switch {
	case len(args) > len(words):
		return fmt.Errorf("unexpected argument %q", args[len(words)])
	case len(args) < need:
		return fmt.Errorf("missing %s", words[len(args)])
	}
	return nil
}

func (c *Command) sub(name string) *Command {
	for _, s := range c.Subcommands {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (c *Command) names() []string {
	var names []string
	for _, s := range c.Subcommands {
		names = append(names, s.Name)
	}
	return names
}

func pathName(path []*Command) string {
	names := make([]string, len(path))
	for i, c := range path {
		names[i] = c.Name
	}
	return strings.Join(names, " ")
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }
