package demokit

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestFeedLines(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	full := strings.Repeat("y", MaxLine)
	for _, tc := range []struct {
		name    string
		in      string
		fail    string // scan fails on this text
		want    []string
		refused int // "line over 64 KiB ignored" messages
	}{
		{name: "lines", in: "valid\n  expired \r\n\n\nforged", want: []string{"valid", "expired", "forged"}},
		{name: "a line over 64 KiB between two", in: "valid\n" + long + "\nexpired\n", want: []string{"valid", "expired"}, refused: 1},
		{name: "a line over 64 KiB at the end", in: "valid\n" + long, want: []string{"valid"}, refused: 1},
		{name: "two lines over 64 KiB", in: long + "\n" + long + "\nrevoked\n", want: []string{"revoked"}, refused: 2},
		{name: "a line of 64 KiB exactly", in: full + "\nvalid\n", want: []string{full, "valid"}},
		{name: "scan fails", in: "valid\nexpired\nforged\n", fail: "expired", want: []string{"valid", "expired"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var errw strings.Builder
			FeedLines(strings.NewReader(tc.in), func(text string) error {
				got = append(got, text)
				if text == tc.fail {
					return errors.New("scanner gone")
				}
				return nil
			}, &errw)
			if !slices.Equal(got, tc.want) {
				t.Errorf("FeedLines scanned %.40q; want %.40q", got, tc.want)
			}
			if n := strings.Count(errw.String(), "line over 64 KiB ignored\n"); n != tc.refused || (n == 0 && errw.Len() > 0) {
				t.Errorf("FeedLines wrote %q; want %d refusals", errw.String(), tc.refused)
			}
		})
	}
}
