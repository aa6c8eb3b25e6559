package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Options bound and steer Inspect.
type Options struct {
	// MaxPages: a document with more pages fails with too_many_pages.
	MaxPages int
	// MaxDecodeBytes bounds one decoded stream (pdfcpu's limit too).
	MaxDecodeBytes int64
	// FirstPage skips the text of pages before it (resuming a parse whose
	// earlier pages are already stored). 0 or 1: from the start.
	FirstPage int
	// Page receives each page, in order, as soon as its text is out. An
	// error stops Inspect and is returned.
	Page func(Page) error
	// Started receives the page count before the first page.
	Started func(pageCount int) error
}

var configOnce sync.Once

// config is pdfcpu's configuration: no config directory (pdfcpu would
// write one, and panic if it cannot), relaxed validation, our limits.
func config(opts Options) *model.Configuration {
	configOnce.Do(api.DisableConfigDir)
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	limits := model.DefaultResourceLimits()
	if opts.MaxDecodeBytes > 0 {
		limits.MaxDecodeBytes = opts.MaxDecodeBytes
		limits.MaxStreamBytes = opts.MaxDecodeBytes
		limits.MaxImageBytes = opts.MaxDecodeBytes
	}
	limits.MaxRecursionDepth = 64
	conf.Limits = limits
	return conf
}

// HasSignature reports whether %PDF- is within the first 1024 bytes.
func HasSignature(head []byte) bool {
	return bytes.Contains(head[:min(len(head), 1024)], []byte("%PDF-"))
}

// Inspect reads the document in data: its structure, metadata and the text
// of every page (delivered through opts.Page).
func Inspect(data []byte, opts Options) (res *Result, err error) {
	if !HasSignature(data) {
		return nil, &Error{Code: "not_pdf", Message: "The file is not a PDF: no %PDF- signature in its first 1024 bytes."}
	}
	// pdfcpu expects the header at offset 0; real files carry junk first
	// (HasSignature found it).
	if i := bytes.Index(data, []byte("%PDF-")); i > 0 {
		data = data[i:]
	}
	conf := config(opts)
	ctx, err := readContext(data, conf)
	if err != nil {
		return nil, err
	}
	o := &objects{x: ctx.XRefTable, maxDecode: conf.Limits.MaxDecodeBytes, fonts: map[int]*font{}}
	res = &Result{Version: ctx.HeaderVersion.String(), Linearized: ctx.Read.Linearized}
	if ctx.RootVersion != nil {
		res.Version = ctx.RootVersion.String()
	}
	root := ctx.RootDict
	if root == nil {
		root = o.dict(ctx.Root)
	}
	if root == nil {
		return nil, &Error{Code: "malformed", Message: "The file has no document catalog."}
	}

	pages, perr := walkPages(o, root)
	if perr != nil {
		return nil, perr
	}
	res.PageCount = len(pages)
	if opts.MaxPages > 0 && len(pages) > opts.MaxPages {
		return nil, &Error{Code: "too_many_pages", Message: fmt.Sprintf("The document has %d pages; the limit is %d.", len(pages), opts.MaxPages)}
	}
	if mi := o.dict(root["MarkInfo"]); mi != nil {
		if b, ok := o.deref(mi["Marked"]).(types.Boolean); ok {
			res.Tagged = bool(b)
		}
	}
	res.Encryption = encryption(ctx.XRefTable)
	res.Metadata = metadata(o, ctx.XRefTable, root)
	pageIndex := make(map[int]int, len(pages))
	for i, p := range pages {
		if p.nr != 0 {
			pageIndex[p.nr] = i + 1
		}
	}
	res.Outline = outline(o, root, pageIndex)
	res.Attachments = attachments(o, root)
	res.FormFields, res.Signatures = formFields(o, root)
	res.Security = securityFlags(o, root, pages, len(res.Attachments) > 0)

	if opts.Started != nil {
		if err := opts.Started(len(pages)); err != nil {
			return nil, err
		}
	}
	for i, p := range pages {
		page := Page{Number: i + 1, Width: p.width, Height: p.height, Rotation: p.rotate}
		if page.Number >= opts.FirstPage {
			text, images, warn := pageText(o, p)
			if len(text) > MaxPageText {
				text = cutText(text, MaxPageText)
				if len(res.Warnings) < 100 {
					res.Warnings = append(res.Warnings, fmt.Sprintf("page %d: its text was cut at %d bytes", page.Number, MaxPageText))
				}
			}
			page.Text = text
			if area := p.width * p.height; area > 0 {
				page.ImageCoverage = min(1, images/area)
			}
			if warn != "" && len(res.Warnings) < 100 {
				res.Warnings = append(res.Warnings, fmt.Sprintf("page %d: %s", page.Number, warn))
			}
		}
		if opts.Page != nil {
			if err := opts.Page(page); err != nil {
				return nil, err
			}
		}
	}
	res.Fonts = fontList(o)
	return res, nil
}

