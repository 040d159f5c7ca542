package update_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/update"
	"github.com/docketkiosk/checkin-kiosk/update/updatetest"
)

// scriptSize is the size of the stand-in binaries: several writes of a
// download and of an unpack, so that a crash can fall between them.
const scriptSize = 200 << 10

// keys is a release key pair made for a test.
type keys struct {
	pub  string // the public key's base64 line
	priv []byte // the private key file
}

func newKeys(t *testing.T) keys {
	t.Helper()
	dir := t.TempDir()
	pub, err := update.GenerateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := os.ReadFile(filepath.Join(dir, update.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return keys{pub: pub, priv: priv}
}

// scriptTree writes a release tree for version: a stand-in bin/kiosk
// and a second file, so that an unpack can be caught between the two.
func scriptTree(t *testing.T, version string) string {
	t.Helper()
	tree := t.TempDir()
	updatetest.Script(t, tree, version, scriptSize)
	if err := os.MkdirAll(filepath.Join(tree, "share"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "share", "NOTICE"), []byte("release "+version+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return tree
}

// pack packs tree as version into out, min_from 1.0.0, for this arch.
func pack(t *testing.T, k keys, tree, version, out string) *update.Packed {
	t.Helper()
	p, err := update.Pack(update.PackConfig{Key: k.priv, Version: version, MinFrom: "1.0.0", Arch: arch, Tree: tree, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// arch is the architecture the tests' releases are for: any name does,
// the updater is told the same.
const arch = "testarch"

// kiosk is an installed kiosk in a temporary root, and its daemon.
type kiosk struct {
	t      *testing.T
	root   string
	daemon *updatetest.Daemon
	keys   keys
}

// install lays out a kiosk running version from tree.
func install(t *testing.T, k keys, version, tree string) *kiosk {
	t.Helper()
	root := t.TempDir()
	return &kiosk{t: t, root: root, daemon: updatetest.Install(t, root, version, tree), keys: k}
}

// updater returns an updater of the kiosk, its daemon the double; edit
// changes its configuration first.
func (k *kiosk) updater(edit ...func(*update.Config)) *update.Updater {
	k.t.Helper()
	c := update.Config{Root: k.root, Key: k.keys.pub, Arch: arch, Services: k.daemon, Health: k.daemon, Idle: k.daemon,
		HealthTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second, Poll: 5 * time.Millisecond}
	for _, e := range edit {
		e(&c)
	}
	u, err := update.New(c)
	if err != nil {
		k.t.Fatal(err)
	}
	return u
}

// current returns the version the current symlink points at.
func (k *kiosk) current() string {
	k.t.Helper()
	target, err := os.Readlink(filepath.Join(k.root, update.CurrentLink))
	if err != nil {
		k.t.Fatal(err)
	}
	v, ok := strings.CutPrefix(target, "releases/")
	if !ok {
		k.t.Fatalf("current points at %q; want releases/VERSION", target)
	}
	return v
}

// state reads the update's state.
func (k *kiosk) state() update.State {
	k.t.Helper()
	s, err := update.ReadStatus(k.root)
	if err != nil {
		k.t.Fatal(err)
	}
	return s.State
}

// runs returns what `/usr/bin/kiosk version` prints below the root: the
// release a boot would start.
func (k *kiosk) runs() string {
	k.t.Helper()
	d := updatetest.NewDaemon(k.root, k.t.TempDir())
	if err := d.Restart(context.Background(), "probe"); err != nil {
		k.t.Fatalf("the kiosk does not boot: %v", err)
	}
	return d.Running()
}

// leftovers returns what a finished run must not leave: releases being
// unpacked or removed, current.new, partial downloads.
func (k *kiosk) leftovers() []string {
	k.t.Helper()
	var left []string
	for _, pat := range []string{
		filepath.Join(k.root, update.ReleasesDir, ".*"),
		filepath.Join(k.root, update.OptDir, "current.new"),
		filepath.Join(k.root, update.StateDir, "download", "*.part"),
	} {
		m, _ := filepath.Glob(pat)
		left = append(left, m...)
	}
	return left
}

// wantErr fails the test unless err wraps want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v; want an error wrapping %q", what, err, want)
	}
}
