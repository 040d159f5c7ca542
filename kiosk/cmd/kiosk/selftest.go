package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/kiosk"
	"github.com/docketkiosk/checkin-kiosk/kiosk/card"
	"github.com/docketkiosk/checkin-kiosk/kiosk/demokit"
	"github.com/docketkiosk/checkin-kiosk/kiosk/trust"
	"github.com/docketkiosk/checkin-kiosk/sync/device"
	"github.com/docketkiosk/checkin-kiosk/sync/outbox"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// selftestKioskID names the throwaway outbox's kiosk: never an enrolled
// one, so nothing the self-test commits could pass for a real check-in.
const selftestKioskID = "selftest"

// selftestDB is the throwaway outbox's file, in the self-test's own
// directory: never the daemon's.
const selftestDB = "selftest.db"

// selftestCmd is "kiosk selftest": what proves a build works on the
// machine it runs on, a cross-built one on its target (under qemu in CI).
func selftestCmd() *cli.Command {
	return &cli.Command{Name: "selftest", Summary: "check this build on this machine: a real outbox, a card verified, a check-in committed",
		Usage: "[--state-dir DIR]",
		Description: "In a new directory (made in DIR, and removed after), makes a demo issuer, its signed lists and\n" +
			"sample cards, verifies the cards offline, opens an outbox, commits a check-in and reads it\n" +
			"back. Prints one line per step and \"selftest ok\"; exits 1 at the first step that fails.\n" +
			"It never touches the daemon's outbox: run it with DIR on the state directory's file system.",
		Example: "kiosk selftest\nsudo -u kiosk kiosk selftest --state-dir /var/lib/kiosk",
		Run:     selftestCommand}
}

// selftestCommand declares the flags of "kiosk selftest".
func selftestCommand(fs *flag.FlagSet) cli.Action {
	dir := fs.String("state-dir", "", "`directory` to make the self-test's directory in (default: the system's temporary directory)")
	return func(ctx context.Context, env *cli.Env, _ []string) error {
		return selftest(ctx, env.Stdout, *dir, time.Now())
	}
}

