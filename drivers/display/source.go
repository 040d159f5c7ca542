package display

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

// The kinds of source.
const (
	KindNone = "none" // no display: None
	KindSim  = "sim"  // Sim: no hardware
	KindI2C  = "i2c"  // an SSD1306 module on an I²C bus: i2c:BUS
)

// Source is a parsed display source.
type Source struct {
	Kind string // KindNone, KindSim or KindI2C
	// Bus names the I²C bus (i2c) as periph.io's registry knows it: its
	// number ("1") or its device ("/dev/i2c-1").
	Bus     string
	Addr    uint16 // i2c: the module's address, Addr (0x3c, the default) or AltAddr (0x3d)
	Rotated bool   // i2c: the module is mounted upside down (default false)
}

// ParseSource parses a display source: "" or "none", "sim", or
// "i2c:BUS" with options as a query string,
// "i2c:/dev/i2c-1?addr=0x3d&rotated=true". An unknown option is an error,
// and so is an option given twice. Each error names the source and what is
// wrong with it.
func ParseSource(source string) (Source, error) {
	s, err := parseSource(source)
	if err != nil {
		return Source{}, fmt.Errorf("display source %q: %w", source, err)
	}
	return s, nil
}

func parseSource(source string) (Source, error) {
	switch source {
	case "", KindNone:
		return Source{Kind: KindNone}, nil
	case KindSim:
		return Source{Kind: KindSim}, nil
	}
	kind, rest, hasBus := strings.Cut(source, ":")
	kind, _, _ = strings.Cut(kind, "?")
	switch kind {
	case KindNone, KindSim:
		return Source{}, fmt.Errorf("%s takes no bus or options", kind)
	case KindI2C:
	default:
		return Source{}, fmt.Errorf("unknown kind %q; want none, sim or i2c:BUS", kind)
	}
	bus, query, _ := strings.Cut(rest, "?")
	if !hasBus || bus == "" {
		return Source{}, errors.New("no bus; want i2c:BUS, e.g. i2c:1 or i2c:/dev/i2c-1")
	}
	s := Source{Kind: KindI2C, Bus: bus, Addr: Addr}
	values, err := url.ParseQuery(query)
	if err != nil {
		return Source{}, fmt.Errorf("options %q: %w", query, err)
	}
	for _, k := range slices.Sorted(maps.Keys(values)) { // the first error is the same on every run
		v := values[k]
		if n := len(v); n > 1 {
			return Source{}, fmt.Errorf("option %s given %d times", k, n)
		}
		switch k {
		case "addr":
			a, err := strconv.ParseUint(v[0], 0, 16)
			if err != nil || uint16(a) != Addr && uint16(a) != AltAddr {
				return Source{}, fmt.Errorf("option addr=%q: want 0x3c or 0x3d", v[0])
			}
			s.Addr = uint16(a)
		case "rotated":
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return Source{}, fmt.Errorf("option rotated=%q: want true or false", v[0])
			}
			s.Rotated = b
		default:
			return Source{}, fmt.Errorf("unknown option %q; i2c takes addr, rotated", k)
		}
	}
	return s, nil
}

// Open returns the display source names: None, a Sim, or an SSD1306 on the
// named bus. The last sets periph.io's host drivers up (host.Init), opens
// the bus through its registry (i2creg.Open) and sets the module up, but a
// bus or module missing is no error: the SSD1306's State says Absent and
// why, and it tries again as its Show is called (every RetryEvery at most).
// The registry lists the buses present when the process first opened one,
// so a bus must be enabled (dtparam=i2c_arm=on) before the kiosk starts;
// the module itself may come later. An error is a source that does not
// parse.
func Open(source string) (Device, error) {
	s, err := ParseSource(source)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case KindNone:
		return None{}, nil
	case KindSim:
		return NewSim(), nil
	}
	open := func() (i2c.Bus, io.Closer, error) {
		if _, err := host.Init(); err != nil {
			return nil, nil, fmt.Errorf("host init: %w", err)
		}
		if len(i2creg.All()) == 0 {
			// i2creg's own words here ("did you forget to call Init()?")
			// would send a technician the wrong way.
			return nil, nil, fmt.Errorf("open i2c bus %q: no I2C bus on this machine (dtparam=i2c_arm=on enables the Pi's)", s.Bus)
		}
		b, err := i2creg.Open(s.Bus)
		if err != nil {
			return nil, nil, fmt.Errorf("open i2c bus %q: %w", s.Bus, err)
		}
		return b, b, nil
	}
	d, err := newSSD1306(open, Options{Addr: s.Addr, Rotated: s.Rotated})
	if err != nil {
		return nil, fmt.Errorf("display source %q: %w", source, err)
	}
	return d, nil
}

// None is no display, for a kiosk built without one (source "" or
// "none"). Open returns it rather than nil so that callers need no case
// for it: Show draws nothing and succeeds, and State says Absent, "none
// configured", so the kiosk's status tells a technician looking for the
// display that it was never asked for.
type None struct{}

var _ Device = None{}

// Show does nothing.
func (None) Show(Info) error { return nil }

// State is Absent: none configured.
func (None) State() State { return State{Condition: Absent, Reason: "none configured"} }

// Close does nothing.
func (None) Close() error { return nil }
