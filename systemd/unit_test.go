// Package systemd_test checks the unit files with systemd's own tools.
package systemd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// unitCopy writes the unit to a temporary directory with ExecStart pointing
// at a binary that exists here, as systemd-analyze verify insists.
func unitCopy(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "/usr/bin/kiosk ", "/bin/true ")
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnitVerifies(t *testing.T) {
	analyze := testenv.LookPath(t, "systemd-analyze", "systemd")
	out, err := exec.Command(analyze, "verify", unitCopy(t, "kioskd.service")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestUnitExposure keeps the sandbox tight: systemd's own exposure score
// (0 = locked down, 10 = exposed) must stay at or below 2.
func TestUnitExposure(t *testing.T) {
	analyze := testenv.LookPath(t, "systemd-analyze", "systemd")
	out, _ := exec.Command(analyze, "security", "--offline=true", unitCopy(t, "kioskd.service")).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for kioskd\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if level > 2.0 {
		t.Errorf("exposure level = %.1f; want ≤ 2.0\n%s", level, out)
	}
}

func TestUnitIsNotify(t *testing.T) {
	b, err := os.ReadFile("kioskd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "Restart=always", "ExecStart=/usr/bin/kiosk run "} {
		if !strings.Contains(string(b), "\n"+want) {
			t.Errorf("kioskd.service lacks %q", want)
		}
	}
}

// The site's settings are kiosk.toml, read at start and again on reload;
// no flags hide in an environment file.
func TestUnitReadsConfig(t *testing.T) {
	b, err := os.ReadFile("kioskd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/bin/kiosk run --config /etc/kiosk/kiosk.toml ", "ExecReload=/bin/kill -HUP $MAINPID\n"} {
		if !strings.Contains(string(b), "\n"+want) {
			t.Errorf("kioskd.service lacks %q", want)
		}
	}
	for _, gone := range []string{"KIOSK_ARGS", "EnvironmentFile"} {
		if strings.Contains(string(b), gone) {
			t.Errorf("kioskd.service still has %s: the settings are kiosk.toml's", gone)
		}
	}
}

// The daemon reaches its hardware by device class, and nothing else: each
// class a driver opens is allowed, and the policy is closed.
func TestUnitAllowsTheHardware(t *testing.T) {
	b, err := os.ReadFile("kioskd.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{"DevicePolicy=closed", "PrivateDevices=no",
		"DeviceAllow=char-input r", // the wedge scanner: read, and EVIOCGRAB
		"DeviceAllow=char-ttyACM rw", "DeviceAllow=char-gpiochip rw", "DeviceAllow=char-i2c rw", "DeviceAllow=char-usb rw"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(unit) {
			t.Errorf("kioskd.service lacks %q", want)
		}
	}
}

// The other devices' udev rules give the kiosk's group one node each: a
// rule names its subsystem and its node, and sets the group and the mode.
func TestDeviceRules(t *testing.T) {
	b, err := os.ReadFile("udev/71-kiosk-devices.rules")
	if err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rules++
		for _, want := range []string{`SUBSYSTEM=="`, `KERNEL=="`, `GROUP="kiosk"`, `MODE="0660"`} {
			if !strings.Contains(line, want) {
				t.Errorf("rule %q lacks %s", line, want)
			}
		}
		if strings.Contains(line, `KERNEL=="*"`) {
			t.Errorf("rule %q matches every node", line)
		}
	}
	if rules != 3 {
		t.Errorf("%d rules; want 3 (GPIO, I2C, printer)", rules)
	}
}
