package pdf

import (
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// objects reads pdfcpu objects leniently: a missing or mistyped entry is a
// zero value, never an error, because a reader that gives up on the first
// oddity gives nobody their text.
type objects struct {
	x         *model.XRefTable
	maxDecode int64
	fonts     map[int]*font // by object number
}

func (o *objects) deref(v types.Object) types.Object {
	if v == nil {
		return nil
	}
	r, err := o.x.Dereference(v)
	if err != nil {
		return nil
	}
	return r
}

func (o *objects) dict(v types.Object) types.Dict {
	switch d := o.deref(v).(type) {
	case types.Dict:
		return d
	case types.StreamDict:
		return d.Dict
	}
	return nil
}

func (o *objects) array(v types.Object) types.Array {
	a, _ := o.deref(v).(types.Array)
	return a
}

func (o *objects) num(v types.Object) (float64, bool) {
	switch n := o.deref(v).(type) {
	case types.Integer:
		return float64(n), true
	case types.Float:
		return float64(n), true
	}
	return 0, false
}

func (o *objects) name(v types.Object) string {
	n, _ := o.deref(v).(types.Name)
	return string(n)
}

// stream returns a stream's decoded bytes (nil when it cannot be decoded).
func (o *objects) stream(v types.Object) []byte {
	sd, _, err := o.x.DereferenceStreamDict(v)
	if err != nil || sd == nil {
		return nil
	}
	if sd.Content == nil {
		if err := sd.DecodeWithLimit(o.maxDecode); err != nil {
			return nil
		}
	}
	return sd.Content
}

// objNr is the object number of an indirect reference (0 for a direct
// object).
func objNr(v types.Object) int {
	if r, ok := v.(types.IndirectRef); ok {
		return r.ObjectNumber.Value()
	}
	return 0
}

// text decodes a PDF text string (PDFDocEncoding or UTF-16 with BOM).
func (o *objects) text(v types.Object) string {
	switch s := o.deref(v).(type) {
	case types.Name:
		return string(s)
	case types.StringLiteral, types.HexLiteral:
		return decodeTextString([]byte(rawString(s)))
	}
	return ""
}

// rawString is a string object's bytes ("" for anything else).
func rawString(v types.Object) string {
	switch s := v.(type) {
	case types.StringLiteral:
		if b, err := types.Unescape(string(s)); err == nil {
			return string(b)
		}
	case types.HexLiteral:
		if b, err := s.Bytes(); err == nil {
			return string(b)
		}
	}
	return ""
}
