//go:build !unix

package staff

// lockFile does nothing where there is no flock: the kiosk runs on Linux,
// and this only lets the package build elsewhere.
func lockFile(string) (func(), error) { return func() {}, nil }

// giveToDirOwner does nothing where files have no Unix owner.
func giveToDirOwner(string, string) error { return nil }
