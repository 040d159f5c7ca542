package outbox

import (
	"context"
	"testing"
	"time"
)

// WriterPragmas returns settings of the writer connection itself (PRAGMAs
// such as synchronous are per connection).
func WriterPragmas(t testing.TB, s *Store) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, p := range []string{"journal_mode", "synchronous", "journal_size_limit"} {
		var v string
		if err := s.w.QueryRowContext(context.Background(), "PRAGMA "+p).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", p, err)
		}
		got[p] = v
	}
	return got
}

// NewIDs returns ids from one generator, one made at each of times.
func NewIDs(times ...time.Time) []string {
	var g uuidGen
	ids := make([]string, len(times))
	for i, t := range times {
		ids[i] = g.next(t)
	}
	return ids
}
