package pdf

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzContent runs the content-stream interpreter and the layout on
// arbitrary bytes: no panic, no hang, valid UTF-8 out.
func FuzzContent(f *testing.F) {
	addSeeds(f, "*.content")
	f.Fuzz(func(t *testing.T, content []byte) {
		o := &objects{fonts: map[int]*font{}}
		e := &extractor{o: o, active: map[int]bool{}}
		e.run(content, nil, gstate{ctm: identity, th: 1}, 0)
		text := layout(e.glyphs)
		if !utf8.ValidString(text) {
			t.Fatalf("invalid UTF-8 out: %q", text)
		}
	})
}

// FuzzCMap parses arbitrary CMaps and decodes with them.
func FuzzCMap(f *testing.F) {
	addSeeds(f, "*.cmap")
	f.Fuzz(func(t *testing.T, data []byte) {
		c := parseCMap(data)
		for _, code := range c.split([]byte{0, 3, 0, 0x11, 0, 0x25, 0xff}, 2) {
			s, _ := c.lookup(len(code), be(code))
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 from %x: %q", code, s)
			}
		}
	})
}
