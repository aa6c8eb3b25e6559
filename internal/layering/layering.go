package layering

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Module is Folio's module path: rule patterns without a dot in their first
// element are relative to it.
const Module = "github.com/foliohq/folio"

// Package is what the rules know of one package.
type Package struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string // direct
	Deps       []string // every package it links, transitively
	Standard   bool
}

// Graph is every package of the module and everything they link.
type Graph map[string]*Package

// Load lists the module's packages in root and all they link (`go list
// -deps`; test files are not part of a binary and are not listed).
func Load(ctx context.Context, root string) (Graph, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-e", "-json=ImportPath,Dir,GoFiles,Imports,Deps,Standard", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("error listing packages: %w: %s", err, stderr.String())
	}
	g := Graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("error reading go list's output: %w", err)
		}
		g[p.ImportPath] = &p
	}
	return g, nil
}

// ImportRule forbids packages matching From (less Except) to link packages
// matching Forbid (less Allow). Patterns are import paths, relative to
// Module when their first element has no dot; a trailing "/..." matches
// the package and everything below it.
type ImportRule struct {
	Name   string
	From   []string
	Except []string
	Forbid []string
	Allow  []string
	// Direct checks only direct imports (a layer's own code), not what
	// they link in turn.
	Direct bool
	Why    string
}

// CheckImports returns one message per package that breaks a rule, naming
// the rule, the forbidden packages it reaches and one path to the first.
func CheckImports(g Graph, rules []ImportRule) []string {
	var out []string
	for _, r := range rules {
		for _, path := range g.sortedModulePackages() {
			if !matchAny(path, r.From) || matchAny(path, r.Except) {
				continue
			}
			p := g[path]
			reach := p.Deps
			if r.Direct {
				reach = p.Imports
			}
			var bad []string
			for _, d := range reach {
				if matchAny(d, r.Forbid) && !matchAny(d, r.Allow) {
					bad = append(bad, d)
				}
			}
			if len(bad) == 0 {
				continue
			}
			// The module's own packages first: they are where to look.
			sort.Slice(bad, func(i, j int) bool {
				mi, mj := strings.HasPrefix(bad[i], Module+"/"), strings.HasPrefix(bad[j], Module+"/")
				if mi != mj {
					return mi
				}
				return bad[i] < bad[j]
			})
			names := make([]string, len(bad))
			for i, b := range bad {
				names[i] = rel(b)
			}
			more := ""
			if len(bad) > 3 {
				more = fmt.Sprintf(" and %d more", len(bad)-3)
				names = names[:3]
			}
			out = append(out, fmt.Sprintf("rule %s: %s links %s%s (%s): %s",
				r.Name, rel(path), strings.Join(names, ", "), more, strings.Join(g.chain(path, bad[0]), " → "), r.Why))
		}
	}
	return out
}

