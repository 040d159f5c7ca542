package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// licenseFiles and noticeFiles are the names a module or a fixture keeps
// its licence and its notices under.
var (
	licenseFiles = []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING", "COPYING.txt"}
	noticeFiles  = []string{"NOTICE", "NOTICE.txt", "NOTICE.md"}
)

// projectLicense is the project's licence while the repository has no
// LICENSE file: none is granted.
const projectLicense = "LicenseRef-no-licence-granted"

// writeCopyright writes /usr/share/doc/kiosk/copyright in Debian's
// machine-readable format: the project's licence, then, for what the
// binary links (the Go standard library and every module its build
// information names), each one's copyright lines and licence, the text
// in full (the MIT and BSD licences ask for their notice to travel with
// the binary) or, for the Apache licence, Debian's copy and the module's
// NOTICE; then the third-party fixtures of the source repository.
func (p *pkg) writeCopyright() error {
	goVersion, mods, err := binaryModules(p.o.Binary)
	if err != nil {
		return err
	}
	dirs, err := moduleDirs(p.o.Src, mods)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: checkin-kiosk
Comment: /opt/kiosk/releases/%s/bin/kiosk is built with Go (%s) and links
 the Go standard library and the Go modules named below (its build
 information lists them: go version -m). A module's files are named
 go-modules/PATH/*, as they are in no directory of this package.
`, p.o.Version, goVersion)

	// The project itself.
	name, text, err := readFirst(p.o.Src, licenseFiles...)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		b.WriteString("\nFiles: *\nCopyright: The check-in kiosk authors\nLicense: " + projectLicense + "\n")
		b.WriteString("\nLicense: " + projectLicense + "\n" + paragraphText(
			"The repository has no LICENSE file: no licence to copy, modify or\n"+
				"redistribute this software is granted yet, and all rights are\n"+
				"reserved by its authors.") + "\n")
	case err != nil:
		return err
	default:
		if err := p.writeLicensed(&b, "*", "The check-in kiosk authors", text, "", name); err != nil {
			return err
		}
	}

	// The Go standard library and runtime.
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	_, text, err = readFirst(strings.TrimSpace(string(goroot)), licenseFiles...)
	if err != nil {
		return fmt.Errorf("read the Go distribution's licence: %w", err)
	}
	if err := p.writeLicensed(&b, "go-modules/std/*", "", text, "", "the Go standard library"); err != nil {
		return err
	}

	// The modules the binary links.
	for _, m := range mods {
		dir := dirs[m]
		modPath, _, _ := strings.Cut(m, "@")
		_, text, err := readFirst(dir, licenseFiles...)
		if err != nil {
			return fmt.Errorf("module %s: no licence file: %w", m, err)
		}
		_, notice, err := readFirst(dir, noticeFiles...)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := p.writeLicensed(&b, "go-modules/"+modPath+"/*", "", text, notice, m); err != nil {
			return err
		}
		// go-sqlite3 compiles SQLite's amalgamation into the binary.
		if modPath == "github.com/mattn/go-sqlite3" {
			if _, err := os.Stat(filepath.Join(dir, "sqlite3-binding.c")); err != nil {
				return fmt.Errorf("module %s: no SQLite amalgamation: %w", m, err)
			}
			b.WriteString("\nFiles: go-modules/" + modPath + "/sqlite3-binding.c go-modules/" + modPath + "/sqlite3-binding.h\n" +
				"Copyright: none: D. Richard Hipp and the SQLite developers dedicated SQLite to the public domain\n" +
				"License: public-domain\n" + paragraphText(
				"The author disclaims copyright to this source code. In place of a\n"+
					"legal notice, here is a blessing: May you do good and not evil. May\n"+
					"you find forgiveness for yourself and forgive others. May you share\n"+
					"freely, never taking more than you give. (sqlite.org/copyright.html)") + "\n")
		}
	}

	// Third-party fixtures of the source repository: in no file of the
	// package, named for the record of what the source holds.
	fixtures, err := fixtureLicenses(p.o.Src)
	if err != nil {
		return err
	}
	for _, dir := range fixtures {
		full := filepath.Join(p.o.Src, filepath.FromSlash(dir))
		_, text, err := readFirst(full, licenseFiles...)
		if err != nil {
			return err
		}
		_, notice, err := readFirst(full, noticeFiles...)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := p.writeLicensed(&b, dir+"/*", "", text, notice, dir+" (test data in the source, not in this package)"); err != nil {
			return err
		}
	}
	if apacheUsed(b.String()) {
		b.WriteString("\nLicense: Apache-2.0\n" + paragraphText(
			"On Debian systems, the complete text of the Apache License, Version\n"+
				"2.0, is in /usr/share/common-licenses/Apache-2.0.") + "\n")
	}
	return p.writeFile(docDir+"/copyright", []byte(b.String()), 0o644)
}

// writeLicensed writes the Files paragraph of files under text, a licence
// that must be one identifyLicense knows: a licence nobody has read is
// not one to ship under. what names it in errors and in the paragraph's
// comment.
func (p *pkg) writeLicensed(b *strings.Builder, files, holders, text, notice, what string) error {
	short, ok := identifyLicense(text)
	if !ok {
		return fmt.Errorf("%s: licence not recognised: read it, and teach packaging/mkdeb its name", what)
	}
	if holders == "" {
		holders = strings.Join(copyrightLines(text+"\n"+notice), "\n ")
	}
	if holders == "" {
		holders = "the authors of " + what
	}
	fmt.Fprintf(b, "\nFiles: %s\nCopyright: %s\nLicense: %s\n", files, holders, short)
	if short != "Apache-2.0" {
		b.WriteString(paragraphText(text) + "\n")
	}
	comment := what
	if strings.TrimSpace(notice) != "" {
		comment += "\n\nIts NOTICE:\n\n" + notice
	}
	fmt.Fprintf(b, "Comment: %s\n", strings.TrimPrefix(paragraphText(comment), " "))
	return nil
}

// apacheUsed reports whether a Files paragraph of the copyright file is
// under the Apache licence, whose text is Debian's copy.
func apacheUsed(copyright string) bool { return strings.Contains(copyright, "\nLicense: Apache-2.0\n") }

// identifyLicense names the licence text is, as Debian's copyright format
// names it; ok is false for one it does not know.
func identifyLicense(text string) (short string, ok bool) {
	t := strings.Join(strings.Fields(text), " ")
	switch {
	case strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0"):
		return "Apache-2.0", true
	case strings.Contains(t, "Permission is hereby granted, free of charge"):
		return "Expat", true
	case strings.Contains(t, "Redistribution and use in source and binary forms") && strings.Contains(t, "Neither the name"):
		return "BSD-3-clause", true
	case strings.Contains(t, "Redistribution and use in source and binary forms"):
		return "BSD-2-clause", true
	case strings.Contains(t, "Mozilla Public License Version 2.0"):
		return "MPL-2.0", true
	case strings.Contains(t, "Permission to use, copy, modify, and/or distribute this software for any purpose"):
		return "ISC", true
	}
	return "", false
}

// copyrightRE is a copyright line with a year or a name, not the Apache
// licence's template ("Copyright [yyyy] [name of copyright owner]").
var copyrightRE = regexp.MustCompile(`(?i)^\s*copyright\s+(?:\(c\)\s*|©\s*)?([0-9].*|[A-Z][^[]*)$`)

// copyrightLines are the copyright lines of a licence or notice, each
// once, without the word Copyright.
func copyrightLines(text string) []string {
	var lines []string
	for line := range strings.Lines(text) {
		m := copyrightRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || strings.Contains(line, "[yyyy]") || strings.Contains(strings.ToLower(line), "copyright notice") ||
			strings.Contains(strings.ToLower(line), "copyright owner") || strings.Contains(strings.ToLower(line), "copyright license") {
			continue
		}
		if s := strings.TrimSpace(m[1]); !slices.Contains(lines, s) {
			lines = append(lines, s)
		}
	}
	return lines
}

// paragraphText is text as a field's continuation lines: each line after
// one space, an empty line a lone ".".
func paragraphText(text string) string {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimRight(strings.ReplaceAll(text, "\r", ""), "\n "), "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		line = strings.TrimRight(line, " \t")
		if line == "" {
			line = "."
		}
		b.WriteString(" " + line)
	}
	return b.String()
}

// moduleDirs finds each module's directory in the module cache, with the
// go command (which fetches one the cache lacks, through the module proxy).
func moduleDirs(src string, mods []string) (map[string]string, error) {
	dirs := map[string]string{}
	if len(mods) == 0 {
		return dirs, nil
	}
	cmd := exec.Command("go", append([]string{"mod", "download", "-json"}, mods...)...)
	cmd.Dir = src
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("go mod download: %w\n%s", err, out)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var m struct{ Path, Version, Dir, Error string }
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go mod download: %w", err)
		}
		if m.Error != "" || m.Dir == "" {
			return nil, fmt.Errorf("go mod download %s@%s: %s", m.Path, m.Version, m.Error)
		}
		dirs[m.Path+"@"+m.Version] = m.Dir
	}
	for _, m := range mods {
		if dirs[m] == "" {
			return nil, fmt.Errorf("go mod download: no directory for %s", m)
		}
	}
	return dirs, nil
}

// fixtureLicenses are the directories of the repository, other than its
// root, that hold a licence file: third-party files kept in the source.
func fixtureLicenses(src string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(src, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !slices.Contains(licenseFiles, d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(src, filepath.Dir(f))
		if err != nil || rel == "." {
			return err
		}
		if rel = filepath.ToSlash(rel); !slices.Contains(dirs, rel) {
			dirs = append(dirs, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find the source's licence files: %w", err)
	}
	slices.Sort(dirs)
	return dirs, nil
}
