package benchmarks

import (
	"testing"

	"github.com/latticedb/lattice/engine"
)

// InsertOneSealed is InsertOne on a sealed database (engine.WithSealed):
// the cost of sealing every key component and value. Compare it with
// InsertOne in the same run (the goal: at least 90% of its rate).
func InsertOneSealed(b *testing.B) {
	insertSequentially(b, newEngine(b), engine.WithSealed())
}

// LateJoin2kSealed is LateJoin2k on a sealed database (the goal:
// at most 1.1 times the time of the same join in clear text).
func LateJoin2kSealed(b *testing.B) { lateJoinOf(b, 2000, true) }

// LateJoin10kSealed is LateJoin10k on a sealed database.
func LateJoin10kSealed(b *testing.B) { lateJoinOf(b, 10000, true) }

// LateJoin100kSealed is LateJoin100k on a sealed database (the issue's
// goal: at most 1.1 times LateJoin100k's time in the same run).
func LateJoin100kSealed(b *testing.B) { lateJoinOf(b, 100000, true) }
