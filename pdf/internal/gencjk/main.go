// Command gencjk writes pdf/cjk.bin: Adobe's predefined CJK CMaps
// (character code → CID, for composite fonts whose /Encoding names one)
// and each character collection's CID → Unicode table (the
// Adobe-<ordering>-UCS2 CMaps), read from Debian's poppler-data
// (/usr/share/poppler/cMap, Adobe's files under the BSD 3-Clause
// license). Run it with `go generate ./pdf` after
// `apt-get install poppler-data`.
//
// The file is a list of entries, each flate-compressed on its own so that
// a process decompresses only what the fonts it meets name:
//
//	"FOLIOCJK1" uvarint(n) n × { uvarint(len) name, byte kind, uvarint(len) deflate(payload) }
//
// An encoding CMap's name is its collection's, a slash and its own
// ("Adobe-Japan1/90ms-RKSJ-H"); a CID → Unicode table's is the collection's.
//
// kind 0, an encoding CMap: byte wmode, uvarint(len) name of the CMap it
// uses (its mappings apply where this one's do not), uvarint(#spaces)
// {byte n, uvarint lo, uvarint hi}, uvarint(#ranges) {byte n,
// uvarint lo-previous lo, uvarint hi-lo, varint cid-previous cid}, ranges
// sorted by (n, lo).
// kind 1, a collection's CID → Unicode: uvarint(#entries) {uvarint cid-delta, uvarint(#runes) {uvarint rune}}.
package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// collections are the Adobe character collections Folio maps: their
// directory, the UCS2 CMap that gives CID → Unicode, and the predefined
// encoding CMaps kept (PDF 2.0 Table 116, their Unicode UTF-32 siblings,
// and Adobe-KR's).
var collections = []struct {
	dir, ucs2 string
	cmaps     []string
}{
	{"Adobe-GB1", "Adobe-GB1-UCS2", []string{"GB-EUC", "GBpc-EUC", "GBK-EUC", "GBKp-EUC", "GBK2K", "UniGB-UCS2", "UniGB-UTF16", "UniGB-UTF32"}},
	{"Adobe-CNS1", "Adobe-CNS1-UCS2", []string{"B5pc", "HKscs-B5", "ETen-B5", "ETenms-B5", "CNS-EUC", "UniCNS-UCS2", "UniCNS-UTF16", "UniCNS-UTF32"}},
	{"Adobe-Japan1", "Adobe-Japan1-UCS2", []string{"83pv-RKSJ", "90ms-RKSJ", "90msp-RKSJ", "90pv-RKSJ", "Add-RKSJ", "EUC", "Ext-RKSJ", "", "UniJIS-UCS2", "UniJIS-UCS2-HW", "UniJIS-UTF16", "UniJIS-UTF32"}},
	{"Adobe-Korea1", "Adobe-Korea1-UCS2", []string{"KSC-EUC", "KSCms-UHC", "KSCms-UHC-HW", "KSCpc-EUC", "UniKS-UCS2", "UniKS-UTF16", "UniKS-UTF32"}},
	{"Adobe-KR", "Adobe-KR-UCS2", []string{"UniAKR-UTF16", "UniAKR-UTF32"}},
}

type space struct {
	n      int
	lo, hi uint64
}

type cidRange struct {
	n           int
	lo, hi, cid uint64
}

type cmapFile struct {
	wmode  int
	use    string
	spaces []space
	ranges []cidRange
	bf     map[uint64][]rune // UCS2 CMaps: CID → Unicode
}

func main() {
	src := flag.String("src", "/usr/share/poppler/cMap", "poppler-data's cMap directory")
	out := flag.String("o", "cjk.bin", "output file")
	verbose := flag.Bool("v", false, "print each entry's compressed size")
	flag.Parse()

	var buf bytes.Buffer
	var entries []entry
	for _, c := range collections {
		dir := filepath.Join(*src, c.dir)
		for _, base := range c.cmaps {
			for _, wm := range []string{"H", "V"} {
				name := wm
				if base != "" {
					name = base + "-" + wm
				}
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					continue // some exist only as -H
				}
				entries = append(entries, entry{c.dir + "/" + name, 0, encodeCMap(read(filepath.Join(dir, name)))})
			}
		}
		ucs := read(filepath.Join(dir, c.ucs2))
		entries = append(entries, entry{c.dir, 1, encodeUnicode(ucs.bf)})
	}
	buf.WriteString("FOLIOCJK1")
	putUvarint(&buf, uint64(len(entries)))
	for _, e := range entries {
		putUvarint(&buf, uint64(len(e.name)))
		buf.WriteString(e.name)
		buf.WriteByte(e.kind)
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, flate.BestCompression)
		_, _ = w.Write(e.payload)
		_ = w.Close()
		putUvarint(&buf, uint64(z.Len()))
		buf.Write(z.Bytes())
		if *verbose {
			fmt.Printf("%-20s %7d\n", e.name, z.Len())
		}
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("gencjk: %d entries, %d bytes\n", len(entries), buf.Len())
}

