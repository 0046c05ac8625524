//go:build !js

// Package wasmtest runs a package's Go tests compiled for the browser
// (GOOS=js GOARCH=wasm) inside a real headless Chromium, from a native
// test: it builds the wasm test binary, serves it with Go's wasm_exec.js
// on a loopback HTTP server, opens it in a page and reports the binary's
// output and exit code. Tests that need a WebSocket or IndexedDB run this
// way (Node 20 has neither), against Go peers the native test starts and
// names in the environment it passes.
//
//	func TestInBrowser(t *testing.T) {
//		bin := wasmtest.Build(t, ".")
//		wasmtest.Run(t, bin, wasmtest.Options{Env: map[string]string{"PEER": addr}})
//	}
package wasmtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium finds the system Chromium ($LATTICE_CHROMIUM, or Debian's).
// Outside CI a missing browser skips the test loudly; in CI (CI=true) it
// fails it.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("LATTICE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "Chromium not found (apt-get install -y chromium, or set LATTICE_CHROMIUM): the browser test did NOT run"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("!!! " + msg + " !!!")
	return ""
}

var builds struct {
	sync.Mutex
	bins map[string]string // "test:"/"build:" and package -> wasm binary
	dir  string
}

// Build compiles the tests of pkg (a path go test takes, such as ".") for
// js/wasm, once per process, and returns the binary's path. The binary
// lives until the process exits, in a directory removed then only if the
// OS cleans its temp dir; it is a few tens of megabytes.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	return build(t, pkg, "test", "-c")
}

// BuildProgram compiles the command pkg for js/wasm, once per process, and
// returns the binary's path.
func BuildProgram(t testing.TB, pkg string) string {
	t.Helper()
	return build(t, pkg, "build")
}

// build runs go with args, then "-o" the binary and pkg, for js/wasm,
// once per process and command.
func build(t testing.TB, pkg string, args ...string) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	key := args[0] + ":" + pkg
	if bin, ok := builds.bins[key]; ok {
		return bin
	}
	if builds.dir == "" {
		d, err := os.MkdirTemp("", "lattice-wasmtest-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir = d
		builds.bins = map[string]string{}
	}
	bin := filepath.Join(builds.dir, fmt.Sprintf("%s%d.wasm", args[0], len(builds.bins)))
	cmd := exec.Command("go", append(args, "-o", bin, pkg)...)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wasmtest: go %s of %s for js/wasm: %v\n%s", args[0], pkg, err, out)
	}
	t.Logf("wasmtest: go %s of %s for js/wasm in %s", args[0], pkg, time.Since(start).Round(time.Millisecond))
	builds.bins[key] = bin
	return bin
}

// WasmExecJS returns the Go toolchain's wasm_exec.js, the JavaScript glue
// a js/wasm binary of this toolchain needs.
func WasmExecJS(t testing.TB) []byte {
	t.Helper()
	b, err := wasmExecJS()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Options are how Run runs a wasm test binary.
type Options struct {
	// Args are the binary's arguments, such as "-test.run=TestX"
	// ("-test.v" is always given).
	Args []string
	// Env is the binary's environment (os.Getenv in the page).
	Env map[string]string
	// Timeout bounds the whole run; 0 means 3 minutes.
	Timeout time.Duration
	// Profile samples the page with V8's profiler while the binary runs
	// and logs its top functions (Go names included) at the end.
	Profile bool
}

// Run runs the wasm test binary bin in a new headless Chromium and fails t
// unless it exits 0. The binary's output goes to t.Log.
func Run(t testing.TB, bin string, o Options) {
	t.Helper()
	exe := Chromium(t)
	wasmExec, err := wasmExecJS()
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, bin, wasmExec)
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := browser(t, exe)
	defer cancel()
	ctx, cancelRun := context.WithTimeout(ctx, timeout)
	defer cancelRun()
	args := append([]string{"-test.v"}, o.Args...)
	q := "?args=" + jsonQuery(args) + "&env=" + jsonQuery(o.Env)
	if o.Profile {
		if err := chromedp.Do(ctx, startProfile()); err != nil {
			t.Fatalf("wasmtest: start the profiler: %v", err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/"+q)); err != nil {
		t.Fatalf("wasmtest: open the page: %v", err)
	}
	var out strings.Builder
	defer func() { t.Logf("wasm test output:\n%s", out.String()) }()
	for {
		res, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
			Out  []string `json:"out"`
			Code *int     `json:"code"`
		}](`({out: window.wasmtest.out.splice(0), code: window.wasmtest.code})`))
		if err != nil {
			t.Fatalf("wasmtest: %v (after %s)", err, timeout)
		}
		for _, l := range res.Out {
			out.WriteString(l)
			out.WriteByte('\n')
		}
		if res.Code != nil {
			if o.Profile {
				if sum, err := chromedp.Run(ctx, stopProfile()); err != nil {
					t.Logf("wasmtest: no profile: %v", err)
				} else {
					t.Logf("wasmtest: profile\n%s", sum)
				}
			}
			if *res.Code != 0 {
				t.Errorf("wasmtest: the wasm tests exited with %d", *res.Code)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("wasmtest: the wasm tests did not finish within %s", timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// browser starts a headless Chromium with a fresh profile for one run.
func browser(t testing.TB, exe string) (context.Context, context.CancelFunc) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		allocCancel()
		t.Fatalf("wasmtest: start Chromium: %v", err)
	}
	return ctx, func() { cancel(); allocCancel() }
}

// serve serves the harness page, wasm_exec.js and the binary on loopback
// until the test ends.
func serve(t testing.TB, bin string, wasmExec []byte) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(wasmExec)
	})
	mux.HandleFunc("/test.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		http.ServeFile(w, r, bin)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return "http://" + ln.Addr().String()
}

// wasmExecJS is the Go toolchain's browser glue for js/wasm binaries.
func wasmExecJS() ([]byte, error) {
	root, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("wasmtest: go env GOROOT: %w", err)
	}
	return os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), "lib", "wasm", "wasm_exec.js"))
}

// page runs test.wasm with the arguments and environment in its query
// string and keeps its output lines and exit code in window.wasmtest.
const page = `<!doctype html>
<meta charset="utf-8">
<title>wasmtest</title>
<script src="wasm_exec.js"></script>
<script>
window.wasmtest = {out: [], code: null};
const log = console.log.bind(console);
console.log = (...a) => { window.wasmtest.out.push(a.join(" ")); log(...a); };
console.error = (...a) => { window.wasmtest.out.push(a.join(" ")); };
const q = new URLSearchParams(location.search);
const go = new Go();
go.argv = ["test.wasm", ...(JSON.parse(q.get("args") || "[]") || [])];
go.env = JSON.parse(q.get("env") || "{}") || {};
go.exit = (code) => { window.wasmtest.code = code; };
WebAssembly.instantiateStreaming(fetch("test.wasm"), go.importObject)
  .then((r) => go.run(r.instance))
  .catch((e) => { window.wasmtest.out.push("wasmtest: " + e); window.wasmtest.code = 3; });
</script>
`

// jsonQuery is v as URL-escaped JSON.
func jsonQuery(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings and maps of strings always marshal
	}
	return url.QueryEscape(string(b))
}
