package fleettest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/pgtest"
	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/fleettest"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream/postgres"
	"github.com/docketkiosk/checkin-kiosk/sync/wire"
)

// The environment that makes this test binary a replica of the upstream
// (replicaMain) instead of running the tests: its state directory, the
// database, the address to serve on, and the rate of answers it loses.
const (
	envReplicaDir     = "FLEETTEST_REPLICA_DIR"
	envReplicaDSN     = "FLEETTEST_REPLICA_DSN"
	envReplicaAddr    = "FLEETTEST_REPLICA_ADDR"
	envReplicaLostAck = "FLEETTEST_REPLICA_LOST_ACK"
	// FLEETTEST_REPLICA_PROFILE=DIR has each replica write its CPU
	// profile to DIR/replica-PID.pprof: where a drain's time goes.
	envReplicaProfile = "FLEETTEST_REPLICA_PROFILE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envReplicaDir); dir != "" {
		if err := replicaMain(dir); err != nil {
			fmt.Fprintln(os.Stderr, "replica:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m))
}

// replicaMain serves the upstream in dir on the PostgreSQL store, as
// `kiosk upstream --db` does, until SIGTERM; it prints "ready" once it
// listens.
func replicaMain(dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if prof := os.Getenv(envReplicaProfile); prof != "" {
		f, err := os.Create(filepath.Join(prof, fmt.Sprintf("replica-%d.pprof", os.Getpid())))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	d, err := upstream.OpenDir(dir, upstream.DirOptions{
		OpenStore: postgres.Opener(os.Getenv(envReplicaDSN), postgres.Options{}), Hosts: []string{"127.0.0.1"},
	})
	if err != nil {
		return err
	}
	defer d.Close()
	ln, err := net.Listen("tcp", os.Getenv(envReplicaAddr))
	if err != nil {
		return err
	}
	var faults *upstream.Faults
	if r, _ := strconv.ParseFloat(os.Getenv(envReplicaLostAck), 64); r > 0 {
		faults = &upstream.Faults{LostAckRate: r, Seed: uint64(os.Getpid())}
	}
	fmt.Println("ready")
	err = upstream.Serve(ctx, ln, upstream.ServeOptions{Server: d.Server, Authority: d.Authority, Faults: faults})
	if faults != nil {
		// For the test: proof that answers were lost, so retries happened.
		fmt.Println("lost_ack", faults.Counts()[upstream.FaultLostAck])
	}
	return err
}

// replica is one upstream replica, a process of its own.
type replica struct {
	t       testing.TB
	dir     string
	dsn     string
	addr    string
	lostAck float64
	cmd     *exec.Cmd
	done    chan error
	lost    atomic.Int64 // answers lost, as the process said when it stopped
}

// start starts the replica's process and waits until it serves.
func (r *replica) start() {
	r.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envReplicaDir+"="+r.dir, envReplicaDSN+"="+r.dsn, envReplicaAddr+"="+r.addr,
		envReplicaLostAck+"="+strconv.FormatFloat(r.lostAck, 'f', -1, 64))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ready <- sc.Scan() && sc.Text() == "ready"
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "lost_ack "); ok {
				v, _ := strconv.ParseInt(n, 10, 64)
				r.lost.Add(v)
			}
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			r.t.Fatalf("replica in %s did not start", r.dir)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		r.t.Fatalf("replica in %s: not ready after 30 s", r.dir)
	}
	r.cmd, r.done = cmd, make(chan error, 1)
	go func() { r.done <- cmd.Wait() }()
}

// kill ends the replica with SIGKILL, as a crash would.
func (r *replica) kill() {
	r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// stop ends the replica with SIGTERM, and checks it stopped cleanly.
func (r *replica) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			r.t.Errorf("replica in %s: %v", r.dir, err)
		}
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		r.t.Errorf("replica in %s: no stop within 20 s of SIGTERM", r.dir)
	}
	r.cmd = nil
}

// agency is the upstream at fleet scale: replicas, each its own process
// and state directory with the same CA and seal key, sharing one
// PostgreSQL database, behind a round-robin proxy.
type agency struct {
	cluster  *pgtest.Cluster
	dsn      string
	replicas []*replica
	proxy    *fleettest.Proxy
	server   *upstream.Server // on the same database: tokens and stats
	auth     *upstream.Authority
}

