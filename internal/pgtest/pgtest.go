// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb and
// pg_ctl in a temporary directory, listening on 127.0.0.1 on a free port,
// trusting every local connection, removed when the test (or the package
// run, Shared) ends. Tests that need one skip when PostgreSQL is not
// installed, and fail under KIOSK_REQUIRE_ALL=1 (internal/testenv).
//
// PostgreSQL refuses to run as root, and CI runs as root: then the cluster
// runs as the unprivileged user nobody, its directory made reachable and
// owned by it. The server is a process of its own (pg_ctl starts it
// detached); a cluster's owner stops it (Stop, at cleanup, or Main).
//
// It is for tests only (it imports testing) and a leaf: it uses the
// PostgreSQL programs (initdb, pg_ctl, psql), not a driver.
package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// Superuser is the cluster's superuser, trusted without a password.
const Superuser = "postgres"

// debianPackage is what installs the programs, as .ci/run names it.
const debianPackage = "postgresql"

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	bin  string // the directory of initdb, pg_ctl, psql
	dir  string // the cluster's own directory: data/ and server.log
	port int
	cred *syscall.Credential // who runs the server; nil: this process's user

	mu      sync.Mutex
	running bool
	dbs     atomic.Int64 // databases made, for their names
}

// Start starts a cluster of t's own in t.TempDir, stopped and removed when
// t ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := binDir(t)
	c, err := start(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

var shared struct {
	sync.Mutex
	inMain  bool
	cluster *Cluster
	dir     string
	err     error
}

// Main runs the tests of m and then stops the cluster Shared started, if
// any, and removes it: call it from TestMain, as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	shared.Lock()
	shared.inMain = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if c := shared.cluster; c != nil {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			code = max(code, 1)
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

// Shared returns the cluster the tests of this package run share, started
// on first use: starting one takes about a second, a database in it
// (NewDatabase) a fraction of that. The package's TestMain must call Main,
// which stops it.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	bin := binDir(t)
	shared.Lock()
	defer shared.Unlock()
	if !shared.inMain {
		t.Fatal("pgtest.Shared needs the package's TestMain to call pgtest.Main")
	}
	if shared.cluster == nil && shared.err == nil {
		shared.dir, shared.err = os.MkdirTemp("", "pgtest")
		if shared.err == nil {
			shared.cluster, shared.err = start(bin, shared.dir)
		}
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cluster
}

// binDir returns the directory of the PostgreSQL programs, or skips t.
func binDir(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		// A link to Debian's, say: its neighbours are pg_ctl and psql.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real)
		}
		return filepath.Dir(p)
	}
	// Debian keeps them out of PATH, one directory per major version.
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return filepath.Dir(testenv.LookPath(t, "initdb", debianPackage))
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return filepath.Dir(found[0])
}

// version is the major version in a path /usr/lib/postgresql/N/bin/initdb.
func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// start makes a cluster in dir and starts it.
func start(bin, dir string) (*Cluster, error) {
	c := &Cluster{bin: bin, dir: filepath.Join(dir, "pg")}
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if os.Geteuid() == 0 {
		// The server's user must reach its directory: dir and its parent
		// (t.TempDir's, each 0700) are opened for traversal, and nothing
		// else changes: a directory others can traverse already (/tmp,
		// 1777) is left exactly as it is.
		c.cred = &syscall.Credential{Uid: 65534, Gid: 65534} // nobody
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := allowTraversal(d); err != nil {
				return nil, fmt.Errorf("pgtest: %w", err)
			}
		}
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	// fsync stays on: the benchmarks measure what a real server does, and
	// a restart test what it keeps.
	if err := c.run("initdb", "--pgdata", c.data(), "--username", Superuser, "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-instructions"); err != nil {
		return nil, err
	}
	// A port found free may be taken before the server binds it: try
	// another.
	var err error
	for range 5 {
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
		if err = c.Start(); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// allowTraversal adds search permission for group and others to the
// directory d, keeping every other bit of its mode (sticky included); a
// directory others can search already is not touched.
func allowTraversal(d string) error {
	fi, err := os.Stat(d)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o001 != 0 {
		return nil
	}
	mode := fi.Mode() & (os.ModePerm | os.ModeSticky | os.ModeSetuid | os.ModeSetgid)
	return os.Chmod(d, mode|0o011)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// run runs one of the PostgreSQL programs as the server's user.
func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", name, err, out.Bytes())
	}
	return nil
}

// freePort returns a TCP port of 127.0.0.1 free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the cluster again after Stop, on the same port, and waits
// until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200", c.port)
	err := c.run("pg_ctl", "start", "--pgdata", c.data(), "--log", filepath.Join(c.dir, "server.log"),
		"--wait", "--timeout", "60", "-o", opts)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("%w\nserver.log:\n%s", err, log)
	}
	c.running = true
	return nil
}

// Stop stops the cluster as a crash would (pg_ctl stop -m immediate: no
// checkpoint, the connections cut): what it keeps after Start is what a
// committed transaction promises.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	if err := c.run("pg_ctl", "stop", "--pgdata", c.data(), "--mode", "immediate", "--wait"); err != nil {
		return err
	}
	c.running = false
	return nil
}

// Restart stops the cluster as a crash would and starts it again, for the
// tests of what survives the database's restart.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	if err := errors.Join(c.Stop(), c.Start()); err != nil {
		t.Fatal(err)
	}
}

// Port returns the TCP port the cluster listens on, on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// DSN returns the URL of database db of the cluster, as its superuser.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.port, db)
}

// NewDatabase creates a new, empty database in the cluster and returns its
// URL (DSN): each test of a package gets its own in the one cluster
// (Shared). It is dropped when t ends.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", c.dbs.Add(1))
	if err := c.psql("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// WITH (FORCE): a connection a failed test left open must not
		// keep the database.
		if err := c.psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	return c.DSN(name)
}

// psql runs one SQL command as the superuser in the database postgres.
func (c *Cluster) psql(command string) error {
	cmd := exec.Command(filepath.Join(c.bin, "psql"), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1",
		"--dbname", c.DSN("postgres"), "--command", command)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=30")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: psql %q (after %v): %w\n%s", command, time.Since(start), err, out)
	}
	return nil
}
