package card

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"sync"
)

// inflater is the state inflate reuses between calls: a zlib reader holds a
// 32 KiB window and its Huffman tables, several times the work of inflating
// a card, so one is kept per concurrent call rather than made per scan.
type inflater struct {
	src bytes.Reader
	lim io.LimitedReader
	zr  io.ReadCloser // a zlib.Resetter once made; nil before the first stream
	out bytes.Buffer
}

var inflaters = sync.Pool{New: func() any { return new(inflater) }}

// maxPooledOut bounds the output buffer an inflater keeps: a hostile stream
// may have grown it to MaxInflatedLen, and a card needs far less.
const maxPooledOut = 4 << 10

// inflate decompresses a zlib stream of at most MaxInflatedLen bytes with
// nothing after it. The result is the caller's own.
func inflate(b []byte) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer func() {
		f.src.Reset(nil)
		if f.out.Cap() > maxPooledOut {
			f.out = bytes.Buffer{}
		}
		inflaters.Put(f)
	}()

	f.src.Reset(b)
	// bytes.Reader is an io.ByteReader, so flate reads it a byte at a
	// time and stops at the end of the stream: what is left of src is what
	// follows the Adler-32.
	if f.zr == nil {
		zr, err := zlib.NewReader(&f.src)
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		f.zr = zr
	} else if err := f.zr.(zlib.Resetter).Reset(&f.src, nil); err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	f.lim = io.LimitedReader{R: f.zr, N: MaxInflatedLen + 1}
	f.out.Reset()
	if _, err := f.out.ReadFrom(&f.lim); err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	if f.out.Len() > MaxInflatedLen {
		return nil, fmt.Errorf("zlib: inflates to more than %d bytes", MaxInflatedLen)
	}
	if n := f.src.Len(); n != 0 {
		return nil, fmt.Errorf("zlib: %d bytes after the stream", n)
	}
	return bytes.Clone(f.out.Bytes()), nil
}
