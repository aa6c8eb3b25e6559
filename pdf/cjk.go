package pdf

import (
	"bytes"
	"compress/flate"
	_ "embed" // cjk.bin
	"encoding/binary"
	"io"
	"sort"
	"strings"
	"sync"
)

// cjk.bin holds Adobe's predefined CJK CMaps and the CID → Unicode tables
// of the Adobe-GB1, -CNS1, -Japan1, -Korea1 and -KR character collections,
// written by internal/gencjk from Debian's poppler-data (Adobe's files,
// BSD 3-Clause). Each entry is decompressed the first time a font needs
// it.
//
//go:embed cjk.bin
var cjkData []byte

type cjkEntry struct {
	kind       byte
	collection string // kind 0: "Adobe-Japan1"
	data       []byte // compressed payload
	once       sync.Once
	cmap       *cidCMap // kind 0
	uni        []string // kind 1: CID → Unicode
}

var (
	cjkOnce    sync.Once
	cjkEntries map[string]*cjkEntry // by CMap name ("90ms-RKSJ-H") and by collection ("Adobe-Japan1")
)

func cjkIndex() map[string]*cjkEntry {
	cjkOnce.Do(func() {
		cjkEntries = map[string]*cjkEntry{}
		r := bytes.NewReader(cjkData)
		magic := make([]byte, len("FOLIOCJK1"))
		if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "FOLIOCJK1" {
			return
		}
		n, _ := binary.ReadUvarint(r)
		for range n {
			name := readBytes(r)
			kind, _ := r.ReadByte()
			data := readBytes(r)
			if name == nil || data == nil {
				return
			}
			e := &cjkEntry{kind: kind, data: data}
			key := string(name)
			if coll, cm, ok := strings.Cut(key, "/"); ok {
				key, e.collection = cm, coll
			}
			cjkEntries[key] = e
		}
	})
	return cjkEntries
}

func readBytes(r *bytes.Reader) []byte {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > uint64(r.Len()) {
		return nil
	}
	b := make([]byte, n)
	_, _ = io.ReadFull(r, b)
	return b
}

func (e *cjkEntry) payload() *bytes.Reader {
	data, err := io.ReadAll(flate.NewReader(bytes.NewReader(e.data)))
	if err != nil {
		return bytes.NewReader(nil)
	}
	return bytes.NewReader(data)
}

// cidCMap maps character codes to CIDs: a predefined CMap or an embedded
// one.
type cidCMap struct {
	wmode  int
	use    *cidCMap // the CMap it uses: where this one maps nothing
	space  []codespace
	ranges []cidRange // sorted by (n, lo)
}

type cidRange struct {
	n           int
	lo, hi, cid uint32
}

// predefinedCMap returns the predefined CMap of that name, or nil.
func predefinedCMap(name string) *cidCMap {
	e := cjkIndex()[name]
	if e == nil || e.kind != 0 {
		return nil
	}
	e.once.Do(func() { e.cmap = decodeCMap(name, e) })
	return e.cmap
}

// decodeCMap reads an encoding CMap entry.
func decodeCMap(name string, e *cjkEntry) *cidCMap {
	r := e.payload()
	c := &cidCMap{}
	wmode, _ := r.ReadByte()
	c.wmode = int(wmode)
	if use := readBytes(r); len(use) > 0 && string(use) != name {
		c.use = predefinedCMap(string(use))
	}
	ns, _ := binary.ReadUvarint(r)
	for range min(ns, 64) {
		n, _ := r.ReadByte()
		lo, _ := binary.ReadUvarint(r)
		hi, _ := binary.ReadUvarint(r)
		c.space = append(c.space, codespace{n: int(n), lo: uint32(lo), hi: uint32(hi)})
	}
	nr, _ := binary.ReadUvarint(r)
	c.ranges = make([]cidRange, 0, min(nr, 1<<17))
	var lo, cid int64
	for range min(nr, 1<<17) {
		n, err := r.ReadByte()
		if err != nil {
			break
		}
		dlo, _ := binary.ReadUvarint(r)
		span, _ := binary.ReadUvarint(r)
		dcid, _ := binary.ReadVarint(r)
		lo += int64(dlo)
		cid += dcid
		c.ranges = append(c.ranges, cidRange{n: int(n), lo: uint32(lo), hi: uint32(lo + int64(span)), cid: uint32(cid)})
	}
	c.inheritSpace()
	return c
}

