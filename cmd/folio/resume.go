package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// resumeStore keeps the URLs of uploads `folio upload` started, so that
// `folio upload --resume` goes on with them after the process was
// interrupted. An entry names the file by absolute path, size and
// modification time: a file changed since is uploaded afresh.
type resumeStore struct {
	path string
	mu   sync.Mutex
}

type resumeEntry struct {
	API     string    `json:"api"`
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	URL     string    `json:"url"`
	Started time.Time `json:"started"`
}

// openResumeStore uses $FOLIO_STATE_DIR/uploads.json, or the user's cache
// folder's folio/uploads.json.
func openResumeStore() (*resumeStore, error) {
	dir := os.Getenv("FOLIO_STATE_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(cache, "folio")
	}
	return &resumeStore{path: filepath.Join(dir, "uploads.json")}, nil
}

func (s *resumeStore) load() ([]resumeEntry, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var entries []resumeEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	return entries, nil
}

func (s *resumeStore) save(entries []resumeEntry) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

func same(e resumeEntry, api, path string, fi os.FileInfo) bool {
	return e.API == api && e.Path == path && e.Size == fi.Size() && e.ModTime.Equal(fi.ModTime())
}

// find returns the URL of an unfinished upload of this file to api.
func (s *resumeStore) find(api, path string, fi os.FileInfo) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.load()
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if same(e, api, path, fi) {
			return e.URL, nil
		}
	}
	return "", nil
}

// put records (url != "") or forgets (url == "") the upload of this file.
func (s *resumeStore) put(api, path string, fi os.FileInfo, url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.load()
	if err != nil {
		return err
	}
	kept := entries[:0]
	for _, e := range entries {
		if !same(e, api, path, fi) {
			kept = append(kept, e)
		}
	}
	if url != "" {
		kept = append(kept, resumeEntry{API: api, Path: path, Size: fi.Size(), ModTime: fi.ModTime(), URL: url, Started: time.Now().UTC()})
	}
	return s.save(kept)
}
