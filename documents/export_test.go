package documents

// Hooks for the external tests of search.
var (
	IsCJK          = isCJK
	CJKRanges      = cjkRanges
	SearchQuery    = searchQuery
	UnspaceSnippet = unspaceSnippet
)

// SearchSQL is Search's query.
const SearchSQL = searchSQL