// inheritSpace gives a CMap without codespace ranges those of the CMap it
// uses (a -V CMap has none of its own).
func (c *cidCMap) inheritSpace() {
	if len(c.space) == 0 && c.use != nil {
		c.space = c.use.space
	}
}

// split cuts s into codes by the codespace ranges.
func (c *cidCMap) split(s []byte) [][]byte {
	return splitCodes(c.space, s, 2)
}

// cid maps one code; ok is false when no range of this CMap (or of the
// ones it uses) holds it.
func (c *cidCMap) cid(code []byte) (uint32, bool) {
	n, v := len(code), be(code)
	for ; c != nil; c = c.use {
		// The last range starting at or before v; ranges may nest (a
		// cidchar inside a cidrange), so look back a little.
		i := sort.Search(len(c.ranges), func(i int) bool {
			r := c.ranges[i]
			return r.n > n || r.n == n && r.lo > v
		})
		for j := i - 1; j >= 0 && j >= i-64; j-- {
			r := c.ranges[j]
			if r.n != n {
				break
			}
			if v <= r.hi {
				return r.cid + (v - r.lo), true
			}
		}
	}
	return 0, false
}

// collectionUnicode returns the CID → Unicode table of an Adobe character
// collection ("Adobe-Japan1"), or nil for one Folio does not know.
func collectionUnicode(collection string) []string {
	e := cjkIndex()[collection]
	if e == nil || e.kind != 1 {
		return nil
	}
	e.once.Do(func() { e.uni = decodeUnicode(e) })
	return e.uni
}

// decodeUnicode reads a collection's CID → Unicode entry.
func decodeUnicode(e *cjkEntry) []string {
	r := e.payload()
	n, _ := binary.ReadUvarint(r)
	type pair struct {
		cid uint32
		s   string
	}
	pairs := make([]pair, 0, min(n, 1<<17))
	var cid uint64
	var runes []rune
	for range min(n, 1<<17) {
		d, err := binary.ReadUvarint(r)
		if err != nil {
			break
		}
		cid += d
		k, _ := binary.ReadUvarint(r)
		runes = runes[:0]
		for range min(k, 16) {
			v, _ := binary.ReadUvarint(r)
			runes = append(runes, rune(v))
		}
		pairs = append(pairs, pair{uint32(cid), string(runes)})
	}
	if len(pairs) == 0 || pairs[len(pairs)-1].cid > 1<<17 {
		return nil
	}
	uni := make([]string, pairs[len(pairs)-1].cid+1)
	for _, p := range pairs {
		uni[p.cid] = p.s
	}
	return uni
}

// embeddedCMap turns a parsed embedded encoding CMap into a code → CID
// map, over the predefined CMap it uses.
func embeddedCMap(c *cmap) *cidCMap {
	out := &cidCMap{space: c.space, ranges: append([]cidRange(nil), c.cids...)}
	if c.use != "" {
		out.use = predefinedCMap(c.use)
	}
	sort.SliceStable(out.ranges, func(i, j int) bool {
		a, b := out.ranges[i], out.ranges[j]
		return a.n < b.n || a.n == b.n && a.lo < b.lo
	})
	out.inheritSpace()
	return out
}

// cmapCollection is the Adobe character collection of a predefined CMap
// ("Adobe-Japan1" for "90ms-RKSJ-H"), or "".
func cmapCollection(name string) string {
	if e := cjkIndex()[name]; e != nil && e.kind == 0 {
		return e.collection
	}
	return ""
}
