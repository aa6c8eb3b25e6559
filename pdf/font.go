package pdf

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"strings"

	pdffont "github.com/pdfcpu/pdfcpu/pkg/font"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// font is what text extraction needs of a font: how to cut a string into
// codes, each code's text, and each code's advance width (in text space,
// before the font size).
type font struct {
	composite bool
	cids      *cidCMap // composite: code → CID (nil: Identity, the code is the CID)
	cidText   []string // composite: CID → Unicode of the font's Adobe collection, where known
	toUnicode *cmap
	simple    [256]string // simple fonts: code → text from the encoding
	hasSimple [256]bool
	latin1    bool // symbolic simple font with no usable encoding
	widths    map[uint32]float64
	dw        float64 // default width
	scale     float64 // glyph space → text space (1/1000, or Type3's FontMatrix)
	stdName   string  // a standard-14 font's name, for widths it omits
	type3     types.Dict
	// em scales the font size for word-gap judgment: a Type 3 font's glyph
	// space says nothing of its em, so it is guessed from its glyphs'
	// widths (as pdftotext does); 1 for other fonts.
	em float64
}

var type1Encoding = regexp.MustCompile(`dup\s+(\d+)\s*/([^\s/\[\]{}()<>]+)\s+put`)

// loadFont reads a font dictionary (cached by object number).
func (o *objects) loadFont(ref types.Object) *font {
	nr := objNr(ref)
	if f, ok := o.fonts[nr]; ok && nr != 0 {
		return f
	}
	f := o.readFont(o.dict(ref))
	if nr != 0 {
		o.fonts[nr] = f
	}
	return f
}

func (o *objects) readFont(d types.Dict) *font {
	f := &font{widths: map[uint32]float64{}, scale: 0.001, dw: 0, em: 1}
	if d == nil {
		f.latin1 = true
		f.dw = 500
		return f
	}
	if tu, ok := d.Find("ToUnicode"); ok {
		if data := o.stream(tu); data != nil {
			f.toUnicode = parseCMap(data)
		}
	}
	subtype := o.name(d["Subtype"])
	base := o.name(d["BaseFont"])
	if subtype == "Type0" {
		o.readComposite(f, d)
		return f
	}
	if subtype == "Type3" {
		if fm := o.array(d["FontMatrix"]); len(fm) == 6 {
			if v, ok := o.num(fm[0]); ok && v != 0 {
				f.scale = v
			}
		}
		f.type3 = d
	}
	o.readSimpleEncoding(f, d, subtype, base)
	o.readSimpleWidths(f, d, base)
	if f.type3 != nil {
		f.em = type3Em(f, o.array(d["FontMatrix"]), o)
	}
	return f
}

