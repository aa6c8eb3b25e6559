package documents_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
)

// TestSearchCJK: words of scripts written without spaces are found
// wherever their characters follow each other, in order; snippets read as
// the page does, with one mark per matched word.
func TestSearchCJK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc, gen := b.parsing(t)
	texts := []string{
		"Annual report 2025. 本公司年度報告顯示營收成長百分之十二。 Revenue grew twelve percent over the year before, as the tables below show.",
		"東京大学の研究室で、新しいOCRの方法を学びました。",
		"한국어를 배우는 학생이 많습니다.",
		"The quick brown fox.",
	}
	var rows []documents.PageRow
	for i, text := range texts {
		rows = append(rows, documents.PageRow{Number: i + 1, Width: 1, Height: 1, Text: text})
	}
	require.NoError(t, documents.SavePages(ctx, b.db.Pool, doc.ID, gen, rows, len(rows), false))
	_, err := documents.FinishParse(ctx, b.db.Pool, doc.ID, gen, len(rows), documents.Summary{}, nil, nil)
	require.NoError(t, err)

	pages := func(q string) []int {
		t.Helper()
		hits, err := documents.Search(ctx, b.db.Pool, "alice", q, 10)
		require.NoError(t, err)
		var out []int
		for _, h := range hits {
			out = append(out, h.Page)
		}
		return out
	}
	require.Equal(t, []int{1}, pages("營收"), "a word inside a run")
	require.Equal(t, []int{1}, pages("年度報告"))
	require.Empty(t, pages("收營"), "the characters in the query's order")
	require.Equal(t, []int{2}, pages("東京大学 OCR"), "CJK and Latin words together")
	require.Equal(t, []int{2}, pages(`"研究室"`), "quoted")
	require.Equal(t, []int{3}, pages("한국어"), "Hangul: a word with a particle attached")
	require.Empty(t, pages("東京 -研究"), "excluded")
	require.Equal(t, []int{4}, pages("fox"), "Latin words as before")

	hits, err := documents.Search(ctx, b.db.Pool, "alice", "營收", 10)
	require.NoError(t, err)
	require.Contains(t, hits[0].Snippet, "Annual report 2025. 本公司年度報告顯示"+documents.MarkStart+"營收"+documents.MarkStop+"成長百分之十二。 Revenue grew",
		"the page's own spacing, one mark for the word")
}

func TestSearchQueryAndSnippet(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"fox":        "fox",
		"東京":         `"東 京"`,
		"東京 大学 -OCR": `"東 京" "大 学" -OCR`,
		`"東京大学の研究"`:  `"東 京 大 学 の 研 究"`,
		"-營收 or 報告":  `-"營 收" or "報 告"`,
		"한국어 fox":    `"한 국 어" fox`,
	} {
		require.Equal(t, want, documents.SearchQuery(q), q)
	}
	m1, m2 := documents.MarkStart, documents.MarkStop
	require.Equal(t, "a "+m1+"東京"+m2+" b", documents.UnspaceSnippet("a  "+m1+"東"+m2+"  "+m1+"京"+m2+"  b"))
	require.Equal(t, "東 京", documents.UnspaceSnippet(" 東   京 "), "a space that was there stays")
	require.Equal(t, "plain "+m1+"text"+m2, documents.UnspaceSnippet("plain "+m1+"text"+m2))
}

// TestCJKRangesMatchTheMigration: Postgres's folio_search_text spaces out
// exactly the characters Go's cjkRanges holds, at every range's edges.
func TestCJKRangesMatchTheMigration(t *testing.T) {
	t.Parallel()
	db := setup(t).db
	var probes []rune
	for _, r := range documents.CJKRanges.R16 {
		probes = append(probes, rune(r.Lo)-1, rune(r.Lo), rune(r.Hi), rune(r.Hi)+1)
	}
	for _, r := range documents.CJKRanges.R32 {
		probes = append(probes, rune(r.Lo)-1, rune(r.Lo), rune(r.Hi), rune(r.Hi)+1)
	}
	probes = append(probes, 'a', '1', 'é', 'א', 'ا')
	for _, r := range probes {
		var spaced string
		require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT folio_search_text($1)`, string(r)).Scan(&spaced))
		require.Equal(t, documents.IsCJK(r), spaced == " "+string(r)+" ", "U+%04X", r)
	}
}

// TestSearchUsesTheIndex: the search's match expression is the index's,
// so the planner can use pages_search_idx (forced here: the table is tiny).
func TestSearchUsesTheIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t).db
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	_, err = tx.Exec(ctx, `SET LOCAL enable_seqscan = off`)
	require.NoError(t, err)
	require.Contains(t, documents.SearchSQL, searchMatch, "Search matches with the indexed expression")
	rows, err := tx.Query(ctx, `EXPLAIN SELECT page_number FROM pages p WHERE `+searchMatch+"$1::tsquery", "'東' <-> '京'")
	require.NoError(t, err)
	var plan strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	require.Contains(t, plan.String(), "pages_search_idx", plan.String())
}

const searchMatch = "to_tsvector('simple', folio_search_text(p.text)) @@ "
