package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// query runs sql in the database at dsn and returns psql's unaligned output.
func query(t *testing.T, c *Cluster, dsn, sql string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(c.bin, "psql"), "--no-psqlrc", "-At", "-v", "ON_ERROR_STOP=1",
		"--dbname", dsn, "--command", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// A committed row survives the server's crash and restart; the databases
// of two tests are apart.
func TestClusterKeepsWhatItCommittedAcrossRestart(t *testing.T) {
	c := Start(t)
	a, b := c.NewDatabase(t), c.NewDatabase(t)
	query(t, c, a, "CREATE TABLE t (n int); INSERT INTO t VALUES (42)")
	c.Restart(t)
	if got := query(t, c, a, "SELECT n FROM t"); got != "42" {
		t.Errorf("after Restart: SELECT n = %q; want 42", got)
	}
	if got := query(t, c, b, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); got != "0" {
		t.Errorf("the other database has table t: count %q; want 0", got)
	}
	if got := query(t, c, a, "SELECT current_user <> 'root'"); got != "t" {
		t.Errorf("server's user: %q", got)
	}
}

// TestAllowTraversal: only search permission is added, and a directory
// others can search already (as /tmp, 1777) is left exactly as it was.
func TestAllowTraversal(t *testing.T) {
	for _, tc := range []struct{ before, after os.FileMode }{
		{0o700, 0o711},
		{0o750, 0o751},
		{0o777 | os.ModeSticky, 0o777 | os.ModeSticky},
		{0o755, 0o755},
	} {
		d := filepath.Join(t.TempDir(), "d")
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, tc.before); err != nil {
			t.Fatal(err)
		}
		if err := allowTraversal(d); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeSticky); got != tc.after {
			t.Errorf("%v: after allowTraversal %v; want %v", tc.before, got, tc.after)
		}
	}
}
