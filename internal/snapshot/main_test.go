package snapshot

import (
	"testing"

	"github.com/latticedb/lattice/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
