package pdf

import (
	"math"
	"sort"
)

// Reading order for two-column pages.
//
// Most producers draw a two-column page column by column, and content order
// is then reading order. Some draw it line by line across the page (left
// line, right line, next left line…); read in content order, the columns
// interleave. readingOrder finds a vertical gutter that no text crosses
// except the odd full-width line (a title, a figure caption), and reorders
// the glyphs: between full-width lines, the whole left column, then the
// whole right one. Pages without such a gutter keep content order.

// fragment is a run of glyphs on one baseline without a wide gap.
type fragment struct {
	first, last int // glyph indexes, inclusive
	x0, x1, y   float64
}

func fragments(glyphs []glyph) []fragment {
	var out []fragment
	for i, g := range glyphs {
		if g.text == "" || g.space {
			continue
		}
		if math.Abs(g.y1-g.y0) > 0.01*math.Abs(g.x1-g.x0)+0.01 {
			return nil // rotated or vertical text: leave such pages alone
		}
		x0, x1 := min(g.x0, g.x1), max(g.x0, g.x1)
		if n := len(out); n > 0 {
			f := &out[n-1]
			if math.Abs(g.y0-f.y) <= 0.3*g.size && x0 >= f.x1-0.5*g.size && x0-f.x1 <= 1.5*g.size {
				f.last, f.x1 = i, max(f.x1, x1)
				continue
			}
		}
		out = append(out, fragment{first: i, last: i, x0: x0, x1: x1, y: g.y0})
	}
	return out
}

// readingOrder returns glyphs in reading order (see above).
func readingOrder(glyphs []glyph) []glyph {
	frags := fragments(glyphs)
	if len(frags) < 8 {
		return glyphs
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, f := range frags {
		lo, hi = min(lo, f.x0), max(hi, f.x1)
	}
	width := hi - lo
	if width <= 0 {
		return glyphs
	}
	// The best gutter: a position in the middle half that the fewest
	// fragments cross, with text on both sides.
	best, bestCross := 0.0, len(frags)+1
	for x := lo + 0.25*width; x <= lo+0.75*width; x += max(width/200, 0.5) {
		cross, left, right := 0, 0, 0
		for _, f := range frags {
			switch {
			case f.x0 < x && f.x1 > x:
				cross++
			case f.x1 <= x:
				left++
			default:
				right++
			}
		}
		if left >= len(frags)/5 && right >= len(frags)/5 && cross < bestCross {
			best, bestCross = x, cross
		}
	}
	if bestCross > len(frags)/10 {
		return glyphs
	}
	// Is content order interleaved? Count switches between the columns.
	switches, prev := 0, 0
	for _, f := range frags {
		side := sideOf(f, best)
		if side != 0 && prev != 0 && side != prev {
			switches++
		}
		if side != 0 {
			prev = side
		}
	}
	if switches <= 2 {
		return glyphs // drawn column by column already
	}
	// Bands between full-width fragments, top to bottom; in each, the left
	// column then the right, each in content order.
	type band struct {
		top         float64
		left, right []fragment
		full        *fragment
	}
	var spanning []fragment
	for _, f := range frags {
		if sideOf(f, best) == 0 {
			spanning = append(spanning, f)
		}
	}
	sort.SliceStable(spanning, func(i, j int) bool { return spanning[i].y > spanning[j].y })
	bands := make([]band, len(spanning)+1)
	for i := range spanning {
		bands[i+1].full = &spanning[i]
		bands[i+1].top = spanning[i].y
	}
	bands[0].top = math.Inf(1)
	bandOf := func(y float64) int {
		b := 0
		for i := 1; i < len(bands); i++ {
			if y <= bands[i].top {
				b = i
			}
		}
		return b
	}
	for _, f := range frags {
		side := sideOf(f, best)
		if side == 0 {
			continue
		}
		b := &bands[bandOf(f.y)]
		if side < 0 {
			b.left = append(b.left, f)
		} else {
			b.right = append(b.right, f)
		}
	}
	out := make([]glyph, 0, len(glyphs))
	emit := func(f fragment) { out = append(out, glyphs[f.first:f.last+1]...) }
	for _, b := range bands {
		if b.full != nil {
			emit(*b.full)
		}
		for _, f := range b.left {
			emit(f)
		}
		for _, f := range b.right {
			emit(f)
		}
	}
	return out
}

// sideOf is -1 for a fragment left of the gutter, 1 right, 0 across it.
func sideOf(f fragment, gutter float64) int {
	switch {
	case f.x1 <= gutter:
		return -1
	case f.x0 >= gutter:
		return 1
	}
	return 0
}