// startAgency starts n replicas on a new database of cluster, each losing
// lostAck of its answers.
func startAgency(t testing.TB, cluster *pgtest.Cluster, n int, lostAck float64) *agency {
	t.Helper()
	a := &agency{cluster: cluster}
	a.dsn = a.cluster.NewDatabase(t)
	first := t.TempDir()
	// The first start makes the CA, its server certificate and the seal
	// key; every replica then gets the same files, as an admin would copy
	// them to each machine.
	d, err := upstream.OpenDir(first, upstream.DirOptions{
		OpenStore: postgres.Opener(a.dsn, postgres.Options{}), Hosts: []string{"127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.auth = d.Authority
	d.Close()
	for i := range n {
		dir := first
		if i > 0 {
			dir = t.TempDir()
			copyFile(t, filepath.Join(first, upstream.SealKeyFile), filepath.Join(dir, upstream.SealKeyFile))
			copyDir(t, filepath.Join(first, upstream.TLSDir), filepath.Join(dir, upstream.TLSDir))
		}
		r := &replica{t: t, dir: dir, dsn: a.dsn, addr: freeAddr(t), lostAck: lostAck}
		r.start()
		t.Cleanup(r.stop)
		a.replicas = append(a.replicas, r)
	}
	var addrs []string
	for _, r := range a.replicas {
		addrs = append(addrs, r.addr)
	}
	a.proxy = fleettest.StartProxy(t, addrs...)
	a.server, err = upstream.OpenServer(t.TempDir(), upstream.DirOptions{OpenStore: postgres.Opener(a.dsn, postgres.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.server.Close() })
	return a
}

// fleet enrolls kiosks kiosks through the proxy, each with records
// check-ins committed.
func (a *agency) fleet(t testing.TB, ctx context.Context, kiosks, records int) []*fleettest.Kiosk {
	t.Helper()
	up := fleettest.Upstream{URL: "https://" + a.proxy.Addr(), CAPEM: a.auth.CAPEM,
		Token: func(ctx context.Context, id string) (string, error) {
			return a.server.NewEnrollToken(ctx, id, time.Hour)
		}}
	out := make([]*fleettest.Kiosk, kiosks)
	var wg sync.WaitGroup
	errs := make(chan error, kiosks)
	sem := make(chan struct{}, 8)
	for i := range kiosks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			k, err := fleettest.NewKiosk(ctx, up, t.TempDir(), fmt.Sprintf("office-%02d-kiosk-%03d", i%17, i), records)
			if err != nil {
				errs <- err
				return
			}
			out[i] = k
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, k := range out {
		t.Cleanup(func() { k.Close() })
	}
	return out
}

// check asserts the agency holds every record once: the count, no gap, no
// fork, no rejection.
func (a *agency) check(t testing.TB, ctx context.Context, kiosks, records int) {
	t.Helper()
	st, err := a.server.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Stats{CheckIns: int64(kiosks * records), Kiosks: int64(kiosks)}
	if st != want {
		t.Errorf("the agency holds %+v; want %+v (every record once, no gap, fork or rejection)", st, want)
	}
}

// fleetSize is the fleet of the tests: 20 kiosks of 50 records in CI,
// the 200 of 500 with KIOSK_LONG=1.
func fleetSize() (kiosks, records int) {
	if testenv.Long() {
		return 200, 500
	}
	return 20, 50
}

// TestFleetDrain: a fleet drains through a round-robin proxy into two
// replicas on one database; every record is stored once, with no gap,
// fork or rejection, and every kiosk's head is in sync.
func TestFleetDrain(t *testing.T) {
	drainThrough(t, startAgency(t, pgtest.Shared(t), 2, 0), nil)
}

// TestReplicaKilledMidDrain: one replica killed with SIGKILL mid-drain and
// started again; nothing is lost and nothing stored twice.
func TestReplicaKilledMidDrain(t *testing.T) {
	a := startAgency(t, pgtest.Shared(t), 2, 0)
	drainThrough(t, a, func() {
		a.replicas[0].kill()
		a.midDrain(t)
		time.Sleep(500 * time.Millisecond)
		a.replicas[0].start()
	})
}

// TestPostgresRestartedMidDrain: the database stopped hard and started
// again mid-drain; nothing is lost and nothing stored twice.
func TestPostgresRestartedMidDrain(t *testing.T) {
	a := startAgency(t, pgtest.Start(t), 2, 0) // its own cluster, to restart
	drainThrough(t, a, func() {
		a.cluster.Restart(t)
		a.midDrain(t)
	})
}

// TestRetriesAcrossReplicas: each replica loses a fifth of its answers
// after storing the batch; the kiosk's retry goes, through the proxy, to
// whichever replica is next, and the batch is stored once.
func TestRetriesAcrossReplicas(t *testing.T) {
	a := startAgency(t, pgtest.Shared(t), 2, 0.2)
	drainThrough(t, a, nil)
	var lost int64
	for _, r := range a.replicas {
		r.stop()
		lost += r.lost.Load()
	}
	if lost == 0 {
		t.Error("no answer was lost: the retries this test is about did not happen")
	}
	t.Logf("%d answers lost, each batch retried and stored once", lost)
}

// drainThrough drains a fleet of fleetSize into a, doing fault (nil: none)
// once a quarter of its records are stored, and checks that the agency
// holds every record once.
func drainThrough(t *testing.T, a *agency, fault func()) {
	t.Helper()
	kiosks, records := fleetSize()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fleet := a.fleet(t, ctx, kiosks, records)
	drained := make(chan error, 1)
	go func() { drained <- fleettest.Drain(ctx, fleet) }()
	if fault != nil {
		a.waitStored(t, ctx, kiosks*records/4)
		fault()
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	a.check(t, ctx, kiosks, records)
}

// midDrain fails the test when the agency already held all total records:
// the fault came after the drain, and tested nothing.
func (a *agency) midDrain(t testing.TB) {
	t.Helper()
	kiosks, records := fleetSize()
	total := kiosks * records
	st, err := a.server.Stats(context.Background())
	if err != nil {
		return // the database is restarting: mid-drain for sure
	}
	if st.CheckIns >= int64(total) {
		t.Fatalf("all %d records were stored before the fault: it tested nothing", total)
	}
	t.Logf("fault with %d of %d records stored", st.CheckIns, total)
}

// waitStored waits until the agency holds at least n records.
func (a *agency) waitStored(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	for {
		st, err := a.server.Stats(ctx)
		if err == nil && st.CheckIns >= int64(n) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d records stored: %v", n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// BenchmarkFleetDrain drains the fleet (200 kiosks of 500 records,
// each enrolled, over mutual TLS on loopback) through the proxy into two
// replicas on one PostgreSQL database, and reports records/s. Its floor,
// BenchmarkCopyFloor in sync/upstream/postgres, runs in the same command:
//
//	go test -run '^$' -bench 'FleetDrain|CopyFloor' -benchtime 1x ./sync/upstream/fleettest/ ./sync/upstream/postgres/
func BenchmarkFleetDrain(b *testing.B) {
	const kiosks, records = 200, 500
	var perSec, kioskCPU, replicaCPU, pgCPU, wall float64
	b.StopTimer()
	for range b.N {
		a := startAgency(b, pgtest.Shared(b), 2, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		fleet := a.fleet(b, ctx, kiosks, records)
		// Where the drain's time goes: the CPU of this process (the
		// kiosks and the proxy), of the replicas, and of PostgreSQL (the
		// server's processes, run as nobody), before and after.
		k0, r0, p0 := selfCPU(), a.replicaCPU(), userCPU(65534)
		b.StartTimer()
		start := time.Now()
		if err := fleettest.Drain(ctx, fleet); err != nil {
			b.Fatal(err)
		}
		wall = time.Since(start).Seconds()
		b.StopTimer()
		kioskCPU, replicaCPU, pgCPU = selfCPU()-k0, a.replicaCPU()-r0, userCPU(65534)-p0
		perSec = float64(kiosks*records) / wall
		a.check(b, ctx, kiosks, records)
		cancel()
	}
	b.ReportMetric(perSec, "records/s")
	b.ReportMetric(wall, "drain-s")
	b.ReportMetric(kioskCPU, "kiosks-cpu-s")
	b.ReportMetric(replicaCPU, "replicas-cpu-s")
	b.ReportMetric(pgCPU, "postgres-cpu-s")
}

// selfCPU is the CPU time, user and system, this process has used, in
// seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// replicaCPU is the CPU time the replicas' processes have used.
func (a *agency) replicaCPU() float64 {
	var s float64
	for _, r := range a.replicas {
		if r.cmd != nil {
			s += procCPU(r.cmd.Process.Pid)
		}
	}
	return s
}

// userCPU is the CPU time used by the processes of user uid now running
// (and their children waited for), from /proc.
func userCPU(uid int) float64 {
	es, _ := os.ReadDir("/proc")
	var s float64
	for _, e := range es {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name()), &st) != nil || int(st.Uid) != uid {
			continue
		}
		s += procCPU(pid)
	}
	return s
}

// procCPU reads utime+stime+cutime+cstime of pid from /proc/PID/stat, in
// seconds (at the kernel's USER_HZ, 100 on Linux).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0
	}
	var ticks float64
	for _, v := range f[11:15] {
		n, _ := strconv.ParseFloat(v, 64)
		ticks += n
	}
	return ticks / 100
}

// freeAddr returns a loopback address free now, for a replica to listen
// on (and to listen on again after a restart).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !e.IsDir() {
			copyFile(t, filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
		}
	}
}
