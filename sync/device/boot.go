package device

import (
	"os"
	"strings"
)

// bootIDFile holds the kernel's random id of the current boot.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

// BootID returns the kernel's id of the current boot (a random UUID made at
// boot), or "" where it cannot be read. With SinceBoot it places a record in
// time independently of the wall clock: (boot id, time since boot) orders
// the records of one boot exactly.
func BootID() string {
	b, err := os.ReadFile(bootIDFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
