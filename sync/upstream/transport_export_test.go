package upstream

import (
	"time"

	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// SetNow replaces the server's clock; call it before serving.
func (s *Server) SetNow(now func() time.Time) { s.now = now }

// CompareHead exports compareHead for its table test.
func CompareHead(head wire.Head, heldMax uint64, heldHash []byte) string {
	return compareHead(head, heldMax, heldHash)
}
