package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/replication"
)

// dagCIDs lists every block of the DAG below db's heads, read from e.
func dagCIDs(t *testing.T, e *engine.Engine, db *engine.Database) []cid.Cid {
	t.Helper()
	seen := map[cid.Cid]bool{}
	todo := engine.HeadsOf(db)
	var out []cid.Cid
	for len(todo) > 0 {
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
		blk, err := engine.BlockOf(e, c)
		require.NoError(t, err)
		nd, err := merkledag.DecodeProtobuf(blk.RawData())
		require.NoError(t, err)
		for _, l := range nd.Links() {
			todo = append(todo, l.Cid)
		}
	}
	return out
}

// A peer that knows an open database's topic name (gossipsub shows it to
// every connected peer) but not its address subscribes to the topic,
// connects to the members, and asks bitswap for every block of the
// database's DAG: it receives no document. The broadcasts it gets are
// sealed to the address, and the members' bitswap serves blocks only to
// peers whose claim for an open database verified. Members still
// replicate, and a late joiner still catches up.
func TestNonMemberReadsNothing(t *testing.T) {
	ctx := context.Background()
	const marker = "NONMEMBER-MUST-NOT-SEE"
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t, engine.WithoutInlineBlocks())
	strangerDir := t.TempDir()
	s := enginetest.NewEngineAt(t, strangerDir)
	enginetest.ConnectAll(t, a, b, s)

	dbA, err := a.Create(ctx, "Open", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	addr, err := engine.ParseAddress(dbA.Address())
	require.NoError(t, err)
	dbB := enginetest.Open(t, b, dbA.Address())

	// The stranger subscribes to the topic it saw.
	topic, err := s.PubSub().Join(replication.TopicName(addr.Manifest))
	require.NoError(t, err)
	defer topic.Close()
	sub, err := topic.Subscribe()
	require.NoError(t, err)
	var mu sync.Mutex
	var received [][]byte
	subCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			msg, err := sub.Next(subCtx)
			if err != nil {
				return
			}
			mu.Lock()
			received = append(received, msg.Data)
			mu.Unlock()
		}
	}()
	defer func() { sub.Cancel(); stop(); wg.Wait() }()
	poll.Eventually(t, 30*time.Second, func() error {
		for _, p := range topic.ListPeers() {
			if p == a.ID() {
				return nil
			}
		}
		return fmt.Errorf("a not on the stranger's topic yet")
	})

	// Small writes (their deltas travel inline) and a large one (fetched).
	ca, cb := dbA.Collection("notes"), dbB.Collection("notes")
	for i := range 10 {
		_, err := ca.InsertOne(ctx, engine.M{"_id": fmt.Sprint("a", i), "text": fmt.Sprint(marker, i)})
		require.NoError(t, err)
	}
	_, err = cb.InsertOne(ctx, engine.M{"_id": "b0", "text": marker + "-b"})
	require.NoError(t, err)
	docs := make([]any, 300)
	for i := range docs {
		docs[i] = engine.M{"_id": fmt.Sprint("m", i), "text": fmt.Sprint(marker, "-many-", i)}
	}
	_, err = ca.InsertMany(ctx, docs)
	require.NoError(t, err)
	enginetest.Converged(t, time.Minute, 311, ca, cb)

	// The stranger heard the broadcasts...
	poll.Eventually(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(received) == 0 {
			return fmt.Errorf("the stranger received no broadcast")
		}
		return nil
	})
	// ... and asks for every block, by CID, as if it had learnt them all.
	cids := dagCIDs(t, a, dbA)
	require.NotEmpty(t, cids)
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second) // a bound on the attempt, not a timing assertion
	defer cancel()
	var got [][]byte
	var fwg sync.WaitGroup
	for _, c := range cids {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			if blk, err := engine.FetchBlock(fctx, s, c); err == nil {
				mu.Lock()
				got = append(got, blk.RawData())
				mu.Unlock()
			}
		}()
	}
	fwg.Wait()
	require.Empty(t, got, "the stranger fetched %d of %d blocks", len(got), len(cids))

	// A late member, meanwhile, joins and catches up from the same peers.
	late := enginetest.NewEngine(t)
	enginetest.ConnectAll(t, late, a, b)
	dbL := enginetest.Open(t, late, dbA.Address())
	enginetest.Converged(t, time.Minute, 311, ca, dbL.Collection("notes"))
	_, err = dbL.Collection("notes").InsertOne(ctx, engine.M{"_id": "late"})
	require.NoError(t, err)
	enginetest.Converged(t, time.Minute, 312, ca, cb, dbL.Collection("notes"))

	// Nothing the stranger received, nor anything on its disk, holds a
	// document.
	mu.Lock()
	for _, d := range append(received, got...) {
		require.False(t, bytes.Contains(d, []byte(marker)), "a broadcast or block in clear text")
	}
	mu.Unlock()
	require.NoError(t, s.Close())
	err = filepath.WalkDir(strangerDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		require.False(t, bytes.Contains(data, []byte(marker)), "%s holds a document", path)
		return nil
	})
	require.NoError(t, err)
}
