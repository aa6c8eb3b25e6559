package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type k8sContainer struct {
	Command []string `yaml:"command"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	ReadinessProbe *struct {
		HTTPGet struct{ Path string } `yaml:"httpGet"`
	} `yaml:"readinessProbe"`
	LivenessProbe *struct {
		HTTPGet struct{ Path string } `yaml:"httpGet"`
	} `yaml:"livenessProbe"`
	Lifecycle struct {
		PreStop struct {
			Sleep struct{ Seconds int } `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Limits map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct{ Name string }
	Spec     struct {
		Template struct {
			Spec struct {
				Grace      int            `yaml:"terminationGracePeriodSeconds"`
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		ScaleTargetRef struct{ Name string } `yaml:"scaleTargetRef"`
	} `yaml:"spec"`
}

func readManifests(t *testing.T, file string) []k8sObject {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", file))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []k8sObject
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
}

func envValue(t *testing.T, c k8sContainer, name string) string {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	t.Fatalf("%s not set", name)
	return ""
}

func seconds(t *testing.T, v string) float64 {
	t.Helper()
	d, err := time.ParseDuration(v)
	require.NoError(t, err)
	return d.Seconds()
}

// TestDeployManifests checks the numbers that must agree: grace periods
// cover the drains they wait for, probes point at the right endpoints, the
// migration job runs `folio migrate`, and the worker's memory limit holds its
// parse children.
func TestDeployManifests(t *testing.T) {
	t.Parallel()
	api := readManifests(t, "api.yaml")
	require.Equal(t, "Deployment", api[0].Kind)
	require.Equal(t, "Service", api[1].Kind)
	spec := api[0].Spec.Template.Spec
	c := spec.Containers[0]
	require.Equal(t, []string{"/usr/local/bin/api"}, c.Command)
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	preStop := float64(c.Lifecycle.PreStop.Sleep.Seconds)
	require.Positive(t, preStop, "a preStop sleep while endpoints drop the pod")
	need := preStop + seconds(t, envValue(t, c, "FOLIO_SHUTDOWN_DELAY")) + seconds(t, envValue(t, c, "FOLIO_SHUTDOWN_TIMEOUT"))
	require.Greater(t, float64(spec.Grace), need, "api grace period > preStop + shutdown delay + shutdown timeout")

	worker := readManifests(t, "worker.yaml")
	require.Equal(t, "Deployment", worker[0].Kind)
	require.Equal(t, "HorizontalPodAutoscaler", worker[1].Kind)
	require.Equal(t, worker[0].Metadata.Name, worker[1].Spec.ScaleTargetRef.Name)
	wspec := worker[0].Spec.Template.Spec
	wc := wspec.Containers[0]
	require.Equal(t, []string{"/usr/local/bin/worker"}, wc.Command)
	require.Equal(t, "/readyz", wc.ReadinessProbe.HTTPGet.Path)
	require.Greater(t, float64(wspec.Grace), seconds(t, envValue(t, wc, "FOLIO_DRAIN_TIMEOUT")), "worker grace period > drain timeout")
	concurrency, err := strconv.Atoi(envValue(t, wc, "FOLIO_WORKER_CONCURRENCY"))
	require.NoError(t, err)
	child := strings.TrimSuffix(envValue(t, wc, "FOLIO_PARSE_MEMORY_LIMIT"), "GiB")
	childGiB, err := strconv.Atoi(child)
	require.NoError(t, err)
	limitGiB, err := strconv.Atoi(strings.TrimSuffix(wc.Resources.Limits["memory"], "Gi"))
	require.NoError(t, err)
	ocr, err := strconv.Atoi(envValue(t, wc, "FOLIO_OCR_CONCURRENCY"))
	require.NoError(t, err)
	require.Greater(t, limitGiB, (concurrency+ocr)*childGiB, "the worker's memory limit holds its parse and OCR children")

	job := readManifests(t, "migrate-job.yaml")
	require.Equal(t, "Job", job[0].Kind)
	require.Equal(t, []string{"/usr/local/bin/folio", "migrate"}, job[0].Spec.Template.Spec.Containers[0].Command)
}
