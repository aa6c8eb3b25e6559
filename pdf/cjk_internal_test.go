package pdf

import "testing"

// BenchmarkCJKLoad is what a parse child pays the first time a document
// names a large predefined CMap and its collection: decompressing and
// decoding UniJIS-UCS2-H and Adobe-Japan1's CID → Unicode table.
func BenchmarkCJKLoad(b *testing.B) {
	idx := cjkIndex()
	cm, uni := idx["UniJIS-UCS2-H"], idx["Adobe-Japan1"]
	if cm == nil || uni == nil {
		b.Fatal("cjk.bin lacks UniJIS-UCS2-H or Adobe-Japan1")
	}
	for b.Loop() {
		if c := decodeCMap("UniJIS-UCS2-H", cm); len(c.ranges) == 0 {
			b.Fatal("no ranges")
		}
		if u := decodeUnicode(uni); len(u) < 20000 {
			b.Fatal("short table")
		}
	}
}

// TestCJKTables checks the generated CID → Unicode tables (from the
// Adobe-*-UCS2 CMaps) against Adobe's other files: CIDs that the Unicode
// CMaps (UniJIS-UCS2-H and friends) give for these characters, and CID
// 1200 of Adobe-Japan1, JIS X 0208 0x306C (一).
func TestCJKTables(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		collection string
		cid        int
		want       string
	}{
		{"Adobe-Japan1", 34, "A"}, {"Adobe-Japan1", 1200, "一"}, {"Adobe-Japan1", 1908, "言"},
		{"Adobe-GB1", 4559, "中"}, {"Adobe-CNS1", 661, "中"}, {"Adobe-Korea1", 3296, "한"}, {"Adobe-Korea1", 1, " "},
	} {
		u := collectionUnicode(tc.collection)
		if tc.cid >= len(u) || u[tc.cid] != tc.want {
			got := ""
			if tc.cid < len(u) {
				got = u[tc.cid]
			}
			t.Errorf("%s CID %d = %q, want %q", tc.collection, tc.cid, got, tc.want)
		}
	}
	for name, coll := range map[string]string{"90ms-RKSJ-H": "Adobe-Japan1", "UniKS-UTF16-V": "Adobe-Korea1", "ETen-B5-H": "Adobe-CNS1",
		"GBK-EUC-H": "Adobe-GB1", "UniAKR-UTF32-H": "Adobe-KR", "H": "Adobe-Japan1"} {
		if got := cmapCollection(name); got != coll {
			t.Errorf("%s belongs to %q, want %q", name, got, coll)
		}
	}
	if v := predefinedCMap("90ms-RKSJ-V"); v == nil || v.wmode != 1 || v.use == nil || v.use != predefinedCMap("90ms-RKSJ-H") {
		t.Errorf("90ms-RKSJ-V is vertical and uses 90ms-RKSJ-H: %+v", v)
	}
	if predefinedCMap("No-Such-H") != nil || collectionUnicode("Adobe-Identity") != nil {
		t.Error("unknown names give nil")
	}
}
