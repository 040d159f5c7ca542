package panel

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"periph.io/x/conn/v3/gpio"
)

// The kinds of source.
const (
	KindSim  = "sim"  // Sim: no hardware
	KindGPIO = "gpio" // the board's GPIO lines: gpio:CHIP
)

// Source is a parsed panel source.
type Source struct {
	Kind string // KindSim or KindGPIO
	Path string // gpio: the GPIO character device, absolute (/dev/gpiochip0)
}

// ParseSource parses a panel source: "sim" or "gpio:CHIP". No option is
// known yet, so a query string ("gpio:/dev/gpiochip0?x=1") is an error.
// Each error names the source and what is wrong with it.
func ParseSource(source string) (Source, error) {
	s, err := parseSource(source)
	if err != nil {
		return Source{}, fmt.Errorf("panel source %q: %w", source, err)
	}
	return s, nil
}

func parseSource(source string) (Source, error) {
	kind, path, hasPath := strings.Cut(source, ":")
	switch {
	case source == "":
		return Source{}, errors.New("empty; want sim or gpio:CHIP")
	case kind == KindSim && !hasPath:
		return Source{Kind: KindSim}, nil
	case kind == KindSim || strings.HasPrefix(kind, KindSim+"?"):
		return Source{}, errors.New("sim takes no path or options")
	case kind != KindGPIO:
		return Source{}, fmt.Errorf("unknown kind %q; want sim or gpio:CHIP", kind)
	}
	path, query, hasQuery := strings.Cut(path, "?")
	switch {
	case path == "":
		return Source{}, errors.New("no GPIO chip; want gpio:CHIP, e.g. gpio:/dev/gpiochip0")
	case !strings.HasPrefix(path, "/"):
		return Source{}, fmt.Errorf("GPIO chip %q is not absolute; want e.g. /dev/gpiochip0", path)
	case hasQuery && query != "":
		return Source{}, fmt.Errorf("options %q: gpio takes none", query)
	}
	return Source{Kind: KindGPIO, Path: path}, nil
}

// Open returns the panel source names, its lines named by pins ("sim"
// ignores them). For "gpio:CHIP" it initialises periph.io's host drivers
// and checks that the chip has every line pins names: a pin name the chip
// does not have is an error naming the pin and its role, as is a line given
// two roles. A machine without the chip (or without any GPIO) is not an
// error: the device is then absent (see GPIO), so a kiosk without its panel
// still starts, with the help button on its screen. Open sets no line: Run
// does.
func Open(source string, pins Pins) (Device, error) {
	return open(source, pins, hostLines)
}

// open is Open, with the GPIO chip's lines looked up by lines (hostLines,
// or a board in tests). An error from lines means no chip: the device is
// then absent, with that error as its reason.
func open(source string, pins Pins, lines func(chip string) (lineFinder, error)) (Device, error) {
	s, err := ParseSource(source)
	if err != nil {
		return nil, err
	}
	if s.Kind == KindSim {
		return NewSim(), nil
	}
	if err := checkPins(pins); err != nil {
		return nil, fmt.Errorf("panel source %q: %w", source, err)
	}
	find, err := lines(s.Path)
	if err != nil {
		return newAbsent(err.Error()), nil
	}
	var io IO
	var opt Options
	ios, lows := io.roles(), opt.ActiveLow.roles()
	for i, r := range pins.roles() {
		if r.v.Name == "" {
			continue
		}
		l, ok := find(r.v.Name)
		if !ok {
			return nil, fmt.Errorf("panel source %q: %s pin %s: no such line on %s", source, r.name, r.v.Name, s.Path)
		}
		*ios[i].v, *lows[i].v = l, r.v.ActiveLow
	}
	return NewGPIO(io, opt), nil
}

// lineFinder returns the line of a chip by its name, and whether it has it.
type lineFinder func(name string) (gpio.PinIO, bool)

