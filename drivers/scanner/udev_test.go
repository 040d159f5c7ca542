package scanner_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// The udev rules (systemd/udev) give the scanner the name and the access
// this package's drivers expect. These tests read them as udev would (a
// rule is a line of KEY OP "VALUE" triples) and check what the kiosk needs
// of them; udevadm verify, where this systemd has it (≥ 255), checks them
// too.

const rulesGlob = "../../systemd/udev/70-kiosk-scanner.rules"

// A triple is one KEY OP "VALUE" of a rule.
type triple struct{ key, op, value string }

// A rule is one line of a rules file (with its continuations).
type rule struct {
	line    int
	triples []triple
}

// has reports whether the rule holds key op value.
func (r rule) has(key, op, value string) bool {
	for _, t := range r.triples {
		if t.key == key && t.op == op && t.value == value {
			return true
		}
	}
	return false
}

// get returns the value of the rule's first triple with key and op.
func (r rule) get(key, op string) (string, bool) {
	for _, t := range r.triples {
		if t.key == key && t.op == op {
			return t.value, true
		}
	}
	return "", false
}

var tripleRE = regexp.MustCompile(`^\s*([A-Z_]+(?:\{[A-Za-z0-9_]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)`)

// braces is the attribute a key names: ATTRS{idVendor} is an ATTRS{} key.
var braces = regexp.MustCompile(`\{.*\}`)

// keyOps are the keys the kiosk's rules may use, with their operators:
// matches compare, assignments set.
var keyOps = map[string]string{
	"ACTION": "== !=", "SUBSYSTEM": "== !=", "KERNEL": "== !=", "ATTRS{}": "== !=",
	"ENV{}": "== != = :=", "SYMLINK": "+= =", "GROUP": "= :=", "MODE": "= :=",
	"GOTO": "=", "LABEL": "=", "TAG": "+= -=",
}

// parseRules parses a rules file: comments and blank lines skipped, a
// line ending in a backslash continued on the next.
func parseRules(text string) ([]rule, error) {
	var rules []rule
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		start, line := i+1, lines[i]
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + lines[i]
		}
		if s := strings.TrimSpace(line); s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		r := rule{line: start}
		for rest := line; strings.TrimSpace(rest) != ""; {
			m := tripleRE.FindStringSubmatch(rest)
			if m == nil {
				return nil, fmt.Errorf("line %d: not KEY OP \"VALUE\": %q", start, strings.TrimSpace(rest))
			}
			key := braces.ReplaceAllString(m[1], "{}")
			ops, ok := keyOps[key]
			if !ok || !slices.Contains(strings.Fields(ops), m[2]) {
				return nil, fmt.Errorf("line %d: %s%s: not a key and operator these rules use", start, m[1], m[2])
			}
			r.triples = append(r.triples, triple{m[1], m[2], m[3]})
			rest = rest[len(m[0]):]
		}
		rules = append(rules, r)
	}
	return rules, nil
}

var hex4 = regexp.MustCompile(`^[0-9a-f]{4}$`)

// checkRules says what the kiosk's scanner rules lack, or nil.
func checkRules(text string) error {
	rules, err := parseRules(text)
	if err != nil {
		return err
	}
	var errs []error
	labels := map[string]bool{}
	for _, r := range rules {
		if l, ok := r.get("LABEL", "="); ok {
			labels[l] = true
		}
	}
	for _, r := range rules {
		if l, ok := r.get("GOTO", "="); ok && !labels[l] {
			errs = append(errs, fmt.Errorf("line %d: GOTO %q has no LABEL", r.line, l))
		}
		// The kiosk's group on the scanner's node only: a rule that gives
		// it must name the scanner by VID:PID, or every tty or keyboard
		// (the touchscreen's) would be the kiosk's to read.
		_, group := r.get("GROUP", "=")
		_, mode := r.get("MODE", "=")
		if group || mode {
			vid, v := r.get("ATTRS{idVendor}", "==")
			pid, p := r.get("ATTRS{idProduct}", "==")
			if !v || !p || !hex4.MatchString(vid) || !hex4.MatchString(pid) {
				errs = append(errs, fmt.Errorf("line %d: sets GROUP or MODE without matching ATTRS{idVendor} and ATTRS{idProduct} (4 lower-case hex digits)", r.line))
			}
		}
	}
	for _, want := range []struct {
		mode, subsystem, kernel, env string
	}{
		{"serial", "tty", "ttyACM*", "ID_MM_DEVICE_IGNORE"},
		{"keyboard wedge", "input", "event*", "LIBINPUT_IGNORE_DEVICE"},
	} {
		n := 0
		for _, r := range rules {
			if !r.has("SUBSYSTEM", "==", want.subsystem) || !r.has("KERNEL", "==", want.kernel) {
				continue
			}
			n++
			for _, t := range []triple{
				{"SYMLINK", "+=", "kiosk-scanner"},
				{"GROUP", "=", "kiosk"},
				{"MODE", "=", "0660"},
				{"ENV{" + want.env + "}", "=", "1"},
			} {
				if !r.has(t.key, t.op, t.value) {
					errs = append(errs, fmt.Errorf("line %d (%s): lacks %s%s%q", r.line, want.mode, t.key, t.op, t.value))
				}
			}
		}
		if n != 1 {
			errs = append(errs, fmt.Errorf("%d rules for the %s scanner (SUBSYSTEM==%q, KERNEL==%q); want 1", n, want.mode, want.subsystem, want.kernel))
		}
	}
	return errors.Join(errs...)
}

func rulesFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(rulesGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no rules in %s: %v", rulesGlob, err)
	}
	return files
}

func TestUdevRules(t *testing.T) {
	for _, f := range rulesFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkRules(string(b)); err != nil {
			t.Errorf("%s:\n%v", f, err)
		}
	}
}

// TestUdevRulesChecker: checkRules finds each thing the rules could lack,
// so TestUdevRules can fail.
func TestUdevRulesChecker(t *testing.T) {
	const good = `# comment
ACTION=="remove", GOTO="end"
SUBSYSTEM=="tty", KERNEL=="ttyACM*", ATTRS{idVendor}=="05e0", ATTRS{idProduct}=="1701", \
  SYMLINK+="kiosk-scanner", GROUP="kiosk", MODE="0660", ENV{ID_MM_DEVICE_IGNORE}="1"
SUBSYSTEM=="input", KERNEL=="event*", ATTRS{idVendor}=="05e0", ATTRS{idProduct}=="1200", \
  SYMLINK+="kiosk-scanner", GROUP="kiosk", MODE="0660", ENV{LIBINPUT_IGNORE_DEVICE}="1"
LABEL="end"
`
	if err := checkRules(good); err != nil {
		t.Fatalf("checkRules(good) = %v", err)
	}
	for _, tc := range []struct{ old, new, want string }{
		{`, ENV{ID_MM_DEVICE_IGNORE}="1"`, ``, `lacks ENV{ID_MM_DEVICE_IGNORE}="1"`},
		{`, ENV{LIBINPUT_IGNORE_DEVICE}="1"`, ``, `lacks ENV{LIBINPUT_IGNORE_DEVICE}="1"`},
		{`SYMLINK+="kiosk-scanner", GROUP="kiosk", MODE="0660", ENV{ID`, `GROUP="kiosk", MODE="0660", ENV{ID`, `lacks SYMLINK+="kiosk-scanner"`},
		{`GROUP="kiosk", MODE="0660", ENV{LIB`, `GROUP="input", MODE="0660", ENV{LIB`, `lacks GROUP="kiosk"`},
		{`MODE="0660", ENV{ID`, `MODE="0666", ENV{ID`, `lacks MODE="0660"`},
		{`ATTRS{idVendor}=="05e0", ATTRS{idProduct}=="1200", `, ``, `sets GROUP or MODE without matching`},
		{`ATTRS{idProduct}=="1701"`, `ATTRS{idProduct}=="0x1701"`, `sets GROUP or MODE without matching`},
		{`KERNEL=="event*"`, `KERNEL=="input*"`, `0 rules for the keyboard wedge scanner`},
		{`SUBSYSTEM=="tty"`, `SUBSYSTEM=="usb"`, `0 rules for the serial scanner`},
		{`LABEL="end"`, `LABEL="fin"`, `GOTO "end" has no LABEL`},
		{`GROUP="kiosk", MODE="0660", ENV{ID`, `GROUP="kiosk" MODE="0660", ENV{ID`, `not KEY OP "VALUE"`},
		{`ACTION=="remove"`, `ACTION="remove"`, `ACTION=: not a key and operator`},
		{`ACTION=="remove"`, `RUN+="/bin/sh"`, `RUN+=: not a key and operator`},
	} {
		bad := strings.Replace(good, tc.old, tc.new, 1)
		if bad == good {
			t.Fatalf("mutation %q -> %q changes nothing", tc.old, tc.new)
		}
		if err := checkRules(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkRules(%q -> %q) = %v; want an error with %q", tc.old, tc.new, err, tc.want)
		}
	}
}

// TestUdevVerify runs udev's own checker on the rules (systemd ≥ 255),
// without resolving the group name: the build machine has no kiosk group.
func TestUdevVerify(t *testing.T) {
	udevadm := testenv.LookPath(t, "udevadm", "udev")
	if err := exec.Command(udevadm, "verify", "--help").Run(); err != nil {
		// Not a missing install but the distribution's systemd: Debian 12
		// has 252, and no package adds the verb. TestUdevRules checks the
		// rules' content everywhere.
		t.Skipf("udevadm has no verify (it came with systemd 255): %v", err)
	}
	args := append([]string{"verify", "--resolve-names=never"}, rulesFiles(t)...)
	if out, err := exec.Command(udevadm, args...).CombinedOutput(); err != nil {
		t.Errorf("udevadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
