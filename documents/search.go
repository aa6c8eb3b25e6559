package documents

import (
	"strings"
	"unicode"
)

// cjkRanges are the characters search indexes one by one: Han (with its
// extensions and compatibility ideographs), kana, Bopomofo and Hangul,
// scripts written without spaces between words. Migration 00010's
// folio_search_text uses the same ranges (TestCJKRangesMatchTheMigration).
var cjkRanges = &unicode.RangeTable{R16: []unicode.Range16{
	{Lo: 0x1100, Hi: 0x11ff, Stride: 1}, // Hangul Jamo
	{Lo: 0x3040, Hi: 0x30ff, Stride: 1}, // Hiragana, Katakana
	{Lo: 0x3100, Hi: 0x312f, Stride: 1}, // Bopomofo
	{Lo: 0x3130, Hi: 0x318f, Stride: 1}, // Hangul Compatibility Jamo
	{Lo: 0x31a0, Hi: 0x31ff, Stride: 1}, // Bopomofo Extended, CJK Strokes, Katakana Phonetic Extensions
	{Lo: 0x3400, Hi: 0x4dbf, Stride: 1}, // CJK Extension A
	{Lo: 0x4e00, Hi: 0x9fff, Stride: 1}, // CJK Unified Ideographs
	{Lo: 0xa960, Hi: 0xa97f, Stride: 1}, // Hangul Jamo Extended-A
	{Lo: 0xac00, Hi: 0xd7af, Stride: 1}, // Hangul Syllables
	{Lo: 0xf900, Hi: 0xfaff, Stride: 1}, // CJK Compatibility Ideographs
}, R32: []unicode.Range32{
	{Lo: 0x20000, Hi: 0x3134f, Stride: 1}, // CJK Extensions B to G
}}

func isCJK(r rune) bool { return unicode.Is(cjkRanges, r) }

// searchQuery rewrites a web-search query for the index: a run of CJK
// characters becomes the phrase of its characters (inside quotes already,
// its characters are spaced out), so that "東京" finds 東 followed by 京.
func searchQuery(q string) string {
	if !strings.ContainsFunc(q, isCJK) {
		return q
	}
	var b strings.Builder
	quoted := false
	rs := []rune(q)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r == '"' {
			quoted = !quoted
			b.WriteRune(r)
			continue
		}
		if !isCJK(r) {
			b.WriteRune(r)
			continue
		}
		j := i
		for j < len(rs) && isCJK(rs[j]) {
			j++
		}
		if !quoted {
			b.WriteByte('"')
		}
		for k := i; k < j; k++ {
			if k > i {
				b.WriteByte(' ')
			}
			b.WriteRune(rs[k])
		}
		if !quoted {
			b.WriteByte('"')
		}
		i = j - 1
	}
	return b.String()
}

// unspaceSnippet undoes what folio_search_text did to a headline made from
// it: the space it put on either side of each CJK character goes (past a
// match marker), and marks of adjacent characters merge into one.
func unspaceSnippet(s string) string {
	if !strings.ContainsFunc(s, isCJK) {
		return s
	}
	rs := []rune(s)
	drop := make([]bool, len(rs))
	for i, r := range rs {
		if !isCJK(r) {
			continue
		}
		j := i - 1
		if j >= 0 && string(rs[j]) == MarkStart {
			j--
		}
		if j >= 0 && rs[j] == ' ' && !drop[j] {
			drop[j] = true
		}
		k := i + 1
		if k < len(rs) && string(rs[k]) == MarkStop {
			k++
		}
		if k < len(rs) && rs[k] == ' ' {
			drop[k] = true
		}
	}
	var b strings.Builder
	for i, r := range rs {
		if !drop[i] {
			b.WriteRune(r)
		}
	}
	return strings.ReplaceAll(b.String(), MarkStop+MarkStart, "")
}
