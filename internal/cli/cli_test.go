package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

// testTree is a small tree with every kind of command: a group, a command
// with both an action and subcommands, required flags and arguments.
func testTree(ran *[]string) *Command {
	record := func(name string) func(fs *flag.FlagSet) Action {
		return func(fs *flag.FlagSet) Action {
			n := fs.Int("n", 0, "a `number`")
			fs.String("file", "", "a `file`")
			return func(ctx context.Context, env *Env, args []string) error {
				*ran = append(*ran, name+":"+strings.Join(args, ","))
				switch *n {
				case 1:
					return errors.New("open x: no such file")
				case 2:
					return Usagef("--n 2 needs --file")
				case 3:
					return &ExitError{Code: 3}
				}
				return nil
			}
		}
	}
	return &Command{
		Name: "tool", Summary: "a tool", Usage: "COMMAND", Example: "tool leaf",
		Subcommands: []*Command{
			{Name: "leaf", Summary: "a leaf", Usage: "[--n N] [FILE]", Example: "tool leaf x", Args: "[FILE]", Run: record("leaf")},
			{Name: "group", Summary: "a group", Usage: "COMMAND", Example: "tool group one",
				Subcommands: []*Command{
					{Name: "one", Summary: "the one", Usage: "--file F NAME", Example: "tool group one --file f a",
						Required: []string{"file"}, Args: "NAME", Run: record("one")},
				}},
			{Name: "both", Summary: "an action and a subcommand", Usage: "[--n N]", Example: "tool both", Run: record("both"),
				Subcommands: []*Command{
					{Name: "sub", Summary: "the sub", Usage: "", Example: "tool both sub", Run: record("sub")},
				}},
		},
	}
}

func TestRun(t *testing.T) {
	for _, tt := range []struct {
		args           []string
		code           int
		ran            string
		stdout, stderr []string // each must be there
	}{
		{[]string{"leaf"}, 0, "leaf:", nil, nil},
		{[]string{"leaf", "--n", "0", "x"}, 0, "leaf:x", nil, nil},
		{[]string{"group", "one", "--file", "f", "a"}, 0, "one:a", nil, nil},
		{[]string{"both"}, 0, "both:", nil, nil},
		{[]string{"both", "sub"}, 0, "sub:", nil, nil},

		{[]string{"-h"}, 0, "", []string{"tool: a tool\n", "Usage: tool COMMAND\n", "  leaf ", "  help ", "Example:\n  tool leaf\n"}, nil},
		{[]string{"help"}, 0, "", []string{"tool: a tool\n"}, nil},
		{[]string{"leaf", "-h"}, 0, "", []string{"tool leaf: a leaf\n", "Usage: tool leaf [--n N] [FILE]\n", "-n number", "Example:\n  tool leaf x\n"}, nil},
		{[]string{"leaf", "--help"}, 0, "", []string{"tool leaf: a leaf\n"}, nil},
		{[]string{"help", "group", "one"}, 0, "", []string{"tool group one: the one\n", "-file file\n", "Example:\n  tool group one --file f a\n"}, nil},
		{[]string{"group", "help", "one"}, 0, "", []string{"tool group one: the one\n"}, nil},
		{[]string{"group", "--help"}, 0, "", []string{"tool group: a group\n", "  one "}, nil},
		{[]string{"both", "-h"}, 0, "", []string{"tool both: an action and a subcommand\n", "  sub ", "-n number\n"}, nil},
		{[]string{"both", "sub", "-h"}, 0, "", []string{"tool both sub: the sub\n"}, nil},

		{nil, 2, "", nil, []string{"tool: want a command: leaf, group, both\n", "Usage: tool COMMAND\n"}},
		{[]string{"nope"}, 2, "", nil, []string{"tool: unknown command \"nope\"\n", "Usage: tool COMMAND\n"}},
		{[]string{"help", "nope"}, 2, "", nil, []string{"tool: help: unknown command \"nope\"\n"}},
		{[]string{"group", "--nope"}, 2, "", nil, []string{"tool group: unknown command \"--nope\"\n"}},
		{[]string{"leaf", "--nope"}, 2, "", nil, []string{"tool leaf: flag provided but not defined: -nope\n", "Usage: tool leaf [--n N] [FILE]\n", "-n number"}},
		{[]string{"leaf", "--n", "x"}, 2, "", nil, []string{"tool leaf: invalid value \"x\" for flag -n"}},
		{[]string{"leaf", "a", "b"}, 2, "", nil, []string{"tool leaf: unexpected argument \"b\"\n"}},
		{[]string{"group", "one", "a"}, 2, "", nil, []string{"tool group one: --file is required\n"}},
		{[]string{"group", "one", "--file", "f"}, 2, "", nil, []string{"tool group one: missing NAME\n"}},
		{[]string{"both", "nope"}, 2, "", nil, []string{"tool both: unexpected argument \"nope\"\n"}},
		{[]string{"leaf", "--n", "2"}, 2, "leaf:", nil, []string{"tool leaf: --n 2 needs --file\n\nUsage: tool leaf"}},

		{[]string{"leaf", "--n", "1"}, 1, "leaf:", nil, []string{"tool leaf: open x: no such file\n"}},
		{[]string{"group", "one", "--n", "1", "--file", "f", "a"}, 1, "one:a", nil, []string{"tool group one: open x: no such file\n"}},
		{[]string{"leaf", "--n", "3"}, 3, "leaf:", nil, nil},
	} {
		var ran []string
		var stdout, stderr bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		code := Run(context.Background(), env, testTree(&ran), tt.args)
		if code != tt.code || strings.Join(ran, " ") != tt.ran {
			t.Errorf("Run(%q) = exit %d, ran %q; want exit %d, ran %q\nstdout:\n%s\nstderr:\n%s",
				tt.args, code, ran, tt.code, tt.ran, stdout.String(), stderr.String())
		}
		for _, s := range tt.stdout {
			if !strings.Contains(stdout.String(), s) {
				t.Errorf("Run(%q): stdout lacks %q:\n%s", tt.args, s, stdout.String())
			}
		}
		for _, s := range tt.stderr {
			if !strings.Contains(stderr.String(), s) {
				t.Errorf("Run(%q): stderr lacks %q:\n%s", tt.args, s, stderr.String())
			}
		}
		// Help goes to stdout and nothing else; everything else to stderr.
		if (tt.stdout != nil) != (stdout.Len() > 0) || (tt.stdout != nil && stderr.Len() > 0) {
			t.Errorf("Run(%q): stdout %q, stderr %q; want help on stdout alone, or nothing on it", tt.args, stdout.String(), stderr.String())
		}
		if code == 0 && tt.stdout == nil && stderr.Len() > 0 {
			t.Errorf("Run(%q) succeeded, saying %q on stderr", tt.args, stderr.String())
		}
	}
}
