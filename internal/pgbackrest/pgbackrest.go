// Package pgbackrest reads what pgBackRest says about its repository
// (`pgbackrest info --output=json`): the base backups Folio records and
// exports as backup freshness.
package pgbackrest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"
)

// Backup is one base backup in a repository.
type Backup struct {
	Stanza  string
	Label   string
	Type    string // full, diff or incr
	Start   time.Time
	Stop    time.Time
	Size    int64 // the database's size
	RepoLen int64 // what the backup added to the repository
}

// ParseInfo reads `pgbackrest info --output=json`: every stanza's
// backups, oldest first within a stanza.
func ParseInfo(out []byte) ([]Backup, error) {
	var stanzas []struct {
		Name   string `json:"name"`
		Backup []struct {
			Label     string `json:"label"`
			Type      string `json:"type"`
			Timestamp struct {
				Start int64 `json:"start"`
				Stop  int64 `json:"stop"`
			} `json:"timestamp"`
			Info struct {
				Size       int64 `json:"size"`
				Repository struct {
					Delta int64 `json:"delta"`
				} `json:"repository"`
			} `json:"info"`
		} `json:"backup"`
	}
	if err := json.Unmarshal(out, &stanzas); err != nil {
		return nil, fmt.Errorf("error reading pgbackrest info: %w", err)
	}
	var backups []Backup
	for _, s := range stanzas {
		for _, b := range s.Backup {
			backups = append(backups, Backup{Stanza: s.Name, Label: b.Label, Type: b.Type,
				Start: time.Unix(b.Timestamp.Start, 0).UTC(), Stop: time.Unix(b.Timestamp.Stop, 0).UTC(),
				Size: b.Info.Size, RepoLen: b.Info.Repository.Delta})
		}
	}
	return backups, nil
}

// Run runs pgbackrest with args (the caller's --config and --stanza among
// them) and returns its standard output; a failure carries its output.
// cmd, when not nil, is adjusted before the run (to run it as another
// user).
func Run(ctx context.Context, bin string, adjust func(*exec.Cmd), args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	if adjust != nil {
		adjust(cmd)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pgbackrest %v: %w: %s %s", args, err, bytes.TrimSpace(stderr.Bytes()), bytes.TrimSpace(stdout.Bytes()))
	}
	return stdout.Bytes(), nil
}
