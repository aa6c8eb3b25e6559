package pdf

import (
	"unicode/utf16"
)

// cmap is a parsed CMap: codespace ranges (how to split a string into
// codes) and code → Unicode mappings (ToUnicode).
type cmap struct {
	space  []codespace
	single map[codeKey]string
	ranges []bfrange
	// An encoding CMap (a Type 0 font's embedded /Encoding): code → CID
	// ranges and the predefined CMap it uses.
	cids []cidRange
	use  string
}

type codespace struct {
	n      int // bytes per code
	lo, hi uint32
}

type codeKey struct {
	n    int
	code uint32
}

type bfrange struct {
	n      int
	lo, hi uint32
	base   []uint16 // UTF-16 of the first code; the last unit counts up
	list   []string // or one string per code
}

// maxCMapEntries bounds what one CMap may hold.
const maxCMapEntries = 1 << 17

// parseCMap reads a CMap stream. It never fails: what it cannot read it
// leaves out.
func parseCMap(data []byte) *cmap {
	c := &cmap{single: map[codeKey]string{}}
	l := &lexer{buf: data}
	var operands []any
	entries := 0
	for {
		v, ok := l.next()
		if !ok {
			break
		}
		o, isOp := v.(op)
		if !isOp {
			operands = append(operands, v)
			if len(operands) > 1<<16 {
				operands = operands[:0]
			}
			continue
		}
		switch o {
		case "usecmap":
			if len(operands) > 0 {
				if n, ok := operands[len(operands)-1].(name); ok {
					c.use = string(n)
				}
			}
		case "endcidrange", "endcidchar":
			step := 3
			if o == "endcidchar" {
				step = 2
			}
			for i := 0; i+step-1 < len(operands) && entries < maxCMapEntries; i += step {
				lo, ok1 := operands[i].(str)
				hi := lo
				ok2 := true
				if step == 3 {
					hi, ok2 = operands[i+1].(str)
				}
				cid, ok3 := operands[i+step-1].(float64)
				if !ok1 || !ok2 || !ok3 || len(lo) == 0 || len(lo) > 4 || len(lo) != len(hi) || be(hi) < be(lo) || cid < 0 {
					continue
				}
				c.cids = append(c.cids, cidRange{n: len(lo), lo: be(lo), hi: be(hi), cid: uint32(cid)})
				entries++
			}
		case "endcodespacerange":
			for i := 0; i+1 < len(operands); i += 2 {
				lo, ok1 := operands[i].(str)
				hi, ok2 := operands[i+1].(str)
				if ok1 && ok2 && len(lo) == len(hi) && len(lo) >= 1 && len(lo) <= 4 {
					c.space = append(c.space, codespace{n: len(lo), lo: be(lo), hi: be(hi)})
				}
			}
		case "endbfchar":
			for i := 0; i+1 < len(operands) && entries < maxCMapEntries; i += 2 {
				src, ok1 := operands[i].(str)
				if !ok1 || len(src) == 0 || len(src) > 4 {
					continue
				}
				c.single[codeKey{len(src), be(src)}] = destString(operands[i+1])
				entries++
			}
		case "endbfrange":
			for i := 0; i+2 < len(operands) && entries < maxCMapEntries; i += 3 {
				lo, ok1 := operands[i].(str)
				hi, ok2 := operands[i+1].(str)
				if !ok1 || !ok2 || len(lo) == 0 || len(lo) > 4 || len(lo) != len(hi) || be(hi) < be(lo) {
					continue
				}
				r := bfrange{n: len(lo), lo: be(lo), hi: be(hi)}
				switch d := operands[i+2].(type) {
				case str:
					r.base = utf16Units(d)
					if len(r.base) == 0 {
						continue
					}
				case array:
					for _, item := range d {
						r.list = append(r.list, destString(item))
					}
				default:
					continue
				}
				c.ranges = append(c.ranges, r)
				entries++
			}
		}
		operands = operands[:0]
	}
	return c
}

func be(b []byte) uint32 {
	var v uint32
	for _, x := range b {
		v = v<<8 | uint32(x)
	}
	return v
}

func utf16Units(b []byte) []uint16 {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		units = append(units, uint16(b[i])<<8|uint16(b[i+1]))
	}
	if len(b)%2 == 1 { // a lone byte: take it as a code point of its own
		units = append(units, uint16(b[len(b)-1]))
	}
	return units
}

func destString(v any) string {
	switch d := v.(type) {
	case str:
		return string(utf16.Decode(utf16Units(d)))
	case name:
		return glyphUnicode(string(d))
	}
	return ""
}

// lookup maps one code of n bytes.
func (c *cmap) lookup(n int, code uint32) (string, bool) {
	if s, ok := c.single[codeKey{n, code}]; ok {
		return s, true
	}
	for _, r := range c.ranges {
		if r.n != n || code < r.lo || code > r.hi {
			continue
		}
		off := code - r.lo
		if r.base == nil {
			if int(off) < len(r.list) {
				return r.list[off], true
			}
			return "", false
		}
		units := append([]uint16(nil), r.base...)
		units[len(units)-1] += uint16(off)
		return string(utf16.Decode(units)), true
	}
	return "", false
}

// split cuts s into codes by the codespace ranges, falling back to
// fallback bytes per code where no range matches.
func (c *cmap) split(s []byte, fallback int) [][]byte {
	return splitCodes(c.space, s, fallback)
}

// splitCodes cuts s into codes by codespace ranges, falling back to
// fallback bytes per code where no range matches.
func splitCodes(space []codespace, s []byte, fallback int) [][]byte {
	var out [][]byte
	for len(s) > 0 {
		n := 0
		for _, sp := range space {
			if sp.n <= len(s) {
				v := be(s[:sp.n])
				if v >= sp.lo && v <= sp.hi {
					n = sp.n
					break
				}
			}
		}
		if n == 0 {
			n = min(fallback, len(s))
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}
