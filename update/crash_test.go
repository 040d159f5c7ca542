package update_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/update"
	"github.com/docketkiosk/checkin-kiosk/update/updatetest"
)

// The crash tests run the updater in a child process, this test binary
// run again with helperEnv set, and kill it with SIGKILL at a step.
const helperEnv = "KIOSK_UPDATE_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

// helper is the child: it applies (or rolls back) as the environment
// says, prints "at STEP" when it reaches the step it is to be killed at,
// and waits there for its kill. Reaching the end without it is exit 3.
func helper() int {
	env := func(k string) string { return os.Getenv(helperEnv + "_" + k) }
	root, stop := env("ROOT"), update.Step(env("STEP"))
	health, _ := time.ParseDuration(env("HEALTH"))
	d := updatetest.NewDaemon(root, filepath.Join(root, "run", "fake-kioskd"))
	u, err := update.New(update.Config{Root: root, Key: env("KEY"), Arch: arch, Services: d, Health: d, Idle: d,
		HealthTimeout: health, Poll: 5 * time.Millisecond,
		Hook: func(s update.Step) {
			if s == stop {
				fmt.Printf("at %s\n", s)
				select {} // until killed
			}
		}})
	if err != nil {
		fmt.Println(err)
		return 2
	}
	switch os.Getenv(helperEnv) {
	case "apply":
		_, err = u.Apply(context.Background(), env("SRC"), update.ApplyOptions{})
	case "rollback":
		err = u.Rollback(context.Background())
	}
	fmt.Printf("never reached %s: %v\n", stop, err)
	return 3
}

// killAt runs the helper's action on the kiosk's root and kills it with
// SIGKILL once it reaches step.
func killAt(t *testing.T, ks *kiosk, action, src string, step update.Step, health time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+action, helperEnv+"_ROOT="+ks.root, helperEnv+"_SRC="+src,
		helperEnv+"_KEY="+ks.keys.pub, helperEnv+"_STEP="+string(step), helperEnv+"_HEALTH="+health.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill() // SIGKILL: no deferred function, no cleanup runs
	cmd.Wait()
	if want := "at " + string(step) + "\n"; line != want {
		t.Fatalf("the updater said %q; want %q", line, want)
	}
}

// consistent fails the test unless the kiosk is bootable and whole:
// current points at releases/V, V one of versions, whose files match its
// manifest exactly, and /usr/bin/kiosk runs it.
func consistent(t *testing.T, ks *kiosk, manifests map[string]*update.Manifest) string {
	t.Helper()
	v := ks.current()
	m, ok := manifests[v]
	if !ok {
		t.Fatalf("current points at releases/%s; want one of the releases", v)
	}
	if err := update.VerifyRelease(filepath.Join(ks.root, update.ReleasesDir, v), m); err != nil {
		t.Fatalf("current release: %v", err)
	}
	if got := ks.runs(); got != v {
		t.Fatalf("/usr/bin/kiosk version = %s; current is %s", got, v)
	}
	return v
}

// TestCrashAtEachStep kills the updater (SIGKILL, a real process) at each
// step of an apply, between the rename of the symlink and the sync of
// its directory too. After each: the kiosk boots a whole release, old or
// new; the next run recovers (the rollback unit's recover) and leaves
// nothing behind; and an apply then ends on the new release, confirmed.
func TestCrashAtEachStep(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	manifests := map[string]*update.Manifest{
		"1.4.0": pack(t, k, scriptTree(t, "1.4.0"), "1.4.0", t.TempDir()).Manifest,
		"1.5.0": pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src).Manifest,
	}
	for _, step := range []update.Step{
		update.StepVerified, update.StepDownloading, update.StepDownloaded, update.StepUnpacking,
		update.StepUnpackedTmp, update.StepReleaseRenamed, update.StepUnpacked, update.StepIdle,
		update.StepSwitching, update.StepSymlink, update.StepRenamed, update.StepSwitched,
		update.StepRestarted, update.StepConfirmed,
	} {
		t.Run(string(step), func(t *testing.T) {
			ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
			killAt(t, ks, "apply", src, step, 5*time.Second)
			consistent(t, ks, manifests)

			u := ks.updater()
			if _, err := u.Recover(context.Background()); err != nil {
				t.Fatalf("Recover = %v", err)
			}
			v := consistent(t, ks, manifests)
			st := ks.state()
			if st.Last != nil && !st.Last.Phase.Done() {
				t.Errorf("after Recover the journal says %s; want an end", st.Last.Phase)
			}
			if left := ks.leftovers(); len(left) > 0 {
				t.Errorf("left behind after Recover: %q", left)
			}
			if v == "1.5.0" && (st.Current != "1.5.0" || ks.daemon.Running() != "1.5.0") {
				t.Errorf("after Recover: current 1.5.0, state %+v, running %s; want it confirmed and running", st, ks.daemon.Running())
			}
			if v == "1.4.0" && ks.daemon.Running() != "1.4.0" {
				t.Errorf("after Recover: current 1.4.0, running %s", ks.daemon.Running())
			}
			if st.IsBad("1.5.0") {
				t.Errorf("1.5.0 marked bad after a crash: %+v", st.Bad)
			}

			if _, err := u.Apply(context.Background(), src, update.ApplyOptions{}); err != nil {
				t.Fatalf("Apply after the crash = %v", err)
			}
			if v := consistent(t, ks, manifests); v != "1.5.0" || ks.state().Last.Phase != update.PhaseConfirmed || ks.daemon.Running() != "1.5.0" {
				t.Errorf("after the second apply: current %s, journal %+v, running %s; want 1.5.0 confirmed", v, ks.state().Last, ks.daemon.Running())
			}
			if left := ks.leftovers(); len(left) > 0 {
				t.Errorf("left behind: %q", left)
			}
		})
	}
}

