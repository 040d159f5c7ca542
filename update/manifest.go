package update

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
)

// Manifest is a release's signed description: what it is, what it may be
// applied over, and the hash of every file it holds. It is the JSON file
// kiosk-VERSION-linux-ARCH.manifest.json, signed (minisign) in the file of
// the same name and ".minisig"; the tarball it names is trusted only
// through it.
type Manifest struct {
	Version string `json:"version"`  // the release's version: its directory's name
	Arch    string `json:"arch"`     // GOARCH it is built for: "arm64", "arm" (GOARM=7), "amd64"
	MinFrom string `json:"min_from"` // the oldest version it may be applied over
	Created string `json:"created"`  // when it was packed (RFC 3339), for people
	Files   []File `json:"files"`    // every regular file of the tarball, and nothing else
	Tarball Blob   `json:"tarball"`

	raw, sig []byte // the manifest and its signature as fetched, to keep
}

// File is one regular file of a release.
type File struct {
	Path   string `json:"path"`   // slash-separated, relative: "bin/kiosk"
	SHA256 string `json:"sha256"` // hex
	Size   int64  `json:"size"`
	Mode   string `json:"mode"` // octal permission bits: "0755", "0644"
}

// Blob is a file that is fetched whole: the tarball.
type Blob struct {
	Name   string `json:"name"` // base name, beside the manifest: kiosk-VERSION-linux-ARCH.tar.gz
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Binary is the file every release must hold: the one /usr/bin/kiosk runs.
const Binary = "bin/kiosk"

// Limits on what is read before it is trusted.
const (
	maxManifest  = 1 << 20 // a manifest of some thousands of files
	maxSignature = 4 << 10 // a minisign signature is some 300 bytes
	maxFiles     = 10000
)

// TarballName is the name of a release's tarball.
func TarballName(version, arch string) string {
	return "kiosk-" + version + "-linux-" + arch + ".tar.gz"
}

// ManifestName is the name of a release's manifest; its signature's is
// that and SignatureSuffix.
func ManifestName(version, arch string) string {
	return "kiosk-" + version + "-linux-" + arch + ".manifest.json"
}

// LatestName is the manifest of the newest release for arch in a release
// directory: a copy of its manifest, under a name that does not change,
// which `kiosk update check DIR` reads (its signature beside it, as for
// any manifest).
func LatestName(arch string) string { return "kiosk-latest-linux-" + arch + ".manifest.json" }

// SignatureSuffix follows a manifest's name to name its signature.
const SignatureSuffix = ".minisig"

// ErrSignature is the error of a manifest whose signature does not verify
// with the pinned release key (or does not parse).
var ErrSignature = errors.New("manifest signature does not verify with the release key")

// ParsePublicKey parses a minisign public key: its base64 line ("RWQ...")
// as config's update.release_key holds it, or a whole .pub file with its
// comment line.
func ParsePublicKey(text string) (minisign.PublicKey, error) {
	var k minisign.PublicKey
	if err := k.UnmarshalText([]byte(strings.TrimSpace(text))); err != nil {
		return minisign.PublicKey{}, fmt.Errorf("parse release key: %w", err)
	}
	return k, nil
}

// VerifyManifest checks the signature of the manifest doc with key, then
// parses and checks the manifest itself (Check). Nothing of doc is read
// before its signature verifies.
func VerifyManifest(key minisign.PublicKey, doc, signature []byte) (*Manifest, error) {
	if !minisign.Verify(key, doc, signature) {
		return nil, ErrSignature
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Check reports what is wrong with a manifest, signed or not: its
// versions parse, its tarball is named as its version and arch say, and
// every file's path is relative, clean and unique, with a hash, a size and
// plain permission bits. Binary must be among them.
func (m *Manifest) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("manifest: "+format, args...)
	}
	v, err := ParseVersion(m.Version)
	if err != nil {
		return bad("%w", err)
	}
	if v.String() != m.Version {
		return bad("version %q: want it as %q", m.Version, v.String())
	}
	if _, err := ParseVersion(m.MinFrom); err != nil {
		return bad("min_from: %w", err)
	}
	if !archName(m.Arch) {
		return bad("arch %q: want a GOARCH such as arm64", m.Arch)
	}
	if want := TarballName(m.Version, m.Arch); m.Tarball.Name != want {
		return bad("tarball %q: want %q", m.Tarball.Name, want)
	}
	if !hexHash(m.Tarball.SHA256) || m.Tarball.Size <= 0 {
		return bad("tarball: want a sha256 and a size")
	}
	if len(m.Files) == 0 || len(m.Files) > maxFiles {
		return bad("%d files; want 1 to %d", len(m.Files), maxFiles)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if !localPath(f.Path) {
			return bad("file %q: want a clean relative path", f.Path)
		}
		if seen[f.Path] {
			return bad("file %q listed twice", f.Path)
		}
		seen[f.Path] = true
		if !hexHash(f.SHA256) || f.Size < 0 {
			return bad("file %q: want a sha256 and a size", f.Path)
		}
		if _, err := f.perm(); err != nil {
			return bad("file %q: %w", f.Path, err)
		}
	}
	// A file may not also be a directory of another: "bin" and "bin/kiosk".
	for p := range seen {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if seen[d] {
				return bad("file %q is also the directory of %q", d, p)
			}
		}
	}
	if !seen[Binary] {
		return bad("no %s", Binary)
	}
	return nil
}

// perm returns the file's permission bits: octal, at most 0777 (no
// setuid, setgid or sticky bit).
func (f File) perm() (fs.FileMode, error) {
	n, err := strconv.ParseUint(f.Mode, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("mode %q: want octal permission bits such as 0755", f.Mode)
	}
	return fs.FileMode(n), nil
}

// localPath reports whether p is a clean, relative, slash-separated path
// that stays below its root: no "..", no ".", no empty element.
func localPath(p string) bool {
	return p != "" && fs.ValidPath(p) && p != "." && !strings.Contains(p, "\\")
}

func hexHash(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && strings.ToLower(s) == s
}

func archName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// created formats the packing time for a manifest.
func created(t time.Time) string { return t.UTC().Format(time.RFC3339) }
