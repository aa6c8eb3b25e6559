package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/foliohq/folio/internal/devstack"
)

// These machines have no Docker engine, so docker-compose.yml and the
// Dockerfile cannot be run here; this checks what can be checked without
// one: the file parses, the services and their order are right, and what
// they refer to exists.

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		StopGracePeriod string `yaml:"stop_grace_period"`
	} `yaml:"services"`
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := devstack.Root(wd)
	require.NoError(t, err)
	return root
}

func TestDockerCompose(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(b, &c))

	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	require.Equal(t, []string{"api", "clamd", "localstack", "migrate", "postgres", "worker"}, names)

	// Malware scanning: the API scans, the worker reaches the clamd
	// service, which takes what the worker sends and reports what exceeds
	// its limits (deploy/clamd.conf, also clamd.yaml's ConfigMap).
	require.Equal(t, "clamd", c.Services["api"].Environment["FOLIO_SCAN"])
	require.Equal(t, "clamd", c.Services["worker"].Environment["FOLIO_SCAN"])
	require.Equal(t, "tcp:clamd:3310", c.Services["worker"].Environment["FOLIO_CLAMD_ADDRESS"])
	require.Equal(t, "service_healthy", c.Services["worker"].DependsOn["clamd"].Condition)
	require.Contains(t, c.Services["clamd"].Volumes, "./deploy/clamd.conf:/etc/clamav/clamd.conf:ro")
	conf, err := os.ReadFile(filepath.Join(root, "deploy", "clamd.conf"))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^TCPSocket 3310$`, string(conf))
	require.Regexp(t, `(?m)^AlertExceedsMax yes$`, string(conf))
	streamMax := regexp.MustCompile(`(?m)^StreamMaxLength (\d+)M$`).FindStringSubmatch(string(conf))
	require.NotNil(t, streamMax)
	require.Equal(t, streamMax[1]+"MiB", c.Services["worker"].Environment["FOLIO_SCAN_MAX_BYTES"], "clamd takes what the worker sends")
	clamdYAML, err := os.ReadFile(filepath.Join(root, "deploy", "clamd.yaml"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(conf), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			require.Contains(t, string(clamdYAML), "    "+line+"\n", "deploy/clamd.yaml's ConfigMap has %q", line)
		}
	}
	workerYAML, err := os.ReadFile(filepath.Join(root, "deploy", "worker.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(workerYAML), `{name: FOLIO_SCAN_MAX_BYTES, value: "`+streamMax[1]+`MiB"}`)
	require.Contains(t, string(workerYAML), `{name: FOLIO_CLAMD_ADDRESS, value: "tcp:clamd:3310"}`)

	require.Equal(t, "localstack/localstack:4.14.0", c.Services["localstack"].Image, "the last tag that runs without an auth token")
	require.Equal(t, []string{"/usr/local/bin/folio", "migrate"}, c.Services["migrate"].Entrypoint)
	require.Equal(t, "service_healthy", c.Services["migrate"].DependsOn["postgres"].Condition)

	bucket := c.Services["localstack"].Environment["FOLIO_S3_BUCKET"]
	for _, svc := range []string{"migrate", "api", "worker"} {
		s := c.Services[svc]
		require.NotNil(t, s.Build, "%s is built from the Dockerfile", svc)
		require.Contains(t, s.Environment["DATABASE_URL"], "@postgres:5432/", svc)
		require.Equal(t, bucket, s.Environment["FOLIO_S3_BUCKET"], "%s uses the bucket the init script makes", svc)
		require.Equal(t, "http://localstack:4566", s.Environment["AWS_ENDPOINT_URL_S3"], svc)
		if svc != "migrate" {
			require.Equal(t, "service_completed_successfully", s.DependsOn["migrate"].Condition, "%s starts after migrations", svc)
			grace, err := time.ParseDuration(s.StopGracePeriod)
			require.NoError(t, err)
			require.Greater(t, grace, 30*time.Second, "%s: grace period beyond the default FOLIO_SHUTDOWN_TIMEOUT", svc)
		}
	}
	require.Equal(t, []string{"/usr/local/bin/api"}, c.Services["api"].Entrypoint)
	require.Equal(t, []string{"/usr/local/bin/worker"}, c.Services["worker"].Entrypoint)

	// The init script the LocalStack service mounts exists and does what
	// the design asks: bucket, CORS, lifecycle rule.
	src, _, _ := strings.Cut(c.Services["localstack"].Volumes[0], ":")
	script, err := os.ReadFile(filepath.Join(root, src))
	require.NoError(t, err)
	for _, want := range []string{"create-bucket", "put-bucket-cors", "AbortIncompleteMultipartUpload"} {
		require.Contains(t, string(script), want)
	}

	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/api ./cmd/worker ./cmd/folio", "USER nonroot", "distroless",
		"AS worker", "tesseract-ocr ", "FOLIO_RENDER_CACHE_DIR="} {
		require.Contains(t, string(dockerfile), want)
	}
	// The worker image has every OCR language (and the orientation data)
	// scripts/install-ocr.sh installs: what deploy/api.yaml lets uploads
	// choose.
	install, err := os.ReadFile(filepath.Join(root, "scripts", "install-ocr.sh"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^langs=\(([^)]*)\)`).FindSubmatch(install)
	require.NotNil(t, m, "scripts/install-ocr.sh lists its languages in langs=(…)")
	apiYAML, err := os.ReadFile(filepath.Join(root, "deploy", "api.yaml"))
	require.NoError(t, err)
	for _, l := range strings.Fields(string(m[1])) {
		require.Contains(t, string(dockerfile), "tesseract-ocr-"+strings.ReplaceAll(l, "_", "-"), "the worker image installs %s", l)
		if l != "osd" {
			require.Regexp(t, `FOLIO_OCR_AVAILABLE_LANGUAGES, value: "[^"]*\b`+l+`\b`, string(apiYAML))
		}
	}
	// The worker renders with PDFium (WebAssembly, in the binary): poppler
	// never reads users' files.
	require.NotContains(t, string(dockerfile), "poppler-utils")
	require.Equal(t, map[string]any{"context": ".", "target": "worker"}, c.Services["worker"].Build, "the worker's image has OCR")
}

// TestREADMEDocumentsEveryVariable keeps the README's configuration table
// and the code in step: every FOLIO_ variable the code reads is documented,
// and the README documents none that the code does not read.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	varRE := regexp.MustCompile(`\bFOLIO_[A-Z0-9_]+[A-Z0-9]\b`)

	code := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".folio" || d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range varRE.FindAllString(string(b), -1) {
				code[m] = true
			}
		}
		return nil
	})
	require.NoError(t, err)

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, m := range varRE.FindAllString(string(readme), -1) {
		documented[m] = true
	}
	for v := range code {
		require.True(t, documented[v], "%s is read by the code but not in README.md", v)
	}
	for v := range documented {
		require.True(t, code[v], "%s is in README.md but nothing reads it", v)
	}
}
