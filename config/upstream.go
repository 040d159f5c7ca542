package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// The reference upstream (`kiosk upstream`) has a file of its own: it runs
// on another machine than a kiosk, often as several replicas, each given
// the same file. It is read by the same machinery as kiosk.toml (file.go):
// every key with a documented default, errors naming file and line, unknown
// keys refused, a sample printed from the struct that reads it.

// DefaultUpstreamPath is the file `kiosk upstream` reads when not told
// another; the upstream starts with the defaults when it is absent.
const DefaultUpstreamPath = "/etc/kiosk/upstream.toml"

// UpstreamStateDirName is the upstream's state directory under
// $XDG_STATE_HOME (or ~/.local/state) when state_dir is empty.
const UpstreamStateDirName = "checkin-kiosk-upstream"

// EnvUpstreamDB is the environment variable that names the upstream's
// database when --db is not given, over the file's db and db_file: a DSN
// may hold a password, which a command line shows to every user of the
// machine (ps) and an environment file (systemd's EnvironmentFile=, 0600)
// does not.
const EnvUpstreamDB = "KIOSK_UPSTREAM_DB"

// Upstream is the configuration of `kiosk upstream`. A path left empty is
// the state directory's own file, made on first start; a key file named is
// only ever read, so that every replica serves with the same keys.
type Upstream struct {
	Listen   string // address of the upload API (HTTPS)
	StateDir string // the server's state; "": $XDG_STATE_HOME/UpstreamStateDirName
	// Hosts are the DNS names and IP addresses kiosks reach this replica
	// by: the server certificate it makes names them.
	Hosts []string
	// Documents is the directory of the signed documents served; "":
	// STATE/documents.
	Documents string
	// SilentAfter is how long without a heartbeat makes a kiosk silent in
	// the stats and the fleet view.
	SilentAfter time.Duration
	// AdminTokens is the operator endpoints' token file; "":
	// STATE/admin-tokens, made with one token on first start.
	AdminTokens string
	// DB is a PostgreSQL DSN (postgres://...) the replicas share; "" with
	// DBFile "": the embedded SQLite store in the state directory.
	DB string
	// DBFile is a file (0600) holding the DSN instead (ReadDSN), for one
	// with a password: this file may be readable by all.
	DBFile string
	// SealKey is the seal private key's PEM file (0600); "":
	// STATE/seal-key.pem, made on first start.
	SealKey string
	// CACert and CAKey are the CA's certificate and private key (0600),
	// both or neither; neither: STATE/tls/ca.pem and ca-key.pem, made on
	// first start. The server certificate is this replica's own, made
	// from the CA in STATE/tls.
	CACert, CAKey string
}

// upstreamFile is upstream.toml's layout, bound (bindUpstream) to an
// Upstream's fields: one table, [upstream], so that its keys read as
// kiosk.toml's do ("upstream.db") and a later part has room for its own.
type upstreamFile struct {
	Upstream struct {
		Listen      *string   `toml:"listen" comment:"Address of the upload API (HTTPS, mutual TLS): \":8443\" for every address."`
		StateDir    *string   `toml:"state_dir" comment:"Directory of this replica's state: the embedded store (without db), the\nserver certificate, and by default the keys and documents below; empty:\n$XDG_STATE_HOME/checkin-kiosk-upstream (or ~/.local/state/...). Each replica\nhas its own."`
		Hosts       *[]string `toml:"hosts" comment:"Host names and IP addresses kiosks reach this replica by: its server\ncertificate names them."`
		Documents   *string   `toml:"documents" comment:"Directory of the signed documents served to kiosks (trustlist.cose,\nrevocations.cose, roster.cose, notices.cose), made 0700 at start; empty:\nSTATE/documents."`
		SilentAfter *duration `toml:"silent_after" comment:"How long without a heartbeat makes a kiosk silent in the stats and fleet\nview."`
		AdminTokens *string   `toml:"admin_tokens" comment:"Admin token file of the operator endpoints (stats, fleet, metrics), one\ntoken's hash a line, 0600; empty: STATE/admin-tokens, made with one new token\n(printed once) on first start. Replicas name one file, the same on each."`
		DB          *string   `toml:"db" comment:"The store: empty for the embedded SQLite file in the state directory, or a\nPostgreSQL DSN the replicas share, without a password (postgres://USER@HOST/DB\n?sslmode=verify-full; ~/.pgpass or a client certificate for the rest).\n$KIOSK_UPSTREAM_DB, and --db, override it."`
		DBFile      *string   `toml:"db_file" comment:"A file holding the DSN instead, readable by its owner only (0600): for a DSN\nwith a password, which this file may show to whoever can read it."`
		SealKey     *string   `toml:"seal_key" comment:"PEM file of the private key person data is sealed to (0600), read, never\nwritten: the same on every replica. Empty: STATE/seal-key.pem, made on first\nstart."`
		CACert      *string   `toml:"ca_cert" comment:"PEM file of the CA certificate kiosks pin, read, never written: the same on\nevery replica (with ca_key). Empty: STATE/tls/ca.pem, made on first start."`
		CAKey       *string   `toml:"ca_key" comment:"PEM file of the CA's private key (0600), with ca_cert; each replica makes its\nown server certificate from it, in STATE/tls."`
	} `toml:"upstream"`
}

