// Package webui serves a built single-page app (the demo in web/demo) from
// a folder: files as they are, index.html for every other path, so the
// app's own routes survive a reload. `folio dev` mounts it at /.
package webui

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// csp allows the app's own scripts, styles and connections (fetch,
// websocket, SSE), connections to the origins given (S3, for direct
// uploads), and nothing else: no inline script.
func csp(connect []string) string {
	return "default-src 'self'; connect-src " + strings.Join(append([]string{"'self'"}, connect...), " ") +
		"; img-src 'self' data: blob:; style-src 'self'; " +
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
}

// Handler serves the app built into dir. When dir holds no index.html
// (the app was not built), every page says how to build it. connect lists
// other origins the app may connect to.
func Handler(dir string, connect ...string) http.Handler {
	var origins []string
	for _, o := range connect {
		if o != "" {
			origins = append(origins, o)
		}
	}
	policy := csp(origins)
	root := os.DirFS(dir)
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", policy)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(root, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") { // content-hashed names (Vite)
					h.Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				http.Error(w, "cannot read the app", http.StatusInternalServerError)
				return
			}
		}
		// Read per page load, not per asset: a rebuild shows without a restart.
		index, err := fs.ReadFile(root, "index.html")
		if err != nil {
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(notBuilt))
			return
		}
		if path.Ext(name) != "" && name != "index.html" { // a missing file, not an app route
			http.NotFound(w, r)
			return
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(index)
	})
}

const notBuilt = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Folio</title>
<body>
<h1>The Folio demo app is not built</h1>
<p>Build it with <code>make web</code> (Node.js 20 and npm), or run the whole stack with <code>make run</code>, which builds it first.
The API is up: see <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>
</body></html>
`
