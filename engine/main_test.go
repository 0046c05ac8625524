package engine_test

import (
	"testing"

	"github.com/latticedb/lattice/internal/leaktest"
)

// TestMain fails the package if any goroutine outlives the tests: every
// engine, database and subscription must release what it started on Close.
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
