package staff

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// auditFileName is the audit log, in the staff directory (Dir), and
// auditLockName the file whose flock lets one process (the daemon, or a
// `kiosk staff` command) write or rotate it at a time.
const (
	auditFileName = "audit.log"
	auditLockName = "audit.lock"
)

// MaxAuditBytes is the size past which the audit log is rotated: it is
// renamed audit.log.1 (replacing the one before) and a new log begins. At
// about 150 bytes a record, 4 MiB is some 28,000 actions, years of a
// kiosk's logins, and the two files together never take more than twice
// that on a small SD card.
const MaxAuditBytes = 4 << 20

// The actions an audit record names.
const (
	AuditLoginOK         = "login_ok"
	AuditLoginFailed     = "login_failed" // wrong account or password
	AuditLoginLocked     = "login_locked" // the failure that locked an account or an address
	AuditLogout          = "logout"
	AuditMaintenance     = "maintenance" // detail "on" or "off"
	AuditSyncNow         = "sync_now"
	AuditAlertAck        = "alert_acknowledged" // detail: the alert's id and kind
	AuditAccountAdded    = "account_added"      // by `kiosk staff add`; detail: the account
	AuditAccountRemoved  = "account_removed"
	AuditPasswordChanged = "password_changed"
)

// AuditRecord is one line of STATE/staff/audit.log:
//
//	{"time":"2026-01-05T09:12:03Z","account":"alice","remote":"192.0.2.7","action":"maintenance","detail":"on"}
//
// It names staff and what they did, never the people checking in: no
// detail holds a name, an A-number, a card serial or a scan. A failed login
// names the account only when there is one of that name, as a name typed
// wrong is often the password.
type AuditRecord struct {
	Time    time.Time `json:"time"`
	Account string    `json:"account"` // who acted; "" when unknown, or at the kiosk's command line
	Remote  string    `json:"remote"`  // the client's address, "local" for the command line
	Action  string    `json:"action"`  // one of the Audit* names
	Detail  string    `json:"detail,omitempty"`
}

// auditLog appends records to the audit log, one JSON line each, synced
// before record returns: an action is done only once its record is on
// disk. The file is opened for each record (they are rare), so a log
// rotated under the daemon (by MaxAuditBytes, or by an admin) is written
// anew.
type auditLog struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
	max  int64 // rotate past this size; 0: MaxAuditBytes
}

// record appends r, stamped now in UTC, and syncs the file.
func (a *auditLog) record(r AuditRecord) error {
	r.Time = a.now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, err := lockFile(filepath.Join(filepath.Dir(a.path), auditLockName))
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	defer unlock()
	if err := a.rotate(); err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	// A log root made (`sudo kiosk staff add`) is the daemon's to write.
	err = giveToDirOwner(a.path, filepath.Dir(a.path))
	if err == nil {
		_, err = f.Write(append(b, '\n'))
	}
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("sync: %w", err)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// rotate renames the log to audit.log.1 once it has reached its bound, so
// that the next record begins a new one; the caller holds the lock. The
// directory is synced, so that a power cut cannot leave the rename half
// known while the new file's first record is.
func (a *auditLog) rotate() error {
	limit := a.max
	if limit <= 0 {
		limit = MaxAuditBytes
	}
	fi, err := os.Stat(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if fi.Size() < limit {
		return nil
	}
	if err := os.Rename(a.path, a.path+".1"); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	d, err := os.Open(filepath.Dir(a.path))
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("rotate: sync directory: %w", err)
	}
	return nil
}
