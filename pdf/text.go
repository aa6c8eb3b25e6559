package pdf

import (
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/text/unicode/bidi"
)

// matrix is a PDF transformation [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n (apply m, then n).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) apply(x, y float64) (float64, float64) {
	return x*m[0] + y*m[2] + m[4], x*m[1] + y*m[3] + m[5]
}

func translate(x, y float64) matrix { return matrix{1, 0, 0, 1, x, y} }

type gstate struct {
	ctm                   matrix
	font                  *font
	size                  float64
	tc, tw, th, tl, trise float64
}

// glyph is one shown character code, placed on the page.
type glyph struct {
	text           string
	x0, y0, x1, y1 float64 // start and end of the advance, in page space
	size           float64 // font size in page space
	space          bool    // the code was a word space (single-byte 32)
}

// Limits bound the work of extracting one page's text.
const (
	maxFormDepth  = 12
	maxStackDepth = 256
	maxOperands   = 1 << 16
	maxOpsPerPage = 5_000_000
	maxGlyphs     = 2_000_000
)

type extractor struct {
	o         *objects
	glyphs    []glyph
	imageArea float64 // page-space area of the images drawn
	ops       int
	active    map[int]bool // form XObjects on the current path (cycle guard)
}

// run interprets a content stream with its resources.
func (e *extractor) run(content []byte, res types.Dict, gs gstate, depth int) {
	l := &lexer{buf: content}
	stack := []gstate{}
	tm, tlm := identity, identity
	var operands []any
	fonts := e.o.dict(res["Font"])
	for {
		v, ok := l.next()
		if !ok {
			return
		}
		o, isOp := v.(op)
		if !isOp {
			if len(operands) < maxOperands {
				operands = append(operands, v)
			}
			continue
		}
		e.ops++
		if e.ops > maxOpsPerPage || len(e.glyphs) > maxGlyphs {
			return
		}
		nums := func(n int) ([]float64, bool) {
			if len(operands) < n {
				return nil, false
			}
			out := make([]float64, n)
			for i, x := range operands[len(operands)-n:] {
				f, ok := x.(float64)
				if !ok {
					return nil, false
				}
				out[i] = f
			}
			return out, true
		}
		switch o {
		case "q":
			if len(stack) < maxStackDepth {
				stack = append(stack, gs)
			}
		case "Q":
			if len(stack) > 0 {
				gs, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		case "cm":
			if n, ok := nums(6); ok {
				gs.ctm = matrix(n).mul(gs.ctm)
			}
		case "BT":
			tm, tlm = identity, identity
		case "Tf":
			if len(operands) >= 2 {
				if fn, ok := operands[len(operands)-2].(name); ok {
					if ref, found := fonts.Find(string(fn)); found {
						gs.font = e.o.loadFont(ref)
					} else {
						gs.font = e.o.readFont(nil)
					}
				}
				if sz, ok := operands[len(operands)-1].(float64); ok {
					gs.size = sz
				}
			}
		case "Tc":
			if n, ok := nums(1); ok {
				gs.tc = n[0]
			}
		case "Tw":
			if n, ok := nums(1); ok {
				gs.tw = n[0]
			}
		case "Tz":
			if n, ok := nums(1); ok {
				gs.th = n[0] / 100
			}
		case "TL":
			if n, ok := nums(1); ok {
				gs.tl = n[0]
			}
		case "Ts":
			if n, ok := nums(1); ok {
				gs.trise = n[0]
			}
		case "Td":
			if n, ok := nums(2); ok {
				tlm = translate(n[0], n[1]).mul(tlm)
				tm = tlm
			}
		case "TD":
			if n, ok := nums(2); ok {
				gs.tl = -n[1]
				tlm = translate(n[0], n[1]).mul(tlm)
				tm = tlm
			}
		case "Tm":
			if n, ok := nums(6); ok {
				tlm = matrix(n)
				tm = tlm
			}
		case "T*":
			tlm = translate(0, -gs.tl).mul(tlm)
			tm = tlm
		case "Tj":
			if s, ok := lastString(operands); ok {
				tm = e.show(s, &gs, tm)
			}
		case "'":
			tlm = translate(0, -gs.tl).mul(tlm)
			tm = tlm
			if s, ok := lastString(operands); ok {
				tm = e.show(s, &gs, tm)
			}
		case "\"":
			if len(operands) >= 3 {
				if aw, ok := operands[len(operands)-3].(float64); ok {
					gs.tw = aw
				}
				if ac, ok := operands[len(operands)-2].(float64); ok {
					gs.tc = ac
				}
			}
			tlm = translate(0, -gs.tl).mul(tlm)
			tm = tlm
			if s, ok := lastString(operands); ok {
				tm = e.show(s, &gs, tm)
			}
		case "TJ":
			if len(operands) > 0 {
				if arr, ok := operands[len(operands)-1].(array); ok {
					for _, item := range arr {
						switch it := item.(type) {
						case str:
							tm = e.show(it, &gs, tm)
						case float64:
							tx := -it / 1000 * gs.size * gs.th
							tm = translate(tx, 0).mul(tm)
						}
					}
				}
			}
		case "Do":
			if len(operands) > 0 {
				if xn, ok := operands[len(operands)-1].(name); ok && depth < maxFormDepth {
					e.form(res, string(xn), gs, depth)
				}
			}
		case "ID":
			l.skipInlineImage()
			e.image(gs)
		}
		operands = operands[:0]
	}
}

func lastString(operands []any) (str, bool) {
	if len(operands) == 0 {
		return nil, false
	}
	s, ok := operands[len(operands)-1].(str)
	return s, ok
}

// image counts an image drawn: the unit square through the CTM.
func (e *extractor) image(gs gstate) {
	m := gs.ctm
	e.imageArea += math.Abs(m[0]*m[3] - m[1]*m[2])
}

// form runs a form XObject's content with its own resources and matrix.
func (e *extractor) form(res types.Dict, xname string, gs gstate, depth int) {
	ref, ok := e.o.dict(res["XObject"]).Find(xname)
	if !ok {
		return
	}
	nr := objNr(ref)
	if nr != 0 && e.active[nr] {
		return // a form that draws itself
	}
	d := e.o.dict(ref)
	if e.o.name(d["Subtype"]) == "Image" {
		e.image(gs)
		return
	}
	if e.o.name(d["Subtype"]) != "Form" {
		return
	}
	content := e.o.stream(ref)
	if content == nil {
		return
	}
	if m := e.o.array(d["Matrix"]); len(m) == 6 {
		var fm matrix
		for i := range fm {
			fm[i], _ = e.o.num(m[i])
		}
		gs.ctm = fm.mul(gs.ctm)
	}
	formRes := e.o.dict(d["Resources"])
	if formRes == nil {
		formRes = res
	}
	if nr != 0 {
		e.active[nr] = true
		defer delete(e.active, nr)
	}
	e.run(content, formRes, gs, depth+1)
}

// show places the codes of s and returns the text matrix after them.
func (e *extractor) show(s []byte, gs *gstate, tm matrix) matrix {
	f := gs.font
	if f == nil {
		f = e.o.readFont(nil)
		gs.font = f
	}
	th := gs.th
	for _, code := range f.codes(s) {
		w := f.width(code)
		space := len(code) == 1 && code[0] == 32
		tx := w*gs.size + gs.tc
		if space {
			tx += gs.tw
		}
		tx *= th
		m := tm.mul(gs.ctm)
		x0, y0 := m.apply(0, gs.trise)
		// The glyph's extent excludes character and word spacing (as in
		// pdftotext): producers that space words with Tc leave a gap.
		x1, y1 := m.apply(w*gs.size*th, gs.trise)
		size := math.Abs(gs.size) * math.Hypot(m[2], m[3]) * f.em
		e.glyphs = append(e.glyphs, glyph{text: f.text(code), x0: x0, y0: y0, x1: x1, y1: y1, size: size, space: space})
		tm = translate(tx, 0).mul(tm)
	}
	return tm
}

// placeText adds text that no font shows (an annotation's contents
// without an appearance), starting at (x, y) in page space along the unit
// direction (dx, dy), each character half the size wide.
func (e *extractor) placeText(text string, x, y, dx, dy, size float64) {
	for _, r := range text {
		if len(e.glyphs) >= maxGlyphs {
			return
		}
		adv := 0.5 * size
		e.glyphs = append(e.glyphs, glyph{text: string(r), x0: x, y0: y, x1: x + dx*adv, y1: y + dy*adv, size: size, space: r == ' '})
		x, y = x+dx*adv, y+dy*adv
	}
}

// wordGap is the gap between glyphs, as a fraction of the font size, above
// which a word ends (as pdftotext does).
const wordGap = 0.1

// layout turns placed glyphs into lines of words, in content order, with
// line breaks where the baseline moves.
func layout(glyphs []glyph) string {
	var b strings.Builder
	type line struct {
		started   bool
		dx, dy    float64 // unit direction of the text
		v         float64 // baseline position across the direction
		end       float64 // where the last glyph ended along it
		size      float64
		lastSpace bool
	}
	var cur line
	var page strings.Builder
	newline := func() {
		if cur.started {
			page.WriteString(logicalOrder(b.String()))
			page.WriteByte('\n')
		}
		b.Reset()
		cur = line{}
	}
	for _, g := range glyphs {
		dx, dy := g.x1-g.x0, g.y1-g.y0
		n := math.Hypot(dx, dy)
		if n < 1e-9 {
			dx, dy = cur.dx, cur.dy
			if !cur.started {
				dx, dy = 1, 0
			}
		} else {
			dx, dy = dx/n, dy/n
		}
		size := max(g.size, 1e-6)
		u0 := g.x0*dx + g.y0*dy
		u1 := g.x1*dx + g.y1*dy
		v := -g.x0*dy + g.y0*dx
		blank := g.space || (g.text != "" && strings.TrimFunc(g.text, unicode.IsSpace) == "")
		if cur.started {
			same := math.Abs(dx*cur.dx+dy*cur.dy) > 0.99 &&
				math.Abs(v-cur.v) <= 0.5*max(size, cur.size) &&
				u0 >= cur.end-0.5*max(size, cur.size)
			switch {
			case blank:
				// Spaces are not text: the gap they leave is (as in
				// pdftotext), and one drawn back over a ligature or
				// cancelled by negative word spacing leaves none.
				continue
			case !same:
				newline()
			case u0-cur.end > wordGap*max(size, cur.size) && !cur.lastSpace:
				b.WriteByte(' ')
				cur.lastSpace = true
			}
		} else if blank {
			continue
		}
		if !cur.started {
			cur = line{started: true, dx: dx, dy: dy, v: v, size: size}
		}
		if g.text != "" {
			b.WriteString(expandLigatures(g.text))
			cur.lastSpace = false
		}
		if u1 > cur.end || cur.end == 0 {
			cur.end = u1
		}
		cur.size = size
	}
	newline()
	return tidy(page.String())
}

// tidy trims trailing spaces of lines and drops control characters.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = strings.Map(func(r rune) rune {
			if r == '\t' {
				return ' '
			}
			if unicode.IsControl(r) || r == unicode.ReplacementChar {
				return -1
			}
			return r
		}, l)
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// isRTL reports letters of right-to-left scripts (Hebrew, Arabic, Syriac,
// Thaana and their presentation forms).
func isRTL(r rune) bool {
	return (r >= 0x0590 && r <= 0x08FF) || (r >= 0xFB1D && r <= 0xFDFF) || (r >= 0xFE70 && r <= 0xFEFF)
}

