package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
)

// TestJoinProgressCountsDocuments (issue 24, item 2): lattice join's
// progress, drawn as on a terminal, counts documents (a history written
// in batches has far fewer blocks than documents), never blocks, and
// ends only once the node holds every document of the history.
func TestJoinProgressCountsDocuments(t *testing.T) {
	a, apiA := startTestNode(t, "")
	b, apiB := startTestNode(t, "")
	ctx := context.Background()
	db, err := a.Create(ctx, "TodoList", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	// 1,000 documents in 4 batches, then 100 single writes.
	const want = 1100
	for batch := range 4 {
		docs := make([]any, 250)
		for i := range docs {
			docs[i] = engine.M{"_id": fmt.Sprintf("b%d-%03d", batch, i), "n": i}
		}
		_, err := db.Collection("todos").InsertMany(ctx, docs)
		require.NoError(t, err)
	}
	for i := range 100 {
		_, err := db.Collection("todos").InsertOne(ctx, engine.M{"n": i})
		require.NoError(t, err)
	}
	code, out, errOut := runCLI(t, "invite", "--api", apiA, "--database", db.Address())
	require.Equal(t, 0, code, errOut)
	link := strings.SplitN(out, "\n", 2)[0]

	code, _, errOut = runCLI(t, "join", "--api", apiB, "--wait", "0", link)
	require.Equal(t, 0, code, errOut)
	var w syncBuffer
	followCatchup(ctx, &apiFlags{api: apiB}, db.Address(), 2*time.Minute, &w, true)
	got := w.String()
	require.NotContains(t, got, "block")
	require.True(t, strings.HasSuffix(got, fmt.Sprintf("\r\033[Kcaught up: %s documents\n", thousands(want))), "%q", got)
	for _, frame := range strings.Split(got, "\r\033[K")[1:] {
		require.Regexp(t, regexp.MustCompile(`^(. catching up: [0-9,]+ documents so far \(\d+s\)|caught up: 1,100 documents\n)$`), frame)
	}
	joined, ok := b.Database(db.Address())
	require.True(t, ok)
	require.Equal(t, want, joined.Stats().Documents, "the progress ended before the last document was in")
}

func TestThousands(t *testing.T) {
	for n, s := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -5026: "-5,026"} {
		require.Equal(t, s, thousands(n))
	}
}
