package pdf

import (
	"bytes"
	"strconv"
)

// The content-stream lexer. It is forgiving: what it cannot make sense of
// it skips, because real files break the rules in small ways and a page
// with one bad token still has text worth having.

// name is a PDF name (/Foo) in a content stream.
type name string

// str is a PDF string: literal or hex, as bytes.
type str []byte

// op is a content-stream operator (Tj, BT, …).
type op string

// array and dict are content-stream composites.
type (
	array []any
	dict  map[string]any
)

// maxNesting bounds arrays and dictionaries nested in a content stream.
const maxNesting = 64

type lexer struct {
	buf []byte
	pos int
}

func isWhite(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.buf) {
		c := l.buf[l.pos]
		switch {
		case isWhite(c):
			l.pos++
		case c == '%':
			for l.pos < len(l.buf) && l.buf[l.pos] != '\n' && l.buf[l.pos] != '\r' {
				l.pos++
			}
		default:
			return
		}
	}
}

// next returns the next object or operator, and false at the end.
func (l *lexer) next() (any, bool) {
	return l.nextDepth(0)
}

func (l *lexer) nextDepth(depth int) (any, bool) {
	l.skipSpace()
	if l.pos >= len(l.buf) {
		return nil, false
	}
	c := l.buf[l.pos]
	switch {
	case c == '(':
		l.pos++
		return l.literal(), true
	case c == '<' && l.pos+1 < len(l.buf) && l.buf[l.pos+1] == '<':
		l.pos += 2
		return l.dict(depth + 1), true
	case c == '<':
		l.pos++
		return l.hex(), true
	case c == '/':
		l.pos++
		return l.name(), true
	case c == '[':
		l.pos++
		return l.array(depth + 1), true
	case c == ']' || c == '>' || c == ')' || c == '{' || c == '}':
		// Stray closers and PostScript braces (Type 4 functions in
		// inline resources): treat as an operator nobody handles.
		l.pos++
		if c == '>' && l.pos < len(l.buf) && l.buf[l.pos] == '>' {
			l.pos++
		}
		return op(string(c)), true
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return l.number(), true
	}
	start := l.pos
	for l.pos < len(l.buf) && !isWhite(l.buf[l.pos]) && !isDelim(l.buf[l.pos]) {
		l.pos++
	}
	word := string(l.buf[start:l.pos])
	switch word {
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	}
	return op(word), true
}

func (l *lexer) number() any {
	start := l.pos
	l.pos++
	for l.pos < len(l.buf) {
		c := l.buf[l.pos]
		if (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' {
			l.pos++
			continue
		}
		break
	}
	s := string(l.buf[start:l.pos])
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// "--5", "1.2.3", "-": keep what parses of it, else 0.
		for i := len(s); i > 0; i-- {
			if f, err = strconv.ParseFloat(s[:i], 64); err == nil {
				return f
			}
		}
		return 0.0
	}
	return f
}

func (l *lexer) literal() str {
	var out []byte
	depth := 1
	for l.pos < len(l.buf) {
		c := l.buf[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\\':
			if l.pos >= len(l.buf) {
				return out
			}
			e := l.buf[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.buf) && l.buf[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			case '0', '1', '2', '3', '4', '5', '6', '7':
				v := int(e - '0')
				for i := 0; i < 2 && l.pos < len(l.buf) && l.buf[l.pos] >= '0' && l.buf[l.pos] <= '7'; i++ {
					v = v*8 + int(l.buf[l.pos]-'0')
					l.pos++
				}
				c = byte(v)
			default:
				c = e
			}
		}
		out = append(out, c)
	}
	return out
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (l *lexer) hex() str {
	var out []byte
	var hi byte
	half := false
	for l.pos < len(l.buf) {
		c := l.buf[l.pos]
		l.pos++
		if c == '>' {
			break
		}
		v, ok := unhex(c)
		if !ok {
			continue
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out
}

func (l *lexer) name() name {
	start := l.pos
	for l.pos < len(l.buf) && !isWhite(l.buf[l.pos]) && !isDelim(l.buf[l.pos]) {
		l.pos++
	}
	raw := l.buf[start:l.pos]
	if bytes.IndexByte(raw, '#') < 0 {
		return name(raw)
	}
	var out []byte
	for i := 0; i < len(raw); i++ {
		if raw[i] == '#' && i+2 < len(raw) {
			h, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if ok1 && ok2 {
				out = append(out, h<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, raw[i])
	}
	return name(out)
}

func (l *lexer) array(depth int) array {
	var out array
	for {
		l.skipSpace()
		if l.pos >= len(l.buf) {
			return out
		}
		if l.buf[l.pos] == ']' {
			l.pos++
			return out
		}
		if depth > maxNesting {
			l.pos++ // refuse to go deeper: skip bytes until the array ends
			continue
		}
		v, ok := l.nextDepth(depth)
		if !ok {
			return out
		}
		if o, isOp := v.(op); isOp && (o == "}" || o == "{") {
			continue
		}
		out = append(out, v)
	}
}

func (l *lexer) dict(depth int) dict {
	out := dict{}
	for {
		l.skipSpace()
		if l.pos >= len(l.buf) {
			return out
		}
		if l.buf[l.pos] == '>' {
			l.pos++
			if l.pos < len(l.buf) && l.buf[l.pos] == '>' {
				l.pos++
			}
			return out
		}
		if depth > maxNesting {
			l.pos++
			continue
		}
		k, ok := l.nextDepth(depth)
		if !ok {
			return out
		}
		key, isName := k.(name)
		if !isName {
			continue
		}
		v, ok := l.nextDepth(depth)
		if !ok {
			return out
		}
		out[string(key)] = v
	}
}

// skipInlineImage moves past the data of an inline image (after ID) to
// just after its EI.
func (l *lexer) skipInlineImage() {
	if l.pos < len(l.buf) && isWhite(l.buf[l.pos]) {
		l.pos++
	}
	for i := l.pos; i+1 < len(l.buf); i++ {
		if l.buf[i] == 'E' && l.buf[i+1] == 'I' &&
			(i == 0 || isWhite(l.buf[i-1])) &&
			(i+2 >= len(l.buf) || isWhite(l.buf[i+2]) || isDelim(l.buf[i+2])) {
			l.pos = i + 2
			return
		}
	}
	l.pos = len(l.buf)
}