// bindUpstream returns upstream.toml's layout with every key pointing at
// its field of u.
func bindUpstream(u *Upstream) *upstreamFile {
	var f upstreamFile
	f.Upstream.Listen = &u.Listen
	f.Upstream.StateDir = &u.StateDir
	f.Upstream.Hosts = &u.Hosts
	f.Upstream.Documents = &u.Documents
	f.Upstream.SilentAfter = (*duration)(&u.SilentAfter)
	f.Upstream.AdminTokens = &u.AdminTokens
	f.Upstream.DB = &u.DB
	f.Upstream.DBFile = &u.DBFile
	f.Upstream.SealKey = &u.SealKey
	f.Upstream.CACert = &u.CACert
	f.Upstream.CAKey = &u.CAKey
	return &f
}

// DefaultUpstream returns the configuration `kiosk upstream` starts from:
// one process on loopback, everything in its state directory. SilentAfter
// is also sync/upstream's DefaultSilentAfter, which this package may not
// import: kiosk/cmd/kiosk's tests keep the two equal.
func DefaultUpstream() Upstream {
	return Upstream{
		Listen:      "127.0.0.1:8443",
		Hosts:       []string{"127.0.0.1", "localhost"},
		SilentAfter: 3 * time.Minute,
	}
}

// Check reports every value the upstream cannot run with, each as an
// *Error naming its key, joined; nil if there is none. Whether the files
// it names exist and hold what they should is for the upstream to find at
// its start.
func (u Upstream) Check() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: key + ": " + fmt.Sprintf(format, args...)})
	}
	if _, port, err := net.SplitHostPort(u.Listen); err != nil || port == "" {
		bad("upstream.listen", "%q is not HOST:PORT (\":8443\" for every address)", u.Listen)
	}
	if len(u.Hosts) == 0 || slices.Contains(u.Hosts, "") {
		bad("upstream.hosts", "want one name or address at least, none empty: the server certificate names them")
	}
	if u.SilentAfter <= 0 {
		bad("upstream.silent_after", "want more than 0")
	}
	if u.DB != "" && u.DBFile != "" {
		bad("upstream.db_file", "upstream.db and upstream.db_file are one database: set one of them")
	}
	if u.DB != "" && !isPostgresURL(u.DB) {
		// Not the DSN itself: it may hold a password.
		bad("upstream.db", "not a postgres:// DSN; empty for the embedded store")
	}
	if (u.CACert == "") != (u.CAKey == "") {
		// Named by the one set, whose line a file's error gives.
		key := "upstream.ca_cert"
		if u.CAKey != "" {
			key = "upstream.ca_key"
		}
		bad(key, "upstream.ca_cert and upstream.ca_key go together: both, or neither for a CA made in the state directory")
	}
	return errors.Join(errs...)
}

// checkFile is Check, and what a file may not say: a password in db. The
// file is often world-readable (as /etc is); a flag or $KIOSK_UPSTREAM_DB
// is not refused one, those being the operator's to keep.
func (u Upstream) checkFile() error {
	var errs []error
	if err := u.Check(); err != nil {
		errs = unjoin(err) // flat, so that each is given its line
	}
	if u.DB != "" && hasPassword(u.DB) {
		errs = append(errs, &Error{Key: "upstream.db", Msg: "upstream.db: holds a password, which this file shows to whoever can read it: " +
			"put the DSN in a file of its own (0600) named by upstream.db_file, or the password in ~/.pgpass"})
	}
	return errors.Join(errs...)
}

