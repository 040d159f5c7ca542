package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/docketkiosk/checkin-kiosk"

// TestDependencyDirection keeps the layout's one rule: dependencies point
// inward. Drivers import nothing of ours; the domain (kiosk, kiosk/card)
// imports no adapter; adapters do not import each other (devices adapts
// the drivers to the domain); internal/ holds leaves any package may use;
// only this command imports everything.
func TestDependencyDirection(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	ours := func(p string) bool { return p == module || strings.HasPrefix(p, module+"/") }
	rel := func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := rel(fields[0])
		seen++
		for _, d := range fields[1:] {
			if !ours(d) {
				continue
			}
			dep := rel(d)
			var bad bool
			switch {
			case pkg == "kiosk/cmd/kiosk":
				// The wiring imports everything.
			case under(pkg, "kiosk/cmd/kiosk/internal"):
				// The command's own groups (internal/cardcmd) and their test
				// kits: part of the command, they may import what it does.
			case under(pkg, "drivers"):
				bad = true // drivers are leaves
			case pkg == "kiosk" || under(pkg, "kiosk/card"):
				bad = dep != "kiosk/card"
			case under(pkg, "kiosk/kiosktest"):
				bad = dep != "kiosk" && dep != "kiosk/card"
			case under(pkg, "kiosk/trust"):
				// Domain-side, the signed lists' one owner: what it writes,
				// it writes through a function the wiring hands it.
				bad = !(dep == "kiosk" || under(dep, "kiosk/card"))
			case under(pkg, "kiosk/demokit"):
				// The issuing side, played for the demo and the tests: the
				// card format and the lists' names, as the domain knows them.
				bad = !(dep == "kiosk" || under(dep, "kiosk/card") || under(dep, "kiosk/trust"))
			case under(pkg, "devices"):
				// Where the drivers meet the flow: the drivers and the
				// domain, and no other adapter.
				bad = !(dep == "kiosk" || under(dep, "kiosk/card") || under(dep, "drivers"))
			case under(pkg, "metrics"):
				// GET /metrics: the status as ui reports it, the flow's
				// views, the upload API's head states.
				bad = !(dep == "kiosk" || under(dep, "kiosk/card") || under(dep, "kiosk/trust") || under(dep, "ui") || dep == "sync/wire")
			case under(pkg, "ui"):
				// The page and the staff dashboard: the domain, and the
				// internal/ leaves (the dashboard's files are written
				// with atomicfile).
				bad = !(dep == "kiosk" || under(dep, "kiosk/card") || under(dep, "kiosk/trust") || under(dep, "ui") || under(dep, "internal"))
			case pkg == "internal/testenv":
				bad = true // the tests' environment: the standard library only
			case under(pkg, "internal"):
				bad = !under(dep, "internal") // shared leaves: nothing of the domain
			case under(pkg, "packaging"):
				bad = true // build tools: the standard library only
			case pkg == "systemd":
				bad = true // unit-file tests only
			case under(pkg, "config"):
				// The settings: the standard library, the TOML module
				// and internal/ leaves; the wiring hands them to the parts.
				bad = !under(dep, "internal")
			case under(pkg, "update"):
				// Signed releases and the switch between them: files,
				// signatures and the service manager, nothing of the domain.
				bad = !(under(dep, "update") || under(dep, "internal"))
			case under(pkg, "sync"):
				bad = !(dep == "kiosk" || under(dep, "kiosk/card") || under(dep, "kiosk/trust") || under(dep, "sync") || under(dep, "internal"))
			default:
				t.Errorf("package %s has no place in the layout", pkg)
			}
			if under(dep, "kiosk/cmd") && !under(pkg, "kiosk/cmd/kiosk") {
				bad = true // the command's groups are its alone
			}
			if dep == "internal/testenv" && !strings.HasSuffix(pkg, "test") {
				bad = true // tests and test kits (xxxtest) only: never linked into the binary
			}
			if bad {
				t.Errorf("%s imports %s; the layout forbids it", pkg, dep)
			}
		}
	}
	if seen < 8 {
		t.Errorf("go list saw %d packages; want the whole module", seen)
	}
}