// logicalOrder turns a line drawn in visual order (PDF producers place
// right-to-left text glyph by glyph, as it is seen) into reading order.
// Each character's bidi class (Unicode's, golang.org/x/text/unicode/bidi)
// gives it an embedding level as the Unicode bidi algorithm resolves it
// (W, N and I rules for one paragraph, its direction that of most of its
// strong characters, as pdftotext judges it), and the reordering of rule
// L2 puts the runs back: L2 reverses runs by level, which undoes itself,
// so applied to the visual order it gives the logical one. A left-to-right
// line keeps its order but for its right-to-left runs (a Hebrew word in an
// English sentence); a right-to-left line is read from the right, its
// numbers and Latin words left to right.
func logicalOrder(line string) string {
	if !strings.ContainsFunc(line, isRTL) {
		return line
	}
	rs := []rune(line)
	cls := make([]bidi.Class, len(rs))
	var ltr, rtl int
	for i, r := range rs {
		p, _ := bidi.LookupRune(r)
		cls[i] = p.Class()
		switch cls[i] {
		case bidi.L:
			ltr++
		case bidi.R, bidi.AL:
			rtl++
		}
	}
	base := int8(0)
	if rtl > ltr {
		base = 1
	}
	// W4: a separator between two numbers belongs to them ("1,000.50");
	// W5: currency and percent signs next to a number too.
	for i := 1; i+1 < len(cls); i++ {
		if (cls[i] == bidi.CS || cls[i] == bidi.ES) && cls[i-1] == bidi.EN && cls[i+1] == bidi.EN {
			cls[i] = bidi.EN
		}
	}
	for i := range cls {
		if cls[i] != bidi.ET {
			continue
		}
		j := i
		for j < len(cls) && cls[j] == bidi.ET {
			j++
		}
		if i > 0 && cls[i-1] == bidi.EN || j < len(cls) && cls[j] == bidi.EN {
			for k := i; k < j; k++ {
				cls[k] = bidi.EN
			}
		}
	}
	// Strong direction of each character: numbers read as right-to-left
	// next to right-to-left text (W2, N1), neutrals take the direction of
	// the strong characters on both sides when they agree (N1), else the
	// paragraph's (N2).
	dir := make([]int8, len(rs)) // 0 L, 1 R, -1 neutral
	last := base                 // direction of the last strong character before
	for i, c := range cls {
		switch c {
		case bidi.L:
			dir[i], last = 0, 0
		case bidi.R, bidi.AL:
			dir[i], last = 1, 1
		case bidi.EN, bidi.AN:
			dir[i] = last
			if c == bidi.AN {
				dir[i] = 1
			}
		default:
			dir[i] = -1
		}
	}
	levels := make([]int8, len(rs))
	for i := 0; i < len(rs); {
		if dir[i] >= 0 {
			levels[i] = level(base, dir[i], cls[i])
			i++
			continue
		}
		j := i
		for j < len(rs) && dir[j] < 0 {
			j++
		}
		before, after := base, base
		if i > 0 {
			before = dir[i-1]
		}
		if j < len(rs) {
			after = dir[j]
		}
		d := base
		if before == after {
			d = before
		}
		for k := i; k < j; k++ {
			levels[k] = level(base, d, bidi.ON)
		}
		i = j
	}
	// L2: from the highest level down to the lowest odd one, reverse every
	// run at that level or higher.
	top := slices.Max(levels)
	for lv := top; lv >= 1; lv-- {
		for i := 0; i < len(rs); {
			if levels[i] < lv {
				i++
				continue
			}
			j := i
			for j < len(rs) && levels[j] >= lv {
				j++
			}
			slices.Reverse(rs[i:j])
			i = j
		}
	}
	return string(rs)
}

// level is the embedding level (I1, I2) of a character of direction d
// (0 L, 1 R) and class c in a paragraph of base level base: numbers are
// left-to-right inside right-to-left text.
func level(base, d int8, c bidi.Class) int8 {
	number := c == bidi.EN || c == bidi.AN
	switch {
	case base == 0 && d == 0:
		return 0
	case base == 0 && number:
		return 2
	case base == 0:
		return 1
	case d == 1 && !number:
		return 1
	default:
		return 2
	}
}
