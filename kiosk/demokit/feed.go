package demokit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxLine is the longest line FeedLines reads, far more than any card.
const MaxLine = 64 << 10

// FeedLines is the demo's terminal: it hands each line read from r,
// trimmed, to scan, skipping blank ones, until r ends or scan fails. A
// line longer than MaxLine is refused with a message on errw and skipped
// to its end. A read blocked on a terminal ends with the process.
func FeedLines(r io.Reader, scan func(string) error, errw io.Writer) {
	br := bufio.NewReaderSize(r, MaxLine+1) // the line and its newline
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			fmt.Fprintf(errw, "line over %d KiB ignored\n", MaxLine>>10)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		} else if text := strings.TrimSpace(string(line)); text != "" {
			if scan(text) != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(errw, "read stdin: %v\n", err)
			}
			return
		}
	}
}