// type3Em guesses a Type 3 font's em in text space per unit of font size:
// the width of "m" is about 0.6 em, of another letter 0.5, of anything 0.5;
// then the FontMatrix's aspect.
func type3Em(f *font, fm types.Array, o *objects) float64 {
	em := 1.0
	pick := func(ok func(string) bool, share float64) bool {
		for code := 0; code < 256; code++ {
			if !ok(f.simple[code]) {
				continue
			}
			if w, has := f.widths[uint32(code)]; has && w > 0 {
				em = w * math.Abs(f.scale) / share
				return true
			}
		}
		return false
	}
	letter := func(s string) bool { return len(s) == 1 && (s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z') }
	_ = pick(func(s string) bool { return s == "m" }, 0.6) || pick(letter, 0.5) || pick(func(s string) bool { return s != "" }, 0.5)
	if len(fm) == 6 {
		a, _ := o.num(fm[0])
		d, _ := o.num(fm[3])
		if a != 0 {
			em *= math.Abs(d / a)
		}
	}
	return em
}

func (o *objects) readSimpleEncoding(f *font, d types.Dict, subtype, base string) {
	encObj := o.deref(d["Encoding"])
	baseName := ""
	var diffs types.Array
	switch e := encObj.(type) {
	case types.Name:
		baseName = string(e)
	case types.Dict:
		baseName = o.name(e["BaseEncoding"])
		diffs = o.array(e["Differences"])
	}
	table, known := baseEncoding(baseName)
	if !known {
		switch {
		case subtype == "Type3":
			// Only Differences name Type 3 glyphs.
		case subtype == "Type1" && o.type1BuiltIn(f, d):
			known = true
			table = f.simple
		case builtInSymbolic(base) != nil:
			fill(&table, builtInSymbolic(base)[:])
			known = true
		case isSymbolic(o, d):
			f.latin1 = true
		case subtype == "TrueType":
			table, known = baseEncoding("WinAnsiEncoding")
		default:
			table, known = baseEncoding("StandardEncoding")
		}
	}
	if known {
		f.simple = table
		for i := range table {
			f.hasSimple[i] = table[i] != ""
		}
	}
	code := 0
	for _, item := range diffs {
		switch v := o.deref(item).(type) {
		case types.Integer:
			code = int(v)
		case types.Float:
			code = int(v)
		case types.Name:
			// A name nobody knows ("g12" in a subset) keeps what the base
			// encoding says of the code: that is right more often than
			// nothing.
			if code >= 0 && code < 256 {
				if u, known := knownGlyph(string(v)); known {
					f.simple[code] = u
					f.hasSimple[code] = true
				}
			}
			code++
		}
	}
}

// type1BuiltIn reads the built-in encoding from an embedded Type 1 font
// program ("dup 65 /A put" in its clear-text part).
func (o *objects) type1BuiltIn(f *font, d types.Dict) bool {
	fd := o.dict(d["FontDescriptor"])
	if fd == nil {
		return false
	}
	ff, ok := fd.Find("FontFile")
	if !ok {
		return false
	}
	data := o.stream(ff)
	if len(data) == 0 {
		return false
	}
	if i := bytes.Index(data, []byte("eexec")); i > 0 {
		data = data[:i]
	}
	found := false
	for _, m := range type1Encoding.FindAllSubmatch(data, 256) {
		code, err := strconv.Atoi(string(m[1]))
		if err != nil || code < 0 || code > 255 {
			continue
		}
		f.simple[code] = glyphUnicode(string(m[2]))
		found = true
	}
	return found
}

// builtInSymbolic is the built-in encoding of the Symbol and ZapfDingbats
// fonts (and their metric clones), or nil for another font.
func builtInSymbolic(base string) *[256]rune {
	if i := strings.IndexByte(base, '+'); i == 6 {
		base = base[i+1:] // a subset's tag
	}
	base, _, _ = strings.Cut(base, ",")
	switch base {
	case "Symbol", "SymbolMT", "StandardSymL", "StandardSymbolsPS":
		return &symbolEncoding
	case "ZapfDingbats", "ZapfDingbatsITC", "Dingbats", "D050000L":
		return &zapfDingbatsEncoding
	}
	return nil
}

func isSymbolic(o *objects, d types.Dict) bool {
	fd := o.dict(d["FontDescriptor"])
	if fd == nil {
		return false
	}
	flags, _ := o.num(fd["Flags"])
	return int(flags)&4 != 0 && int(flags)&32 == 0
}

func (o *objects) readSimpleWidths(f *font, d types.Dict, base string) {
	first, _ := o.num(d["FirstChar"])
	for i, w := range o.array(d["Widths"]) {
		if v, ok := o.num(w); ok {
			f.widths[uint32(int(first)+i)] = v
		}
	}
	if fd := o.dict(d["FontDescriptor"]); fd != nil {
		if mw, ok := o.num(fd["MissingWidth"]); ok {
			f.dw = mw
		}
	}
	if len(f.widths) == 0 && pdffont.IsCoreFont(base) {
		f.stdName = base
	}
	if f.dw == 0 && f.type3 == nil {
		f.dw = 500
	}
}

// readComposite reads a Type 0 font: its encoding CMap (Identity, one of
// Adobe's predefined CJK CMaps, or embedded), its CIDFont's widths, and,
// for text where the font has no ToUnicode, the CID → Unicode table of
// its Adobe character collection (as poppler does with poppler-data).
func (o *objects) readComposite(f *font, d types.Dict) {
	f.composite = true
	f.dw = 1000
	collection := ""
	switch e := o.deref(d["Encoding"]).(type) {
	case types.Name:
		// Identity-H/V: two-byte codes that are CIDs. A predefined CMap
		// Folio does not carry is read the same way.
		if cm := predefinedCMap(string(e)); cm != nil {
			f.cids = cm
			collection = cmapCollection(string(e))
		}
	case types.StreamDict:
		if data := o.stream(d["Encoding"]); data != nil {
			f.cids = embeddedCMap(parseCMap(data))
			if f.cids.use != nil {
				collection = cmapCollection(o.name(e.Dict["UseCMap"]))
			}
		}
	}
	desc := o.array(d["DescendantFonts"])
	if len(desc) == 0 {
		return
	}
	cid := o.dict(desc[0])
	if cid == nil {
		return
	}
	if f.toUnicode == nil {
		if csi := o.dict(cid["CIDSystemInfo"]); csi != nil && o.text(csi["Registry"]) == "Adobe" {
			if ord := o.text(csi["Ordering"]); ord != "Identity" && ord != "" {
				collection = "Adobe-" + ord
			}
		}
		if collection != "" {
			f.cidText = collectionUnicode(collection)
		}
	}
	if dw, ok := o.num(cid["DW"]); ok {
		f.dw = dw
	}
	w := o.array(cid["W"])
	for i := 0; i < len(w); {
		c1, ok := o.num(w[i])
		if !ok || i+1 >= len(w) {
			break
		}
		if list := o.array(w[i+1]); list != nil {
			for j, v := range list {
				if n, ok := o.num(v); ok {
					f.widths[uint32(int(c1)+j)] = n
				}
			}
			i += 2
			continue
		}
		if i+2 >= len(w) {
			break
		}
		c2, _ := o.num(w[i+1])
		n, _ := o.num(w[i+2])
		if c2-c1 <= 65536 {
			for c := int(c1); c <= int(c2); c++ {
				f.widths[uint32(c)] = n
			}
		}
		i += 3
	}
}

// codes cuts a string shown with the font into character codes.
func (f *font) codes(s []byte) [][]byte {
	if !f.composite {
		out := make([][]byte, len(s))
		for i := range s {
			out[i] = s[i : i+1]
		}
		return out
	}
	switch {
	case f.cids != nil && len(f.cids.space) > 0:
		return f.cids.split(s)
	case f.toUnicode != nil && len(f.toUnicode.space) > 0 && f.toUnicode.space[0].n != 2:
		return f.toUnicode.split(s, 2)
	}
	out := make([][]byte, 0, len(s)/2+1)
	for len(s) >= 2 {
		out = append(out, s[:2])
		s = s[2:]
	}
	if len(s) == 1 {
		out = append(out, s)
	}
	return out
}

// text is the Unicode text of one code ("" when unknown).
func (f *font) text(code []byte) string {
	v := be(code)
	if f.toUnicode != nil {
		if s, ok := f.toUnicode.lookup(len(code), v); ok {
			return s
		}
	}
	if f.composite {
		if cid := f.cid(code); int(cid) < len(f.cidText) {
			return f.cidText[cid]
		}
		return ""
	}
	if f.hasSimple[v] {
		return f.simple[v]
	}
	if f.latin1 || f.type3 != nil {
		if v >= 32 && v != 127 {
			return string(rune(v))
		}
	}
	return ""
}

// cid is a composite font's CID for a code (0, .notdef, if its CMap has
// none).
func (f *font) cid(code []byte) uint32 {
	if f.cids == nil {
		return be(code)
	}
	cid, _ := f.cids.cid(code)
	return cid
}

// width is the advance of one code in text space, before font size and
// horizontal scaling.
func (f *font) width(code []byte) float64 {
	v := be(code)
	if f.composite {
		v = f.cid(code) // a CIDFont's widths are by CID
	}
	if w, ok := f.widths[v]; ok {
		return w * f.scale
	}
	if f.stdName != "" {
		if w, err := pdffont.CharWidth(f.stdName, rune(v)); err == nil {
			return float64(w) * f.scale
		}
	}
	return f.dw * f.scale
}