// TestCrashWhileRollingBack kills the updater at each step of the
// rollback of an unhealthy release, from its health check on. After
// each the kiosk boots a whole release; the next run (recover) finishes
// the rollback: 1.4.0 current and running, 1.5.0 marked bad; and a
// second recover does nothing.
func TestCrashWhileRollingBack(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	manifests := map[string]*update.Manifest{
		"1.4.0": pack(t, k, scriptTree(t, "1.4.0"), "1.4.0", t.TempDir()).Manifest,
		"1.5.0": pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src).Manifest,
	}
	for _, step := range []update.Step{
		update.StepHealth, update.StepRollingBack, update.StepBackSymlink, update.StepBackRenamed, update.StepBackRestarted,
	} {
		t.Run(string(step), func(t *testing.T) {
			ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
			ks.daemon.SetUnhealthy("1.5.0")
			killAt(t, ks, "apply", src, step, 100*time.Millisecond)
			consistent(t, ks, manifests)

			u := ks.updater(func(c *update.Config) { c.HealthTimeout = 100 * time.Millisecond })
			did, err := u.Recover(context.Background())
			if !did || err != nil {
				t.Fatalf("Recover = %v, %v; want the rollback finished", did, err)
			}
			if v := consistent(t, ks, manifests); v != "1.4.0" || ks.daemon.Running() != "1.4.0" {
				t.Errorf("after Recover: current %s, running %s; want 1.4.0", v, ks.daemon.Running())
			}
			st := ks.state()
			if !st.IsBad("1.5.0") || st.Last.Phase != update.PhaseRolledBack {
				t.Errorf("after Recover: bad %v, journal %+v; want 1.5.0 bad, rolled back", st.Bad, st.Last)
			}
			if left := ks.leftovers(); len(left) > 0 {
				t.Errorf("left behind: %q", left)
			}
			restarts := len(ks.daemon.Restarts())
			if did, err := u.Recover(context.Background()); did || err != nil || len(ks.daemon.Restarts()) != restarts {
				t.Errorf("a second Recover = %v, %v, %d restarts more; want nothing done", did, err, len(ks.daemon.Restarts())-restarts)
			}
		})
	}
}

// TestCrashDuringHealthOfAGoodRelease: killed while the new release is
// not yet answering (a power cut while it starts), the next run finds it
// healthy and confirms it, without restarting it.
func TestCrashDuringHealthOfAGoodRelease(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	ks.daemon.SetUnhealthy("1.5.0") // starting
	killAt(t, ks, "apply", src, update.StepHealth, 5*time.Second)
	ks.daemon.SetUnhealthy() // started
	restarts := len(ks.daemon.Restarts())
	did, err := ks.updater().Recover(context.Background())
	if !did || err != nil {
		t.Fatalf("Recover = %v, %v", did, err)
	}
	st := ks.state()
	if ks.current() != "1.5.0" || st.Current != "1.5.0" || st.Last.Phase != update.PhaseConfirmed || st.IsBad("1.5.0") {
		t.Errorf("after Recover: current %s, state %+v; want 1.5.0 confirmed", ks.current(), st)
	}
	if n := len(ks.daemon.Restarts()) - restarts; n != 0 {
		t.Errorf("Recover restarted a healthy daemon %d times", n)
	}
}

// TestCrashDuringRollbackByHand: rollback by hand, killed between its
// rename and the directory's sync, is finished by the next run.
func TestCrashDuringRollbackByHand(t *testing.T) {
	k := newKeys(t)
	src := t.TempDir()
	pack(t, k, scriptTree(t, "1.5.0"), "1.5.0", src)
	ks := install(t, k, "1.4.0", scriptTree(t, "1.4.0"))
	if _, err := ks.updater().Apply(context.Background(), src, update.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	killAt(t, ks, "rollback", "", update.StepRenamed, 5*time.Second)
	if _, err := ks.updater().Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := ks.state()
	if ks.current() != "1.4.0" || ks.daemon.Running() != "1.4.0" || st.Current != "1.4.0" || !st.IsBad("1.5.0") {
		t.Errorf("after Recover: current %s, running %s, state %+v; want 1.4.0, 1.5.0 bad", ks.current(), ks.daemon.Running(), st)
	}
	if strings.Contains(fmt.Sprint(ks.leftovers()), "current.new") {
		t.Error("current.new left behind")
	}
}
