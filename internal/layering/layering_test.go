package layering

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	loadOnce sync.Once
	graph    Graph
	root     string
	loadErr  error
)

// load lists the module's packages once for every test.
func load(t *testing.T) (Graph, string) {
	t.Helper()
	loadOnce.Do(func() {
		var out []byte
		out, loadErr = exec.Command("go", "env", "GOMOD").Output()
		if loadErr != nil {
			return
		}
		root = filepath.Dir(strings.TrimSpace(string(out)))
		graph, loadErr = Load(context.Background(), root)
	})
	require.NoError(t, loadErr)
	return graph, root
}

func requireNone(t *testing.T, violations []string) {
	t.Helper()
	if len(violations) > 0 {
		t.Fatalf("%d violations:\n%s", len(violations), strings.Join(violations, "\n"))
	}
}

func TestImportRules(t *testing.T) {
	t.Parallel()
	g, _ := load(t)
	// The rules name real packages: a pattern that matches nothing is a
	// rule that guards nothing (a renamed package).
	for _, r := range Rules {
		for _, pat := range append(append([]string{}, r.From...), r.Except...) {
			found := false
			for _, path := range g.sortedModulePackages() {
				if matchAny(path, []string{pat}) {
					found = true
					break
				}
			}
			require.True(t, found, "rule %s: %q matches no package", r.Name, pat)
		}
	}
	requireNone(t, CheckImports(g, Rules))
}

func TestTableOwners(t *testing.T) {
	t.Parallel()
	g, root := load(t)
	tables, err := MigrationTables(filepath.Join(root, "migrations"))
	require.NoError(t, err)
	require.Contains(t, tables, "documents")
	violations, err := CheckTables(g, append(tables, RiverTables...), Owners)
	require.NoError(t, err)
	requireNone(t, violations)
}