// chain is a shortest import path from one package to another.
func (g Graph) chain(from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for at := to; at != ""; at = prev[at] {
				path = append(path, rel(at))
			}
			slices.Reverse(path)
			return path
		}
		p := g[cur]
		if p == nil {
			continue
		}
		for _, next := range p.Imports {
			if _, seen := prev[next]; !seen {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return []string{rel(from), "…", rel(to)}
}

func (g Graph) sortedModulePackages() []string {
	var list []string
	for path := range g {
		if path == Module || strings.HasPrefix(path, Module+"/") {
			list = append(list, path)
		}
	}
	sort.Strings(list)
	return list
}

// rel shortens a module package's path to its directory.
func rel(path string) string {
	if r, ok := strings.CutPrefix(path, Module+"/"); ok {
		return r
	}
	return path
}

func expand(pattern string) string {
	if pattern == "..." {
		return Module + "/..."
	}
	first, _, _ := strings.Cut(pattern, "/")
	if strings.Contains(first, ".") {
		return pattern
	}
	return Module + "/" + pattern
}

func matchAny(path string, patterns []string) bool {
	for _, pat := range patterns {
		pat = expand(pat)
		if tree, ok := strings.CutSuffix(pat, "/..."); ok {
			if path == tree || strings.HasPrefix(path, tree+"/") {
				return true
			}
		} else if path == pat {
			return true
		}
	}
	return false
}

// sqlTable finds a table named in SQL: after FROM, JOIN, INTO, UPDATE,
// TABLE or TRUNCATE (Folio writes SQL keywords in capitals; words in
// messages are not).
var sqlTable = regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|TABLE|TRUNCATE)\s+(?:ONLY\s+|IF\s+(?:NOT\s+)?EXISTS\s+)?(?:[a-z_]+\.)?([a-z_][a-z0-9_]*)`)

// CheckTables returns one message per string literal, in a module package's
// Go code, whose SQL names a table that package does not own. owners maps
// each table to the package patterns that own it; a table absent from it is
// itself a violation (every table has an owner).
func CheckTables(g Graph, tables []string, owners map[string][]string) ([]string, error) {
	var out []string
	for _, t := range tables {
		if _, ok := owners[t]; !ok {
			out = append(out, fmt.Sprintf("rule table-owners: table %s has no owning package (add it to the owners in internal/layering, with its one home)", t))
		}
	}
	for _, path := range g.sortedModulePackages() {
		p := g[path]
		for _, name := range p.GoFiles {
			file := filepath.Join(p.Dir, name)
			lits, err := stringLiterals(file)
			if err != nil {
				return nil, err
			}
			for _, lit := range lits {
				for _, m := range sqlTable.FindAllStringSubmatch(lit.value, -1) {
					table := m[1]
					own, known := owners[table]
					if !known || matchAny(path, own) {
						continue
					}
					out = append(out, fmt.Sprintf("rule table-owners: %s/%s:%d names table %s, owned by %s: call the owner instead",
						rel(path), name, lit.line, table, strings.Join(own, ", ")))
				}
			}
		}
	}
	return out, nil
}

type literal struct {
	value string
	line  int
}

func stringLiterals(file string) ([]literal, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("error parsing %s: %w", file, err)
	}
	var lits []literal
	ast.Inspect(f, func(n ast.Node) bool {
		if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			if v, err := strconv.Unquote(bl.Value); err == nil {
				lits = append(lits, literal{v, fset.Position(bl.Pos()).Line})
			}
		}
		return true
	})
	return lits, nil
}

// createTable finds the tables the migrations create.
var createTable = regexp.MustCompile(`(?i)\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)`)

// MigrationTables lists the tables created by the SQL files in dir.
func MigrationTables(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range createTable.FindAllSubmatch(b, -1) {
			seen[strings.ToLower(string(m[1]))] = true
		}
	}
	var list []string
	for t := range seen {
		list = append(list, t)
	}
	sort.Strings(list)
	return list, nil
}

// MaxTrackedBytes is the largest file the repository may track: data
// bigger than this is fetched by a script, never committed.
const MaxTrackedBytes = 1 << 20

// binaryMagic are the first bytes of build outputs: executables and
// libraries (ELF, Mach-O, PE), archives and WebAssembly modules.
var binaryMagic = []struct {
	kind  string
	magic []byte
}{
	{"an ELF binary", []byte("\x7fELF")},
	{"a Mach-O binary", []byte{0xcf, 0xfa, 0xed, 0xfe}},
	{"a Mach-O binary", []byte{0xce, 0xfa, 0xed, 0xfe}},
	{"a Mach-O binary", []byte{0xfe, 0xed, 0xfa, 0xcf}},
	{"a Windows executable", []byte("MZ")},
	{"an archive (.a)", []byte("!<arch>\n")},
	{"a WebAssembly module", []byte("\x00asm")},
}

// CheckTracked returns a message per tracked file (paths relative to
// root) that is a build output or over MaxTrackedBytes.
func CheckTracked(root string, files []string) ([]string, error) {
	var out []string
	for _, name := range files {
		path := filepath.Join(root, name)
		info, err := os.Lstat(path)
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet committed
			}
			return nil, err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > MaxTrackedBytes {
			out = append(out, fmt.Sprintf("rule tracked-files: %s is %d bytes, over %d: fetch large data in a script, never commit it", name, info.Size(), MaxTrackedBytes))
		}
		head := make([]byte, 8)
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		n, _ := io.ReadFull(f, head)
		f.Close()
		for _, m := range binaryMagic {
			if bytes.HasPrefix(head[:n], m.magic) {
				out = append(out, fmt.Sprintf("rule tracked-files: %s is %s: build outputs are not tracked (git rm --cached it; .gitignore covers the usual names)", name, m.kind))
				break
			}
		}
	}
	return out, nil
}

// mapName finds a package named in the first column of the package map.
var mapName = regexp.MustCompile("`([^`]+)`")

// CheckPackageMap compares the first column of the table under "## Packages"
// in the architecture document with the module's packages: every package is
// named, and every name is a package or an existing path under root.
func CheckPackageMap(g Graph, root, doc string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(root, doc))
	if err != nil {
		return nil, err
	}
	_, section, ok := strings.Cut(string(b), "\n## Packages\n")
	if !ok {
		return []string{fmt.Sprintf("rule package-map: %s has no \"## Packages\" section", doc)}, nil
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	named := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		for _, m := range mapName.FindAllStringSubmatch(cells[1], -1) {
			named[m[1]] = true
		}
	}
	var out []string
	for _, path := range g.sortedModulePackages() {
		if !named[rel(path)] {
			out = append(out, fmt.Sprintf("rule package-map: package %s is not in %s's package map: add a row saying what it owns and imports", rel(path), doc))
		}
	}
	var names []string
	for n := range named {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if g[expand(n)] != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, n)); err == nil {
			continue // not Go: web/client, localstack, docker-compose.yml…
		}
		out = append(out, fmt.Sprintf("rule package-map: %s names %s, which is neither a package nor a path in the repository", doc, n))
	}
	return out, nil
}
