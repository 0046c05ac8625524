//go:build !js

package indexeddb_test

import (
	"os"
	"testing"
	"time"

	"github.com/latticedb/lattice/internal/wasmtest"
)

// The datastore's tests (indexeddb_js_test.go, go-datastore's dstest
// suite among them) run in a real Chromium: IndexedDB exists only there.
func TestDatastoreInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	wasmtest.Chromium(t)
	bin := wasmtest.Build(t, ".")
	wasmtest.Run(t, bin, wasmtest.Options{Args: []string{"-test.run=^TestDatastore"}, Timeout: 8 * time.Minute})
}

// dstest's SubtestCombinations, 1,152 queries, about 100 s in Chromium
// (40 minutes before the datastore read from memory): run when
// LATTICE_DSTEST_COMBINATIONS=1 (CI does not).
func TestDatastoreCombinationsInChromium(t *testing.T) {
	if os.Getenv("LATTICE_DSTEST_COMBINATIONS") != "1" {
		t.Skip("LATTICE_DSTEST_COMBINATIONS=1 runs dstest's SubtestCombinations in Chromium (about 100 s)")
	}
	wasmtest.Chromium(t)
	bin := wasmtest.Build(t, ".")
	wasmtest.Run(t, bin, wasmtest.Options{
		Args:    []string{"-test.run=^TestDatastoreSuiteCombinations$"},
		Env:     map[string]string{"LATTICE_DSTEST_COMBINATIONS": "1"},
		Timeout: 90 * time.Minute,
	})
}