type entry struct {
	name    string
	kind    byte
	payload []byte
}

func read(path string) *cmapFile {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	f := &cmapFile{bf: map[uint64][]rune{}}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "%") {
			continue
		}
		fields := strings.Fields(line)
		switch {
		case strings.HasSuffix(line, "begincodespacerange"), strings.HasSuffix(line, "begincidrange"),
			strings.HasSuffix(line, "begincidchar"), strings.HasSuffix(line, "beginbfchar"),
			strings.HasSuffix(line, "beginbfrange"), strings.HasSuffix(line, "beginnotdefrange"):
			section = fields[len(fields)-1]
			continue
		case strings.HasPrefix(line, "end"):
			section = ""
			continue
		case len(fields) == 3 && fields[0] == "/WMode":
			f.wmode, _ = strconv.Atoi(fields[1])
			continue
		case len(fields) == 2 && fields[1] == "usecmap":
			f.use = strings.TrimPrefix(fields[0], "/")
			continue
		}
		switch section {
		case "begincodespacerange":
			n, lo := hex(fields[0])
			_, hi := hex(fields[1])
			f.spaces = append(f.spaces, space{n, lo, hi})
		case "begincidrange":
			n, lo := hex(fields[0])
			_, hi := hex(fields[1])
			cid, _ := strconv.ParseUint(fields[2], 10, 32)
			f.ranges = append(f.ranges, cidRange{n, lo, hi, cid})
		case "begincidchar":
			n, lo := hex(fields[0])
			cid, _ := strconv.ParseUint(fields[1], 10, 32)
			f.ranges = append(f.ranges, cidRange{n, lo, lo, cid})
		case "beginbfchar":
			_, cid := hex(fields[0])
			f.bf[cid] = units(fields[1])
		case "beginbfrange":
			_, lo := hex(fields[0])
			_, hi := hex(fields[1])
			dst := units(fields[2])
			for c := lo; c <= hi; c++ {
				r := append([]rune(nil), dst...)
				r[len(r)-1] += rune(c - lo)
				f.bf[c] = r
			}
		}
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	return f
}

func hex(s string) (int, uint64) {
	s = strings.Trim(s, "<>")
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		log.Fatalf("bad hex %q", s)
	}
	return len(s) / 2, v
}

func units(s string) []rune {
	s = strings.Trim(s, "<>")
	var u []uint16
	for i := 0; i+4 <= len(s); i += 4 {
		v, err := strconv.ParseUint(s[i:i+4], 16, 16)
		if err != nil {
			log.Fatalf("bad UTF-16 %q", s)
		}
		u = append(u, uint16(v))
	}
	return utf16.Decode(u)
}

func encodeCMap(f *cmapFile) []byte {
	var b bytes.Buffer
	b.WriteByte(byte(f.wmode))
	putUvarint(&b, uint64(len(f.use)))
	b.WriteString(f.use)
	putUvarint(&b, uint64(len(f.spaces)))
	for _, s := range f.spaces {
		b.WriteByte(byte(s.n))
		putUvarint(&b, s.lo)
		putUvarint(&b, s.hi)
	}
	sort.SliceStable(f.ranges, func(i, j int) bool {
		if f.ranges[i].n != f.ranges[j].n {
			return f.ranges[i].n < f.ranges[j].n
		}
		return f.ranges[i].lo < f.ranges[j].lo
	})
	putUvarint(&b, uint64(len(f.ranges)))
	prevLo, prevCID := uint64(0), uint64(0)
	for _, r := range f.ranges {
		b.WriteByte(byte(r.n))
		putUvarint(&b, r.lo-prevLo) // sorted: small deltas
		putUvarint(&b, r.hi-r.lo)
		putVarint(&b, int64(r.cid)-int64(prevCID))
		prevLo, prevCID = r.lo, r.cid
	}
	return b.Bytes()
}

func encodeUnicode(bf map[uint64][]rune) []byte {
	cids := make([]uint64, 0, len(bf))
	for c := range bf {
		cids = append(cids, c)
	}
	sort.Slice(cids, func(i, j int) bool { return cids[i] < cids[j] })
	var b bytes.Buffer
	putUvarint(&b, uint64(len(cids)))
	prev := uint64(0)
	for _, c := range cids {
		putUvarint(&b, c-prev)
		prev = c
		putUvarint(&b, uint64(len(bf[c])))
		for _, r := range bf[c] {
			putUvarint(&b, uint64(r))
		}
	}
	return b.Bytes()
}

func putVarint(b *bytes.Buffer, v int64) {
	var tmp [binary.MaxVarintLen64]byte
	b.Write(tmp[:binary.PutVarint(tmp[:], v)])
}

func putUvarint(b *bytes.Buffer, v uint64) {
	var tmp [binary.MaxVarintLen64]byte
	b.Write(tmp[:binary.PutUvarint(tmp[:], v)])
}
