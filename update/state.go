package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
)

// Files of the update's state directory (StateDir): the state and its
// journal, the download's progress, the lock, the manifests of the
// releases on disk, and the download itself.
const (
	stateFile    = "state.json"
	progressFile = "progress.json"
	manifestsDir = "manifests"
	downloadDir  = "download"
)

// State is what the updater keeps between runs: which versions are
// current and previous, which are bad, and the journal of the last apply
// or rollback. It is written whole (internal/atomicfile) at every change
// of phase, so that a power cut leaves the last phase reached, which the
// next run finishes or undoes (Updater.Recover).
type State struct {
	// Current is the version last confirmed healthy; the current symlink
	// is the truth of what runs, this what the updater last saw work.
	Current string `json:"current,omitempty"`
	// Previous is the version before Current: what rollback returns to.
	Previous string `json:"previous,omitempty"`
	// Bad are versions that failed their health check, or were rolled
	// back from by hand: apply refuses them unless forced.
	Bad []BadVersion `json:"bad,omitempty"`
	// Last is the journal of the last apply or rollback; nil before the
	// first.
	Last *Attempt `json:"last,omitempty"`
}

// BadVersion is a version apply refuses, and why.
type BadVersion struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
}

// Attempt is one apply or rollback: the journal Recover reads after a
// crash.
type Attempt struct {
	Kind    string    `json:"kind"` // KindApply or KindRollback
	From    string    `json:"from"` // the version current when it began
	To      string    `json:"to"`   // the version it switches to
	Phase   Phase     `json:"phase"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Error is why it failed or was rolled back; "" if it did not.
	Error string `json:"error,omitempty"`
	// Baseline is why From was out of service just before the switch
	// ("" if it was in service): To may be so for that reason alone and
	// still pass the health gate.
	Baseline string `json:"baseline,omitempty"`
}

// Kinds of Attempt.
const (
	KindApply    = "apply"
	KindRollback = "rollback"
)

// Phase is how far an attempt went. Those up to PhaseUnpacked leave the
// current release as it was; PhaseSwitching and PhaseRollingBack are the
// ones Recover must finish; the others are ends.
type Phase string

// The phases, in the order an attempt goes through them.
const (
	PhaseDownloading Phase = "downloading"  // fetching and unpacking; nothing switched
	PhaseUnpacked    Phase = "unpacked"     // releases/TO complete and synced; nothing switched
	PhaseSwitching   Phase = "switching"    // current may point at From or To; To not yet confirmed
	PhaseRollingBack Phase = "rolling_back" // To failed (marked bad); current goes back to From
	PhaseConfirmed   Phase = "confirmed"    // To runs and answered healthy: done
	PhaseRolledBack  Phase = "rolled_back"  // back on From after To failed: done
	PhaseFailed      Phase = "failed"       // stopped before the switch, nothing changed: done
	PhaseAborted     Phase = "aborted"      // interrupted before the switch, found by Recover: done
)

// Done reports whether p ends an attempt: nothing is left to recover.
func (p Phase) Done() bool {
	switch p {
	case PhaseConfirmed, PhaseRolledBack, PhaseFailed, PhaseAborted, "":
		return true
	}
	return false
}

// IsBad reports whether version is marked bad.
func (s State) IsBad(version string) bool {
	return slices.ContainsFunc(s.Bad, func(b BadVersion) bool { return sameVersion(b.Version, version) })
}

// markBad adds version to Bad, once.
func (s *State) markBad(version, reason string, at time.Time) {
	if !s.IsBad(version) {
		s.Bad = append(s.Bad, BadVersion{Version: version, At: at, Reason: reason})
	}
}

// Progress is how far a download is, written to progress.json as it goes
// so that `kiosk update status` (or the daemon) can show it.
type Progress struct {
	Version string    `json:"version"`
	Done    int64     `json:"done"`  // bytes fetched
	Total   int64     `json:"total"` // bytes in all
	Updated time.Time `json:"updated"`
}

// readState reads the state file of dir; a missing one is the empty State.
func readState(dir string) (State, error) {
	var s State
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read update state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("parse update state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return s, nil
}

// writeState writes s to the state file of dir, whole and synced.
func writeState(dir string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode update state: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, stateFile), append(b, '\n'), 0o644)
}

// readProgress reads the progress file of dir; nil when there is none.
func readProgress(dir string) (*Progress, error) {
	b, err := os.ReadFile(filepath.Join(dir, progressFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read download progress: %w", err)
	}
	var p Progress
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parse download progress: %w", err)
	}
	return &p, nil
}
