package clamd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5" //nolint:gosec // ClamAV's database header names the MD5 of its body
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// TestSignatures are the signatures Folio ships for development and tests,
// where there is no internet and so no freshclam: the EICAR test file, and
// Folio.Test.Marker, which matches any file containing TestMarker. They
// detect nothing real: production loads ClamAV's own databases.
//
//go:embed signatures
var TestSignatures embed.FS

// TestMarker is the string Folio.Test.Marker finds.
const TestMarker = "FOLIO-TEST-MALWARE-MARKER-2f9c4e1a"

// EICAR returns the EICAR anti-virus test file, which every scanner
// detects and which does no harm (built at run time, so that no source
// file of Folio's is itself flagged).
func EICAR() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-ANTIVIRUS-" + `TEST-FILE!$H+H*`)
}

// TestDatabase is a signature database holding TestSignatures' files
// (and extra ones, by name: "daily.hdb" → its lines), as version
// (BuildDatabase).
func TestDatabase(version int, extra map[string]string) ([]byte, error) {
	files := map[string]string{}
	entries, err := TestSignatures.ReadDir("signatures")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := TestSignatures.ReadFile(path.Join("signatures", e.Name()))
		if err != nil {
			return nil, err
		}
		files["daily"+path.Ext(e.Name())] += string(b)
	}
	for name, lines := range extra {
		files[name] += lines
	}
	return BuildDatabase(version, files, time.Now())
}

// BuildDatabase writes an unsigned ClamAV signature database (a .cud, what
// `sigtool --build=daily.cud --unsigned` makes) holding files (names like
// "daily.ndb", "daily.hdb" → their lines) as database version version:
// clamd loads it from its DatabaseDirectory as daily.cud and reports the
// version in its VERSION answer, as it does freshclam's daily.cvd. Tests
// and `folio dev` use it to change the signatures a running clamd has.
func BuildDatabase(version int, files map[string]string, at time.Time) ([]byte, error) {
	names := make([]string, 0, len(files))
	sigs := 0
	for name, body := range files {
		if !strings.HasPrefix(name, "daily.") || strings.ContainsAny(name, "/:") {
			return nil, fmt.Errorf("clamd: database file %q: want daily.<type>", name)
		}
		names = append(names, name)
		for _, l := range strings.Split(body, "\n") {
			if strings.TrimSpace(l) != "" {
				sigs++
			}
		}
	}
	sort.Strings(names)
	const flevel = 216
	date := at.UTC().Format("02 Jan 2006 15-04 -0700")
	info := fmt.Sprintf("ClamAV-VDB:%s:%d:%d:%d:X:X:folio:%d\n", date, version, sigs, flevel, at.Unix())
	for _, name := range names {
		sum := sha256.Sum256([]byte(files[name]))
		info += fmt.Sprintf("%s:%d:%s\n", name, len(files[name]), hex.EncodeToString(sum[:]))
	}
	var body bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&body, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	add := func(name, content string) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		_, err := io.WriteString(tw, content)
		return err
	}
	if err := add("COPYING", "Folio test signatures: they detect test files only.\n"); err != nil {
		return nil, err
	}
	if err := add("daily.info", info); err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := add(name, files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := md5.Sum(body.Bytes()) //nolint:gosec // see the import
	header := fmt.Sprintf("ClamAV-VDB:%s:%d:%d:%d:%s:X:folio:%d", date, version, sigs, flevel, hex.EncodeToString(sum[:]), at.Unix())
	out := make([]byte, 0, 512+body.Len())
	out = append(out, header...)
	out = append(out, bytes.Repeat([]byte{' '}, 512-len(header))...)
	return append(out, body.Bytes()...), nil
}

// HashSignature is an .hdb line that detects exactly the file content
// (its MD5 and size) by the name name.
func HashSignature(name string, content []byte) string {
	sum := md5.Sum(content) //nolint:gosec // ClamAV's .hdb format is MD5
	return fmt.Sprintf("%s:%d:%s\n", hex.EncodeToString(sum[:]), len(content), name)
}
