package sandbox

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// page draws a synthetic page of "text": lines of word-sized ink blocks
// with letter-sized gaps, as a scan's lines look to the skew finder.
func page(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for y := h / 10; y+30 < h-h/10; y += 60 { // 30 px of ink, 30 of gap
		for x := w / 10; x < w-w/10; {
			word := 40 + rnd.IntN(120)
			for xx := x; xx < min(x+word, w-w/10); xx++ {
				if (xx/9)%3 == 2 {
					continue // gaps between "letters"
				}
				for yy := y; yy < y+30; yy++ {
					g.Pix[yy*g.Stride+xx] = 0
				}
			}
			x += word + 25
		}
	}
	return g
}

func TestQuarterTurns(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(g.Pix, []uint8{1, 2, 3, 4, 5, 6}) // 1 2 3 / 4 5 6
	want := map[int][]uint8{
		90:  {4, 1, 5, 2, 6, 3}, // 4 1 / 5 2 / 6 3
		180: {6, 5, 4, 3, 2, 1},
		270: {3, 6, 2, 5, 1, 4}, // 3 6 / 2 5 / 1 4
	}
	for turn, pix := range want {
		got := quarterTurn(g, turn)
		if string(got.Pix) != string(pix) {
			t.Errorf("turned %d: %v, want %v", turn, got.Pix, pix)
		}
		if back := quarterTurn(got, 360-turn); string(back.Pix) != string(g.Pix) || back.Bounds() != g.Bounds() {
			t.Errorf("turned %d and back: %v %v", turn, back.Pix, back.Bounds())
		}
	}
}

// TestSkewOfFindsTheTilt: a page tilted either way by up to 5° is found
// within 0.1°, sideways too; straightened, it is level.
func TestSkewOfFindsTheTilt(t *testing.T) {
	level := page(1600, 2000)
	if got := skewOf(level); got != 0 {
		t.Fatalf("a level page: skew %v", got)
	}
	for _, deg := range []float64{-5, -3, -1, 0.5, 1, 3, 5} {
		tilted := straighten(level, -deg) // turned counter-clockwise by deg
		got := skewOf(tilted)
		if math.Abs(got-deg) > 0.1 {
			t.Errorf("tilted %v°: found %v°", deg, got)
		}
		if side := skewOf(quarterTurn(tilted, 90)); math.Abs(side-deg) > 0.1 {
			t.Errorf("tilted %v° and on its side: found %v°", deg, side)
		}
		if after := skewOf(straighten(tilted, got)); math.Abs(after) > 0.1 {
			t.Errorf("tilted %v°, straightened by %v°: still %v°", deg, got, after)
		}
	}
	// A short letter on its side: three lines, tilted by 2°.
	short := page(1600, 2000)
	for i := 400 * short.Stride; i < len(short.Pix); i++ {
		short.Pix[i] = 255
	}
	if got := skewOf(quarterTurn(straighten(short, -2), 90)); math.Abs(got-2) > 0.1 {
		t.Errorf("a short page on its side, tilted 2°: found %v°", got)
	}
	if got := skewOf(image.NewGray(image.Rect(0, 0, 800, 800))); got != 0 {
		t.Errorf("a page of solid ink: %v", got)
	}
}

func TestParseOSD(t *testing.T) {
	out := "Page number: 0\nOrientation in degrees: 90\nRotate: 270\nOrientation confidence: 27.94\nScript: Latin\nScript confidence: 18.67\n"
	turn, conf, ok := parseOSD([]byte(out))
	if !ok || turn != 270 || conf != 27.94 {
		t.Errorf("parseOSD: %d %v %v", turn, conf, ok)
	}
	for _, bad := range []string{"", "Rotate: 45\nOrientation confidence: 3\n", "Rotate: 90\n", "Too few characters. Skipping this page\n"} {
		if _, _, ok := parseOSD([]byte(bad)); ok {
			t.Errorf("parseOSD(%q) is ok", bad)
		}
	}
}

// TestParseTSVCountsWordsOnEnd: words taller than wide (a page on its
// side) are counted; short words are not.
func TestParseTSVCountsWordsOnEnd(t *testing.T) {
	tsv := "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n" +
		"5\t1\t1\t1\t1\t1\t0\t0\t30\t120\t91\tsideways\n" +
		"5\t1\t1\t1\t1\t2\t0\t0\t30\t90\t89\tpage\n" +
		"5\t1\t1\t1\t2\t1\t0\t0\t100\t30\t90\tlevel\n" +
		"5\t1\t1\t1\t2\t2\t0\t0\t10\t30\t95\tof\n"
	r := parseTSV([]byte(tsv))
	if r.words != 3 || r.onEndWords != 2 || !r.onEnd() {
		t.Errorf("words %d, on end %d", r.words, r.onEndWords)
	}
	if r.text != "sideways page\nlevel of" || math.Abs(r.confidence-91.25) > 1e-9 {
		t.Errorf("text %q, confidence %v", r.text, r.confidence)
	}
}
