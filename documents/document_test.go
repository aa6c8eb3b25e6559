package documents_test

import (
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
)

// TestOriginalKeyIsSafeAndInjective: whatever a token's subject is, its
// originals stay under one prefix of its own: one safe segment that HTTP
// clients and S3 servers leave alone, different for every owner.
func TestOriginalKeyIsSafeAndInjective(t *testing.T) {
	t.Parallel()
	owners := []string{
		"alice", "Alice", ".", "..", "...", "", " ", "/", "a/b", "a/../b", "../../etc", "%2e", "%2e%2e", "%",
		"a\x00b", "\x00", "a\nb", "ü", "日本語", "\u202Efdp.exe", "a b", "o", "h", "oLg", strings.Repeat("x", 190), strings.Repeat("x", 191), strings.Repeat("x", 256),
		strings.Repeat("x", 257), strings.Repeat("é", 2000), string([]byte{0xff, 0xfe}),
	}
	safe := regexp.MustCompile(`^[oh][A-Za-z0-9_-]*$`)
	id := uuid.Must(uuid.NewV7())
	seen := map[string]string{}
	for _, owner := range owners {
		seg := documents.OwnerSegment(owner)
		require.Regexp(t, safe, seg, "owner %q", owner)
		key := documents.OriginalKey(owner, id)
		require.Equal(t, "originals/"+seg+"/"+id.String(), key)
		require.Equal(t, key, path.Clean(key), "owner %q: nothing a client or server would collapse", owner)
		require.LessOrEqual(t, len(key), 1024, "owner %q: within S3's key length", owner)
		require.LessOrEqual(t, len(seg), 255, "owner %q: a segment a file system holds", owner)
		if other, dup := seen[seg]; dup {
			t.Fatalf("owners %q and %q share the prefix %s", owner, other, seg)
		}
		seen[seg] = owner
	}
}