func TestTrackedFiles(t *testing.T) {
	t.Parallel()
	_, root := load(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing is tracked", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	require.Greater(t, len(files), 100)
	violations, err := CheckTracked(root, files)
	require.NoError(t, err)

	// A new file in a package's directory is not ignored (a pattern meant
	// for a build output, such as /api, once ignored the api package).
	g, _ := load(t)
	var probes []string
	for _, path := range g.sortedModulePackages() {
		probes = append(probes, rel(path)+"/new_file.go")
	}
	cmd := exec.Command("git", "-C", root, "check-ignore", "--no-index", "--stdin")
	cmd.Stdin = strings.NewReader(strings.Join(probes, "\n") + "\n")
	out, err = cmd.Output() // exit status 1: nothing ignored
	if err != nil && cmd.ProcessState.ExitCode() != 1 {
		require.NoError(t, err)
	}
	for _, p := range strings.Fields(string(out)) {
		violations = append(violations, "rule tracked-files: .gitignore ignores new files in "+filepath.Dir(p)+", a package's directory")
	}
	requireNone(t, violations)
}

func TestPackageMap(t *testing.T) {
	t.Parallel()
	g, root := load(t)
	violations, err := CheckPackageMap(g, root, "docs/architecture.md")
	require.NoError(t, err)
	requireNone(t, violations)
}

// TestRulesCatch breaks each rule on purpose and checks that the message
// names the rule and the way the forbidden package is reached.
func TestRulesCatch(t *testing.T) {
	t.Parallel()
	g, _ := load(t)
	// mutate copies the real graph and adds an import from one module
	// package to another package, then recomputes the importer's deps.
	mutate := func(from, to string) Graph {
		c := Graph{}
		for k, p := range g {
			cp := *p
			c[k] = &cp
		}
		from, to = expand(from), expand(to)
		require.NotNil(t, c[from], from)
		require.NotNil(t, c[to], to)
		p := c[from]
		p.Imports = append(append([]string{}, p.Imports...), to)
		// Every package that links from now links to and its deps.
		add := append([]string{to}, c[to].Deps...)
		for _, q := range c {
			if q.ImportPath == from || slices.Contains(q.Deps, from) {
				q.Deps = append(append([]string{}, q.Deps...), add...)
			}
		}
		return c
	}
	cases := []struct {
		rule, from, to, want string
	}{
		{"worker-binary", "jobs", "uploads", "cmd/worker → cmd/internal/worker → jobs → uploads"},
		{"worker-binary", "cmd/internal/worker", "api", "links api, "},
		{"api-binary", "documents", "pdf", "cmd/api → "},
		{"api-binary", "api", "internal/sandbox", "cmd/api → cmd/internal/apiserver → api → internal/sandbox"},
		{"api-layer", "api", "jobs", "api → jobs"},
		{"domain-layer", "documents", "jobs", "documents → jobs"},
		{"lower-layer", "events", "documents", "events → documents"},
		{"parser-layer", "documents", "pdf", "documents → pdf"},
		{"internal-leaves", "internal/config", "documents", "internal/config → documents"},
		{"client-standalone", "client", "events", "client → events"},
		{"commands-on-top", "jobs", "cmd/internal/app", "jobs → cmd/internal/app"},
	}
	for _, c := range cases {
		violations := CheckImports(mutate(c.from, c.to), Rules)
		found := false
		for _, v := range violations {
			if strings.HasPrefix(v, "rule "+c.rule+": ") && strings.Contains(v, c.want) {
				found = true
			}
		}
		require.True(t, found, "%s importing %s: want a %s violation mentioning %q, got:\n%s",
			c.from, c.to, c.rule, c.want, strings.Join(violations, "\n"))
	}

	t.Run("table-owners", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "x.go"), []byte("package api\n\nconst q = `UPDATE documents SET status = 'done'`\n\n"+
			"const msg = \"error reading from documents\" // words, not SQL\n"), 0o600))
		fake := Graph{Module + "/api": {ImportPath: Module + "/api", Dir: dir, GoFiles: []string{"x.go"}}}
		violations, err := CheckTables(fake, []string{"documents", "brand_new"}, Owners)
		require.NoError(t, err)
		require.Len(t, violations, 2, strings.Join(violations, "\n"))
		require.Equal(t, "rule table-owners: table brand_new has no owning package (add it to the owners in internal/layering, with its one home)", violations[0])
		require.Equal(t, "rule table-owners: api/x.go:3 names table documents, owned by documents: call the owner instead", violations[1])
	})

	t.Run("tracked-files", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "folio"), []byte("\x7fELF\x02\x01\x01"), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "big.pdf"), make([]byte, MaxTrackedBytes+1), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.go"), []byte("package ok\n"), 0o600))
		violations, err := CheckTracked(dir, []string{"folio", "big.pdf", "ok.go", "gone.go"})
		require.NoError(t, err)
		require.Len(t, violations, 2, strings.Join(violations, "\n"))
		require.Contains(t, violations[0], "rule tracked-files: folio is an ELF binary")
		require.Contains(t, violations[1], "rule tracked-files: big.pdf is 1048577 bytes")
	})

	t.Run("package-map", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "docs"), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "docs", "a.md"), []byte("# A\n\n## Packages\n\n| package | owns |\n|---|---|\n"+
			"| `api` | HTTP |\n| `gone` | nothing |\n| `docs` | not Go |\n\n## Next\n\n| `events` | not the map |\n"), 0o600))
		fake := Graph{Module + "/api": {ImportPath: Module + "/api"}, Module + "/events": {ImportPath: Module + "/events"}}
		violations, err := CheckPackageMap(fake, dir, "docs/a.md")
		require.NoError(t, err)
		require.Equal(t, []string{
			"rule package-map: package events is not in docs/a.md's package map: add a row saying what it owns and imports",
			"rule package-map: docs/a.md names gone, which is neither a package nor a path in the repository",
		}, violations)
	})
}
