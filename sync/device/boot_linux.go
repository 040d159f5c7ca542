package device

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const clockBoottime = 7 // CLOCK_BOOTTIME, linux/time.h

// SinceBoot returns the time since the kernel booted, suspend included
// (CLOCK_BOOTTIME), to the nanosecond. It never goes back within a boot and
// is unaffected by changes of the wall clock. Should the clock be
// unavailable it falls back to /proc/uptime (10 ms steps), and to 0.
func SinceBoot() time.Duration {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockBoottime, uintptr(unsafe.Pointer(&ts)), 0); e == 0 {
		return time.Duration(ts.Nano())
	}
	return uptime()
}

func uptime() time.Duration {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	s, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}
