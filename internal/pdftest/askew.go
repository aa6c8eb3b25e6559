package pdftest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// Askew is a page scan as people feed it: the JPEG's pixels turned
// clockwise by turn degrees (0, 90, 180, 270: a page fed sideways or
// upside down, not a PDF /Rotate) and then tilted counter-clockwise by
// skew degrees about the centre (white where the page was not), as a grey
// JPEG again. It is written apart from Folio's own image code, so that a
// test of that code does not check it against itself.
func Askew(img []byte, turn int, skew float64) ([]byte, error) {
	src, err := jpeg.Decode(bytes.NewReader(img))
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	if turn%180 != 0 {
		w, h = h, w
	}
	out := image.NewGray(image.Rect(0, 0, int(w), int(h)))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	// The affine map from the source's pixels to the output's: about the
	// centres, turned clockwise by turn and then counter-clockwise by
	// skew (y points down, so a positive angle in this matrix turns
	// clockwise on screen).
	a := (float64(turn) - skew) * math.Pi / 180
	sin, cos := math.Sincos(a)
	if turn%90 != 0 {
		return nil, fmt.Errorf("turn %d is not a quarter turn", turn)
	}
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	ox, oy := w/2, h/2
	m := f64.Aff3{
		cos, -sin, ox - cos*cx + sin*cy,
		sin, cos, oy - sin*cx - cos*cy,
	}
	draw.BiLinear.Transform(out, m, src, b, draw.Over, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 85}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TurnedScan is a one-page scan (300 dpi, made with poppler's pdftoppm) of
// a page showing lines, fed into the scanner turned clockwise by turn
// degrees (Askew): what OCR's orientation detection must set upright.
func TurnedScan(ctx context.Context, lines []string, turn int) ([]byte, error) {
	jpegs, err := PageJPEGs(ctx, TextPages(lines), 300, 1)
	if err != nil {
		return nil, err
	}
	turned, err := Askew(jpegs[0], turn, 0)
	if err != nil {
		return nil, err
	}
	return Scanned(300, turned)
}
