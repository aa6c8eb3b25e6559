package pdf_test

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/tesseract"
)

var (
	ocrScanPages   = flag.Int("ocr-scan-pages", 6, "TestOCRScans: English pages, each scanned upright, turned 90/180/270 and skewed three ways")
	ocrLangPages   = flag.Int("ocr-lang-pages", 4, "TestOCRScans: pages per other language (German, French, Korean)")
	ocrLangsDir    = flag.String("ocr-langs", "", "TestOCRScans: folder with German (de/) and French (fr/) documents (scripts/fetch-corpus.sh fetches them)")
	ocrScanReport  = flag.String("ocr-scans-report", "", "write TestOCRScans's report to this file too")
	ocrDeskewPeers = flag.Bool("ocr-deskew-peers", true, "TestOCRScans: read the skewed pages unstraightened, and straightened by unpaper, too (not with -corpus.quick)")
)

// scanCase is one scanned page to read: its group in the report, the
// languages to read it with, the scan, and the original's text.
type scanCase struct {
	group, name, langs string
	scan               []byte
	reference          string
	// peer: ocrmypdf reads it too (not the English-only reading of a
	// German page, nor the orientation-off reading).
	peer bool
	// off: read with orientation detection off (RotateConfidence 0), the
	// reading before it existed, for the time it adds.
	off bool
	// straighten: how a skewed page is straightened: "" Folio's own,
	// "none" (Tesseract alone), "unpaper" (unpaper's deskew, then
	// Tesseract).
	straighten string
}

// pageScan renders one page of file at 300 dpi (pdftoppm, grey JPEG) and
// returns it with the page's text (pdftotext), when keep accepts it.
func pageScan(t *testing.T, file string, keep func(string) bool) (jpeg []byte, ref string, page int, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, pages, _, err := poppler(ctx, file)
	page = (pages + 1) / 2
	var text []byte
	if err == nil && page > 0 {
		text, err = exec.CommandContext(ctx, "pdftotext", "-q", "-enc", "UTF-8", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), file, "-").Output()
	}
	if err != nil || !keep(string(text)) {
		return nil, "", 0, false
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	jpegs, err := pdftest.PageJPEGs(ctx, data, 300, page)
	if err != nil {
		t.Fatalf("scanning %s: %v", file, err)
	}
	return jpegs[0], string(text), page, true
}

func pdfFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".pdf") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files
}

// wordsIn counts the words of text that are among list.
func wordsIn(text string, list ...string) int {
	n := 0
	for _, w := range strings.Fields(strings.ToLower(text)) {
		for _, l := range list {
			if w == l {
				n++
			}
		}
	}
	return n
}

func countRunes(text string, f func(rune) bool) int {
	n := 0
	for _, r := range text {
		if f(r) {
			n++
		}
	}
	return n
}

func germanProse(text string) bool {
	return prose(text) && wordsIn(text, "der", "die", "und", "das", "ist", "nicht", "mit") >= 10 &&
		countRunes(text, func(r rune) bool { return strings.ContainsRune("äöüßÄÖÜ", r) }) >= 5
}

func frenchProse(text string) bool {
	return prose(text) && wordsIn(text, "le", "la", "les", "des", "est", "une", "pour", "dans") >= 10 &&
		countRunes(text, func(r rune) bool { return strings.ContainsRune("éèêàçùÉ", r) }) >= 10
}

// koreanProse: a page of Korean: 300 Hangul syllables or more, at least
// half its letters, and a reference pdftotext read right. ko.TeX's fonts
// map Latin letters, digits and dots into the Hangul block (U+C928 to
// U+C97F: "ko.TeX" comes out as ko줮쥔쥅쥘), and a page where more than
// one syllable in twenty is from that stretch has a reference no reader
// could match; Korean's own syllables there (쥐, 쥬) are far rarer.
func koreanProse(text string) bool {
	n, mapped := 0, 0
	for _, r := range text {
		if unicode.Is(unicode.Hangul, r) {
			n++
			if r >= 0xC928 && r <= 0xC97F {
				mapped++
			}
		}
	}
	return n >= 300 && 2*n >= countRunes(text, unicode.IsLetter) && 20*mapped <= n
}

