package node

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// webFS holds the to-do web app: plain HTML, CSS and JavaScript, no build
// step and no external resources.
//
//go:embed web
var webFS embed.FS

// webHandler serves the embedded web app. Its files hold no data, so they
// need no token; the app sends the token with its API calls.
func webHandler() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s not allowed on %s", r.Method, r.URL.Path))
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		if name := strings.TrimPrefix(r.URL.Path, "/"); name != "" {
			if _, err := fs.Stat(sub, name); err != nil {
				writeError(w, errorf(http.StatusNotFound, "not_found", "no file %s", r.URL.Path))
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}
