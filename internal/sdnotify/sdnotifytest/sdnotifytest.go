// Package sdnotifytest plays systemd's side of sd_notify for tests: a real
// unixgram NOTIFY_SOCKET, as systemd provides it for Type=notify units with
// WatchdogSec.
package sdnotifytest

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Listen makes a notify socket for the rest of the test, with the
// watchdog set to watchdog for this process (NOTIFY_SOCKET, WATCHDOG_USEC,
// WATCHDOG_PID), and returns a function that reads the next message sent
// to it, failing the test after ten seconds without one.
func Listen(t *testing.T, watchdog time.Duration) (read func() string) {
	t.Helper()
	conn := listen(t, watchdog)
	return func() string {
		t.Helper()
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read notify socket: %v", err)
		}
		return string(buf[:n])
	}
}

// Messages is Listen with the messages on a channel, for a test that
// waits for silence (a watchdog no longer pinged) as well as for a
// message. The channel closes when the test ends.
func Messages(t *testing.T, watchdog time.Duration) <-chan string {
	t.Helper()
	conn := listen(t, watchdog)
	out, done := make(chan string, 64), make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		defer close(out)
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return // closed at the test's end
			}
			select {
			case out <- string(buf[:n]):
			case <-done:
				return
			}
		}
	}()
	return out
}

// listen makes the socket and sets the environment.
func listen(t *testing.T, watchdog time.Duration) *net.UnixConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	return conn
}
