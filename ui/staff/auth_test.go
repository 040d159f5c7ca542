package staff

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPasswordHashPHC: a password is hashed with argon2id in the PHC
// string format, with the shipped costs, verified in constant time, and
// each hash has its own salt.
func TestPasswordHashPHC(t *testing.T) {
	phc := hashPassword("correct horse battery", productionParams)
	want := regexp.MustCompile(`^\$argon2id\$v=19\$m=32768,t=2,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !want.MatchString(phc) {
		t.Fatalf("hashPassword = %q; want $argon2id$v=19$m=32768,t=2,p=2$SALT$HASH", phc)
	}
	for _, c := range []struct {
		password string
		want     bool
	}{{"correct horse battery", true}, {"correct horse batterx", false}, {"", false}} {
		if got, err := verifyPassword(phc, c.password); got != c.want || err != nil {
			t.Errorf("verifyPassword(%q) = %v, %v; want %v", c.password, got, err, c.want)
		}
	}
	if again := hashPassword("correct horse battery", productionParams); again == phc {
		t.Errorf("two hashes of one password are equal: the salt is not random")
	}
}

func TestParsePHC(t *testing.T) {
	good := hashPassword("a password long enough", defaultParams)
	f := strings.Split(good, "$")
	bad := map[string]string{
		"empty":           "",
		"argon2i":         strings.Replace(good, "argon2id", "argon2i", 1),
		"version 16":      strings.Replace(good, "v=19", "v=16", 1),
		"params reversed": "$argon2id$v=19$t=1,m=64,p=1$" + f[4] + "$" + f[5],
		"time 0":          "$argon2id$v=19$m=64,t=0,p=1$" + f[4] + "$" + f[5],
		"memory 1 TiB":    "$argon2id$v=19$m=1073741824,t=1,p=1$" + f[4] + "$" + f[5],
		"memory < 8p":     "$argon2id$v=19$m=8,t=1,p=2$" + f[4] + "$" + f[5],
		"threads 255":     "$argon2id$v=19$m=4096,t=1,p=255$" + f[4] + "$" + f[5],
		"padded salt":     "$argon2id$v=19$m=64,t=1,p=1$" + f[4] + "==$" + f[5],
		"short hash":      "$argon2id$v=19$m=64,t=1,p=1$" + f[4] + "$AAAA",
		"extra field":     good + "$x",
		"negative":        "$argon2id$v=19$m=-64,t=1,p=1$" + f[4] + "$" + f[5],
	}
	for name, s := range bad {
		if _, _, _, err := parsePHC(s); err == nil {
			t.Errorf("parsePHC(%s: %q) = nil error; want one", name, s)
		}
	}
	p, salt, key, err := parsePHC(good)
	if err != nil || p != defaultParams || len(salt) != saltLen || len(key) != keyLen {
		t.Errorf("parsePHC(%q) = %+v, %d-byte salt, %d-byte key, %v; want the params, 16, 32", good, p, len(salt), len(key), err)
	}
}

// FuzzParsePHC: no input makes the parser panic, or accept parameters
// that would make a login take minutes or the kiosk's memory.
func FuzzParsePHC(f *testing.F) {
	f.Add(hashPassword("seed password 1", defaultParams))
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			return
		}
		if p.time < 1 || p.time > maxHashTime || p.memory > maxHashMemory || p.threads < 1 || p.threads > maxHashThreads ||
			len(salt) < 8 || len(key) < 16 {
			t.Errorf("parsePHC(%q) accepted %+v, %d-byte salt, %d-byte key", s, p, len(salt), len(key))
		}
	})
}

func TestCheckName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"alice", true}, {"a", true}, {"j.doe-2_x", true}, {strings.Repeat("a", 32), true},
		{"", false}, {"Alice", false}, {"-alice", false}, {".alice", false}, {"al ice", false},
		{"alice\n", false}, {strings.Repeat("a", 33), false}, {"alicé", false}, {"../x", false},
	} {
		if err := CheckName(c.name); (err == nil) != c.ok {
			t.Errorf("CheckName(%q) = %v; want ok %v", c.name, err, c.ok)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		pw string
		ok bool
	}{
		{strings.Repeat("x", MinPasswordLen), true}, {"correct horse battery", true}, {"ünïcödé pässwörd", true},
		{strings.Repeat("x", MinPasswordLen-1), false}, {strings.Repeat("x", MaxPasswordLen+1), false},
		{"with a newline\n", false}, {"with a tab\there", false},
	} {
		if err := CheckPassword(c.pw); (err == nil) != c.ok {
			t.Errorf("CheckPassword(%q) = %v; want ok %v", c.pw, err, c.ok)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	shape := regexp.MustCompile(`^[2-9a-hjkmnp-z]{5}(-[2-9a-hjkmnp-z]{5}){3}$`)
	seen := map[string]bool{}
	for range 50 {
		pw := GeneratePassword()
		if !shape.MatchString(pw) || CheckPassword(pw) != nil {
			t.Fatalf("GeneratePassword = %q; want four groups of five from the alphabet, a valid password", pw)
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword returned %q twice", pw)
		}
		seen[pw] = true
	}
}

// TestAccounts: add, set a password, remove, list; the file is 0600,
// written whole, and each change audited.
func TestAccounts(t *testing.T) {
	state := t.TempDir()
	a := NewAccounts(state)
	if names, err := a.Names(); err != nil || len(names) != 0 {
		t.Fatalf("Names of no file = %v, %v; want none", names, err)
	}
	for _, n := range []string{"zoe", "alice"} {
		if err := a.Add(n, n+" long password"); err != nil {
			t.Fatalf("Add(%s): %v", n, err)
		}
	}
	if err := a.Add("alice", "another long password"); !errors.Is(err, ErrAccountExists) {
		t.Errorf("Add of an existing account = %v; want ErrAccountExists", err)
	}
	if err := a.Add("bob", "short"); err == nil {
		t.Errorf("Add with a short password = nil; want an error")
	}
	if err := a.Add("Bob", "a long enough password"); err == nil {
		t.Errorf("Add of a bad name = nil; want an error")
	}
	if err := a.SetPassword("nobody", "a long enough password"); !errors.Is(err, ErrNoAccount) {
		t.Errorf("SetPassword of no account = %v; want ErrNoAccount", err)
	}
	if err := a.Remove("nobody"); !errors.Is(err, ErrNoAccount) {
		t.Errorf("Remove of no account = %v; want ErrNoAccount", err)
	}
	if names, err := a.Names(); err != nil || !slices.Equal(names, []string{"alice", "zoe"}) {
		t.Errorf("Names = %v, %v; want [alice zoe]", names, err)
	}

	path := filepath.Join(Dir(state), accountsFileName)
	cache := &accountCache{path: path}
	before, _, _ := cache.lookup("alice")
	if err := a.SetPassword("alice", "her new long password"); err != nil {
		t.Fatal(err)
	}
	after, ok, err := cache.lookup("alice")
	if err != nil || !ok || after == before {
		t.Errorf("the cache after SetPassword: %v, %v; want the new hash", ok, err)
	}
	if right, _ := verifyPassword(after, "her new long password"); !right {
		t.Errorf("the new password does not verify")
	}
	if err := a.Remove("zoe"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := cache.lookup("zoe"); ok {
		t.Errorf("the cache still has a removed account")
	}

	for _, p := range []string{path, Dir(state)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]os.FileMode{true: 0o700, false: 0o600}[fi.IsDir()]; fi.Mode().Perm() != want {
			t.Errorf("%s mode %v; want %v", p, fi.Mode().Perm(), want)
		}
	}
	h := &harness{t: t, state: state}
	var got []string
	for _, r := range h.audit() {
		got = append(got, r.Action+" "+r.Detail)
	}
	want := []string{"account_added zoe", "account_added alice", "password_changed alice", "account_removed zoe"}
	if !slices.Equal(got, want) {
		t.Errorf("audit = %q; want %q", got, want)
	}
}

// TestCreateDemoAccount: the demo's account gets a new password each run;
// the one before stops working.
func TestCreateDemoAccount(t *testing.T) {
	state := t.TempDir()
	first, err := CreateDemoAccount(state)
	if err != nil {
		t.Fatal(err)
	}
	second, err := CreateDemoAccount(state)
	if err != nil {
		t.Fatal(err)
	}
	hash, ok, err := (&accountCache{path: filepath.Join(Dir(state), accountsFileName)}).lookup(DemoAccount)
	if err != nil || !ok {
		t.Fatalf("no demo account: %v", err)
	}
	for pw, want := range map[string]bool{first: false, second: true} {
		if got, _ := verifyPassword(hash, pw); got != want {
			t.Errorf("verify %s = %v; want %v", pw, got, want)
		}
	}
	if names, _ := NewAccounts(state).Names(); !slices.Equal(names, []string{DemoAccount}) {
		t.Errorf("accounts = %v; want [demo]", names)
	}
}

// TestThrottleWindow: failures count within 15 minutes only; the fifth
// within it locks for 15 minutes.
func TestThrottleWindow(t *testing.T) {
	th := throttle{m: map[string]*failures{}}
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i := range 4 {
		if th.fail("k", now.Add(time.Duration(i)*5*time.Minute)) {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	// The first failure (at 0) left the window at 15 min.
	if th.fail("k", now.Add(16*time.Minute)) {
		t.Fatalf("locked by a failure outside the window")
	}
	at := now.Add(17 * time.Minute)
	if !th.fail("k", at) {
		t.Fatalf("not locked by the fifth failure within 15 minutes")
	}
	if until := th.lockedUntil("k", at.Add(lockDuration-time.Second)); until.IsZero() {
		t.Errorf("not locked a second before the lock's end")
	}
	if until := th.lockedUntil("k", at.Add(lockDuration)); !until.IsZero() {
		t.Errorf("still locked at the lock's end (until %v)", until)
	}
	if until := th.lockedUntil("other", at); !until.IsZero() {
		t.Errorf("another key is locked")
	}
}

// TestThrottleFull: over maxTracked keys, logins are refused rather than
// no longer counted.
func TestThrottleFull(t *testing.T) {
	th := throttle{m: map[string]*failures{}}
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i := range maxTracked {
		th.fail(fmt.Sprint("k", i), now)
	}
	if until := th.lockedUntil("new", now); until.IsZero() {
		t.Errorf("a new key with the throttle full is not refused")
	}
	if until := th.lockedUntil("new", now.Add(failureWindow)); !until.IsZero() {
		t.Errorf("a new key once the old failures aged out is refused")
	}
}

// BenchmarkHash is a login's cost with the shipped parameters: the figure
// to check on a Pi (go test -run '^$' -bench Hash ./ui/staff/; add -tags
// purego to see Go's generic code, which is what arm64 runs).
func BenchmarkHash(b *testing.B) {
	phc := hashPassword("correct horse battery", productionParams)
	for b.Loop() {
		verifyPassword(phc, "correct horse battery")
	}
}
