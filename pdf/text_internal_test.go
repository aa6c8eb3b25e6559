package pdf

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLogicalOrder gives lines in visual order (as a PDF draws them, left
// to right) and wants them in reading order.
func TestLogicalOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, visual, want string }{
		{"Latin only", "plain text 123", "plain text 123"},
		{"right-to-left", "םולש םלוע", "עולם שלום"},
		{"a Hebrew word in an English line", "The word םולש means peace.", "The word שלום means peace."},
		{"two Hebrew words in an English line", "Say ןושאר בוט to him", "Say טוב ראשון to him"},
		{"a number in a Hebrew line", "םלוע 123 םולש", "שלום 123 עולם"},
		{"a price with separators", "ריחמ 1,250.50 ₪", "₪ 1,250.50 מחיר"},
		{"English words in a Hebrew line", "לומתא Harry Potter תא יתארק", "קראתי את Harry Potter אתמול"},
		{"punctuation stays with its word", ".םלוע ,םולש", "שלום, עולם."},
		{"Arabic", "ملاعلا ابحرم", "مرحبا العالم"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, logicalOrder(tc.visual))
		})
	}
}
