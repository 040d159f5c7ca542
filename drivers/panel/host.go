package panel

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/gpioioctl"
)

// hostLines initialises periph.io's host drivers and returns the lines of
// the GPIO chip at path, by name. Its error says why there is no such chip:
// none at all ("no GPIO chip: ioctl-gpio: no GPIO chips found" on a PC), or
// not this one.
func hostLines(path string) (lineFinder, error) {
	st, err := host.Init()
	if err != nil {
		return nil, fmt.Errorf("no GPIO chip: host init: %w", err)
	}
	if len(gpioioctl.Chips) == 0 {
		why := "gpioioctl found none"
		for _, f := range append(st.Skipped, st.Failed...) {
			if f.D.String() == "ioctl-gpio" {
				why = fmt.Sprintf("%s: %v", f.D, f.Err)
			}
		}
		return nil, errors.New("no GPIO chip: " + why)
	}
	// gpioioctl keeps one of two paths to the same chip (a Raspberry Pi 5's
	// /dev/gpiochip4 is a link to /dev/gpiochip0), so compare the kernel's
	// names too.
	name := filepath.Base(path)
	if real, err := filepath.EvalSymlinks(path); err == nil {
		name = filepath.Base(real)
	}
	var have []string
	for _, c := range gpioioctl.Chips {
		if c.Path() == path || c.Name() == name {
			return func(name string) (gpio.PinIO, bool) {
				l := c.ByName(name)
				return l, l != nil
			}, nil
		}
		have = append(have, c.Path())
	}
	return nil, fmt.Errorf("no GPIO chip %s; have %s", path, strings.Join(have, ", "))
}
