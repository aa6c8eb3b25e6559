package pdf

import (
	"encoding/xml"
	"strconv"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

func metadata(o *objects, x *model.XRefTable, root types.Dict) Metadata {
	var m Metadata
	if x.Info != nil {
		info := o.dict(*x.Info)
		m.Title = clean(o.text(info["Title"]))
		m.Author = clean(o.text(info["Author"]))
		m.Subject = clean(o.text(info["Subject"]))
		m.Keywords = clean(o.text(info["Keywords"]))
		m.Creator = clean(o.text(info["Creator"]))
		m.Producer = clean(o.text(info["Producer"]))
		m.CreationDate = pdfDate(o.text(info["CreationDate"]))
		m.ModDate = pdfDate(o.text(info["ModDate"]))
	}
	if md, ok := root.Find("Metadata"); ok {
		if data := o.stream(md); len(data) > 0 {
			m.XMP = parseXMP(data)
		}
	}
	return m
}

// pdfDate parses D:YYYYMMDDHHmmSSOHH'mm' (any tail may be missing) to
// RFC 3339; "" when it does not parse.
func pdfDate(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "D:"))
	if len(s) < 4 {
		return ""
	}
	digits := 0
	for digits < len(s) && digits < 14 && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	if digits < 4 || digits%2 != 0 {
		return ""
	}
	field := func(i, def int) int {
		if 4+2*i+2 > digits {
			return def
		}
		n, _ := strconv.Atoi(s[4+2*i : 4+2*i+2])
		return n
	}
	year, _ := strconv.Atoi(s[:4])
	mon, day, hour, minute, sec := field(0, 1), field(1, 1), field(2, 0), field(3, 0), field(4, 0)
	if mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return ""
	}
	loc := time.UTC
	if tz := strings.TrimSpace(s[digits:]); tz != "" && (tz[0] == '+' || tz[0] == '-') {
		tz = strings.NewReplacer("'", "", ":", "").Replace(tz)
		h, m := 0, 0
		if len(tz) >= 3 {
			h, _ = strconv.Atoi(tz[1:3])
		}
		if len(tz) >= 5 {
			m, _ = strconv.Atoi(tz[3:5])
		}
		off := h*3600 + m*60
		if tz[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	return time.Date(year, time.Month(mon), day, hour, minute, sec, 0, loc).Format(time.RFC3339)
}

// parseXMP picks the key fields from an XMP packet.
func parseXMP(data []byte) *XMP {
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	dec.Strict = false
	var (
		x     XMP
		stack []string
		text  strings.Builder
	)
	within := func(local string) bool {
		for _, s := range stack {
			if s == local {
				return true
			}
		}
		return false
	}
	for i := 0; i < 100_000; i++ {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Space+"|"+t.Name.Local)
			text.Reset()
			for _, a := range t.Attr { // attribute form: <rdf:Description pdf:Producer="…">
				setXMP(&x, a.Name.Space, a.Name.Local, a.Value)
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			if v != "" {
				switch {
				case t.Name.Local == "li" && within("http://purl.org/dc/elements/1.1/|title") && x.Title == "":
					x.Title = v
				case t.Name.Local == "li" && within("http://purl.org/dc/elements/1.1/|creator"):
					x.Creator = append(x.Creator, v)
				case t.Name.Local == "li" && within("http://purl.org/dc/elements/1.1/|description") && x.Description == "":
					x.Description = v
				default:
					setXMP(&x, t.Name.Space, t.Name.Local, v)
				}
			}
			text.Reset()
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if x.Title == "" && len(x.Creator) == 0 && x.Description == "" && x.CreateDate == "" && x.Producer == "" {
		return nil
	}
	return &x
}

func setXMP(x *XMP, space, local, v string) {
	switch {
	case space == "http://ns.adobe.com/xap/1.0/" && local == "CreateDate" && x.CreateDate == "":
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			x.CreateDate = t.Format(time.RFC3339)
		} else {
			x.CreateDate = v
		}
	case space == "http://ns.adobe.com/pdf/1.3/" && local == "Producer" && x.Producer == "":
		x.Producer = v
	}
}

// maxOutlineItems bounds the outline read.
const maxOutlineItems = 10_000

func outline(o *objects, root types.Dict, pageIndex map[int]int) []OutlineItem {
	outlines := o.dict(root["Outlines"])
	if outlines == nil {
		return nil
	}
	seen := map[int]bool{}
	count := 0
	var read func(first types.Object, depth int) []OutlineItem
	read = func(first types.Object, depth int) []OutlineItem {
		var items []OutlineItem
		for ref := first; ref != nil && depth < 32 && count < maxOutlineItems; {
			nr := objNr(ref)
			if nr != 0 {
				if seen[nr] {
					break
				}
				seen[nr] = true
			}
			d := o.dict(ref)
			if d == nil {
				break
			}
			count++
			item := OutlineItem{Title: clean(o.text(d["Title"])), Page: destPage(o, root, d, pageIndex)}
			if kid, ok := d.Find("First"); ok {
				item.Children = read(kid, depth+1)
			}
			items = append(items, item)
			next, ok := d.Find("Next")
			if !ok {
				break
			}
			ref = next
		}
		return items
	}
	first, _ := outlines.Find("First")
	return read(first, 0)
}

// destPage resolves an outline item's target to a page number.
func destPage(o *objects, root, item types.Dict, pageIndex map[int]int) int {
	dest, ok := item.Find("Dest")
	if !ok {
		if a := o.dict(item["A"]); a != nil && o.name(a["S"]) == "GoTo" {
			dest = a["D"]
		}
	}
	for range 4 { // names may name names
		switch d := o.deref(dest).(type) {
		case types.Array:
			if len(d) == 0 {
				return 0
			}
			if n, ok := o.num(d[0]); ok { // remote-style page index
				return int(n) + 1
			}
			return pageIndex[objNr(d[0])]
		case types.Dict:
			dest = d["D"]
		case types.Name:
			dest = namedDest(o, root, string(d))
		case types.StringLiteral, types.HexLiteral:
			dest = namedDest(o, root, rawString(d))
		default:
			return 0
		}
	}
	return 0
}

func namedDest(o *objects, root types.Dict, key string) types.Object {
	if dests := o.dict(root["Dests"]); dests != nil {
		if v, ok := dests.Find(key); ok {
			return v
		}
	}
	names := o.dict(root["Names"])
	if names == nil {
		return nil
	}
	return nameTreeLookup(o, names["Dests"], key, 0)
}

func nameTreeLookup(o *objects, node types.Object, key string, depth int) types.Object {
	d := o.dict(node)
	if d == nil || depth > 32 {
		return nil
	}
	if pairs := o.array(d["Names"]); pairs != nil {
		for i := 0; i+1 < len(pairs); i += 2 {
			if rawString(o.deref(pairs[i])) == key {
				return pairs[i+1]
			}
		}
	}
	for _, kid := range o.array(d["Kids"]) {
		kd := o.dict(kid)
		if lim := o.array(kd["Limits"]); len(lim) == 2 {
			lo, hi := rawString(o.deref(lim[0])), rawString(o.deref(lim[1]))
			if key < lo || key > hi {
				continue
			}
		}
		if v := nameTreeLookup(o, kid, key, depth+1); v != nil {
			return v
		}
	}
	return nil
}

// nameTreeValues lists a name tree's entries (bounded).
func nameTreeValues(o *objects, node types.Object, depth int, out *[][2]types.Object) {
	d := o.dict(node)
	if d == nil || depth > 32 || len(*out) > 10_000 {
		return
	}
	pairs := o.array(d["Names"])
	for i := 0; i+1 < len(pairs); i += 2 {
		*out = append(*out, [2]types.Object{o.deref(pairs[i]), pairs[i+1]})
	}
	for _, kid := range o.array(d["Kids"]) {
		nameTreeValues(o, kid, depth+1, out)
	}
}

func attachments(o *objects, root types.Dict) []Attachment {
	names := o.dict(root["Names"])
	if names == nil {
		return nil
	}
	var entries [][2]types.Object
	nameTreeValues(o, names["EmbeddedFiles"], 0, &entries)
	var out []Attachment
	for _, e := range entries {
		fs := o.dict(e[1])
		a := Attachment{Name: clean(o.text(fs["UF"]))}
		if a.Name == "" {
			a.Name = clean(o.text(fs["F"]))
		}
		if a.Name == "" {
			a.Name = clean(rawString(e[0]))
		}
		if ef := o.dict(fs["EF"]); ef != nil {
			ref := ef["F"]
			if ref == nil {
				ref = ef["UF"]
			}
			if params := o.dict(o.dict(ref)["Params"]); params != nil {
				if n, ok := o.num(params["Size"]); ok {
					a.Size = int64(n)
				}
			}
			if a.Size == 0 {
				if sd, _, err := o.x.DereferenceStreamDict(ref); err == nil && sd != nil && sd.StreamLength != nil {
					a.Size = *sd.StreamLength
				}
			}
		}
		out = append(out, a)
	}
	return out
}

func formFields(o *objects, root types.Dict) (fields int, signed bool) {
	form := o.dict(root["AcroForm"])
	if form == nil {
		return 0, false
	}
	seen := visited{}
	var walk func(v types.Object, depth int)
	walk = func(v types.Object, depth int) {
		if depth > 32 || fields > 100_000 {
			return
		}
		d := seen.dict(o, v)
		if d == nil {
			return
		}
		kids := o.array(d["Kids"])
		terminal := true
		for _, k := range kids {
			if kd := o.dict(k); kd != nil {
				if _, hasT := kd.Find("T"); hasT {
					terminal = false
				}
			}
		}
		if terminal {
			fields++
			if o.name(d["FT"]) == "Sig" {
				if _, ok := d.Find("V"); ok {
					signed = true
				}
			}
			return
		}
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, f := range o.array(form["Fields"]) {
		walk(f, 0)
	}
	return fields, signed
}

func securityFlags(o *objects, root types.Dict, pages []pageInfo, embedded bool) SecurityFlags {
	var f SecurityFlags
	f.EmbeddedFiles = embedded
	if names := o.dict(root["Names"]); names != nil {
		if _, ok := names.Find("JavaScript"); ok {
			f.JavaScript = true
		}
		if _, ok := names.Find("EmbeddedFiles"); ok {
			f.EmbeddedFiles = true
		}
	}
	seen := visited{}
	var action func(v types.Object, depth int)
	action = func(v types.Object, depth int) {
		if depth > 16 {
			return
		}
		d := seen.dict(o, v)
		if d == nil {
			return
		}
		switch o.name(d["S"]) {
		case "JavaScript":
			f.JavaScript = true
		case "Launch":
			f.Launch = true
		case "URI":
			f.URIs++
		}
		next := o.deref(d["Next"])
		if arr, ok := next.(types.Array); ok {
			for _, n := range arr {
				action(n, depth+1)
			}
		} else if next != nil {
			action(d["Next"], depth+1)
		}
	}
	additional := func(v types.Object) {
		aa := o.dict(v)
		if len(aa) == 0 {
			return
		}
		f.AdditionalActions = true
		for _, a := range aa {
			action(a, 0)
		}
	}
	if oa, ok := root.Find("OpenAction"); ok && oa != nil {
		f.OpenAction = true
		if _, isDict := o.deref(oa).(types.Dict); isDict {
			action(oa, 0)
		}
	}
	additional(root["AA"])
	for _, p := range pages {
		additional(p.dict["AA"])
		for _, an := range o.array(p.dict["Annots"]) {
			ad := o.dict(an)
			if ad == nil {
				continue
			}
			if a, ok := ad.Find("A"); ok {
				action(a, 0)
			}
			additional(ad["AA"])
		}
	}
	return f
}

// visited guards walks of object graphs against cycles.
type visited map[int]bool

// dict returns v's dictionary the first time v's object is met, nil after.
func (s visited) dict(o *objects, v types.Object) types.Dict {
	if nr := objNr(v); nr != 0 {
		if s[nr] {
			return nil
		}
		s[nr] = true
	}
	return o.dict(v)
}
