package scanner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The scanner's figure (ARCHITECTURE.md §8): from the last byte of a code
// to the scan in the flow, p99 ≤ 1 ms, plus the idle timeout for a code
// sent without a terminator. BenchmarkScanLatency measures it on a real
// pty, with a terminator and without (idle=5ms); BenchmarkPtyFloor what
// the pty alone costs, and the pty plus a bare 5 ms wait, in the same run:
//
//	go test -run '^$' -bench 'ScanLatency|PtyFloor' -benchtime 2000x ./drivers/scanner/
//
// Each reports p50-ns and p99-ns, the latencies of single scans; ns/op is
// their mean. Both clocks start just before the master's write(2) of the
// code (its last byte goes in that same call) and stop when the scan, or
// the byte, is in the receiving goroutine's hands.

// BenchmarkScanLatency sends card-sized codes through a Serial driver on a
// pty, one at a time, to a goroutine that takes them from out as the
// check-in flow does.
func BenchmarkScanLatency(b *testing.B) {
	b.Run("term=crlf", func(b *testing.B) { benchScanLatency(b, "?term=crlf", "\r\n") })
	b.Run("term=none,idle=5ms", func(b *testing.B) { benchScanLatency(b, "?term=none&idle=5ms", "") })
}

func benchScanLatency(b *testing.B, opts, term string) {
	p := openPTY(b)
	s := NewSerial(serialSource(b, p.slave, opts))
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Scan)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run() = %v", err)
		}
	}()
	// The consumer: the flow's goroutine, noting when each scan arrives.
	arrived := make(chan time.Time)
	go func() {
		for {
			select {
			case <-out:
				arrived <- time.Now()
			case <-ctx.Done():
				return
			}
		}
	}()
	waitState(b, s, OK)

	// Distinct codes of a card's length (§8: ≤ 300 characters), so that
	// none is folded into the one before.
	codes := make([][]byte, b.N)
	for i := range codes {
		codes[i] = fmt.Appendf(nil, "SDC1:%s%08d%s", strings.Repeat("6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B", 5), i, term)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for _, code := range codes {
		t0 := time.Now()
		if _, err := p.master.Write(code); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-arrived).Sub(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkPtyFloor is the floor under BenchmarkScanLatency: one byte
// written on the master, read by a blocking read(2) on the raw slave in
// another goroutine, which hands on the time it arrived. Its idle=5ms
// variant then waits in select(2) for a byte that does not come, 5 ms, as
// a code without a terminator must: the floor of the idle path, which on
// a busy machine is mostly the kernel's timer wake-up.
func BenchmarkPtyFloor(b *testing.B) {
	b.Run("read", func(b *testing.B) { benchPtyFloor(b, 0) })
	b.Run("read+idle=5ms", func(b *testing.B) { benchPtyFloor(b, 5*time.Millisecond) })
}

func benchPtyFloor(b *testing.B, idle time.Duration) {
	p := openPTY(b)
	fd := p.openRaw(b)
	stop := make(chan struct{})
	defer close(stop)
	arrived := make(chan time.Time)
	go func() {
		buf := make([]byte, 1)
		for {
			if n, err := unix.Read(fd, buf); err == unix.EINTR {
				continue
			} else if n <= 0 || err != nil {
				return // the master closed
			}
			// As go.bug.st/serial's Read: select until the deadline, again
			// when a signal (the Go runtime's preemption) interrupts it.
			for deadline := time.Now().Add(idle); idle > 0; {
				var fds unix.FdSet
				fds.Set(fd)
				tv := unix.NsecToTimeval(max(0, time.Until(deadline)).Nanoseconds())
				if _, err := unix.Select(fd+1, &fds, nil, nil, &tv); err != unix.EINTR {
					break
				}
			}
			select {
			case arrived <- time.Now():
			case <-stop:
				return
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	one := []byte{'x'}
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := p.master.Write(one); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-arrived).Sub(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// reportLatency reports the median and 99th percentile of lat (nearest
// rank: p99 of 2,000 is the 1,980th).
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration { return lat[max(0, int(math.Ceil(q*float64(len(lat))))-1)] }
	b.ReportMetric(float64(at(0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(at(0.99).Nanoseconds()), "p99-ns")
}
