package staff

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveFor runs s on a loopback port until the returned stop is called,
// which waits for Serve to return.
func serveFor(t *testing.T, s *Server) (stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve = %v; want nil", err)
			}
		case <-time.After(wait):
			t.Fatal("Serve did not return after its context ended")
		}
	}
}

// savedAlerts reads the alerts file of state.
func savedAlerts(t *testing.T, state string) alertsFile {
	t.Helper()
	var f alertsFile
	b, err := os.ReadFile(filepath.Join(Dir(state), alertsFileName))
	if err != nil {
		t.Fatalf("read the alerts file: %v", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse the alerts file %q: %v", b, err)
	}
	return f
}

// TestAlertsSurviveRestart: an alert nobody has acknowledged is still open
// after the daemon restarts (a help call must not vanish with a crash or an
// update), an acknowledged one is not, and new alerts take new ids.
func TestAlertsSurviveRestart(t *testing.T) {
	state := t.TempDir()
	cfg := Config{StateDir: state, CertHosts: []string{"127.0.0.1"}, Status: testStatusFunc}
	s1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s1.Raise(AlertHelp, "page button") // before Serve: saved when it starts
	stop := serveFor(t, s1)
	s1.Raise(AlertPrinter, "paper out")
	s1.Raise(AlertTamper, "the enclosure is open")
	open := s1.Alerts()
	if len(open) != 3 {
		t.Fatalf("open alerts = %+v; want 3", open)
	}
	if !s1.alerts.close(open[2].ID) { // as an acknowledgement does
		t.Fatal("close the tamper alert: not open")
	}
	s1.alertsChanged()
	deadline := time.Now().Add(wait)
	for {
		b, err := os.ReadFile(filepath.Join(Dir(state), alertsFileName))
		var f alertsFile
		if err == nil && json.Unmarshal(b, &f) == nil && len(f.Open) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts file = %+v; want the two still open", savedAlerts(t, state))
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()

	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := s2.Alerts()
	if len(got) != 2 || got[0] != open[0] || got[1] != open[1] {
		t.Fatalf("alerts after the restart = %+v; want %+v", got, open[:2])
	}
	s2.Raise(AlertTamper, "again")
	after := s2.Alerts()
	if len(after) != 3 || after[2].ID <= open[2].ID {
		t.Errorf("a new alert after the restart = %+v; want a new id past %d", after, open[2].ID)
	}
	// Serve's end saves what changed since its last save.
	stop = serveFor(t, s2)
	stop()
	if f := savedAlerts(t, state); len(f.Open) != 3 {
		t.Errorf("alerts file after the second run = %+v; want 3 open", f)
	}
}

// TestAlertsFileUnreadable: a damaged alerts file does not keep the
// dashboard from starting; it is set aside, not overwritten.
func TestAlertsFileUnreadable(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(Dir(state), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(Dir(state), alertsFileName)
	for name, content := range map[string]string{
		"truncated":  `{"next":3,"open":[{"id":1,"kind":"help"`,
		"not json":   "\x00\x01",
		"too many":   `{"next":1,"open":[` + strings.Repeat(`{"id":1,"kind":"help"},`, maxOpenAlerts) + `{"id":1,"kind":"help"}]}`,
		"wrong type": `{"next":"x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Remove(path + ".bad")
			s, err := New(Config{StateDir: state, CertHosts: []string{"127.0.0.1"}, Status: testStatusFunc})
			if err != nil {
				t.Fatalf("New with an unreadable alerts file: %v", err)
			}
			if a := s.Alerts(); len(a) != 0 {
				t.Errorf("alerts = %+v; want none", a)
			}
			if b, err := os.ReadFile(path + ".bad"); err != nil || string(b) != content {
				t.Errorf("the unreadable file set aside = %q, %v; want it as it was", b, err)
			}
		})
	}
}

// TestAuditRotates: past its bound the audit log becomes audit.log.1 and
// a new one begins, so it cannot fill the disk; no record is split or
// lost across the turn.
func TestAuditRotates(t *testing.T) {
	dir := t.TempDir()
	a := &auditLog{path: filepath.Join(dir, auditFileName), now: time.Now, max: 1000}
	const n = 30 // about 110 bytes each: three rotations
	for i := range n {
		if err := a.record(AuditRecord{Account: "alice", Remote: "local", Action: AuditSyncNow, Detail: itoa(uint64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) []AuditRecord {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		var rs []AuditRecord
		for line := range strings.Lines(string(b)) {
			var r AuditRecord
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: line %q: %v", name, line, err)
			}
			rs = append(rs, r)
		}
		return rs
	}
	older, newer := read(auditFileName+".1"), read(auditFileName)
	if fi, err := os.Stat(a.path); err != nil || fi.Size() > 1000+200 {
		t.Errorf("audit log size %v, %v; want at most one record past 1000 bytes", fi.Size(), err)
	}
	all := append(older, newer...)
	if len(all) == 0 || all[len(all)-1].Detail != itoa(n-1) {
		t.Fatalf("records = %+v; want the last one, %d, last", all, n-1)
	}
	first := len(all) - 1 - (n - 1) // where record 0 would be
	for i, r := range all {
		if r.Detail != itoa(uint64(i-first)) {
			t.Fatalf("record %d = %q; want the records in order with none missing within the two files", i, r.Detail)
		}
	}
	if len(older) == 0 || len(all) >= n {
		t.Errorf("%d records in audit.log.1, %d in all; want a rotation that dropped the oldest", len(older), len(all))
	}
}
