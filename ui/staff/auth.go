package staff

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/docketkiosk/checkin-kiosk/internal/atomicfile"
)

// The files of the accounts, in the staff directory (Dir).
const (
	accountsFileName = "accounts.json"
	accountsLockName = "accounts.lock" // flock'd while accounts.json is changed
	accountsVersion  = 1
)

// Password rules. A password is at least MinPasswordLen bytes: the lockout
// slows guessing on the dashboard, not offline guessing of a stolen
// accounts.json, which argon2id and the length are for.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256 // bounds the work a login asks of argon2id's first hash
)

// hashParams are argon2id's costs (RFC 9106), written into each hash, so
// an account keeps working when the defaults change.
type hashParams struct {
	time    uint32 // passes over the memory
	memory  uint32 // KiB
	threads uint8  // lanes
}

// defaultParams are the costs of a new password: 2 passes over 32 MiB in
// 2 lanes. That is more than OWASP's floor for argon2id (19 MiB, 2 passes,
// 1 lane), and a login must take well under a second on a Raspberry Pi,
// where Go's argon2 has no vector code: with that generic code it takes
// about 45 ms on two cores of an x86 server (BenchmarkHash with -tags
// purego; 33 ms with the amd64 assembly), which puts a Pi 4 near 0.3 s and
// a Pi 5 near 0.1 s (estimates: not yet measured on a Pi). RFC 9106's
// 64 MiB and 3 passes would take over a second on a Pi 4, and 64 MiB for
// each login is much for a 1 GiB kiosk besides; logins are hashed one at a
// time (Server.hashing) so that a burst of them cannot take more memory.
var defaultParams = hashParams{time: 2, memory: 32 << 10, threads: 2}

// Limits on a stored hash's parameters: a hash edited by hand cannot make
// a login take minutes or the kiosk's memory.
const (
	maxHashTime    = 16
	maxHashMemory  = 256 << 10 // KiB
	maxHashThreads = 16
	saltLen        = 16
	keyLen         = 32
)

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// hashPassword hashes password with argon2id, a new random salt and p, as
// a PHC string: $argon2id$v=19$m=32768,t=2,p=2$SALT$HASH.
func hashPassword(password string, p hashParams) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails: crypto/rand.Read crashes the program rather than return an error
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// verifyPassword reports whether password is the one hashed in phc. The
// comparison takes the same time wherever the hashes differ.
func verifyPassword(phc, password string) (bool, error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parsePHC parses an argon2id hash in the PHC string format, version 19,
// with its parameters in the order m, t, p. Anything else is an error: the
// accounts file is written by this package alone.
func parsePHC(s string) (p hashParams, salt, key []byte, err error) {
	bad := func(why string) (hashParams, []byte, []byte, error) {
		return hashParams{}, nil, nil, fmt.Errorf("parse password hash: %s", why)
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return bad("not an argon2id PHC string")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version is not 19")
	}
	var m, t, par uint64
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return bad("want parameters m, t, p")
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad("want parameters m, t, p")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + name + " is not a number")
		}
		switch name {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			par = n
		}
	}
	if t < 1 || t > maxHashTime || par < 1 || par > maxHashThreads || m < 8*par || m > maxHashMemory {
		return bad("parameters out of range")
	}
	if salt, err = b64.DecodeString(f[4]); err != nil || len(salt) < 8 || len(salt) > 64 {
		return bad("bad salt")
	}
	if key, err = b64.DecodeString(f[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return bad("bad hash")
	}
	return hashParams{time: uint32(t), memory: uint32(m), threads: uint8(par)}, salt, key, nil
}

// accountName is what an account may be called: a short lower-case login
// name, so that no two differ only by case or by look.
var accountName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

// CheckName returns an error unless name can name an account: 1 to 32 of
// a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
func CheckName(name string) error {
	if !accountName.MatchString(name) {
		return fmt.Errorf("account name %q: want 1 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", name)
	}
	return nil
}

