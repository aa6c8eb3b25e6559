package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math"
)

// The image work OCR does between drawing a page and reading it: turning
// a page fed sideways or upside down by quarter turns, and straightening
// a small skew. All of it is on 8-bit grey pages (white 255, ink 0).

// quarterTurn turns g clockwise by deg (0, 90, 180 or 270).
func quarterTurn(g *image.Gray, deg int) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	var out *image.Gray
	switch deg % 360 {
	case 90:
		out = image.NewGray(image.Rect(0, 0, h, w))
		for y := range h {
			row := g.Pix[(y)*g.Stride:]
			for x := range w {
				// (x, y) goes to (h-1-y, x).
				out.Pix[x*out.Stride+h-1-y] = row[x]
			}
		}
	case 180:
		out = image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			row := g.Pix[y*g.Stride:]
			dst := out.Pix[(h-1-y)*out.Stride:]
			for x := range w {
				dst[w-1-x] = row[x]
			}
		}
	case 270:
		out = image.NewGray(image.Rect(0, 0, h, w))
		for y := range h {
			row := g.Pix[y*g.Stride:]
			for x := range w {
				// (x, y) goes to (y, w-1-x).
				out.Pix[(w-1-x)*out.Stride+y] = row[x]
			}
		}
	default:
		return g
	}
	return out
}

// halve makes g half as wide and high, each pixel the mean of four.
func halve(g *image.Gray) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx()/2, b.Dy()/2
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		r0, r1 := g.Pix[2*y*g.Stride:], g.Pix[(2*y+1)*g.Stride:]
		dst := out.Pix[y*out.Stride:]
		for x := range w {
			dst[x] = uint8((int(r0[2*x]) + int(r0[2*x+1]) + int(r1[2*x]) + int(r1[2*x+1]) + 2) / 4)
		}
	}
	return out
}

// maxSkew is the largest skew, in degrees, that skewOf looks for: scanners
// and people feeding them tilt pages by a few degrees; more than this is
// a page meant to be at an angle, or a photograph.
const maxSkew = 6.0

// skewOf finds the angle, in degrees counter-clockwise, of g's text lines
// (the angle at which the ink counts of rows change most sharply from row
// to row, the lines then lying along rows with empty gaps between them),
// searched within ±maxSkew, on a copy at a quarter of the resolution. A
// page may lie on its side (its orientation is found later): the search
// runs on the copy turned a quarter too (a turn keeps the angle), and the
// one whose best angle stands out more from the others wins. It returns
// 0 for a page with too little ink to tell.
func skewOf(g *image.Gray) float64 {
	small := halve(halve(g))
	a, contrast := skewSearch(small)
	if b, c := skewSearch(quarterTurn(small, 90)); c > contrast {
		a = b
	}
	return a
}

// skewSearch is skewOf's search on one orientation: the best angle, and
// how far its score stands above the mean of the coarse search's.
func skewSearch(small *image.Gray) (angle, contrast float64) {
	b := small.Bounds()
	w, h := b.Dx(), b.Dy()
	// Ink pixels, as coordinates from the centre.
	var xs, ys []float64
	for y := range h {
		row := small.Pix[y*small.Stride:]
		for x := range w {
			if row[x] < 128 {
				xs = append(xs, float64(x-w/2))
				ys = append(ys, float64(y-h/2))
			}
		}
	}
	if len(xs) < 500 {
		return 0, 0
	}
	bins := make([]float64, 2*(w+h)+1)
	score := func(deg float64) float64 {
		clear(bins)
		t := math.Tan(deg * math.Pi / 180)
		off := float64(w + h)
		for i, x := range xs {
			// A line rising to the right by deg keeps y + x·tan(deg).
			bins[int(ys[i]+x*t+off+0.5)]++
		}
		var s float64
		for i := 1; i < len(bins); i++ {
			d := bins[i] - bins[i-1]
			s += d * d
		}
		return s
	}
	best, bestScore := 0.0, score(0)
	sum, n := 0.0, 0
	for deg := -maxSkew; deg <= maxSkew+1e-9; deg += 0.5 {
		s := score(deg)
		sum += s
		n++
		if s > bestScore {
			best, bestScore = deg, s
		}
	}
	contrast = bestScore / (sum / float64(n))
	centre := best
	for deg := centre - 0.5; deg <= centre+0.5+1e-9; deg += 0.05 {
		if s := score(deg); s > bestScore {
			best, bestScore = deg, s
		}
	}
	return math.Round(best*100) / 100, contrast
}

// straighten turns g clockwise by deg degrees (a page whose lines rise by
// deg comes out level) about its centre, the same size, with white where
// nothing was; bilinear.
func straighten(g *image.Gray, deg float64) *image.Gray {
	if deg == 0 {
		return g
	}
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	sin, cos := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(w-1)/2, float64(h-1)/2
	for y := range h {
		dst := out.Pix[y*out.Stride:]
		dy := float64(y) - cy
		for x := range w {
			dx := float64(x) - cx
			// The source of an output pixel: turned back counter-clockwise
			// (y points down).
			sx := cos*dx + sin*dy + cx
			sy := -sin*dx + cos*dy + cy
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			if x0 < 0 || y0 < 0 || x0+1 >= w || y0+1 >= h {
				dst[x] = 255
				continue
			}
			fx, fy := sx-float64(x0), sy-float64(y0)
			p := g.Pix[y0*g.Stride+x0:]
			q := g.Pix[(y0+1)*g.Stride+x0:]
			top := float64(p[0])*(1-fx) + float64(p[1])*fx
			bot := float64(q[0])*(1-fx) + float64(q[1])*fx
			dst[x] = uint8(top*(1-fy) + bot*fy + 0.5)
		}
	}
	return out
}

// writePGM writes g as a binary PGM, which Tesseract reads at once (no
// decompression).
func writePGM(w io.Writer, g *image.Gray) error {
	b := g.Bounds()
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "P5\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := range b.Dy() {
		if _, err := bw.Write(g.Pix[y*g.Stride : y*g.Stride+b.Dx()]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// pngSize is a PNG's width and height, from its header.
func pngSize(data []byte) (int, int, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	return cfg.Width, cfg.Height, err
}

// decodeGray decodes a PNG into 8-bit grey (the render child draws OCR's
// pages in grey already).
func decodeGray(data []byte) (*image.Gray, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if g, ok := img.(*image.Gray); ok && g.Bounds().Min == (image.Point{}) {
		return g, nil
	}
	g := image.NewGray(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g, nil
}
