package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/client"
	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/internal/tesseract"
	"github.com/foliohq/folio/internal/testenv"
)

// germanLetter is a German letter's lines, and the words with umlauts or ß
// in it that English data cannot spell.
var (
	germanLetter = []string{
		"Die Prüfung der Unterlagen für das vergangene Jahr ergab keine Fehler.",
		"Größere Änderungen müssen schriftlich begründet werden.",
		"Bitte überweisen Sie den Betrag bis zum Ende des Monats.",
		"Für Rückfragen stehen wir Ihnen gerne zur Verfügung.",
		"Die Übersetzung der Bedienungsanleitung ist noch nicht fertig.",
		"Mit freundlichen Grüßen aus München und Köln.",
	}
	germanWords = []string{"Prüfung", "Größere", "Änderungen", "müssen", "begründet", "überweisen", "Rückfragen",
		"Verfügung", "Übersetzung", "Grüßen", "München", "Köln"}
)

// TestOCRLanguagesAndOrientation, with the real binaries: a German scan
// uploaded with ocr_languages=deu (tus) is read with its umlauts, and the
// same scan with the default (eng) is measurably worse: the choice is
// honoured. A page scanned on its side is read, its page says it was
// turned, and its thumbnail is upright (taller than wide).
func TestOCRLanguagesAndOrientation(t *testing.T) {
	t.Parallel()
	tools, err := sandbox.FindOCRTools("eng")
	if err != nil {
		t.Skipf("no OCR here: %v (.ci/run installs tesseract-ocr)", err)
	}
	if _, ok := tesseract.Missing("deu", tools.Installed); !ok || !tools.OSD {
		t.Skip("no German or orientation data (scripts/install-ocr.sh installs them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	db, bucket := testenv.Postgres(t), testenv.S3(t)
	apiAddr, h1 := freeAddr(t), freeAddr(t)
	env := append(s3Env(bucket), "DATABASE_URL="+db.URL, "FOLIO_AUTH_JWT_SECRET="+testSecret, "FOLIO_HTTP_ADDR="+apiAddr,
		"FOLIO_OCR_LANGUAGES=eng", "FOLIO_OCR_AVAILABLE_LANGUAGES=eng deu", "FOLIO_RENDER=on")
	api := start(t, env, "api")
	w := start(t, append(env, "FOLIO_HEALTH_ADDR="+h1), "worker")
	waitStatus(t, api, "http://"+apiAddr+"/readyz", http.StatusOK, 30*time.Second)
	waitStatus(t, w, "http://"+h1+"/readyz", http.StatusOK, 30*time.Second)
	tok, err := auth.Sign([]byte(testSecret), "alice", time.Hour)
	require.NoError(t, err)
	c := client.New(tok, "http://"+apiAddr)

	german, err := pdftest.ScanWithPoppler(ctx, pdftest.TextPages(germanLetter), 300)
	require.NoError(t, err)
	withDeu, err := c.UploadResumable(ctx, "brief.pdf", bytes.NewReader(german), int64(len(german)), client.UploadOptions{OCRLanguages: "deu"})
	require.NoError(t, err)
	require.Equal(t, "deu", withDeu.OCRLanguages)
	withEng, err := c.UploadResumable(ctx, "brief.pdf", bytes.NewReader(german), int64(len(german)), client.UploadOptions{})
	require.NoError(t, err)
	require.Equal(t, "eng", withEng.OCRLanguages, "the default")
	_, err = c.UploadResumable(ctx, "brief.pdf", bytes.NewReader(german), int64(len(german)), client.UploadOptions{OCRLanguages: "fra"})
	var p *client.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, "bad_ocr_languages", p.Code, "not available here")

	lines := []string{
		"A letter fed into the scanner on its side comes out sideways.",
		"Orientation detection finds which way is up and turns it back,",
		"and the thumbnail shows the page the way people read it.",
		"This paragraph gives the detector enough letters to be sure.",
		"Scanners feed paper in whatever way people put it on the tray,",
		"and a page may arrive turned a quarter, a half or three quarters.",
	}
	sideways, err := pdftest.TurnedScan(ctx, lines, 90)
	require.NoError(t, err)
	side, err := c.Upload(ctx, "sideways.pdf", bytes.NewReader(sideways), int64(len(sideways)), nil)
	require.NoError(t, err)

	page := func(id uuid.UUID) map[string]any {
		t.Helper()
		for {
			var status *string
			require.NoError(t, db.Pool.QueryRow(ctx, `SELECT ocr_status FROM documents WHERE id = $1`, id).Scan(&status))
			if status != nil && *status == "done" {
				break
			}
			require.NoError(t, ctx.Err(), "the OCR of %s never ended", id)
			time.Sleep(50 * time.Millisecond)
		}
		var out struct {
			Pages []map[string]any `json:"pages"`
		}
		get(ctx, t, tok, "http://"+apiAddr+"/v1/documents/"+id.String()+"/pages", &out)
		require.Len(t, out.Pages, 1)
		return out.Pages[0]
	}
	found := func(text string) int {
		n := 0
		for _, w := range germanWords {
			if strings.Contains(text, w) {
				n++
			}
		}
		return n
	}
	deu, eng := page(withDeu.ID)["text"].(string), page(withEng.ID)["text"].(string)
	t.Logf("read with deu:\n%s\nread with eng:\n%s", deu, eng)
	require.GreaterOrEqual(t, found(deu), len(germanWords)-1, "read with deu, the umlauts are there")
	require.LessOrEqual(t, found(eng), found(deu)-3, "read with eng only, they are not")

	sp := page(side.ID)
	require.EqualValues(t, 270, sp["ocr_rotation"], "turned back upright")
	require.Contains(t, sp["text"], "Orientation detection finds which way is up")
	img := getBytes(ctx, t, tok, "http://"+apiAddr+"/v1/documents/"+side.ID.String()+"/pages/1/image?width=256")
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(img))
	require.NoError(t, err)
	require.Equal(t, 256, cfg.Width)
	require.Greater(t, cfg.Height, cfg.Width, "the thumbnail is upright")
}

func get(ctx context.Context, t *testing.T, tok, url string, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(getBytes(ctx, t, tok, url), v))
}

// getBytes GETs url with the token, waiting out render_pending.
func getBytes(ctx context.Context, t *testing.T, tok, url string) []byte {
	t.Helper()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var buf bytes.Buffer
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		if resp.StatusCode == http.StatusServiceUnavailable {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, buf.String())
		return buf.Bytes()
	}
}
