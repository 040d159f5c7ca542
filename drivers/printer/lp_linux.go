package printer

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lpStatus returns the printer's status byte, or errStatusUnknown if f
// does not answer LPGETSTATUS: ENOTTY or EINVAL for a file or FIFO, EIO
// when the printer fails usblp's GET_PORT_STATUS request (it has no
// status to give; an unplugged one is ENODEV).
func lpStatus(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var s uint32 // the kernel writes an int
	var ioErr error
	if err := rc.Control(func(fd uintptr) { s, ioErr = unix.IoctlGetUint32(int(fd), lpGetStatus) }); err != nil {
		return 0, err
	}
	switch {
	case errors.Is(ioErr, unix.ENOTTY), errors.Is(ioErr, unix.EINVAL), errors.Is(ioErr, unix.EIO), errors.Is(ioErr, unix.EOPNOTSUPP):
		return 0, errStatusUnknown
	case ioErr != nil:
		return 0, ioErr
	}
	return int(s & 0xff), nil
}
