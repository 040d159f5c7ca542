package printer

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// speeds are the termios speeds of bauds.
var speeds = map[int]uint32{
	2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600, 19200: unix.B19200,
	38400: unix.B38400, 57600: unix.B57600, 115200: unix.B115200,
}

// configure sets f's line raw (cfmakeraw: no echo, no line editing, no
// signals, no translation of CR or LF, all 8 bits through) at l's speed and
// flow control, 8N1, receiver on, modem lines ignored.
func configure(f *os.File, l Line) error {
	speed, ok := speeds[l.Baud]
	if !ok {
		return fmt.Errorf("configure %s: baud %d: want one of %v", f.Name(), l.Baud, bauds)
	}
	return control(f, func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return fmt.Errorf("ioctl TCGETS %s: %w", f.Name(), err)
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
		t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
		t.Ispeed, t.Ospeed = speed, speed
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		switch l.Flow {
		case FlowXonXoff:
			t.Iflag |= unix.IXON // XOFF from the printer stops our output
		case FlowRTSCTS:
			t.Cflag |= unix.CRTSCTS
		}
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
			return fmt.Errorf("ioctl TCSETS %s: %w", f.Name(), err)
		}
		return nil
	})
}

// flushInput drops what the printer sent that was not read.
func flushInput(f *os.File) error {
	return control(f, func(fd int) error { return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH) })
}

// flushOutput drops what was written and not yet sent.
func flushOutput(f *os.File) error {
	return control(f, func(fd int) error { return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCOFLUSH) })
}

// control runs fn on f's descriptor.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}
