package tesseract

import (
	"slices"
	"testing"
)

func TestParseList(t *testing.T) {
	langs, osd := parseList("List of available languages in \"/usr/share/tesseract-ocr/5/tessdata/\" (4):\nchi_sim\neng\nosd\nkor\n")
	if !slices.Equal(langs, []string{"chi_sim", "eng", "kor"}) || !osd {
		t.Errorf("langs %v, osd %v", langs, osd)
	}
	if langs, osd := parseList("List of available languages (1):\neng\n"); !slices.Equal(langs, []string{"eng"}) || osd {
		t.Errorf("langs %v, osd %v", langs, osd)
	}
}

func TestMissing(t *testing.T) {
	if l, ok := Missing("deu+eng", []string{"eng", "deu"}); !ok || l != "" {
		t.Errorf("%q %v", l, ok)
	}
	if l, ok := Missing("eng+fra", []string{"eng", "deu"}); ok || l != "fra" {
		t.Errorf("%q %v", l, ok)
	}
	if p := Package("chi_sim"); p != "tesseract-ocr-chi-sim" {
		t.Error(p)
	}
}
