//go:build !linux

package printer

import "os"

// lpStatus: the LPGETSTATUS ioctl is Linux's.
func lpStatus(*os.File) (int, error) { return 0, errStatusUnknown }