// CheckPassword returns an error unless password may be set: from
// MinPasswordLen to MaxPasswordLen bytes, with no control characters (it
// is typed, or read as one line).
func CheckPassword(password string) error {
	switch {
	case len(password) < MinPasswordLen:
		return fmt.Errorf("password too short: want at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return fmt.Errorf("password too long: want at most %d bytes", MaxPasswordLen)
	case strings.ContainsFunc(password, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("password holds a control character")
	}
	return nil
}

// passwordAlphabet has no letters that read like others (0 o, 1 l i) and
// no capitals: a generated password is read off a terminal and typed.
const passwordAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// GeneratePassword returns a new random password: 20 characters of a
// 31-letter alphabet (99 bits), in four groups of five, such as
// "k7q2m-9xdfa-r4tnw-e8hcz".
func GeneratePassword() string {
	var b strings.Builder
	n := big.NewInt(int64(len(passwordAlphabet)))
	for i := range 20 {
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		c, err := rand.Int(rand.Reader, n)
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		b.WriteByte(passwordAlphabet[c.Int64()])
	}
	return b.String()
}

// accountRecord is one account in accounts.json.
type accountRecord struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"`    // argon2id, PHC string format
	Changed time.Time `json:"changed"` // when the password was set
}

// accountsDoc is accounts.json:
//
//	{"version": 1, "accounts": [{"name": "alice", "hash": "$argon2id$v=19$m=32768,t=2,p=2$…$…", "changed": "2026-01-05T09:00:00Z"}]}
type accountsDoc struct {
	Version  int             `json:"version"`
	Accounts []accountRecord `json:"accounts"`
}

// readAccounts reads the accounts file at path; no file is no accounts.
func readAccounts(path string) (accountsDoc, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return accountsDoc{Version: accountsVersion}, nil
	}
	if err != nil {
		return accountsDoc{}, fmt.Errorf("read accounts: %w", err)
	}
	var doc accountsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return accountsDoc{}, fmt.Errorf("read accounts %s: %w", path, err)
	}
	if doc.Version != accountsVersion {
		return accountsDoc{}, fmt.Errorf("read accounts %s: version %d, want %d", path, doc.Version, accountsVersion)
	}
	return doc, nil
}

// Errors of Accounts' methods, for errors.Is.
var (
	ErrAccountExists = errors.New("account exists")
	ErrNoAccount     = errors.New("no such account")
)

// Accounts changes the staff accounts of a state directory, in
// STATE/staff/accounts.json (mode 0600, written whole: atomicfile.Write),
// and records each change in the audit log. `kiosk staff` uses it, while
// the daemon runs: the daemon reads the file again when it changes, so an
// account removed, or given a new password, has its sessions ended within
// a second.
type Accounts struct {
	dir    string
	params hashParams
	now    func() time.Time
}

// NewAccounts returns the accounts of the daemon whose state directory is
// stateDir.
func NewAccounts(stateDir string) *Accounts {
	return &Accounts{dir: Dir(stateDir), params: defaultParams, now: time.Now}
}

