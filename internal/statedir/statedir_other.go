//go:build !linux

package statedir

import (
	"errors"
	"fmt"
)

func lock(dir string) (*Dir, error) {
	return nil, fmt.Errorf("lock state directory %s: %w", dir, errors.ErrUnsupported)
}

// Free returns, off Linux, errors.ErrUnsupported.
func Free(dir string) (uint64, error) {
	return 0, fmt.Errorf("free space of %s: %w", dir, errors.ErrUnsupported)
}
