package config

import "slices"

// Diff returns the keys whose values differ between a and b, in the file's
// order.
func Diff(a, b Config) []string {
	var keys []string
	la, lb := leaves(&a), leaves(&b)
	for i := range la {
		if la[i].field.Interface() != lb[i].field.Interface() {
			keys = append(keys, la[i].key)
		}
	}
	return keys
}

// Reload says what a running kiosk does with new, read again on SIGHUP,
// in place of old: the keys that changed and that it can apply while it
// runs (the screen timeouts, the log level, the list files and their
// maximum age: the lists are reopened and swapped whole), and those that
// changed but take effect only at the next start (an address, a
// directory, a device, the upstream: parts built once at the start).
//
// A list file waits for a restart with the setting it depends on
// (heldBack): every list is signed by the root key, and a new root key is
// taken at a start only (trust.Lists.Reopen says why); the roster goes
// with the reference prefix, which decides at the start whether the
// kiosk downloads a roster at all.
func Reload(old, new Config) (apply, needRestart []string) {
	reload := make(map[string]bool)
	for _, l := range leaves(&old) {
		reload[l.key] = l.reload
	}
	changed := Diff(old, new)
	for _, key := range changed {
		for _, k := range heldBack[key] {
			reload[k] = false
		}
	}
	for _, key := range changed {
		if reload[key] {
			apply = append(apply, key)
		} else {
			needRestart = append(needRestart, key)
		}
	}
	return apply, needRestart
}

// heldBack are the keys a running kiosk could apply but for another, the
// key here, that changed with them and needs a restart.
var heldBack = map[string][]string{
	"lists.root":             {"lists.trust", "lists.revocations", "lists.roster"},
	"lists.reference_prefix": {"lists.roster"},
}

// Apply returns old with the values of keys (the keys Reload says to
// apply) taken from new: the configuration in effect after a reload.
func Apply(old, new Config, keys []string) Config {
	lo, ln := leaves(&old), leaves(&new)
	for i := range lo {
		if slices.Contains(keys, lo[i].key) {
			lo[i].field.Set(ln[i].field)
		}
	}
	return old
}
