package panel

import (
	"errors"

	"periph.io/x/conn/v3/gpio"
)

// Statuses and Tones are every status and tone, in Exercise's order.
var (
	Statuses = statuses
	Tones    = tones
)

// OpenBoard is Open with board's lines standing in for a GPIO chip's, by
// name; a nil board is a machine without GPIO.
func OpenBoard(source string, pins Pins, board map[string]gpio.PinIO) (Device, error) {
	return open(source, pins, func(chip string) (lineFinder, error) {
		if board == nil {
			return nil, errors.New("no GPIO chip: none on this board")
		}
		return func(name string) (gpio.PinIO, bool) {
			l, ok := board[name]
			return l, ok
		}, nil
	})
}
