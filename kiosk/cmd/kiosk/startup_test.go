package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// startErr runs the daemon with the demo kit and edit applied, and returns
// the error Run refused with (failing if it started).
func startErr(t *testing.T, kit *demokit.Kit, state string, edit func(*Config)) error {
	t.Helper()
	m := NewMain()
	m.Log = testLog(t)
	m.Config.Listen = "127.0.0.1:0"
	m.Config.StateDir = state
	m.Config.Root = kit.Root
	m.Config.Trust = kit.Trust
	m.Config.SealKey = testSealKeyFile(t)
	edit(&m.Config)
	err := m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("Run() = nil; want an error")
	}
	return err
}

// A kiosk with nowhere to seal a person to refuses to start, and leaves
// nothing behind: no device key made for a kiosk that is not running.
func TestRunWithoutSealKeyMakesNoDeviceKey(t *testing.T) {
	kit := testKit(t)
	state := t.TempDir()
	err := startErr(t, kit, state, func(c *Config) { c.SealKey = "" })
	if !strings.Contains(err.Error(), "seal key") {
		t.Errorf("Run() = %v; want it to name the seal key", err)
	}
	if _, err := os.Stat(filepath.Join(state, device.KeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat %s = %v; want it not to exist", device.KeyFile, err)
	}
}

func TestRunSealKeyMessages(t *testing.T) {
	kit := testKit(t)
	private := filepath.Join(t.TempDir(), upstream.SealKeyFile)
	if err := upstream.SaveSealKey(private, testSealKey()); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(junk, []byte("not a key at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		want []string
	}{
		{"the upstream's private key", private, []string{"private key", "public seal key", "kiosk upstream"}},
		{"not a key", junk, []string{"public seal key", "32 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := startErr(t, kit, t.TempDir(), func(c *Config) { c.SealKey = tc.file })
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Run() = %v; want it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "crypto/ecdh") && !strings.Contains(err.Error(), "wants") {
				t.Errorf("Run() = %v: the library's words alone", err)
			}
		})
	}
}

func TestRunSignedTrustWithoutRoot(t *testing.T) {
	kit := testKit(t)
	err := startErr(t, kit, t.TempDir(), func(c *Config) { c.Root = "" })
	if !strings.Contains(err.Error(), "--root is missing") {
		t.Errorf("Run() = %v; want it to say --root is missing", err)
	}
}