// isPostgresURL reports whether dsn is a PostgreSQL URL, the one DSN form
// the upstream takes.
func isPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// hasPassword reports whether dsn carries a password: in its user
// information, or as a password parameter.
func hasPassword(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return strings.Contains(dsn, "password=") // unparsed: assume the worst
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	return u.Query().Has("password")
}

// ReadDSN returns the DSN of the upstream's database: DB, or the contents
// of DBFile, trimmed; "" for the embedded store. A DBFile readable by group
// or others is refused, as the upstream's seal key is: it holds the
// database's password. Its errors never repeat the file's contents.
func (u Upstream) ReadDSN() (string, error) {
	if u.DBFile == "" {
		return u.DB, nil
	}
	b, err := os.ReadFile(u.DBFile)
	if err != nil {
		return "", fmt.Errorf("upstream.db_file: read DSN: %w", err)
	}
	fi, err := os.Stat(u.DBFile)
	if err != nil {
		return "", fmt.Errorf("upstream.db_file: read DSN: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("upstream.db_file: %s has mode %v: it must be readable by its owner only (0600)", u.DBFile, perm)
	}
	dsn := strings.TrimSpace(string(b))
	if !isPostgresURL(dsn) {
		return "", fmt.Errorf("upstream.db_file: %s does not hold a postgres:// DSN", u.DBFile)
	}
	return dsn, nil
}

// LoadUpstream reads the TOML file at path over DefaultUpstream() and
// checks the result, as Load does kiosk.toml: errors are *Errors naming
// the file and the line, an unknown key is one, and so is a password in
// upstream.db. A missing file is an error wrapping fs.ErrNotExist.
func LoadUpstream(path string) (Upstream, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return Upstream{}, fmt.Errorf("read upstream configuration: %w", err)
	}
	return parseUpstream(path, doc)
}

// parseUpstream reads doc, the contents of the file name, over
// DefaultUpstream().
func parseUpstream(name string, doc []byte) (Upstream, error) {
	u := DefaultUpstream()
	if err := decode(name, doc, bindUpstream(&u), func() error { return u.checkFile() }); err != nil {
		return Upstream{}, err
	}
	return u, nil
}

// ReadUpstream reads the upstream's configuration file at path, as
// LoadUpstream; named says it was named on the command line. The default
// file may be absent (the defaults then), a file named may not.
func ReadUpstream(path string, named bool) (Upstream, error) {
	u, err := LoadUpstream(path)
	if !named && errors.Is(err, fs.ErrNotExist) {
		return DefaultUpstream(), nil
	}
	return u, err
}

// WriteTOML writes u as a TOML file that LoadUpstream reads back as u,
// each key with its comment.
func (u Upstream) WriteTOML(w io.Writer) error { return encode(w, bindUpstream(&u)) }

// upstreamSampleHeader opens the upstream's sample file.
const upstreamSampleHeader = `# The settings of the reference upstream server (kiosk upstream), with their
# defaults: a key left out keeps its default. "kiosk upstream config default"
# prints this file, "kiosk upstream config check FILE" checks one. A flag of
# "kiosk upstream" overrides its key; $KIOSK_UPSTREAM_DB overrides db and
# db_file. Read at start only.
#
# Replicas on one PostgreSQL database: give each the same file, naming the
# same seal_key, ca_cert, ca_key and admin_tokens (the agency's keys, 0600, put
# on each by whatever deploys the replicas), and its own state_dir and hosts.

`

// WriteUpstreamDefault writes the upstream's sample configuration file:
// every key, its default and what it does.
func WriteUpstreamDefault(w io.Writer) error {
	if _, err := io.WriteString(w, upstreamSampleHeader); err != nil {
		return fmt.Errorf("write sample upstream configuration: %w", err)
	}
	return DefaultUpstream().WriteTOML(w)
}

