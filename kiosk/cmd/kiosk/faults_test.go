package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/testenv"
)

// TestFaultyUpstream runs check-ins through the real kiosk process while the
// real upstream process fails 30 % of the kiosk's requests, of every kind
// the upstream can inject: 500s, connections reset mid-response, batches
// stored whose answer is lost, 429s with Retry-After; and slows some. Every
// check-in must arrive exactly once. KIOSK_LONG=1 runs 2,000 check-ins
// instead of 150.
func TestFaultyUpstream(t *testing.T) {
	bin := buildKiosk(t)
	seed := testenv.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 0xda3e39cb94b95bdb))
	total := 150
	if testenv.Long() {
		total = 2000
	}

	kit := testKit(t)
	up := startUpstreamProc(t, bin, t.TempDir(),
		"--fault-error-rate", "0.075",
		"--fault-reset-rate", "0.075",
		"--fault-lost-ack-rate", "0.075",
		"--fault-429-rate", "0.075",
		"--fault-retry-after", "1s",
		"--fault-latency-rate", "0.1",
		"--fault-latency", "20ms",
		"--fault-seed", fmt.Sprint(rng.Uint64()|1),
	)
	k := &kioskProcs{t: t, bin: bin, kit: kit, state: t.TempDir(), up: up, logLevel: "debug"}
	k.start()
	cs := newCards(t, kit)

	shown := map[string]bool{}
	for i := range total {
		res, err := checkInOnce(t, k.cur.addr, cs.next(t), killNone, 0, nil)
		if err != nil || res.code == "" {
			t.Fatalf("check-in #%d: %+v, %v\n%s", i, res, err, k.cur.output())
		}
		if shown[res.code] {
			t.Fatalf("check-in #%d: code %s shown twice", i, res.code)
		}
		shown[res.code] = true
	}

	kioskIDs := waitDrained(t, k, up)
	if len(kioskIDs) != total {
		t.Errorf("kiosk recorded %d check-ins; want %d", len(kioskIDs), total)
	}
	checkDelivered(t, shown, 0, kioskIDs, up.ids(t))
	checkUpstreamChains(t, up)

	// The faults must have been felt, or this proved nothing.
	log, err := os.ReadFile(k.cur.log.Name())
	if err != nil {
		t.Fatal(err)
	}
	failed := strings.Count(string(log), `msg="upload failed"`)
	if failed == 0 {
		t.Errorf("the kiosk saw no failed upload: were faults injected?\n%s", up.output())
	}
	t.Logf("%d check-ins delivered exactly once through %d failed uploads", total, failed)
}
