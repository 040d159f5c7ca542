package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
)

// Flags declares on fs the flags of `kiosk run`: --config, the file to
// read, and a flag for each key of the file (--listen for kiosk.listen,
// README's table), defaulting to c's values. Once fs is parsed, the load it
// returns reads the configuration as the command line gives it: the file
// --config names (DefaultPath by default; absent, that one means the
// defaults, but a file named must exist), then each flag given on the
// command line over its key, never one left at its default, the result
// checked (Check). Call load again to read both again, for a reload.
func Flags(fs *flag.FlagSet, c Config) (load func() (Config, error)) {
	path := fs.String("config", DefaultPath, "TOML `file` of settings (kiosk config default prints one); the flags below override its keys")
	declare(&c, fs)
	return func() (Config, error) {
		named, given := visited(fs)
		c, err := Read(*path, named)
		if err != nil {
			return Config{}, err
		}
		// Only the flags given override the file: one left at its
		// default must not undo the file's setting.
		over := flag.NewFlagSet("", flag.ContinueOnError)
		declare(&c, over)
		for _, f := range given {
			if err := over.Set(f.Name, f.Value.String()); err != nil {
				return Config{}, fmt.Errorf("--%s: %w", f.Name, err)
			}
		}
		return c, c.Check()
	}
}

// Read reads the configuration file at path, as Load; named says it was
// named on the command line. The default file may be absent (the defaults
// then), a file named may not.
func Read(path string, named bool) (Config, error) {
	c, err := Load(path)
	if !named && errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	return c, err
}

// declare declares on fs a flag for each of c's fields, which it sets.
func declare(c *Config, fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "`address` of the kiosk page and API (keep it on loopback)")
	fs.StringVar(&c.StateDir, "state-dir", c.StateDir, "`directory` for the outbox and other state")
	fs.StringVar(&c.Scanner, "scanner", c.Scanner, "scanner `source`: sim, serial:PATH[?idle=DURATION], or evdev:PATH with options "+
		"layout (us, uk, de, fr), idle (a duration), grab (true, false), record (16, 24) as a query string: "+
		"evdev:/dev/kiosk-scanner?layout=de&idle=80ms&grab=false&record=16")
	fs.StringVar(&c.Panel, "panel", c.Panel, "panel `source`: sim, or gpio:CHIP (gpio:/dev/gpiochip0); its pins are set in the file")
	fs.StringVar(&c.Display, "display", c.Display, "service display `source`: empty for none, sim, or i2c:/dev/i2c-1?addr=0x3c")
	fs.StringVar(&c.Printer, "printer", c.Printer, "receipt printer `source`: empty for none, sim, lp:/dev/usb/lp0, or serial:PATH?baud=19200")
	fs.StringVar(&c.Office, "office", c.Office, "the office's `name`, printed on receipts")
	fs.StringVar(&c.StaffListen, "staff-listen", c.StaffListen, "`address` of the staff dashboard (TLS, the office's network); empty: none")
	fs.StringVar(&c.StaffCert, "staff-cert", c.StaffCert, "PEM `file` of the staff dashboard's certificate (default: self-signed, made on first start)")
	fs.StringVar(&c.StaffKey, "staff-key", c.StaffKey, "PEM `file` of the staff dashboard certificate's key")
	fs.StringVar(&c.Root, "root", c.Root, "PEM `file` of the root public key the trust and revocation lists are signed with")
	fs.StringVar(&c.Trust, "trust", c.Trust, "signed trust list `file` (required); without --root, PEM issuer certificates or keys trusted without limits (development only)")
	fs.StringVar(&c.Revocations, "revocations", c.Revocations, "signed revocation list `file` (needs --root; none if empty)")
	fs.StringVar(&c.Roster, "roster", c.Roster, "signed roster `file` that resolves reference cards (needs --root and --reference-prefix)")
	fs.StringVar(&c.ReferencePrefix, "reference-prefix", c.ReferencePrefix, "URL `prefix` of reference cards' QR codes")
	fs.DurationVar(&c.MaxListAge, "max-list-age", c.MaxListAge, "how old the revocation list may be (by its issue time) before cards are sent to staff as stale; 0 for no limit")
	fs.StringVar(&c.Upstream, "upstream", c.Upstream, "upstream base `URL` (default: the one `kiosk enroll` kept; check-ins stay queued if none)")
	fs.StringVar(&c.UpstreamCA, "upstream-ca", c.UpstreamCA, "PEM `file` of the upstream's CA (default: the one `kiosk enroll` kept)")
	fs.StringVar(&c.SealKey, "seal-key", c.SealKey, "`file` of the upstream's public seal key, raw or base64 (default: the one `kiosk enroll` kept)")
	fs.StringVar(&c.KioskID, "kiosk-id", c.KioskID, "this kiosk's `name` at the upstream (default: the host name)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log `level`: debug, info, warn, error")
	fs.StringVar(&c.ClockSyncedFile, "clock-synced-file", c.ClockSyncedFile, "`file` that exists while the system clock is synchronized")
	fs.DurationVar(&c.Retention, "retention", c.Retention, "how long acknowledged check-ins are kept before they are purged")
	fs.BoolVar(&c.RecoverCorrupt, "recover-corrupt", c.RecoverCorrupt, "start with an empty outbox if the existing one is corrupt (it is kept aside)")
	fs.DurationVar(&c.ConfirmTimeout, "confirm-timeout", c.ConfirmTimeout, "how long the confirm screen waits for the person")
	fs.DurationVar(&c.ResultTimeout, "result-timeout", c.ResultTimeout, "how long success and see-staff screens stay up")
	fs.DurationVar(&c.HelpTimeout, "help-timeout", c.HelpTimeout, "how long the help screen stays up")
	fs.BoolVar(&c.Challenge, "challenge", c.Challenge, "ask for the date of birth before recording a check-in")
	fs.DurationVar(&c.UploadMinBackoff, "upload-min-backoff", c.UploadMinBackoff, "first retry delay after a failed upload")
	fs.DurationVar(&c.UploadMaxBackoff, "upload-max-backoff", c.UploadMaxBackoff, "longest retry delay between uploads")
	fs.Var((*size)(&c.DiskReserve), "disk-reserve", "free `space` the state directory must keep, or the kiosk goes out of service (bytes, or with KiB, MiB, GiB)")
	fs.DurationVar(&c.StorageCheck, "storage-check", c.StorageCheck, "how often free space is checked")
}

// String and Set make a size a flag: a number of bytes, plain or with a
// binary unit (KiB, MiB, GiB), as "64MiB".
func (s *size) String() string { return FormatSize(uint64(*s)) }

func (s *size) Set(v string) error { return s.UnmarshalText([]byte(v)) }

// FileFlag declares --config on fs, for a command that reads the daemon's
// file without taking its flags (kiosk status, scanner, panel, staff…),
// with usage for what the command reads from it. The function it returns,
// once fs is parsed, reads the file as the daemon does (Read): the
// default file may be absent, a file named may not.
func FileFlag(fs *flag.FlagSet, usage string) func() (Config, error) {
	path := fs.String("config", DefaultPath, usage+"; when the default is absent, the defaults")
	return func() (Config, error) {
		named := false
		fs.Visit(func(f *flag.Flag) { named = named || f.Name == "config" })
		return Read(*path, named)
	}
}

// visited reports whether --config was given on fs's command line, and
// the other flags given: those override the file's keys, and only those.
func visited(fs *flag.FlagSet) (named bool, given []*flag.Flag) {
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "config" {
			named = true
		} else {
			given = append(given, f)
		}
	})
	return named, given
}
