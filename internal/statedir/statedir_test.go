package statedir_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/statedir"
	"github.com/docketkiosk/checkin-kiosk/internal/statedir/statedirtest"
)

// holdEnv, when set, makes the test binary a process that holds the state
// directory it names: it locks it, says "locked" on stdout, and keeps it
// until its stdin closes (or it is killed).
const holdEnv = "STATEDIR_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		os.Exit(hold(dir))
	}
	os.Exit(m.Run())
}

func hold(dir string) int {
	d, err := statedir.Lock(dir)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
	if err := d.Close(); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

func skipOffLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("statedir locks and measures on Linux only")
	}
}

// holder is another process holding a state directory.
type holder struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
}

// startHolder starts a process that locks dir, and returns once it holds it.
func startHolder(t *testing.T, dir string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: a race-enabled binary otherwise waits a second before it exits.
	cmd.Env = append(os.Environ(), holdEnv+"="+dir, "GORACE=atexit_sleep_ms=0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		h.stdin.Close()
		h.cmd.Process.Kill()
		h.cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder process said %q, %v; want \"locked\"", line, err)
	}
	return h
}

// wantLocked checks that Lock(dir) fails with a *LockedError naming dir and pid.
func wantLocked(t *testing.T, dir string, pid int) {
	t.Helper()
	d, err := statedir.Lock(dir)
	if err == nil {
		d.Close()
		t.Fatalf("Lock(%s) while held = nil error; want a *LockedError", dir)
	}
	le, ok := errors.AsType[*statedir.LockedError](err)
	if !ok {
		t.Fatalf("Lock(%s) while held = %v; want a *LockedError", dir, err)
	}
	if le.Dir != dir || le.PID != pid {
		t.Errorf("Lock(%s) = %+v; want dir %s, pid %d", dir, le, dir, pid)
	}
	want := fmt.Sprintf("state directory %s is in use by another kiosk process (pid %d)", dir, pid)
	if got := err.Error(); got != want {
		t.Errorf("Lock(%s) error = %q; want %q", dir, got, want)
	}
}

func TestLockInOneProcess(t *testing.T) {
	skipOffLinux(t)
	dir := filepath.Join(t.TempDir(), "state") // made by Lock
	d, err := statedir.Lock(dir)
	if err != nil {
		t.Fatalf("Lock(%s) = %v", dir, err)
	}
	fi, err := os.Stat(filepath.Join(dir, statedir.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("lock file mode %v; want 0600", got)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v, %v; want mode 0700", fi.Mode().Perm(), err)
	}
	wantLocked(t, dir, os.Getpid()) // another open, in the same process

	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close again = %v; want nil", err)
	}
	d, err = statedir.Lock(dir)
	if err != nil {
		t.Fatalf("Lock after Close = %v; want the directory", err)
	}
	d.Close()
}

func TestLockAgainstAnotherProcess(t *testing.T) {
	skipOffLinux(t)
	dir := t.TempDir()
	h := startHolder(t, dir)
	wantLocked(t, dir, h.cmd.Process.Pid)

	// It lets go: the directory is ours.
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("holder process: %v", err)
	}
	d, err := statedir.Lock(dir)
	if err != nil {
		t.Fatalf("Lock after the holder closed = %v", err)
	}
	defer d.Close()
	b, err := os.ReadFile(filepath.Join(dir, statedir.LockFile))
	if want := fmt.Sprintf("%d\n", os.Getpid()); err != nil || string(b) != want {
		t.Errorf("lock file holds %q, %v; want our pid %q", b, err, want)
	}
}

// A holder killed outright leaves its pid in the file but no lock: the
// kernel released it.
func TestLockAfterHolderKilled(t *testing.T) {
	skipOffLinux(t)
	dir := t.TempDir()
	h := startHolder(t, dir)
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
	d, err := statedir.Lock(dir)
	if err != nil {
		t.Fatalf("Lock after the holder was killed = %v", err)
	}
	defer d.Close()
	wantLocked(t, dir, os.Getpid())
}

// The lock is flock(2)'s, which flock(1) takes too: a script can wait for
// the kiosk, and the kiosk sees the script.
func TestLockIsFlock(t *testing.T) {
	skipOffLinux(t)
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("needs flock(1) (util-linux)")
	}
	dir := t.TempDir()
	d, err := statedir.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = exec.Command(flock, "--nonblock", "--conflict-exit-code", "3", filepath.Join(dir, statedir.LockFile), "true").Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 3 {
		t.Errorf("flock(1) on a held state directory: %v; want exit code 3 (conflict)", err)
	}
	d.Close()
	if err := exec.Command(flock, "--nonblock", filepath.Join(dir, statedir.LockFile), "true").Run(); err != nil {
		t.Errorf("flock(1) on a released state directory: %v; want success", err)
	}
}

func TestFree(t *testing.T) {
	skipOffLinux(t)
	const size = 4 << 20
	dir := statedirtest.Tmpfs(t, size)
	free, err := statedir.Free(dir)
	if err != nil {
		t.Fatal(err)
	}
	if free != size {
		t.Errorf("Free(empty tmpfs of %d bytes) = %d; want %d", size, free, size)
	}
	const written = 1 << 20
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, written), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := statedir.Free(dir); err != nil || got != size-written {
		t.Errorf("Free after writing %d bytes = %d, %v; want %d", written, got, err, size-written)
	}
	statedirtest.Fill(t, dir, 0)
	if got, err := statedir.Free(dir); err != nil || got != 0 {
		t.Errorf("Free of a full file system = %d, %v; want 0", got, err)
	}
	if _, err := statedir.Free(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Free(a missing directory) = %v; want an error wrapping ErrNotExist", err)
	}
}
