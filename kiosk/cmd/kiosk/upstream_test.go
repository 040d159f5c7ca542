package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docketkiosk/checkin-kiosk/internal/cli"
	"github.com/docketkiosk/checkin-kiosk/sync/enroll"
	"github.com/docketkiosk/checkin-kiosk/sync/upstream"
)

// TestUpstreamMakesDocumentsDir starts `kiosk upstream` and checks that the
// directory it serves the signed lists from exists once it listens, where
// the README says: --documents, or STATE/documents by default.
func TestUpstreamMakesDocumentsDir(t *testing.T) {
	other := filepath.Join(t.TempDir(), "lists", "signed")
	for _, tc := range []struct {
		name  string
		flags []string
		want  func(state string) string
	}{
		{"default", nil, func(state string) string { return filepath.Join(state, upstream.DocumentsDir) }},
		{"flag", []string{"--documents", other}, func(string) string { return other }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			var out syncBuffer
			env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			args := append([]string{"upstream", "--listen", "127.0.0.1:0", "--host", "127.0.0.1", "--state-dir", state}, tc.flags...)
			go func() { done <- dispatch(ctx, env, args) }()
			eventually(t, "the upstream listening", func() bool {
				select {
				case code := <-done:
					t.Fatalf("kiosk upstream exited %d before listening:\n%s", code, out.String())
				default:
				}
				return strings.Contains(out.String(), "upstream listening")
			})
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("kiosk upstream exited %d:\n%s", code, out.String())
			}

			dir := tc.want(state)
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatalf("documents directory: %v", err)
			}
			if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("documents directory %s: mode %v; want a directory, 0700", dir, fi.Mode())
			}
			if got := between(out.String(), "documents", "\n"); got != dir {
				t.Errorf("kiosk upstream prints documents %q; want %q", got, dir)
			}

			// The seal key it prints is what --seal-key takes.
			printed := strings.TrimSpace(between(out.String(), "seal key", "\n"))
			file := filepath.Join(t.TempDir(), "seal.pub")
			if err := os.WriteFile(file, []byte(printed+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := enroll.ReadSealKey(file)
			if err != nil {
				t.Fatalf("enroll.ReadSealKey(the printed %q) = %v", printed, err)
			}
			priv, err := upstream.LoadOrCreateSealKey(filepath.Join(state, upstream.SealKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), priv.PublicKey().Bytes()) {
				t.Errorf("printed seal key %s is not the upstream's", printed)
			}
		})
	}
}
