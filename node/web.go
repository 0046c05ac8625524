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

// peerAssets are the files of the browser peer's page (/peer/) that come
// from Config.PeerAssets rather than the embedded tree: they are built from
// the Go toolchain (scripts/build-peer.sh), not written by hand.
var peerAssets = map[string]bool{"peer/lattice.wasm": true, "peer/wasm_exec.js": true}

// webHandler serves the embedded web app. Its files hold no data, so they
// need no token; the app sends the token with its API calls. The browser
// peer's page is served at /peer/, with lattice.wasm and wasm_exec.js from
// assets (nil: they are missing, and the page says so).
func webHandler(assets fs.FS) http.Handler {
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
		name := strings.TrimPrefix(r.URL.Path, "/")
		if strings.HasPrefix(name, "peer/") || name == "peer" {
			// The browser peer runs WebAssembly and dials peers over
			// WebSocket, wherever they are.
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		}
		if peerAssets[name] {
			if assets == nil {
				writeError(w, errorf(http.StatusNotFound, "not_found", "this node serves no browser peer (lattice node --peer-assets DIR; scripts/build-peer.sh builds DIR)"))
				return
			}
			file := strings.TrimPrefix(name, "peer/")
			if strings.HasSuffix(name, ".wasm") {
				h.Set("Content-Type", "application/wasm")
				// A gzipped copy beside it (scripts/build-peer.sh
				// writes one) goes to browsers that take gzip: about
				// a quarter of the bytes.
				h.Add("Vary", "Accept-Encoding")
				if _, err := fs.Stat(assets, file+".gz"); err == nil && acceptsGzip(r) {
					h.Set("Content-Encoding", "gzip")
					file += ".gz"
				}
			}
			http.ServeFileFS(w, r, assets, file)
			return
		}
		if name != "" {
			if _, err := fs.Stat(sub, strings.TrimSuffix(name, "/")); err != nil {
				writeError(w, errorf(http.StatusNotFound, "not_found", "no file %s", r.URL.Path))
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}

// acceptsGzip tells whether the request's Accept-Encoding takes gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