// UpstreamFlags declares on fs the flags of `kiosk upstream`: --config,
// the file to read (DefaultUpstreamPath by default; absent, that one means
// the defaults, but a file named must exist), and a flag for each key of
// the file (--db for upstream.db), defaulting to u's values; with names,
// only the flags named (a subcommand's), --config always. Once fs is
// parsed, the load it returns reads the configuration as the command line
// gives it: the file, then $KIOSK_UPSTREAM_DB (getenv's) over db and
// db_file, then each flag given over its key (never one left at its
// default), the result checked.
func UpstreamFlags(fs *flag.FlagSet, u Upstream, names ...string) (load func(getenv func(string) string) (Upstream, error)) {
	path := fs.String("config", DefaultUpstreamPath, "TOML `file` of settings (kiosk upstream config default prints one); the flags override its keys")
	all := flag.NewFlagSet("", flag.ContinueOnError)
	declareUpstream(&u, all)
	all.VisitAll(func(f *flag.Flag) {
		if len(names) == 0 || slices.Contains(names, f.Name) {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	return func(getenv func(string) string) (Upstream, error) {
		named, given := visited(fs)
		u, err := ReadUpstream(*path, named)
		if err != nil {
			return Upstream{}, err
		}
		if dsn := getenv(EnvUpstreamDB); dsn != "" {
			u.DB, u.DBFile = dsn, ""
		}
		over := flag.NewFlagSet("", flag.ContinueOnError)
		declareUpstream(&u, over)
		for _, f := range given {
			if over.Lookup(f.Name) == nil {
				continue // the command's own flag, not a key's
			}
			switch f.Name {
			case "db":
				u.DBFile = ""
			case "db-file":
				u.DB = ""
			}
			if err := over.Set(f.Name, f.Value.String()); err != nil {
				return Upstream{}, fmt.Errorf("--%s: %w", f.Name, err)
			}
		}
		return u, u.Check()
	}
}

// declareUpstream declares on fs a flag for each of u's fields, which it
// sets.
func declareUpstream(u *Upstream, fs *flag.FlagSet) {
	fs.StringVar(&u.Listen, "listen", u.Listen, "`address` to serve the upload API on (HTTPS)")
	fs.StringVar(&u.StateDir, "state-dir", u.StateDir, "`directory` of this replica's state: the embedded store, the server certificate, and by default\n"+
		"the keys and documents (default $XDG_STATE_HOME/"+UpstreamStateDirName+", or ~/.local/state/"+UpstreamStateDirName+")")
	fs.Var((*hostList)(&u.Hosts), "host", "comma-separated host `names` and IP addresses kiosks reach the server by (its certificate names them)")
	fs.StringVar(&u.Documents, "documents", u.Documents, "`directory` of the signed documents served to kiosks, made at start: trustlist.cose, revocations.cose,\n"+
		"roster.cose, notices.cose (default STATE/documents)")
	fs.DurationVar(&u.SilentAfter, "silent-after", u.SilentAfter, "how long without a heartbeat makes a kiosk silent in the stats")
	fs.StringVar(&u.AdminTokens, "admin-tokens", u.AdminTokens, "admin token `file` of the operator endpoints, one token's hash a line, made 0600 with one\n"+
		"new token (printed once) when missing (default STATE/admin-tokens)")
	fs.StringVar(&u.DB, "db", u.DB, "the store: empty for the embedded SQLite file in the state directory, or a PostgreSQL\n"+
		"`DSN` (postgres://USER@HOST/DB?sslmode=verify-full; PG* variables fill what it leaves out) that\n"+
		"several replicas share (default $"+EnvUpstreamDB+", else the file's db or db_file)")
	fs.StringVar(&u.DBFile, "db-file", u.DBFile, "`file` (0600) holding the PostgreSQL DSN instead of --db")
	fs.StringVar(&u.SealKey, "seal-key", u.SealKey, "PEM `file` of the seal private key, read, never written (default STATE/seal-key.pem, made on first start)")
	fs.StringVar(&u.CACert, "ca-cert", u.CACert, "PEM `file` of the CA certificate, read, never written, with --ca-key (default STATE/tls/ca.pem, made on first start)")
	fs.StringVar(&u.CAKey, "ca-key", u.CAKey, "PEM `file` of the CA's private key, read, never written, with --ca-cert (default STATE/tls/ca-key.pem)")
}

// hostList is a list of host names as a flag: comma-separated, each
// trimmed, empty ones dropped.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	*h = nil
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*h = append(*h, s)
		}
	}
	return nil
}