// readContext opens the file with pdfcpu, turning its errors into reasons.
func readContext(data []byte, conf *model.Configuration) (ctx *model.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			ctx, err = nil, &Error{Code: "malformed", Message: fmt.Sprintf("The file could not be read: %v", r)}
		}
	}()
	ctx, err = api.ReadContext(bytes.NewReader(data), conf)
	if err == nil {
		return ctx, nil
	}
	if errors.Is(err, pdfcpu.ErrWrongPassword) {
		return nil, &Error{Code: "encrypted", Message: "The file is encrypted and needs a password to open."}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return nil, &Error{Code: "malformed", Message: "The file is truncated: " + err.Error()}
	}
	return nil, &Error{Code: "malformed", Message: "The file could not be read: " + err.Error()}
}

// pageInfo is a page with what it inherits from the page tree.
type pageInfo struct {
	nr            int // object number (0 when direct)
	dict          types.Dict
	res           types.Dict
	width, height float64
	rotate        int
}

// maxTreeDepth bounds the page tree's depth.
const maxTreeDepth = 64

// walkPages lists the pages in order, each with its inherited resources,
// box and rotation. It trusts no /Count, and refuses cycles.
func walkPages(o *objects, root types.Dict) ([]pageInfo, error) {
	var pages []pageInfo
	seen := map[int]bool{}
	var walk func(ref types.Object, res types.Dict, box []float64, rotate, depth int) error
	walk = func(ref types.Object, res types.Dict, box []float64, rotate, depth int) error {
		if depth > maxTreeDepth {
			return &Error{Code: "malformed", Message: "The page tree is too deep."}
		}
		nr := objNr(ref)
		if nr != 0 {
			if seen[nr] {
				return &Error{Code: "malformed", Message: "The page tree has a cycle."}
			}
			seen[nr] = true
		}
		d := o.dict(ref)
		if d == nil {
			return nil
		}
		if r := o.dict(d["Resources"]); r != nil {
			res = r
		}
		if b := rectOf(o, d["MediaBox"]); b != nil {
			box = b
		}
		if b := rectOf(o, d["CropBox"]); b != nil {
			box = b
		}
		if r, ok := o.num(d["Rotate"]); ok {
			rotate = ((int(r) % 360) + 360) % 360
		}
		kids, hasKids := d.Find("Kids")
		typ := o.name(d["Type"])
		if typ == "Page" || (!hasKids && typ != "Pages") {
			w, h := 612.0, 792.0
			if box != nil {
				w, h = abs(box[2]-box[0]), abs(box[3]-box[1])
			}
			pages = append(pages, pageInfo{nr: nr, dict: d, res: res, width: w, height: h, rotate: rotate})
			if len(pages) > 1_000_000 {
				return &Error{Code: "too_many_pages", Message: "The document has more than a million pages."}
			}
			return nil
		}
		for _, kid := range o.array(kids) {
			if err := walk(kid, res, box, rotate, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	rootPages, ok := root.Find("Pages")
	if !ok {
		return nil, &Error{Code: "malformed", Message: "The file has no page tree."}
	}
	if err := walk(rootPages, nil, nil, 0, 0); err != nil {
		return nil, err
	}
	return pages, nil
}

func rectOf(o *objects, v types.Object) []float64 {
	a := o.array(v)
	if len(a) != 4 {
		return nil
	}
	r := make([]float64, 4)
	for i := range r {
		n, ok := o.num(a[i])
		if !ok {
			return nil
		}
		r[i] = n
	}
	return r
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// pageText extracts one page's text; a page that fails yields what was
// found before the failure and a warning.
// It also returns the area images cover, in square points.
func pageText(o *objects, p pageInfo) (text string, images float64, warning string) {
	e := &extractor{o: o, active: map[int]bool{}}
	defer func() {
		if r := recover(); r != nil {
			images = e.imageArea
			warning = fmt.Sprintf("text extraction stopped: %v", r)
		}
	}()
	content := pageContent(o, p.dict)
	gs := gstate{ctm: identity, th: 1}
	e.run(content, p.res, gs, 0)
	annotations(o, e, p)
	return layout(readingOrder(e.glyphs)), e.imageArea, ""
}

// annotations runs the normal appearance of each visible annotation (form
// fields, free text, stamps), as viewers and pdftotext show them.
func annotations(o *objects, e *extractor, p pageInfo) {
	for i, an := range o.array(p.dict["Annots"]) {
		if i >= 10_000 {
			return
		}
		ad := o.dict(an)
		if ad == nil || o.name(ad["Subtype"]) == "Popup" {
			continue
		}
		if flags, _ := o.num(ad["F"]); int(flags)&(1<<1|1<<5) != 0 { // Hidden, NoView
			continue
		}
		apRef := o.dict(ad["AP"])["N"]
		ap := o.deref(apRef)
		if states, ok := ap.(types.Dict); ok { // appearance states: pick /AS
			apRef = states[o.name(ad["AS"])]
			ap = o.deref(apRef)
		}
		sd, ok := ap.(types.StreamDict)
		if !ok {
			annotationContents(o, e, ad)
			continue
		}
		rect := rectOf(o, ad["Rect"])
		bbox := rectOf(o, sd.Dict["BBox"])
		if rect == nil || bbox == nil {
			continue
		}
		fm := identity
		if m := o.array(sd.Dict["Matrix"]); len(m) == 6 {
			for j := range fm {
				fm[j], _ = o.num(m[j])
			}
		}
		content := o.stream(apRef)
		if content == nil {
			continue
		}
		// Map the transformed BBox onto Rect (ISO 32000 12.5.5).
		bx0, by0, bx1, by1 := transformedBox(fm, bbox)
		if bx1-bx0 < 1e-6 || by1-by0 < 1e-6 {
			continue
		}
		rx0, ry0 := min(rect[0], rect[2]), min(rect[1], rect[3])
		rx1, ry1 := max(rect[0], rect[2]), max(rect[1], rect[3])
		sx, sy := (rx1-rx0)/(bx1-bx0), (ry1-ry0)/(by1-by0)
		a := matrix{sx, 0, 0, sy, rx0 - bx0*sx, ry0 - by0*sy}
		res := o.dict(sd.Dict["Resources"])
		if res == nil {
			res = p.res
		}
		e.run(content, res, gstate{ctm: fm.mul(a), th: 1}, 1)
	}
}

// annotationContents places the text of an annotation that has no
// appearance stream where a viewer that makes one (poppler does) draws it:
// a FreeText annotation's /Contents in its rectangle, line by line, and a
// Line annotation's caption (/Cap true) along the line. Other markup
// annotations show their /Contents only in a pop-up, which is not page
// text.
func annotationContents(o *objects, e *extractor, ad types.Dict) {
	text := o.text(ad["Contents"])
	if strings.TrimSpace(text) == "" {
		return
	}
	size := daFontSize(o.text(ad["DA"]))
	switch o.name(ad["Subtype"]) {
	case "FreeText":
		rect := rectOf(o, ad["Rect"])
		if rect == nil {
			return
		}
		x, top := min(rect[0], rect[2])+2, max(rect[1], rect[3])-2
		for i, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
			e.placeText(line, x, top-size*(0.9+1.15*float64(i)), 1, 0, size)
		}
	case "Line":
		if cap, _ := o.deref(ad["Cap"]).(types.Boolean); !cap {
			return
		}
		l := rectOf(o, ad["L"])
		if l == nil {
			return
		}
		dx, dy := l[2]-l[0], l[3]-l[1]
		n := math.Hypot(dx, dy)
		if n < 1e-6 {
			return
		}
		dx, dy = dx/n, dy/n
		w := 0.5 * size * float64(utf8.RuneCountInString(text)) // about Helvetica's mean advance
		mx, my := (l[0]+l[2])/2-dx*w/2, (l[1]+l[3])/2-dy*w/2
		e.placeText(strings.ReplaceAll(text, "\n", " "), mx-dy*size*0.3, my+dx*size*0.3, dx, dy, size)
	}
}

// daFontSize is the font size a default-appearance string (/DA) sets
// ("/Helv 10 Tf 0 g"): 12 when it sets none or 0 (auto).
func daFontSize(da string) float64 {
	fields := strings.Fields(da)
	for i, f := range fields {
		if f == "Tf" && i > 0 {
			if v, err := strconv.ParseFloat(fields[i-1], 64); err == nil && v > 0 && v < 1000 {
				return v
			}
		}
	}
	return 12
}

func transformedBox(m matrix, b []float64) (x0, y0, x1, y1 float64) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	for _, c := range [][2]float64{{b[0], b[1]}, {b[0], b[3]}, {b[2], b[1]}, {b[2], b[3]}} {
		x, y := m.apply(c[0], c[1])
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
	}
	return
}

// pageContent concatenates a page's content streams.
func pageContent(o *objects, d types.Dict) []byte {
	c, ok := d.Find("Contents")
	if !ok {
		return nil
	}
	if arr := o.array(c); arr != nil {
		var out []byte
		for _, part := range arr {
			out = append(out, o.stream(part)...)
			out = append(out, '\n')
		}
		return out
	}
	return o.stream(c)
}

func fontList(o *objects) []FontInfo {
	var out []FontInfo
	seen := map[string]bool{}
	for nr := range o.fonts {
		d := o.dict(types.IndirectRef{ObjectNumber: types.Integer(nr)})
		if d == nil {
			continue
		}
		fi := FontInfo{Name: o.name(d["BaseFont"]), Type: o.name(d["Subtype"])}
		fd := o.dict(d["FontDescriptor"])
		if fi.Type == "Type0" {
			if desc := o.array(d["DescendantFonts"]); len(desc) > 0 {
				fd = o.dict(o.dict(desc[0])["FontDescriptor"])
			}
		}
		if fd != nil {
			for _, k := range []string{"FontFile", "FontFile2", "FontFile3"} {
				if _, ok := fd.Find(k); ok {
					fi.Embedded = true
				}
			}
		}
		if fi.Type == "Type3" {
			fi.Embedded = true
		}
		key := fi.Name + "\x00" + fi.Type
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func encryption(x *model.XRefTable) *Encryption {
	if x.E == nil {
		return nil
	}
	e := &Encryption{Version: x.E.V, Revision: x.E.R, KeyBits: x.E.L}
	p := uint32(x.E.P)
	perms := []struct {
		bit  uint
		name string
	}{{3, "print"}, {4, "modify"}, {5, "copy"}, {6, "annotate"}, {9, "fill_forms"}, {10, "extract_for_accessibility"}, {11, "assemble"}, {12, "print_high_quality"}}
	for _, pm := range perms {
		if p&(1<<(pm.bit-1)) != 0 {
			e.Permissions = append(e.Permissions, pm.name)
		}
	}
	return e
}

func clean(s string) string {
	return strings.TrimSpace(strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), ""))
}

// MaxPageText bounds one page's text: a hundred times a dense page's. A
// page that draws more (the same word millions of times through nested
// forms) is a file made to cost: its text is cut there, with a warning,
// so that storing and indexing it costs what a real page does.
const MaxPageText = 1 << 20

// cutText cuts s to at most n bytes, at a rune boundary.
func cutText(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
