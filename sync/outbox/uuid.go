package outbox

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

// uuidGen makes UUIDv7s (RFC 9562 §5.7): a 48-bit Unix millisecond
// timestamp, the version, 12 bits of rand_a, the variant and 62 random bits.
// rand_a is a counter (RFC 9562 §6.2, method 1) started at a random value in
// each new millisecond, so the ids of one generator sort in the order they
// were made even within a millisecond or when the clock steps back (a Pi has
// no RTC): then the last timestamp is reused, and advanced by one when the
// counter runs out.
type uuidGen struct {
	mu     sync.Mutex
	lastMs int64
	ctr    uint16
}

func (g *uuidGen) next(now time.Time) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	ms := max(now.UnixMilli(), 0)

	g.mu.Lock()
	if ms > g.lastMs {
		g.lastMs = ms
		// Top bit clear: at least 2048 ids in this millisecond before the
		// counter spills into the next one.
		g.ctr = binary.BigEndian.Uint16(b[6:8]) & 0x07ff
	} else {
		g.ctr++
		if g.ctr > 0x0fff {
			g.lastMs++
			g.ctr = 0
		}
	}
	ms, ctr := g.lastMs, g.ctr
	g.mu.Unlock()

	b[0] = byte(ms >> 40)
	b[1] = byte(ms >> 32)
	b[2] = byte(ms >> 24)
	b[3] = byte(ms >> 16)
	b[4] = byte(ms >> 8)
	b[5] = byte(ms)
	b[6] = 0x70 | byte(ctr>>8)
	b[7] = byte(ctr)
	b[8] = b[8]&0x3f | 0x80

	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
