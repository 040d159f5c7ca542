package atomicfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// crashChildEnv, in the environment of a copy of this test binary, makes
// it the child of TestCreateCrash: it creates the file it names and is
// killed before the link.
const crashChildEnv = "ATOMICFILE_TEST_CRASH_CHILD"

// crashData is what the child writes: more than a page, so that a file cut
// short would show.
var crashData = bytes.Repeat([]byte("0123456789abcdef"), 1024)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
	}
	os.Exit(m.Run())
}

// crashChild creates path and, between the write and the link, says the
// temporary file's name on stdout and waits to be killed: its stdin stays
// open until the parent kills it (or ends, so no child is left behind).
func crashChild(path string) {
	testHookBeforeLink = func(tmp string) {
		fmt.Println(tmp)
		io.Copy(io.Discard, os.Stdin)
		os.Exit(2)
	}
	err := Create(path, crashData, 0o600)
	fmt.Fprintf(os.Stderr, "Create = %v; want to be killed before it returns\n", err)
	os.Exit(3)
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, data := range []string{"first", "second, longer"} {
		if err := Write(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Errorf("read back %q, %v; want %q", got, err, data)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files in the directory; want 1: no temporary file left", len(ents))
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Error("Write into a missing directory succeeded; want an error")
	}
}

func TestCreate(t *testing.T) {
	// 0644 is wider than the 0600 a temporary file starts with, 0400
	// narrower: the mode asked for is the mode given, either way.
	for _, perm := range []os.FileMode{0o600, 0o644, 0o400} {
		dir := t.TempDir()
		path := filepath.Join(dir, "key.pem")
		data := []byte("key " + perm.String())
		if err := Create(path, data, perm); err != nil {
			t.Fatalf("Create(%v) = %v", perm, err)
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
			t.Errorf("Create(%v) then read back %q, %v; want %q", perm, got, err, data)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != perm {
			t.Errorf("Create(%v): mode %v, %v; want %v", perm, fi.Mode().Perm(), err, perm)
		}
		if names := dirNames(t, dir); len(names) != 1 {
			t.Errorf("Create(%v): directory holds %q; want the file alone, no temporary file", perm, names)
		}
	}
	if err := Create(filepath.Join(t.TempDir(), "missing", "f"), nil, 0o600); err == nil {
		t.Error("Create in a missing directory succeeded; want an error")
	}
}

func TestCreateExists(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	if err := Create(path, []byte("the only copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Create(path, []byte("another key"), 0o644)
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing file = %v; want fs.ErrExist", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "the only copy" {
		t.Errorf("after Create over it, the file holds %q, %v; want the old content", got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after Create over it, the file's mode is %v, %v; want 0600 still", fi.Mode().Perm(), err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q; want the file alone, no temporary file", names)
	}
}

// TestCreateConcurrent: of many creating the same file at once, one wins,
// every other is told the file exists, and the file is the winner's whole.
func TestCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = Create(path, bytes.Repeat([]byte{byte('a' + i)}, 8192), 0o600) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("Create #%d and #%d both succeeded; want one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("Create #%d = %v; want nil or fs.ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Create succeeded")
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte('a' + winner)}, 8192)) {
		t.Errorf("the file is not the winner's (#%d) whole: %d bytes, %v", winner, len(got), err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q; want the file alone, no temporary file", names)
	}
}

// TestCreateCrash kills (SIGKILL) a process creating a file after it wrote
// and synced the temporary file and before it linked it: there is no file
// under the final name, and a later Create makes it.
func TestCreateCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the child said no temporary file: %v; stderr:\n%s", err, stderr.String())
	}
	tmp := strings.TrimSuffix(line, "\n")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v; want killed by SIGKILL; stderr:\n%s", err, stderr.String())
	}

	// The crash came after the write: the temporary file is whole ...
	if got, err := os.ReadFile(tmp); err != nil || !bytes.Equal(got, crashData) {
		t.Fatalf("temporary file %s: %d bytes, %v; want the %d bytes written", tmp, len(got), err, len(crashData))
	}
	if filepath.Dir(tmp) != dir {
		t.Errorf("temporary file %s is not in %s: a link across directories could fail", tmp, dir)
	}
	// ... and before the link: the final name is not there.
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after a crash before the link, Stat(%s) = %v; want fs.ErrNotExist", path, err)
	}
	if err := Create(path, []byte("after the crash"), 0o600); err != nil {
		t.Fatalf("Create after the crash = %v", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "after the crash" {
		t.Errorf("after the crash, Create then read back %q, %v", got, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
