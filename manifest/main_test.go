package manifest

import (
	"testing"

	"github.com/latticedb/lattice/internal/leaktest"
)

// TestMain fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