// hangul keeps the Hangul of a bag of words (words counts it by
// character): Korean's F1 is per character.
func hangul(ws map[string]int) map[string]int {
	out := map[string]int{}
	for w, n := range ws {
		if r := []rune(w); len(r) == 1 && unicode.Is(unicode.Hangul, r[0]) {
			out[w] = n
		}
	}
	return out
}

// TestOCRScans reads scans as people make them, of real documents nobody
// here wrote: English pages (texlive's) upright, turned 90°, 180° and
// 270° (the pixels, not /Rotate) and skewed by ±1°, ±3° and ±5°; German
// and French pages (texlive-lang-german, -french) read with deu and fra,
// the German ones with eng alone too; Korean pages (texlive-lang-korean)
// read with kor. Each through Folio's OCR and through ocrmypdf
// --rotate-pages --deskew with the same languages, in the same run, one
// page at a time on one thread. It fails when a turned group's mean word
// F1 is more than 0.03 below the same pages upright, a skewed-by-3° group
// more than 0.05 below, German with deu under 0.9 or not above German
// with eng, French with fra under 0.9, or Korean with kor under 0.8
// (Hangul counts by character).
func TestOCRScans(t *testing.T) {
	if *corpusDir == "" {
		t.Skip("no corpus: run `make corpus` (or go test -corpus DIR)")
	}
	tools, err := sandbox.FindOCRTools("eng")
	if err != nil {
		t.Skipf("no OCR here: %v", err)
	}
	if !tools.OSD {
		t.Skip("tesseract has no orientation data (Debian: tesseract-ocr-osd; scripts/install-ocr.sh installs it)")
	}
	for _, l := range []string{"deu", "fra", "kor"} {
		if _, ok := tesseract.Missing(l, tools.Installed); !ok {
			t.Skipf("tesseract has no %s data (scripts/install-ocr.sh installs it)", l)
		}
	}
	ocrmypdf, err := exec.LookPath("ocrmypdf")
	if err != nil && !*corpusQuick {
		t.Skip("no ocrmypdf to compare with (apt-get install ocrmypdf; make corpus does)")
	}
	cases := scanCases(t, tools)

	box := &sandbox.Runner{MemoryLimit: 1 << 30, Timeout: 10 * time.Minute}
	tmp := t.TempDir()
	type result struct {
		ours, theirs       float64
		timeOurs, timeThem time.Duration
		rotation           int
		rotationConf, skew float64
		hasConf, peer, off bool
	}
	groups := map[string][]result{}
	var order []string
	// Warm up, unmeasured: the renderer's compiled WebAssembly, Tesseract's
	// data in the page cache.
	if len(cases) > 0 {
		scan, err := pdftest.Scanned(300, cases[0].scan)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = box.OCR(context.Background(), func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(string(scan))), nil
		}, []int{1}, tools, func(sandbox.OCRPage) error { return nil })
	}
	for i, c := range cases {
		tl := tools
		tl.Languages = c.langs
		if c.off {
			tl.RotateConfidence = 0
		}
		if c.straighten != "" {
			r := result{}
			r.ours, r.timeOurs = readStraightened(t, box, tl, c, tmp)
			if _, ok := groups[c.group]; !ok {
				order = append(order, c.group)
			}
			groups[c.group] = append(groups[c.group], r)
			t.Logf("%s [%s]: F1 %.3f, %.2f s", c.name, c.group, r.ours, r.timeOurs.Seconds())
			continue
		}
		scan, err := pdftest.Scanned(300, c.scan)
		if err != nil {
			t.Fatal(err)
		}
		var p sandbox.OCRPage
		start := time.Now()
		_, err = box.OCR(context.Background(), func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(string(scan))), nil
		}, []int{1}, tl, func(got sandbox.OCRPage) error {
			if got.Code != "" {
				return fmt.Errorf("%s: %s", got.Code, got.Message)
			}
			p = got
			return nil
		})
		r := result{timeOurs: time.Since(start), rotation: p.Rotation, skew: p.Skew, peer: c.peer && !*corpusQuick, off: c.off}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p.RotationConfidence != nil {
			r.rotationConf, r.hasConf = *p.RotationConfidence, true
		}
		score := func(text string) float64 {
			if c.group == groupKorean {
				return f1(hangul(words(text)), hangul(words(c.reference)))
			}
			return f1(words(text), words(c.reference))
		}
		r.ours = score(p.Text)
		if r.peer {
			in, out, side := filepath.Join(tmp, fmt.Sprintf("%d.pdf", i)), filepath.Join(tmp, fmt.Sprintf("%d-ocr.pdf", i)), filepath.Join(tmp, fmt.Sprintf("%d.txt", i))
			if err := os.WriteFile(in, scan, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(context.Background(), ocrmypdf, "-q", "-l", c.langs, "-j", "1", "--optimize", "0",
				"--rotate-pages", "--rotate-pages-threshold", fmt.Sprint(sandbox.DefaultRotateConfidence), "--deskew",
				"--output-type", "pdf", "--sidecar", side, in, out)
			cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
			start = time.Now()
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ocrmypdf %s: %v: %s", c.name, err, b)
			}
			r.timeThem = time.Since(start)
			theirs, err := os.ReadFile(side)
			if err != nil {
				t.Fatal(err)
			}
			r.theirs = score(string(theirs))
		}
		if _, ok := groups[c.group]; !ok {
			order = append(order, c.group)
		}
		groups[c.group] = append(groups[c.group], r)
		asked := "not asked"
		if r.hasConf {
			asked = fmt.Sprintf("confidence %.1f", r.rotationConf)
		}
		t.Logf("%s [%s]: F1 %.3f (ocrmypdf %.3f), turned %d (orientation %s), skew %.2f, %.2f s (ocrmypdf %.2f s)", c.name, c.group, r.ours, r.theirs,
			r.rotation, asked, r.skew, r.timeOurs.Seconds(), r.timeThem.Seconds())
	}

	mean := func(g string) (f, fThem, sec, secThem float64, n int) {
		for _, r := range groups[g] {
			f += r.ours
			fThem += r.theirs
			sec += r.timeOurs.Seconds()
			secThem += r.timeThem.Seconds()
		}
		n = max(len(groups[g]), 1)
		return f / float64(n), fThem / float64(n), sec / float64(n), secThem / float64(n), len(groups[g])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "measured %s on %s (%d cores), %s; %s; %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		cpuModel(), runtime.NumCPU(), runtime.Version(), firstLine(toolVersion(tools.Tesseract, "--version")),
		"ocrmypdf "+strings.TrimSpace(toolVersion(ocrmypdf, "--version")))
	fmt.Fprintf(&b, "Scans as people make them (300 dpi grey JPEG scans of real documents; turned = the pixels, not /Rotate), against the originals' text (pdftotext).\n")
	fmt.Fprintf(&b, "Folio: PDFium render child, own deskew, Tesseract OSD when the first reading is doubtful (turn from confidence %d), sandboxed Tesseract.\n", sandbox.DefaultRotateConfidence)
	fmt.Fprintf(&b, "OSD: pages whose orientation Tesseract was asked for. F1: words; Korean: Hangul letters.\n")
	fmt.Fprintf(&b, "ocrmypdf: --rotate-pages --rotate-pages-threshold %d --deskew -l (the same languages) --sidecar, same pages, same run.\n", sandbox.DefaultRotateConfidence)
	fmt.Fprintf(&b, "%-48s %5s %6s %10s %10s %10s %10s %8s\n", "group", "pages", "OSD", "Folio F1", "ocrmypdf", "Folio s/p", "ocrm s/p", "time ×")
	var sumOurs, sumThem float64
	for _, g := range order {
		f, fThem, sec, secThem, n := mean(g)
		ratio := "-"
		if secThem > 0 {
			ratio = fmt.Sprintf("%.2f", sec/secThem)
			sumOurs += sec * float64(n)
			sumThem += secThem * float64(n)
		}
		them := "-"
		if groups[g][0].peer {
			them = fmt.Sprintf("%.4f", fThem)
		}
		asked := 0
		for _, r := range groups[g] {
			if r.hasConf {
				asked++
			}
		}
		fmt.Fprintf(&b, "%-48s %5d %6d %10.4f %10s %10.2f %10.2f %8s\n", g, n, asked, f, them, sec, secThem, ratio)
	}
	if sumThem > 0 {
		fmt.Fprintf(&b, "every page ocrmypdf read too: Folio's time is %.2fx ocrmypdf's\n", sumOurs/sumThem)
	}
	upright, _, onSec, _, _ := mean(groupUpright)
	_, _, offSec, _, _ := mean(groupUprightOff)
	fmt.Fprintf(&b, "orientation detection and deskew on, upright English pages: %.2f s/page; off (the reading before them): %.2f s/page; %.2fx\n",
		onSec, offSec, onSec/math.Max(offSec, 1e-9))
	t.Log("\n" + b.String())
	if *ocrScanReport != "" {
		if err := os.WriteFile(*ocrScanReport, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, g := range []string{groupTurned + "90°", groupTurned + "180°", groupTurned + "270°"} {
		if f, _, _, _, n := mean(g); n == 0 || f < upright-0.03 {
			t.Errorf("%s: mean word F1 %.4f over %d pages; the bar is within 0.03 of upright (%.4f)", g, f, n, upright)
		}
	}
	if f, _, _, _, n := mean(groupSkewed + "3°"); n == 0 || f < upright-0.05 {
		t.Errorf("skewed 3°: mean word F1 %.4f over %d pages; the bar is within 0.05 of upright (%.4f)", f, n, upright)
	}
	deu, _, _, _, nd := mean(groupGerman)
	deuEng, _, _, _, _ := mean(groupGermanEng)
	if nd == 0 || deu < 0.9 || deu <= deuEng {
		t.Errorf("German: F1 %.4f with deu over %d pages, %.4f with eng; the bar is ≥ 0.9 and above eng", deu, nd, deuEng)
	}
	if f, _, _, _, n := mean(groupFrench); n == 0 || f < 0.9 {
		t.Errorf("French: F1 %.4f with fra over %d pages; the bar is 0.9", f, n)
	}
	if f, _, _, _, n := mean(groupKorean); n == 0 || f < 0.8 {
		t.Errorf("Korean: F1 %.4f (per character) with kor over %d pages; the bar is 0.8", f, n)
	}
}

// readStraightened reads a skewed page as c.straighten says: by Folio's
// OCR without its straightening (Tesseract alone), or by unpaper's deskew
// (every other filter of unpaper off) and then Tesseract on one thread,
// as Folio runs it. It returns the word F1 and the time taken.
func readStraightened(t *testing.T, box *sandbox.Runner, tools sandbox.OCRTools, c scanCase, tmp string) (float64, time.Duration) {
	t.Helper()
	start := time.Now()
	var text string
	switch c.straighten {
	case "none":
		tools.NoDeskew, tools.RotateConfidence = true, 0
		scan, err := pdftest.Scanned(300, c.scan)
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		if _, err := box.OCR(context.Background(), func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(string(scan))), nil
		}, []int{1}, tools, func(p sandbox.OCRPage) error { text = p.Text; return nil }); err != nil {
			t.Fatal(err)
		}
	case "unpaper":
		img, err := jpeg.Decode(strings.NewReader(string(c.scan)))
		if err != nil {
			t.Fatal(err)
		}
		g, ok := img.(*image.Gray)
		if !ok {
			t.Fatalf("the scan is %T, not grey", img)
		}
		in, out := filepath.Join(tmp, "unpaper-in.pgm"), filepath.Join(tmp, "unpaper-out.pgm")
		var pgm strings.Builder
		fmt.Fprintf(&pgm, "P5\n%d %d\n255\n", g.Rect.Dx(), g.Rect.Dy())
		for y := range g.Rect.Dy() {
			pgm.Write(g.Pix[y*g.Stride : y*g.Stride+g.Rect.Dx()])
		}
		if err := os.WriteFile(in, []byte(pgm.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(out)
		start = time.Now()
		cmd := exec.CommandContext(context.Background(), "unpaper", "--overwrite", "--no-blackfilter", "--no-noisefilter", "--no-blurfilter",
			"--no-grayfilter", "--no-mask-scan", "--no-mask-center", "--no-wipe", "--no-border", "--no-border-scan", "--no-border-align", in, out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("unpaper: %v: %s", err, b)
		}
		tess := exec.CommandContext(context.Background(), tools.Tesseract, out, "stdout", "--dpi", "300", "-l", c.langs, "--psm", "3")
		tess.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
		b, err := tess.Output()
		if err != nil {
			t.Fatalf("tesseract: %v", err)
		}
		text = string(b)
	}
	return f1(words(text), words(c.reference)), time.Since(start)
}

const (
	groupUpright    = "English, upright"
	groupUprightOff = "English, upright, orientation off"
	groupTurned     = "English, turned "
	groupSkewed     = "English, skewed ±"
	groupGerman     = "German (deu)"
	groupGermanEng  = "German read with eng only"
	groupFrench     = "French (fra)"
	groupKorean     = "Korean (kor), per Hangul letter"
)

// scanCases makes the pages TestOCRScans reads.
func scanCases(t *testing.T, tools sandbox.OCRTools) []scanCase {
	t.Helper()
	var cases []scanCase
	add := func(group, name, langs string, jpeg []byte, ref string, peer, off bool) {
		cases = append(cases, scanCase{group: group, name: name, langs: langs, scan: jpeg, reference: ref, peer: peer, off: off})
	}
	askew := func(jpeg []byte, turn int, skew float64) []byte {
		out, err := pdftest.Askew(jpeg, turn, skew)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	english := 0
	for _, file := range corpusFiles(t) {
		if english >= *ocrScanPages {
			break
		}
		rel, _ := filepath.Rel(*corpusDir, file)
		if !strings.HasPrefix(rel, "texlive"+string(filepath.Separator)) {
			continue
		}
		jpeg, ref, page, ok := pageScan(t, file, prose)
		if !ok {
			continue
		}
		name := fmt.Sprintf("%s p%d", rel, page)
		add(groupUpright, name, "eng", jpeg, ref, true, false)
		add(groupUprightOff, name, "eng", jpeg, ref, false, true)
		for _, turn := range []int{90, 180, 270} {
			add(fmt.Sprintf("%s%d°", groupTurned, turn), name, "eng", askew(jpeg, turn, 0), ref, true, false)
		}
		sign := float64(1 - 2*(english%2)) // alternate pages tilt the other way
		for _, skew := range []float64{1, 3, 5} {
			tilted := askew(jpeg, 0, sign*skew)
			add(fmt.Sprintf("%s%g°", groupSkewed, skew), fmt.Sprintf("%s (%+g°)", name, sign*skew), "eng", tilted, ref, true, false)
			if *ocrDeskewPeers && !*corpusQuick {
				for _, how := range []string{"none", "unpaper"} {
					cases = append(cases, scanCase{group: fmt.Sprintf("%s%g°, straightened by %s", groupSkewed, skew, how),
						name: fmt.Sprintf("%s (%+g°)", name, sign*skew), langs: "eng", scan: tilted, reference: ref, straighten: how})
				}
			}
			sign = -sign
		}
		english++
	}
	langs := []struct {
		dir, group, langs string
		keep              func(string) bool
	}{
		{filepath.Join(*ocrLangsDir, "de"), groupGerman, "deu", germanProse},
		{filepath.Join(*ocrLangsDir, "fr"), groupFrench, "fra", frenchProse},
		{filepath.Join(*corpusDir, "cjk"), groupKorean, "kor", koreanProse},
	}
	for _, l := range langs {
		if *ocrLangsDir == "" && l.group != groupKorean {
			t.Fatalf("-ocr-langs is not set: the German and French documents are in it (scripts/fetch-corpus.sh)")
		}
		n := 0
		for _, file := range pdfFiles(t, l.dir) {
			if n >= *ocrLangPages {
				break
			}
			// Documents, not one-page samples (texlive-lang-korean's fig/
			// are fonts on show, some of old Hangul).
			jpeg, ref, page, ok := pageScan(t, file, l.keep)
			if ok && page < 2 && l.group == groupKorean {
				ok = false
			}
			if !ok {
				continue
			}
			rel, _ := filepath.Rel(filepath.Dir(l.dir), file)
			name := fmt.Sprintf("%s p%d", rel, page)
			add(l.group, name, l.langs, jpeg, ref, true, false)
			if l.group == groupGerman {
				add(groupGermanEng, name, "eng", jpeg, ref, false, false)
			}
			n++
		}
	}
	return cases
}
