package upstream

import (
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// SetNow replaces the server's clock; call it before serving.
func (s *Server) SetNow(now func() time.Time) { s.now = now }

// CompareHead exports compareHead for its table test: heldMax is the
// highest seq held, heldCount how many records are held, heldHash the
// hash held at the head's seq.
func CompareHead(head wire.Head, heldMax, heldCount uint64, heldHash []byte) string {
	return compareHead(head, Holdings{Max: heldMax, Count: heldCount, Hash: heldHash})
}
