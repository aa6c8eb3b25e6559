// Package testbin builds Folio's binaries for the tests that run them, once
// per test process, and keeps one compiled renderer for all of them.
//
// The binaries are built without the race detector whatever the test
// binary was built with: they are the children and servers the tests
// start, whose races a race-enabled test process cannot see anyway, and a
// race-enabled child cannot take the sandbox's address-space limit and
// compiles PDFium's WebAssembly ten times slower.
package testbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/foliohq/folio/internal/devstack"
	"github.com/foliohq/folio/internal/sandbox"
)

var (
	mu    sync.Mutex
	dir   string
	built = map[string]bool{}
)

// Build builds the named commands (cmd/<name>) into this process's
// directory, those not built yet in one `go build`, and returns the
// directory.
func Build(names ...string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if dir == "" {
		d, err := os.MkdirTemp("", "folio-test-bin-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := devstack.Root(wd)
	if err != nil {
		return "", err
	}
	args := []string{"build", "-o", dir + "/"}
	var todo []string
	for _, n := range names {
		if !built[n] {
			args = append(args, "./cmd/"+n)
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		return dir, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("testbin: building %v: %w", todo, err)
	}
	for _, n := range todo {
		built[n] = true
	}
	return dir, nil
}

// Path is the path of a command Build built.
func Path(name string) string {
	mu.Lock()
	defer mu.Unlock()
	return filepath.Join(dir, name)
}

// Cleanup removes what Build made. TestMain calls it after the tests.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// RenderCache is the directory where every test's render children keep
// PDFium compiled (wazero's cache; its entries are keyed by wazero's
// version, the module and the CPU, and written atomically, so test
// processes share it safely).
func RenderCache() string { return filepath.Join(os.TempDir(), "folio-test-wazero") }

// WarmRenderer compiles PDFium into RenderCache once, with the worker
// binary Build made, so that no test pays for it under its own time
// limits (the first compile takes seconds; many at once on two cores take
// a minute). Later children only load it.
func WarmRenderer() error {
	worker, err := Build("worker")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r := &sandbox.Runner{Exe: filepath.Join(worker, "worker"), MemoryLimit: 1 << 30, Timeout: 10 * time.Minute}
	defer r.CloseRenderers()
	if _, err := r.WarmRenderer(ctx, RenderCache()); err != nil {
		return fmt.Errorf("testbin: compiling the renderer: %w", err)
	}
	return nil
}
