package scanner

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// A pty is a real pseudo-terminal standing in for a serial scanner: what
// the test writes on the master arrives on the slave, /dev/pts/N, the tty
// the driver opens, through the kernel's tty layer as a USB CDC-ACM
// scanner's bytes do. Closing the master hangs the slave up, as unplugging
// the scanner does, and its /dev/pts/N goes away.
type pty struct {
	master *os.File
	slave  string // /dev/pts/N
}

// openPTY opens a new pty (posix_openpt, unlockpt and ptsname, by hand),
// closed when the test ends. It skips the test where there are no ptys.
func openPTY(t testing.TB) *pty {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		testenv.RequireOrSkip(t, "needs a pty: open /dev/ptmx: %v", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	// The slave of a new pty is locked until its master unlocks it.
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("ioctl TIOCSPTLCK: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ioctl TIOCGPTN: %v", err)
	}
	return &pty{master: master, slave: fmt.Sprintf("/dev/pts/%d", n)}
}

// write writes s on the master, as the scanner would send it.
func (p *pty) write(t testing.TB, s string) {
	t.Helper()
	if _, err := p.master.WriteString(s); err != nil {
		t.Fatalf("write on the pty master: %v", err)
	}
}

// unplug closes the master: the slave hangs up.
func (p *pty) unplug(t testing.TB) {
	t.Helper()
	if err := p.master.Close(); err != nil {
		t.Fatalf("close the pty master: %v", err)
	}
}

// link points the symlink at path to the pty's slave, replacing what it
// pointed to at once (rename), as udev re-points /dev/kiosk-scanner when a
// scanner is plugged in again and gets a new ttyACM number.
func (p *pty) link(t testing.TB, path string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".link.tmp")
	if err := os.Symlink(p.slave, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// openRaw opens the slave as a blocking raw tty (cfmakeraw) and returns
// its file descriptor, closed when the test ends: the bare floor under any
// driver.
func (p *pty) openRaw(t testing.TB) int {
	t.Helper()
	fd, err := unix.Open(p.slave, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", p.slave, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatalf("ioctl TCGETS: %v", err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		t.Fatalf("ioctl TCSETS: %v", err)
	}
	return fd
}

// TestPTY checks the helper itself: bytes written on the master arrive on
// the raw slave unchanged (no CR to LF, no echo), and the slave's node
// goes when the master closes.
func TestPTY(t *testing.T) {
	p := openPTY(t)
	fd := p.openRaw(t)
	p.write(t, "a\rb\n\x00")
	buf := make([]byte, 16)
	got := ""
	for len(got) < 5 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			t.Fatalf("read %s = %d, %v", p.slave, n, err)
		}
		got += string(buf[:n])
	}
	if got != "a\rb\n\x00" {
		t.Errorf("read %q; want %q", got, "a\rb\n\x00")
	}
	p.unplug(t)
	if _, err := os.Stat(p.slave); !os.IsNotExist(err) {
		t.Errorf("stat %s after the master closed = %v; want not found", p.slave, err)
	}
}
