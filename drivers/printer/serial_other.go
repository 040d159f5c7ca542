//go:build !linux

package printer

import (
	"errors"
	"fmt"
	"os"
)

// errNotLinux: the serial driver sets its line with Linux's termios calls.
var errNotLinux = errors.New("serial printers are driven on Linux only")

func configure(f *os.File, _ Line) error {
	return fmt.Errorf("configure %s: %w", f.Name(), errNotLinux)
}

func flushInput(*os.File) error  { return nil }
func flushOutput(*os.File) error { return nil }
