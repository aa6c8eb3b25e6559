package api_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryProblemCodeIsDocumented: each code a handler answers with is in
// docs/errors.md, which clients read to handle them.
func TestEveryProblemCodeIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/errors.md")
	require.NoError(t, err)
	sources, err := filepath.Glob("*.go")
	require.NoError(t, err)
	call := regexp.MustCompile(`problem\(http\.\w+,\s*"([a-z_]+)"`)
	seen := 0
	for _, f := range sources {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			seen++
			require.Contains(t, string(doc), "`"+m[1]+"`", "%s: problem code %q is not in docs/errors.md", f, m[1])
		}
	}
	require.Greater(t, seen, 30, "the pattern still finds the handlers' problems")
}
