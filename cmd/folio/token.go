package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/foliohq/folio/auth"
	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/internal/config"
	"github.com/foliohq/folio/internal/devstack"
)

// devSecretFile holds the HS256 secret `folio dev` signs and verifies dev
// tokens with when FOLIO_AUTH_JWT_SECRET is unset.
const devSecretFile = "dev-secret"

// devAdminTokenFile holds the admin token `folio dev` signs admins in with.
const devAdminTokenFile = "admin-token"

func token(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("folio token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "the token's subject: the owner of what it uploads (required)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	dir := fs.String("dir", "", "folio dev's state folder, where its dev secret is (default: as folio dev)")
	if err := fs.Parse(args); err != nil {
		return app.ExitUsage
	}
	if strings.TrimSpace(*sub) == "" || *ttl <= 0 {
		fmt.Fprintln(stderr, "folio token: --sub is required and --ttl must be positive (e.g. folio token --sub alice --ttl 1h)")
		return app.ExitUsage
	}
	secret, err := signingSecret(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "folio token: %v\n", err)
		return app.ExitUsage
	}
	tok, err := auth.Sign([]byte(secret), *sub, *ttl)
	if err != nil {
		fmt.Fprintf(stderr, "folio token: %v\n", err)
		return app.ExitFailed
	}
	fmt.Fprintln(stdout, tok)
	return app.ExitOK
}

// signingSecret is the HS256 secret tokens are signed with here:
// FOLIO_AUTH_JWT_SECRET, else the dev secret folio dev keeps in dir.
func signingSecret(dir string) (string, error) {
	cfg, err := config.Load()
	if err != nil {
		return "", err
	}
	if cfg.AuthJWTSecret != "" {
		return cfg.AuthJWTSecret, nil
	}
	path := filepath.Join(stateDir(dir), devSecretFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("FOLIO_AUTH_JWT_SECRET is unset and there is no dev secret at %s: run `make run` (folio dev) first, point --dir at its state folder, or set the variable", path)
	}
	return strings.TrimSpace(string(b)), nil
}

// stateDir is folio dev's state folder: dir if given, else .folio at the
// root of the source tree, else .folio in the current folder.
func stateDir(dir string) string {
	if dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		return ".folio"
	}
	if root, err := devstack.Root(wd); err == nil {
		return filepath.Join(root, ".folio")
	}
	return filepath.Join(wd, ".folio")
}

// devSecret returns the dev secret in dir, creating it on first use.
func devSecret(dir string) (string, error) { return stateSecret(dir, devSecretFile) }

// stateSecret reads a random secret kept in dir/name, making it the first
// time.
func stateSecret(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("error saving %s: %w", path, err)
	}
	return secret, nil
}
