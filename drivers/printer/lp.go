package printer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// LP is a printer on the USB printer class's character device
// (/dev/usb/lp0, the kernel's usblp driver). It asks the printer's status
// with the LPGETSTATUS ioctl, which reads the IEEE 1284 status byte the
// printer reports over USB (GET_PORT_STATUS); a file that does not answer
// it (a printer whose USB interface has no status, a file or FIFO standing
// in for one) prints without.
type LP struct {
	port
}

var _ Watcher = (*LP)(nil)

// NewLP returns the printer on the device file at path. It touches no
// hardware: Run and Print open the device, so a kiosk whose printer is off
// still starts, and reports the printer Absent.
func NewLP(path string, o Options) *LP {
	return &LP{port: newPort(path, lpTransport{}, o)}
}

// Print prints r: see Device.
func (d *LP) Print(ctx context.Context, r Receipt) error { return d.print(ctx, r) }

// State says how the printer is.
func (d *LP) State() State { return d.h.State() }

// CanRender reports whether text prints in this printer's code pages.
func (d *LP) CanRender(text string) bool { return CanRender(text, d.opts) }

// Run checks the printer every DefaultPoll until ctx ends; it returns nil.
func (d *LP) Run(ctx context.Context) error { return d.run(ctx) }

// The status byte's bits LPGETSTATUS returns (linux/lp.h), and its
// request number, _IO(0x06, 0x0b) in lp.h's old numbering.
const (
	lpGetStatus = 0x060b
	lpPError    = 0x08 // LP_PERRORP: not in error (active low)
	lpPSelected = 0x10 // LP_PSELECD: selected, online
	lpPaperOut  = 0x20 // LP_POUTPA: out of paper
)

// errStatusUnknown: the device does not answer LPGETSTATUS.
var errStatusUnknown = errors.New("status unknown")

type lpTransport struct{}

// open opens the device write-only and non-blocking: usblp then answers a
// write it cannot take at once with EAGAIN, and Go's poller waits for it,
// so a write ends with its deadline. O_APPEND is for a file standing in
// for the device.
func (lpTransport) open(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|syscall.O_NONBLOCK, 0)
}

func (lpTransport) status(_ context.Context, f *os.File, _ int) (string, error) {
	s, err := lpStatus(f)
	switch {
	case errors.Is(err, errStatusUnknown):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("ioctl LPGETSTATUS %s: %w", f.Name(), err)
	}
	return "", lpDecode(s)
}

// lpDecode reads a status byte as usblp itself does (usblp_check_status):
// paper out first, then not selected, then in error.
func lpDecode(s int) error {
	switch {
	case s&lpPaperOut != 0:
		return ErrPaperOut
	case s&lpPSelected == 0, s&lpPError == 0:
		return ErrOffline
	}
	return nil
}

// discard does nothing: usblp's release does not wait for the printer.
func (lpTransport) discard(*os.File) {}
