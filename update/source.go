package update

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
)

// A source is where releases come from: an https:// URL or a local path
// (a USB stick's directory), naming either one manifest (a name ending in
// ".manifest.json") or a directory, whose newest release for this arch is
// its LatestName manifest. The signature is the manifest's name and
// SignatureSuffix, the tarball the manifest's tarball.name, both beside
// it.
type source struct {
	manifest string   // URL or path of the manifest
	base     *url.URL // the manifest's URL; nil for a local path
}

// ErrSource is the error of a source that is neither https:// nor a path.
var ErrSource = errors.New("want an https:// URL or a local path")

// parseSource resolves src for arch.
func parseSource(src, arch string) (source, error) {
	if src == "" {
		return source{}, fmt.Errorf("no update source: %w (update.source, or on the command line)", ErrSource)
	}
	if strings.Contains(src, "://") {
		u, err := url.Parse(src)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return source{}, fmt.Errorf("update source %q: %w", src, ErrSource)
		}
		if !strings.HasSuffix(u.Path, ".manifest.json") {
			if !strings.HasSuffix(u.Path, "/") {
				u.Path += "/"
			}
			u = u.ResolveReference(&url.URL{Path: LatestName(arch)})
		}
		return source{manifest: u.String(), base: u}, nil
	}
	p := src
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		p = filepath.Join(p, LatestName(arch))
	}
	return source{manifest: p}, nil
}

// beside returns the URL or path of the file name in the manifest's
// directory.
func (s source) beside(name string) string {
	if s.base != nil {
		return s.base.ResolveReference(&url.URL{Path: name}).String()
	}
	return filepath.Join(filepath.Dir(s.manifest), name)
}

// signature returns the URL or path of the manifest's signature.
func (s source) signature() string {
	if s.base != nil {
		u := *s.base
		u.Path += SignatureSuffix
		return u.String()
	}
	return s.manifest + SignatureSuffix
}

// open opens the file at loc (a URL of s, or a path) for reading, with its
// size when known (-1 if not).
func (u *Updater) open(ctx context.Context, s source, loc string) (io.ReadCloser, int64, error) {
	if s.base == nil {
		f, err := os.Open(loc)
		if err != nil {
			return nil, 0, fmt.Errorf("open %s: %w", loc, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("open %s: %w", loc, err)
		}
		return f, fi.Size(), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", loc, err)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", loc, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("get %s: %s", loc, resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}

// fetch reads the whole small file at loc: at most max bytes.
func (u *Updater) fetch(ctx context.Context, s source, loc string, max int64) ([]byte, error) {
	r, _, err := u.open(ctx, s, loc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", loc, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("read %s: over %d bytes", loc, max)
	}
	return b, nil
}

// download fetches the tarball m names into the state directory's
// download/, checking its size and SHA-256 as it comes, and returns its
// path. A tarball already there whole (a run interrupted after its
// download) is used again. Progress goes to Config.Progress and to
// progress.json, at most once a second and at the end.
func (u *Updater) download(ctx context.Context, s source, m *Manifest) (string, error) {
	dir := filepath.Join(u.l.state(), downloadDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("download %s: %w", m.Tarball.Name, err)
	}
	final := filepath.Join(dir, m.Tarball.Name)
	if err := checkFile(final, File{Path: m.Tarball.Name, SHA256: m.Tarball.SHA256, Size: m.Tarball.Size, Mode: "0644"}); err == nil {
		u.progress(m, m.Tarball.Size, true)
		return final, nil
	}
	r, size, err := u.open(ctx, s, s.beside(m.Tarball.Name))
	if err != nil {
		return "", fmt.Errorf("download %s: %w", m.Tarball.Name, err)
	}
	defer r.Close()
	if size >= 0 && size != m.Tarball.Size {
		return "", fmt.Errorf("download %s: %w: %d bytes; the manifest says %d", m.Tarball.Name, ErrHash, size, m.Tarball.Size)
	}
	part := final + ".part"
	out, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", m.Tarball.Name, err)
	}
	defer os.Remove(part) // a no-op once renamed
	h := sha256.New()
	pw := &progressWriter{u: u, m: m}
	n, err := io.Copy(io.MultiWriter(out, h, pw), io.LimitReader(r, m.Tarball.Size+1))
	if err == nil && n != m.Tarball.Size {
		err = fmt.Errorf("%w: %d bytes; the manifest says %d", ErrHash, n, m.Tarball.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); err == nil && got != m.Tarball.SHA256 {
		err = fmt.Errorf("%w: sha256 %s; the manifest says %s", ErrHash, got, m.Tarball.SHA256)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, final)
	}
	if err != nil {
		return "", fmt.Errorf("download %s: %w", m.Tarball.Name, err)
	}
	u.progress(m, n, true)
	return final, nil
}

// progressWriter counts what a download has written, for its progress.
type progressWriter struct {
	u    *Updater
	m    *Manifest
	done int64
	hit  bool
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.done += int64(len(p))
	w.u.progress(w.m, w.done, false)
	if !w.hit {
		w.hit = true
		w.u.step(StepDownloading)
	}
	return len(p), nil
}

// progress reports a download's progress: to Config.Progress every time,
// to progress.json once a second and when final.
func (u *Updater) progress(m *Manifest, done int64, final bool) {
	now := u.now()
	p := Progress{Version: m.Version, Done: done, Total: m.Tarball.Size, Updated: now}
	if u.cfg.Progress != nil {
		u.cfg.Progress(p)
	}
	if !final && now.Sub(u.lastProgress) < time.Second {
		return
	}
	u.lastProgress = now
	if err := writeJSON(filepath.Join(u.l.state(), progressFile), p); err != nil {
		u.log.Warn("update: progress", "err", err)
	}
}

// clearProgress removes progress.json: no download under way.
func (u *Updater) clearProgress() {
	if err := os.Remove(filepath.Join(u.l.state(), progressFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		u.log.Warn("update: progress", "err", err)
	}
}

// writeJSON writes v to path whole.
func writeJSON(path string, v any) error {
	b, err := jsonMarshal(v)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}