// selftest runs the steps in a new directory under parent ("": the
// temporary directory), printing a line for each to w; it returns the
// first step's error. It goes through the packages the daemon uses
// (demokit, trust, card, device, outbox, wire), so what it proves of them
// holds for the daemon: cgo and SQLite on this CPU, the file system's
// fsync, Ed25519, ECDSA, HPKE. It prints nothing of the card but the
// verdicts: the demo's people are invented, and the rule of the logs
// holds all the same.
func selftest(ctx context.Context, w io.Writer, parent string, now time.Time) (err error) {
	fmt.Fprintf(w, "kiosk %s %s/%s %s\n", buildString(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	dir, err := os.MkdirTemp(parent, "kiosk-selftest-")
	if err != nil {
		return fmt.Errorf("make the self-test directory: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("remove the self-test directory: %w", rerr)
		}
	}()
	st := &selftestRun{w: w, dir: dir, now: now}
	if err := st.step("directory", func() (string, error) { return dir, nil }); err != nil {
		return err
	}
	if err := st.run(ctx); err != nil {
		return err
	}
	fmt.Fprintln(w, "selftest ok")
	return nil
}

// run runs the steps in st.dir, in order, and stops at the first that
// fails; the outbox is closed when it returns.
func (st *selftestRun) run(ctx context.Context) error {
	steps := []struct {
		name string
		run  func(context.Context) (string, error)
	}{
		{"sqlite", st.sqliteVersion},
		{"demo kit", st.makeKit},
		{"verify", st.verifyCards},
		{"device key", st.deviceKey},
		{"open outbox", st.openOutbox},
		{"commit", st.commit},
		{"read back", st.readBack},
		{"reopen", st.reopen},
	}
	defer st.closeStore()
	for _, s := range steps {
		if err := st.step(s.name, func() (string, error) { return s.run(ctx) }); err != nil {
			return err
		}
	}
	if err := st.closeStore(); err != nil {
		return fmt.Errorf("close outbox: %w", err)
	}
	return nil
}

// selftestRun is what the steps hand on to each other.
type selftestRun struct {
	w   io.Writer
	dir string
	now time.Time

	kit     *demokit.Kit
	card    card.Card // the valid sample, verified
	dev     *device.Identity
	open    func() (*outbox.Store, error)
	store   *outbox.Store
	sealed  func(r wire.Record) (wire.Person, error)
	commit1 kiosk.Committed
}

// step runs one step and prints its line: "ok   NAME  DETAIL", or
// "FAIL NAME  ERROR" and the error, named after the step.
func (st *selftestRun) step(name string, run func() (string, error)) error {
	detail, err := run()
	if err != nil {
		fmt.Fprintf(st.w, "FAIL %-12s %v\n", name, err)
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(st.w, "ok   %-12s %s\n", name, detail)
	return nil
}

// sqliteVersion proves the cgo half of the binary runs: SQLite answers.
func (st *selftestRun) sqliteVersion(context.Context) (string, error) {
	v, _, _ := sqlite3.Version()
	if v == "" {
		return "", errors.New("sqlite3_libversion returned nothing")
	}
	return "SQLite " + v, nil
}

// makeKit makes the demo's root and issuer keys (ECDSA P-256), its signed
// lists and sample cards, as "kiosk demo" does.
func (st *selftestRun) makeKit(context.Context) (string, error) {
	kit, err := demokit.Prepare(filepath.Join(st.dir, "kit"), st.now)
	if err != nil {
		return "", err
	}
	st.kit = kit
	return fmt.Sprintf("root and issuer keys, signed lists, %d sample cards", len(kit.Samples)), nil
}

// verifyCards verifies every sample against the kit's lists, read and
// checked as the daemon reads them (kiosk/trust), and holds each to its
// verdict: a self-test that accepted a forged card would prove nothing.
func (st *selftestRun) verifyCards(context.Context) (string, error) {
	set, err := trust.Open(trust.Files{Root: st.kit.Root, Trust: st.kit.Trust, Revocations: st.kit.Revocations,
		Roster: st.kit.Roster, ReferencePrefix: demokit.ReferencePrefix, MaxListAge: trust.DefaultMaxListAge})
	if err != nil {
		return "", err
	}
	want := map[string]card.Status{"valid": card.Valid, "expired": card.Expired, "revoked": card.Revoked,
		"forged": card.BadSignature, "reference": card.Valid}
	for _, name := range demokit.SampleNames {
		r := set.Verifier.Verify(st.kit.Samples[name], st.now)
		if r.Status != want[name] {
			return "", fmt.Errorf("the %s sample is %s at stage %s (%v); want %s", name, r.Status, r.Stage, r.Err, want[name])
		}
		if name == "valid" {
			if r.Card == nil || !r.SignatureOK {
				return "", errors.New("the valid sample verified without a signature checked or a card")
			}
			st.card = *r.Card
		}
	}
	return fmt.Sprintf("%d samples: valid and reference accepted; expired, revoked and forged refused", len(demokit.SampleNames)), nil
}

// deviceKey makes the kiosk's Ed25519 key as the daemon does on its first
// start, and loads it back: the file and its mode are right.
func (st *selftestRun) deviceKey(context.Context) (string, error) {
	made, err := device.LoadOrCreate(st.dir)
	if err != nil {
		return "", err
	}
	dev, err := device.Load(st.dir)
	if err != nil {
		return "", err
	}
	if !made.Public().Equal(dev.Public()) {
		return "", errors.New("the key loaded back is not the key made")
	}
	st.dev = dev
	return "Ed25519, made and loaded back", nil
}

// openOutbox opens a new outbox, sealing to a key made here in the
// upstream's place. outbox.Open checks the durability settings itself
// (journal_mode=wal, synchronous=FULL, quick_check) and fails without
// them; the WAL is also checked here where it lasts, in the file's header.
func (st *selftestRun) openOutbox(context.Context) (string, error) {
	priv, err := wire.GenerateSealKey()
	if err != nil {
		return "", fmt.Errorf("generate seal key: %w", err)
	}
	pub := priv.PublicKey()
	st.sealed = func(r wire.Record) (wire.Person, error) { return wire.Open(priv, r.KioskID, r.ID, r.Sealed) }
	file := filepath.Join(st.dir, selftestDB)
	st.open = func() (*outbox.Store, error) {
		return outbox.Open(file, outbox.Options{KioskID: selftestKioskID, Device: st.dev, SealKey: pub})
	}
	if st.store, err = st.open(); err != nil {
		return "", err
	}
	if err := checkWALHeader(file); err != nil {
		return "", err
	}
	return "WAL (file header), synchronous=FULL and integrity (checked by outbox.Open)", nil
}

// checkWALHeader reads the SQLite file header: bytes 18 and 19, the file
// format's write and read versions, are 2 in WAL mode, 1 in the rollback
// journal's (sqlite.org/fileformat.html, "The Database Header").
func checkWALHeader(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("read %s header: %w", filepath.Base(file), err)
	}
	if !bytes.HasPrefix(h[:], []byte("SQLite format 3\x00")) {
		return fmt.Errorf("%s is not an SQLite database", filepath.Base(file))
	}
	if h[18] != 2 || h[19] != 2 {
		return fmt.Errorf("%s file format versions %d and %d; want 2 and 2 (WAL)", filepath.Base(file), h[18], h[19])
	}
	return nil
}

// commit commits a check-in of the valid sample: Commit returns once it
// is on stable storage.
func (st *selftestRun) commit(ctx context.Context) (string, error) {
	c, err := st.store.Commit(ctx, kiosk.CheckIn{At: st.now, Clock: kiosk.ClockUnsynced, Outcome: kiosk.OutcomeCheckedIn, Card: st.card})
	if err != nil {
		return "", err
	}
	if c.Seq != 1 || c.ID == "" {
		return "", fmt.Errorf("the first commit is seq %d, id %q; want seq 1 and an id", c.Seq, c.ID)
	}
	st.commit1 = c
	return fmt.Sprintf("check-in seq %d", c.Seq), nil
}

// readBack reads the check-in back as the uploader would send it, and
// checks it as the upstream would: chained, signed, and the person sealed
// to the seal key, matching the card.
func (st *selftestRun) readBack(ctx context.Context) (string, error) {
	recs, err := st.checkPending(ctx)
	if err != nil {
		return "", err
	}
	p, err := st.sealed(recs[0])
	if err != nil {
		return "", fmt.Errorf("open the sealed person: %w", err)
	}
	if p.ANumber != st.card.ANumber || p.DateOfBirth != st.card.DateOfBirth || p.Office != st.card.Office ||
		p.FamilyName != st.card.FamilyName || p.GivenName != st.card.GivenName {
		return "", errors.New("the sealed person does not match the card")
	}
	return fmt.Sprintf("seq %d pending: chained, signed, the sealed person matches the card", recs[0].Seq), nil
}

// checkPending reads the pending records: the one check-in committed,
// chained from the genesis and signed by the device key.
func (st *selftestRun) checkPending(ctx context.Context) ([]wire.Record, error) {
	recs, err := st.store.Pending(ctx, 10)
	if err != nil {
		return nil, err
	}
	if len(recs) != 1 || recs[0].ID != st.commit1.ID || recs[0].Seq != st.commit1.Seq {
		return nil, fmt.Errorf("%d records pending; want the one committed (seq %d)", len(recs), st.commit1.Seq)
	}
	r := recs[0]
	if r.KioskID != selftestKioskID || r.Issuer != st.card.Issuer || r.Serial != st.card.Serial || r.Outcome != string(kiosk.OutcomeCheckedIn) {
		return nil, errors.New("the record does not say what was committed")
	}
	if err := wire.VerifyChain(st.dev.Public(), 0, wire.GenesisPrev, recs); err != nil {
		return nil, fmt.Errorf("verify chain: %w", err)
	}
	return recs, nil
}

// reopen closes the outbox and opens it again: the check-in is still
// there, and "already checked in today" finds it.
func (st *selftestRun) reopen(ctx context.Context) (string, error) {
	if err := st.closeStore(); err != nil {
		return "", fmt.Errorf("close outbox: %w", err)
	}
	var err error
	if st.store, err = st.open(); err != nil {
		return "", err
	}
	if _, err := st.checkPending(ctx); err != nil {
		return "", err
	}
	_, ok, err := st.store.LastCheckIn(ctx, st.card, st.now)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("the check-in of the same card the same day is not found")
	}
	return fmt.Sprintf("seq %d still pending after close; found again the same day", st.commit1.Seq), nil
}

// closeStore closes the outbox if open; it may be called again.
func (st *selftestRun) closeStore() error {
	if st.store == nil {
		return nil
	}
	err := st.store.Close()
	st.store = nil
	return err
}
