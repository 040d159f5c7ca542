package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/sqlite"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/storetest"
)

// The file is one process's (upstream.OpenDir locks its directory): the
// suite's replicas share the one Store.
func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Stores{New: func(t *testing.T) upstream.Store {
		st, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.File))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}})
}
