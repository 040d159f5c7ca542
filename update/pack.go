package update

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"aead.dev/minisign"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
)

// Names of the release key pair GenerateKey writes.
const (
	KeyFile       = "kiosk-release.key" // the private key: keep it off the kiosks, and offline
	PublicKeyFile = "kiosk-release.pub" // the public key, for update.release_key_file
)

// GenerateKey makes a release key pair in dir: KeyFile (0600, minisign's
// format, unencrypted: keep it offline) and PublicKeyFile. It never
// replaces a file (an error wrapping fs.ErrExist). It returns the public
// key's base64 line, for update.release_key.
func GenerateKey(dir string) (string, error) {
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate release key: %w", err)
	}
	privText, err := priv.MarshalText()
	if err != nil {
		return "", fmt.Errorf("generate release key: %w", err)
	}
	pubText, err := pub.MarshalText()
	if err != nil {
		return "", fmt.Errorf("generate release key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("generate release key: %w", err)
	}
	if err := atomicfile.Create(filepath.Join(dir, KeyFile), append(privText, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("generate release key: %w", err)
	}
	if err := atomicfile.Create(filepath.Join(dir, PublicKeyFile), append(pubText, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("generate release key: %w", err)
	}
	return pub.String(), nil
}

// PackConfig is a release to make.
type PackConfig struct {
	Key     []byte // the private key file's contents (GenerateKey's KeyFile)
	Version string
	MinFrom string
	Arch    string // GOARCH the files are built for
	// Tree is the directory of the release's files, as they are to be
	// unpacked: bin/kiosk and any others, regular files only.
	Tree string
	Out  string           // the directory the release is written to
	Now  func() time.Time // default time.Now
}

// Packed is a release Pack wrote.
type Packed struct {
	Manifest  *Manifest
	Tarball   string // path of the tarball
	Path      string // path of the manifest; its signature is Path+SignatureSuffix
	Latest    bool   // the release is also the directory's LatestName
	Signature []byte
}

// Pack makes a release of the files below c.Tree: the tarball (files in
// order, owned by root, each 0755 if executable, else 0644), the
// manifest, and its signature with c.Key, in c.Out. It also copies the
// manifest and its signature to LatestName unless a newer release is
// there already.
func Pack(c PackConfig) (*Packed, error) {
	var key minisign.PrivateKey
	if minisign.IsEncrypted(c.Key) {
		return nil, errors.New("pack: the release key is encrypted; want an unencrypted minisign key (kiosk update keygen)")
	}
	if err := key.UnmarshalText(bytes.TrimSpace(c.Key)); err != nil {
		return nil, fmt.Errorf("pack: read the release key: %w", err)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	now := c.Now().UTC().Truncate(time.Second)
	files, err := treeFiles(c.Tree)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	m := &Manifest{Version: c.Version, Arch: c.Arch, MinFrom: c.MinFrom, Created: created(now)}
	if v, err := ParseVersion(c.Version); err == nil {
		m.Version = v.String()
	}
	var buf bytes.Buffer
	// BestCompression makes the kiosk's binary 0.15% smaller, in twice
	// the time: not worth it.
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	tw := tar.NewWriter(zw)
	for _, rel := range files {
		f, err := addFile(tw, c.Tree, rel, now)
		if err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		m.Files = append(m.Files, f)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	m.Tarball = Blob{Name: TarballName(m.Version, m.Arch), SHA256: hex.EncodeToString(sum[:]), Size: int64(buf.Len())}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	doc, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	doc = append(doc, '\n')
	trusted := fmt.Sprintf("kiosk %s linux-%s min_from %s created %s", m.Version, m.Arch, m.MinFrom, m.Created)
	sig := minisign.SignWithComments(key, doc, trusted, "signature of a kiosk release manifest")
	p := &Packed{Manifest: m, Tarball: filepath.Join(c.Out, m.Tarball.Name),
		Path: filepath.Join(c.Out, ManifestName(m.Version, m.Arch)), Signature: sig}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	// The tarball first, the signature last: a directory served as it
	// is written never offers a signed manifest without its tarball.
	for _, w := range []struct {
		path string
		data []byte
	}{{p.Tarball, buf.Bytes()}, {p.Path, doc}, {p.Path + SignatureSuffix, sig}} {
		if err := atomicfile.Write(w.path, w.data, 0o644); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
	}
	latest := filepath.Join(c.Out, LatestName(m.Arch))
	if newer, err := newerThanLatest(latest, m.Version); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	} else if newer {
		if err := atomicfile.Write(latest, doc, 0o644); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		if err := atomicfile.Write(latest+SignatureSuffix, sig, 0o644); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		p.Latest = true
	}
	return p, nil
}

// newerThanLatest reports whether version is at least that of the
// manifest at latest (true when there is none).
func newerThanLatest(latest, version string) (bool, error) {
	doc, err := os.ReadFile(latest)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var m Manifest
	if err := json.Unmarshal(doc, &m); err != nil {
		return false, fmt.Errorf("read %s: %w", latest, err)
	}
	old, err := ParseVersion(m.Version)
	if err != nil {
		return true, nil
	}
	v, _ := ParseVersion(version)
	return v.Compare(old) >= 0, nil
}

// treeFiles returns the files below dir, slash-separated and sorted;
// anything but a file or a directory is an error.
func treeFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: a release holds files and directories only", p)
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read release files: %w", err)
	}
	slices.Sort(files)
	return files, nil
}

// addFile writes the file rel of tree to tw, and returns its manifest
// entry.
func addFile(tw *tar.Writer, tree, rel string, mtime time.Time) (File, error) {
	fh, err := os.Open(filepath.Join(tree, filepath.FromSlash(rel)))
	if err != nil {
		return File{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return File{}, err
	}
	mode := int64(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Size: fi.Size(), Mode: mode, ModTime: mtime,
		Uname: "root", Gname: "root", Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return File{}, fmt.Errorf("%s: %w", rel, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), fh)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", rel, err)
	}
	if n != fi.Size() {
		return File{}, fmt.Errorf("%s: changed while packed", rel)
	}
	return File{Path: rel, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, Mode: fmt.Sprintf("%04o", mode)}, nil
}