// Pin names a GPIO line in the configuration: "GPIO17" or
// "GPIO17:active-low" (ParsePin). The zero Pin is a part not fitted.
type Pin struct {
	Name      string // the line's name on its chip, as gpioinfo lists it; "" for none
	ActiveLow bool   // the part is on (pressed, lit, open…) when the line is low
}

// String returns p as ParsePin reads it.
func (p Pin) String() string {
	if p.ActiveLow {
		return p.Name + ":active-low"
	}
	return p.Name
}

// ParsePin parses a pin of the configuration: a line's name, then
// optionally ":active-low" or ":active-high" (the default). "" is a part
// not fitted. Each error names the pin.
func ParsePin(s string) (Pin, error) {
	name, level, hasLevel := strings.Cut(s, ":")
	p := Pin{Name: name}
	switch {
	case s == "":
		return Pin{}, nil
	case name == "":
		return Pin{}, fmt.Errorf("panel pin %q: no line name; want e.g. GPIO17", s)
	case strings.ContainsFunc(name, unicode.IsSpace):
		return Pin{}, fmt.Errorf("panel pin %q: space in the line name", s)
	case !hasLevel || level == "active-high":
	case level == "active-low":
		p.ActiveLow = true
	default:
		return Pin{}, fmt.Errorf("panel pin %q: unknown %q; want active-low or active-high", s, level)
	}
	return p, nil
}

// Roles holds one T for each part of the panel: Pins (Roles[Pin]) names
// their lines in the configuration, IO (Roles[gpio.PinIO]) holds the lines
// themselves, and Options.ActiveLow (Roles[bool]) which are active-low.
// A zero field is a part not fitted.
//
// The wiring the comments assume, a Raspberry Pi's 3.3 V lines: LEDs and
// the buzzer (an active one: it sounds when powered) through a transistor
// or a resistor, on when the line is high; the lamp through a relay board
// (these are often active-low); the help button a push button to ground
// (active-low); the tamper switch a normally-closed switch to ground that
// the shut door holds closed, so the line is high when the door is open and
// when a wire is cut (active-high); the presence sensor a PIR sensor's
// output, high while it sees someone (active-high).
type Roles[T any] struct {
	Green, Amber, Red T // the status light; without Amber, amber is Red and Green together
	Buzzer            T
	Lamp              T // the "staff called" lamp or relay
	Help              T // the help button
	Tamper            T // the enclosure's tamper switch: active when open
	Presence          T // the presence sensor: active while someone is there
}

// Pins names each part's line in the configuration.
type Pins = Roles[Pin]

// role is a field of Roles and its name, as errors and Edge say it.
type role[T any] struct {
	name string
	v    *T
}

// roles returns r's fields in a fixed order, with their names.
func (r *Roles[T]) roles() []role[T] {
	return []role[T]{
		{"green", &r.Green}, {"amber", &r.Amber}, {"red", &r.Red}, {"buzzer", &r.Buzzer},
		{"lamp", &r.Lamp}, {"help", &r.Help}, {"tamper", &r.Tamper}, {"presence", &r.Presence},
	}
}

// checkPins refuses a line given two roles: the second would fight the
// first.
func checkPins(p Pins) error {
	seen := map[string]string{}
	for _, r := range p.roles() {
		if r.v.Name == "" {
			continue
		}
		if other, ok := seen[r.v.Name]; ok {
			return fmt.Errorf("%s pin %s: already the %s pin", r.name, r.v.Name, other)
		}
		seen[r.v.Name] = r.name
	}
	return nil
}

// ParsePins parses each part's pin as the configuration names it
// (ParsePin), and refuses a line given two parts. Each error names the
// part: "help: panel pin ...".
func ParsePins(names Roles[string]) (Pins, error) {
	var p Pins
	var errs []error
	in, out := names.roles(), p.roles()
	for i, r := range in {
		pin, err := ParsePin(*r.v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
		}
		*out[i].v = pin
	}
	if err := errors.Join(errs...); err != nil {
		return Pins{}, err
	}
	return p, checkPins(p)
}