// Names returns the accounts' names, sorted.
func (a *Accounts) Names() ([]string, error) {
	doc, err := readAccounts(filepath.Join(a.dir, accountsFileName))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range doc.Accounts {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names, nil
}

// Add adds the account name with password. It fails with ErrAccountExists
// if there is one of that name.
func (a *Accounts) Add(name, password string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash := hashPassword(password, a.params) // before the lock: it is the slow part
	return a.update(AuditAccountAdded, name, func(doc *accountsDoc) error {
		if slices.ContainsFunc(doc.Accounts, func(r accountRecord) bool { return r.Name == name }) {
			return fmt.Errorf("add %s: %w", name, ErrAccountExists)
		}
		doc.Accounts = append(doc.Accounts, accountRecord{Name: name, Hash: hash, Changed: a.now().UTC()})
		return nil
	})
}

// SetPassword gives the account name a new password, which ends its
// sessions. It fails with ErrNoAccount if there is none of that name.
func (a *Accounts) SetPassword(name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash := hashPassword(password, a.params)
	return a.update(AuditPasswordChanged, name, func(doc *accountsDoc) error {
		i := slices.IndexFunc(doc.Accounts, func(r accountRecord) bool { return r.Name == name })
		if i < 0 {
			return fmt.Errorf("set password of %s: %w", name, ErrNoAccount)
		}
		doc.Accounts[i].Hash, doc.Accounts[i].Changed = hash, a.now().UTC()
		return nil
	})
}

// Remove removes the account name, which ends its sessions. It fails with
// ErrNoAccount if there is none of that name.
func (a *Accounts) Remove(name string) error {
	return a.update(AuditAccountRemoved, name, func(doc *accountsDoc) error {
		i := slices.IndexFunc(doc.Accounts, func(r accountRecord) bool { return r.Name == name })
		if i < 0 {
			return fmt.Errorf("remove %s: %w", name, ErrNoAccount)
		}
		doc.Accounts = slices.Delete(doc.Accounts, i, i+1)
		return nil
	})
}

// CreateDemoAccount gives the account "demo" of stateDir a new random
// password, making the account if need be, and returns the password: the
// demo prints it once, and the one before stops working.
func CreateDemoAccount(stateDir string) (string, error) {
	a := NewAccounts(stateDir)
	password := GeneratePassword()
	hash := hashPassword(password, a.params)
	err := a.update(AuditPasswordChanged, DemoAccount, func(doc *accountsDoc) error {
		r := accountRecord{Name: DemoAccount, Hash: hash, Changed: a.now().UTC()}
		if i := slices.IndexFunc(doc.Accounts, func(r accountRecord) bool { return r.Name == DemoAccount }); i >= 0 {
			doc.Accounts[i] = r
		} else {
			doc.Accounts = append(doc.Accounts, r)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return password, nil
}

// DemoAccount is the account CreateDemoAccount makes.
const DemoAccount = "demo"

// update changes accounts.json with change, under the accounts' lock, and
// records action on name in the audit log, once the file is written. The
// account changed is the audit record's detail: who changed it is whoever
// ran the command on the kiosk, "local".
func (a *Accounts) update(action, name string, change func(*accountsDoc) error) error {
	if err := makeDir(a.dir); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(a.dir, accountsLockName))
	if err != nil {
		return err
	}
	defer unlock()
	path := filepath.Join(a.dir, accountsFileName)
	doc, err := readAccounts(path)
	if err != nil {
		return err
	}
	if err := change(&doc); err != nil {
		return err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode accounts: %w", err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return err
	}
	if err := giveToDirOwner(path, a.dir); err != nil {
		return err
	}
	au := &auditLog{path: filepath.Join(a.dir, auditFileName), now: a.now}
	return au.record(AuditRecord{Account: "", Remote: "local", Action: action, Detail: name})
}

// accountCache is the daemon's view of accounts.json: read again whenever
// the file is another (atomicfile.Write renames a new one in), or changed.
type accountCache struct {
	path string

	mu     sync.Mutex
	fi     os.FileInfo       // of the file last read; nil: none read
	hashes map[string]string // name → PHC hash
}

// lookup returns the hash of the account name, and whether there is one.
func (c *accountCache) lookup(name string) (hash string, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.fi, c.hashes = nil, nil
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("stat accounts: %w", err)
	}
	if c.fi == nil || !os.SameFile(fi, c.fi) || !fi.ModTime().Equal(c.fi.ModTime()) || fi.Size() != c.fi.Size() {
		doc, err := readAccounts(c.path)
		if err != nil {
			return "", false, err
		}
		c.hashes = make(map[string]string, len(doc.Accounts))
		for _, r := range doc.Accounts {
			c.hashes[r.Name] = r.Hash
		}
		c.fi = fi
	}
	hash, ok = c.hashes[name]
	return hash, ok, nil
}

// makeDir makes the staff directory dir, mode 0700, owned as the state
// directory above it is.
func makeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make staff directory: %w", err)
	}
	return giveToDirOwner(dir, filepath.Dir(dir))
}
