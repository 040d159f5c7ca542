package config

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
// maximum age: each is read afresh at the next use), and those that
// changed but take effect only at the next start (an address, a
// directory, a device, the upstream: parts built once at the start).
func Reload(old, new Config) (apply, needRestart []string) {
	reload := make(map[string]bool)
	for _, l := range leaves(&old) {
		reload[l.key] = l.reload
	}
	for _, key := range Diff(old, new) {
		if reload[key] {
			apply = append(apply, key)
		} else {
			needRestart = append(needRestart, key)
		}
	}
	return apply, needRestart
}
