package panel

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupported is returned by Open for a valid source whose driver this
// build does not have.
var ErrUnsupported = errors.New("not supported by this build")

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

// Open returns the panel source names. It touches no hardware yet: a
// kiosk whose panel is unplugged still starts, with the help button on its
// screen, and its driver reports the panel's State. A source this build has
// no driver for is an error (ErrUnsupported).
func Open(source string) (Device, error) {
	s, err := ParseSource(source)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case KindSim:
		return NewSim(), nil
	default:
		return nil, fmt.Errorf("panel source %q: %w", source, ErrUnsupported)
	}
}
