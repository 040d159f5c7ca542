//go:build !linux

package statedirtest

import "errors"

func mount(string, uint64) error { return errors.ErrUnsupported }

func unmount(string) error { return nil }
