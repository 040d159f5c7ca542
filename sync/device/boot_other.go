//go:build !linux

package device

import "time"

var start = time.Now()

// SinceBoot returns, off Linux, the time since this process started (from
// the monotonic clock, to the nanosecond): records still order within a run.
func SinceBoot() time.Duration { return time.Since(start) }
