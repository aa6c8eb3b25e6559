package pdftest

import (
	"bytes"
	"compress/zlib"
	"io"
	"testing"
)

func TestFlateInflatesToZeros(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, 1, 2, 258, 259, 1000, 1 << 20, 1<<20 + 7, 64<<20 + 3} {
		r, err := zlib.NewReader(bytes.NewReader(Flate(n)))
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		var count int64
		buf := make([]byte, 1<<16)
		for {
			k, err := r.Read(buf)
			for _, c := range buf[:k] {
				if c != 0 {
					t.Fatalf("n=%d: non-zero byte", n)
				}
			}
			count += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("n=%d: %v (after %d bytes)", n, err, count)
			}
		}
		if count != n {
			t.Fatalf("n=%d: inflated to %d bytes", n, count)
		}
	}
	if size := len(Flate(1 << 30)); size > 1_100_000 {
		t.Fatalf("1 GiB of zeros takes %d bytes compressed; want about 1 MB", size)
	}
}
