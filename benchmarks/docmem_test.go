package benchmarks

import (
	"context"
	"flag"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// What one replica holds per document (issue 14: 10,000 documents per
// replica at 1,000 peers). Under plain `go test ./benchmarks` it runs with
// 200 documents; the measurement of BENCHMARKS.md is
//
//	go test ./benchmarks -run TestDocMemory -count=1 -v -docmem=10000 [-docmem.profile=FILE] [-scale.small]
var (
	docmemDocs    = flag.Int("docmem", 200, "documents TestDocMemory replicates")
	docmemWriters = flag.Int("docmem.writers", 1, "concurrent InsertOne callers in TestDocMemory (1: one delta per document)")
	docmemSettle  = flag.Duration("docmem.settle", 7*time.Second, "how long TestDocMemory waits after closing the writer before it measures (gossipsub keeps messages 5 heartbeats)")
	docmemProfile = flag.String("docmem.profile", "", "file for TestDocMemory's heap profile of the replica holding every document")
	docmemRate    = flag.Int("docmem.rate", 0, "runtime.MemProfileRate for TestDocMemory's profile (0: the default)")
)

func TestDocMemory(t *testing.T) {
	if *docmemRate > 0 {
		defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
		runtime.MemProfileRate = *docmemRate
	}
	res, err := DocMemory(context.Background(), DocMemoryConfig{
		Docs:    *docmemDocs,
		Writers: *docmemWriters,
		Timeout: 10 * time.Minute,
		Settle:  *docmemSettle,
		Options: scaleOptions(),
		Measured: func(r DocMemoryResult) error {
			if *docmemProfile == "" {
				return nil
			}
			return writeProfile(*docmemProfile, "heap")
		},
	})
	require.NoError(t, err)
	t.Log(res)
	require.Positive(t, res.PerDoc(), "a replica holding %d documents holds no more than at rest: %s", res.Docs, res)
}
