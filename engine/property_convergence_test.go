package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"pgregory.net/rapid"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/faultnet"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/value"
)

// Budgets of the property test over real engines. CI runs propCIChecks
// cases of about propCISteps actions each (~60 s on 2 cores). The long run:
//
//	LATTICE_LONG=1 go test -run TestPropertyConvergence -timeout 0 ./engine/
//
// or any -rapid.checks / -rapid.steps given on the command line, which win.
const (
	propCIChecks   = 12
	propCISteps    = 30
	propLongChecks = 2000
	propLongSteps  = 50
)

var (
	userFlagsOnce sync.Once
	userFlags     = map[string]bool{}
)

// rapidBudget sets rapid's case and step counts for this test unless the
// command line set them, and restores them afterwards.
func rapidBudget(t *testing.T, checks, steps, longChecks, longSteps int) {
	// flag.Visit also reports flags this function set itself, so record the
	// command line's choices once, before the first flag.Set: otherwise a
	// second run in the process (-count=2) took rapid's defaults of 100
	// cases x 100 steps for the user's.
	userFlagsOnce.Do(func() {
		flag.Visit(func(f *flag.Flag) { userFlags[f.Name] = true })
	})
	set := userFlags
	if os.Getenv("LATTICE_LONG") != "" {
		checks, steps = longChecks, longSteps
	}
	for name, v := range map[string]int{"rapid.checks": checks, "rapid.steps": steps} {
		if set[name] || os.Getenv("RAPID_"+map[string]string{"rapid.checks": "CHECKS", "rapid.steps": "STEPS"}[name]) != "" {
			continue
		}
		f := flag.Lookup(name)
		old := f.Value.String()
		if err := flag.Set(name, strconv.Itoa(v)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = flag.Set(name, old) })
	}
}

// TestPropertyConvergence issues random writes on random replicas of one
// database (3 real engines on loopback TCP with pebble stores, plus a late
// joiner), interleaved with partitions, heals and crash-restarts from disk,
// and checks after every step, and after a final heal, that:
//   - connected replicas settle on identical documents;
//   - the documents are one of the states the reference model (a plain Go
//     model of go-ds-crdt's rules and crdt/doc.go's semantics) admits;
//   - indexed Find agrees with a full scan;
//   - counters are exact, by a ledger kept apart from the model: a field
//     (or nested path) of a document never deleted nor replaced that only
//     $inc wrote holds the sum of every acknowledged increment;
//   - the collection's schema (propSchema) is kept: the model refuses the
//     local writes it refuses, and every document shown, merged or not,
//     keeps its per-value rules (validation's merge-safety rule), while the
//     cross-field maxProperties may be passed by merges (counted).
//
// Updates write top-level fields and nested paths ("a.x", "a.x.z").
//
// Writes include inserts and upserts of one _id on both sides of a
// partition ("create"), so concurrent creations merge in the final heal.
//
// rapid prints the seed of a failing case and shrinks it; replay with
// -rapid.seed=N.
func TestPropertyConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("real engines; skipped in -short")
	}
	rapidBudget(t, propCIChecks, propCISteps, propLongChecks, propLongSteps)
	cases, steps, worlds, races, refused, overMax := 0, 0, 0, 0, 0, 0
	start := time.Now()
	rapid.Check(t, func(rt *rapid.T) {
		cases++
		s := newPropSystem(t, rt)
		defer s.close()
		rt.Repeat(map[string]func(*rapid.T){
			"insert":    s.insert,
			"upsert":    s.upsert,
			"create":    s.createRace,
			"update":    s.update,
			"update2":   s.update,
			"replace":   s.replace,
			"delete":    s.delete,
			"index":     s.index,
			"partition": s.partition,
			"heal":      s.heal,
			"crash":     s.crash,
			"join":      s.join,
			"":          func(*rapid.T) {},
		})
		s.final(rt)
		steps += len(s.m.history)
		for _, h := range s.m.history {
			if strings.HasPrefix(h, "create race") {
				races++
			}
		}
		worlds = max(worlds, s.m.maxWorld)
		for _, h := range s.m.history {
			if strings.HasSuffix(h, `err="op"`) {
				refused++ // schema refusals among them
			}
		}
		overMax += len(s.overMax)
	})
	t.Logf("%d cases, %d steps (%d create races, %d refused writes), at most %d admissible model states, %d documents merged past maxProperties, in %s",
		cases, steps, races, refused, worlds, overMax, time.Since(start).Round(time.Millisecond))
}

type propReplica struct {
	dir      string
	gater    *faultnet.Gater
	e        *engine.Engine
	db       *engine.Database
	c        *engine.Collection
	id       peer.ID
	up       bool
	isolated bool
}

type propSystem struct {
	overMax map[string]bool // _ids shown past maxProperties after a merge
	t       *testing.T
	reps    []*propReplica
	addr    string
	m       *model
	ids     []string
	// counters is a ledger of acknowledged writes kept apart from the
	// model: what the final state must hold for exact counters.
	counters map[string]*counterLedger
}

// counterLedger is what acknowledged writes did to one _id.
type counterLedger struct {
	killed   bool             // a delete or replace wrote
	assigned map[string]bool  // fields an insert or a non-$inc operator wrote
	incs     map[string]int64 // sum of the acknowledged $inc of each field
}

// note records an acknowledged write in the counter ledger.
func (s *propSystem) note(op mop, got outcome) {
	if got.err != "" || !got.wrote || op.id == "" {
		return
	}
	l := s.counters[op.id]
	if l == nil {
		l = &counterLedger{assigned: map[string]bool{}, incs: map[string]int64{}}
		s.counters[op.id] = l
	}
	switch op.kind {
	case "delete", "replace":
		l.killed = true
	case "insert":
		for f := range op.doc {
			l.assigned[f] = true
		}
	case "update", "upsert":
		for o, fields := range op.update {
			for f, v := range fields.(map[string]any) {
				if o == "$inc" {
					l.incs[f] += v.(int64)
					continue
				}
				l.assigned[f] = true
				if to, ok := v.(string); ok && o == "$rename" {
					l.assigned[to] = true
				}
			}
		}
	}
}

// checkCounters checks, on replica r, that every field of a document never
// deleted nor replaced that only $inc ever wrote holds exactly the sum of
// its acknowledged increments, independently of the model.
func (s *propSystem) checkCounters(rt *rapid.T, r int) {
	docs := s.docs(rt, r)
	for id, l := range s.counters {
		if l.killed {
			continue
		}
		text, ok := docs[id]
		if !ok {
			rt.Fatalf("replica %d: %s was written, never deleted, and is gone", r, id)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(text), &doc); err != nil {
			rt.Fatal(err)
		}
	next:
		for f, want := range l.incs {
			for a := range l.assigned {
				if a == f || strings.HasPrefix(f, a+".") || strings.HasPrefix(a, f+".") {
					continue next // an assignment of the path, above or below it
				}
			}
			for g := range l.incs {
				if strings.HasPrefix(f, g+".") || strings.HasPrefix(g, f+".") {
					// Counters at a path and below it ("n" and "n.x.z",
					// made concurrently): a field cannot be both a number
					// and an object, and one of them shows (crdt/doc.go).
					continue next
				}
			}
			var at any = doc
			for _, part := range strings.Split(f, ".") {
				m, _ := at.(map[string]any)
				at = m[part]
			}
			if got, ok := at.(float64); !ok || got != float64(want) {
				rt.Fatalf("replica %d: %s.%s = %v, its acknowledged increments sum to %d\nhistory:\n%s",
					r, id, f, at, want, strings.Join(s.m.history, "\n"))
			}
		}
	}
}

const propMaxReplicas = 4

func (s *propSystem) startEngine(rt *rapid.T, r *propReplica) {
	r.gater = faultnet.NewGater()
	e, err := engine.New(context.Background(),
		engine.WithDataDir(r.dir),
		engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		engine.WithRebroadcastInterval(500*time.Millisecond),
		engine.WithLibp2pOptions(libp2p.ConnectionGater(r.gater)),
		engine.WithReconnect(false), // topology decides who is connected

	)
	if err != nil {
		rt.Fatalf("engine.New: %v", err)
	}
	r.e, r.id, r.up = e, e.ID(), true
}

func newPropSystem(t *testing.T, rt *rapid.T) *propSystem {
	s := &propSystem{t: t, ids: []string{"d0", "d1", "d2", "d3"}, counters: map[string]*counterLedger{}, overMax: map[string]bool{}}
	var names []string
	for i := 0; i < 3; i++ {
		dir, err := os.MkdirTemp(t.TempDir(), "rep")
		if err != nil {
			rt.Fatal(err)
		}
		r := &propReplica{dir: dir}
		s.reps = append(s.reps, r)
		s.startEngine(rt, r)
		names = append(names, r.id.String())
	}
	s.m = newModel(names...)
	s.topology(rt)
	s.m.worlds[0].schema = propSchemaLocal
	db, err := s.reps[0].e.Create(context.Background(), "prop", engine.WithAccess(accesscontrol.Open()),
		engine.WithSchemas(map[string]json.RawMessage{"c": json.RawMessage(propSchema)}))
	if err != nil {
		rt.Fatal(err)
	}
	s.addr = db.Address()
	s.reps[0].db, s.reps[0].c = db, db.Collection("c")
	for _, r := range s.reps[1:] {
		s.open(rt, r)
	}
	return s
}

func (s *propSystem) open(rt *rapid.T, r *propReplica) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := r.e.Open(ctx, s.addr)
	if err != nil {
		rt.Fatalf("open: %v", err)
	}
	r.db, r.c = db, db.Collection("c")
}

func (s *propSystem) close() {
	for _, r := range s.reps {
		if r.up {
			_ = r.e.Close()
			r.up = false
		}
	}
}

// topology makes the connections match the partition state: isolated
// replicas talk to nobody, the others form one fully connected group.
//
// A dial is given a minute: under -race with the machine loaded (CI runs
// other packages' tests beside this one) a loopback handshake once took
// longer than 10 s, and how long dials take is not what this test checks.
func (s *propSystem) topology(rt *rapid.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, a := range s.reps {
		for _, b := range s.reps[i+1:] {
			if !a.up || !b.up {
				continue
			}
			if a.isolated || b.isolated {
				a.gater.Block(b.id)
				b.gater.Block(a.id)
				_ = a.e.Host().Network().ClosePeer(b.id)
				_ = b.e.Host().Network().ClosePeer(a.id)
				continue
			}
			a.gater.Unblock(b.id)
			b.gater.Unblock(a.id)
			if len(a.e.Host().Network().ConnsToPeer(b.id)) == 0 {
				start := time.Now()
				if err := a.e.Connect(ctx, peer.AddrInfo{ID: b.id, Addrs: b.e.Host().Addrs()}); err != nil {
					rt.Fatalf("connect r%d to r%d after %s: %v", i, slices.Index(s.reps, b), time.Since(start).Round(time.Millisecond), err)
				}
				if d := time.Since(start); d > 5*time.Second {
					s.t.Logf("slow dial: r%d to r%d took %s", i, slices.Index(s.reps, b), d.Round(time.Millisecond))
				}
			}
		}
	}
}

// group is the replicas r shares a partition with (r included).
func (s *propSystem) group(r int) []int {
	if s.reps[r].isolated {
		return []int{r}
	}
	var g []int
	for i, x := range s.reps {
		if x.up && x.db != nil && !x.isolated {
			g = append(g, i)
		}
	}
	return g
}

// settle waits until the replicas of g hold the same DAG with nothing left
// to process, tells the model they share everything, and checks each
// against it.
//
// Same heads and empty queues are not proof of quiescence: go-ds-crdt
// records a branch's head as soon as the branch meets a node another worker
// has reserved, while that worker may still be fetching below it, and its
// in-flight jobs are not counted in QueuedJobs (a late joiner showed this:
// same heads, no queued jobs, documents still missing). So settle also
// waits for the replicas to show identical documents, twice in a row at
// least settleQuiet apart with unchanged heads and bitswap traffic. A real
// divergence then fails as "never settled" with the differing documents.
func (s *propSystem) settle(rt *rapid.T, g []int) {
	const settleQuiet = 100 * time.Millisecond
	deadline := time.Now().Add(45 * time.Second)
	var docs []map[string]string
	var mark string
	var since time.Time
	for {
		var err error
		docs, err = s.settledDocs(rt, g)
		if err == nil {
			m := s.quietMark(g)
			if m == mark && time.Since(since) >= settleQuiet {
				break
			}
			if m != mark {
				mark, since = m, time.Now()
			}
		} else {
			mark = ""
		}
		if time.Now().After(deadline) {
			rt.Fatalf("replicas %v never settled: %v\nnetwork:\n%s\nhistory:\n%s", g, err, s.network(g), strings.Join(s.m.history, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.m.sync(g)
	for i, r := range g {
		if err := s.m.observe(r, docs[i]); err != nil {
			rt.Fatal(err)
		}
		for id, j := range docs[i] {
			var doc map[string]any
			if err := json.Unmarshal([]byte(j), &doc); err != nil {
				rt.Fatal(err)
			}
			if err := propSchemaPerValue(doc); err != nil {
				rt.Fatalf("replica %d shows %s, which breaks a per-value rule of the schema (merge safety): %v\nhistory:\n%s", r, j, err, strings.Join(s.m.history, "\n"))
			}
			if propSchemaLocal(doc) != nil {
				s.overMax[id] = true // maxProperties: a merge may pass it
			}
		}
	}
}

// The property test's schema. Its per-value rules ("t" a string, "k" one
// of two strings) must hold on every document every replica shows,
// merged or not (validation's merge-safety rule); maxProperties relates
// the fields of a document, so concurrent writes of different fields may
// merge past it: it is judged on local writes only, by the replicas and
// by the model (propSchemaLocal), never on merged documents.
const propSchema = `{"type": "object", "properties": {"t": {"type": "string"}, "k": {"enum": ["x", "y"]}}, "maxProperties": 3}`

// propSchemaPerValue judges the per-value rules of propSchema, apart from
// package validation.
func propSchemaPerValue(doc map[string]any) error {
	if t, ok := doc["t"]; ok {
		if _, str := t.(string); !str {
			return fmt.Errorf("/t: %v is not a string", t)
		}
	}
	if k, ok := doc["k"]; ok && k != "x" && k != "y" {
		return fmt.Errorf("/k: %v is not in the enum", k)
	}
	return nil
}

// propSchemaLocal judges every rule of propSchema: what a local write
// must leave.
func propSchemaLocal(doc map[string]any) error {
	if err := propSchemaPerValue(doc); err != nil {
		return err
	}
	n := 0
	for k := range doc {
		if k != "_id" {
			n++
		}
	}
	if n > 3 {
		return fmt.Errorf("%d properties, at most 3", n)
	}
	return nil
}

// network describes, for a failure message, what each replica of g sees
// of the others: connections, topic peers and replication counters.
func (s *propSystem) network(g []int) string {
	var b strings.Builder
	for _, r := range g {
		rep := s.reps[r]
		st := rep.db.Stats()
		fmt.Fprintf(&b, "  r%d %s: topic peers %d, joins %d, lost subscriptions %d, heads received %d sent %d on join %d served %d suppressed %d dropped %d, fetch failures %d, rejected %d, queued %d, catch-up %+v, conns:",
			r, rep.id.ShortString(), st.Peers, st.PeerJoins, st.LostSubscriptions, st.HeadsReceived, st.HeadsSent, st.HeadsSentOnJoin, st.HeadsServed, st.HeadsSuppressed, st.HeadsDropped, st.FetchFailures, st.Rejected, st.QueuedHeads, st.Catchup)
		for _, o := range g {
			if o != r {
				score, _ := rep.e.PeerScore(s.reps[o].id)
				fmt.Fprintf(&b, " r%d=%d (score %.1f)", o, len(rep.e.Host().Network().ConnsToPeer(s.reps[o].id)), score)
			}
		}
		b.WriteString("\n")
		// The read model against the store: a document whose view differs
		// from what the store holds now is a stale view, not a divergence.
		for _, id := range s.allIDs(g) {
			view := "(none)"
			var m map[string]any
			if err := rep.c.FindByID(context.Background(), id).Decode(&m); err == nil {
				view = canonJSON(m)
			}
			stored := "(none)"
			if d, err := engine.StoreDoc(rep.db, "c", id); err != nil {
				stored = "error: " + err.Error()
			} else if d != nil {
				stored = canonJSON(d)
			}
			if view != stored {
				fmt.Fprintf(&b, "    r%d %s: view %s, store %s\n", r, id, view, stored)
			}
		}
	}
	return b.String()
}

// allIDs is every _id any replica of g shows, and the drawn ones.
func (s *propSystem) allIDs(g []int) []string {
	seen := map[string]bool{}
	for _, id := range s.ids {
		seen[id] = true
	}
	for _, r := range g {
		cur, err := s.reps[r].c.Find(context.Background(), nil)
		if err != nil {
			continue
		}
		var all []map[string]any
		if cur.All(context.Background(), &all) != nil {
			continue
		}
		for _, d := range all {
			seen[fmt.Sprint(d["_id"])] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// settledDocs returns the documents of every replica of g once they have
// the same heads, nothing queued and identical documents.
func (s *propSystem) settledDocs(rt *rapid.T, g []int) ([]map[string]string, error) {
	if err := s.settled(g); err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, r := range g {
		d := s.docs(rt, r)
		if len(out) > 0 && !equalDocs(out[0], d) {
			return nil, fmt.Errorf("replicas %d and %d differ:\n%s\nvs\n%s", g[0], r, fmtDocs(out[0]), fmtDocs(d))
		}
		out = append(out, d)
	}
	return out, nil
}

// quietMark changes whenever a replica of g changes heads or receives
// blocks.
func (s *propSystem) quietMark(g []int) string {
	var b strings.Builder
	for _, r := range g {
		st := s.reps[r].db.Stats()
		fmt.Fprint(&b, s.reps[r].db.Heads(), st.BitswapDataIn, st.RemoteApplied, ";")
	}
	return b.String()
}

func (s *propSystem) settled(g []int) error {
	var heads string
	for i, r := range g {
		db := s.reps[r].db
		h := fmt.Sprint(db.Heads())
		if i == 0 {
			heads = h
		} else if h != heads {
			return fmt.Errorf("replica %d heads %s, replica %d heads %s", r, h, g[0], heads)
		}
		if st := db.Stats(); st.QueuedHeads > 0 || st.PendingChanges > 0 {
			return fmt.Errorf("replica %d busy", r)
		}
	}
	return nil
}

func (s *propSystem) docs(rt *rapid.T, r int) map[string]string {
	cur, err := s.reps[r].c.Find(context.Background(), nil)
	if err != nil {
		rt.Fatal(err)
	}
	var all []map[string]any
	if err := cur.All(context.Background(), &all); err != nil {
		rt.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range all {
		out[fmt.Sprint(d["_id"])] = canonJSON(d)
	}
	return out
}

// live picks a replica that is up and has the database open.
func (s *propSystem) live(rt *rapid.T) int {
	var ok []int
	for i, r := range s.reps {
		if r.up && r.db != nil {
			ok = append(ok, i)
		}
	}
	if len(ok) == 0 {
		rt.Skip("no live replica")
	}
	return rapid.SampledFrom(ok).Draw(rt, "replica")
}

// exec runs a write on replica r, feeds its outcome to the model and
// settles r's group.
func (s *propSystem) exec(rt *rapid.T, op mop, run func(c *engine.Collection) (string, error)) {
	r := s.reps[op.replica]
	before := r.db.Stats().Commits
	id, err := run(r.c)
	if id != "" {
		op.id = id
	}
	got := outcome{wrote: r.db.Stats().Commits > before}
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrDuplicateKey):
		got.err = "dup"
	default:
		got.err = "op"
	}
	if d := r.db.Stats().Commits - before; d > 1 {
		rt.Fatalf("%s wrote %d deltas, the model expects at most one", op, d)
	}
	if err := s.m.apply(op, got); err != nil {
		rt.Fatalf("%v\nhistory: %v", err, s.m.history)
	}
	s.note(op, got)
	s.settle(rt, s.group(op.replica))
}

var propFields = []string{"a", "n", "t", "k"}

func genScalar(rt *rapid.T, label string) any {
	if rapid.Bool().Draw(rt, label+"-isnum") {
		return int64(rapid.IntRange(-3, 3).Draw(rt, label))
	}
	return rapid.SampledFrom([]string{"x", "y", "z"}).Draw(rt, label)
}

func genValue(rt *rapid.T, label string) any {
	if rapid.IntRange(0, 5).Draw(rt, label+"-obj") == 0 {
		return map[string]any{"x": genScalar(rt, label+"-x")}
	}
	if rapid.IntRange(0, 3).Draw(rt, label+"-arr") == 0 {
		n := rapid.IntRange(0, 3).Draw(rt, label+"-len")
		arr := make([]any, n)
		for i := range arr {
			arr[i] = genScalar(rt, label+"-el")
		}
		return arr
	}
	return genScalar(rt, label)
}

func genDoc(rt *rapid.T) map[string]any {
	d := map[string]any{}
	for _, f := range propFields {
		if rapid.Bool().Draw(rt, "has-"+f) {
			d[f] = genValue(rt, f)
		}
	}
	return d
}

func (s *propSystem) insert(rt *rapid.T) {
	r := s.live(rt)
	doc := genDoc(rt)
	op := mop{kind: "insert", replica: r, doc: doc}
	if rapid.IntRange(0, 4).Draw(rt, "gen-id") > 0 {
		op.id = rapid.SampledFrom(s.ids).Draw(rt, "id")
		doc["_id"] = op.id
	}
	s.exec(rt, op, func(c *engine.Collection) (string, error) {
		res, err := c.InsertOne(context.Background(), value.Clone(doc))
		if err != nil {
			return "", err
		}
		id := fmt.Sprint(res.InsertedID)
		doc["_id"] = id
		return id, nil
	})
}

// upsert runs UpdateOne with upsert on an _id: an update when the replica
// holds the document, a creation when it does not.
func (s *propSystem) upsert(rt *rapid.T) {
	s.upsertOn(rt, s.live(rt), s.pickID(rt))
}

func (s *propSystem) upsertOn(rt *rapid.T, r int, id string) {
	u := genUpdate(rt)
	s.exec(rt, mop{kind: "upsert", replica: r, id: id, update: u}, func(c *engine.Collection) (string, error) {
		_, err := c.UpdateOne(context.Background(), engine.M{"_id": id}, value.Clone(u), engine.Upsert(true))
		return "", err
	})
}

// createRace isolates a replica (unless one is already cut off) and has
// it and a replica on the other side create the same _id, by insert or
// upsert, before either has seen the other's creation: the concurrent
// creations that must merge field by field when the partition heals.
func (s *propSystem) createRace(rt *rapid.T) {
	var cut, rest []int
	for i, r := range s.reps {
		if !r.up || r.db == nil {
			continue
		}
		if r.isolated {
			cut = append(cut, i)
		} else {
			rest = append(rest, i)
		}
	}
	if len(cut) == 0 {
		if len(rest) < 2 {
			rt.Skip("nothing to partition")
		}
		r := rapid.SampledFrom(rest).Draw(rt, "isolate")
		s.reps[r].isolated = true
		s.m.history = append(s.m.history, fmt.Sprintf("partition r%d", r))
		s.topology(rt)
		s.createRace(rt)
		return
	}
	if len(rest) == 0 {
		rt.Skip("everybody is cut off")
	}
	a, b := rapid.SampledFrom(cut).Draw(rt, "a"), rapid.SampledFrom(rest).Draw(rt, "b")
	id := s.pickID(rt)
	s.m.history = append(s.m.history, fmt.Sprintf("create race r%d r%d on %s", a, b, id))
	for _, r := range []int{a, b} {
		if rapid.Bool().Draw(rt, "by-upsert") {
			s.upsertOn(rt, r, id)
			continue
		}
		doc := genDoc(rt)
		doc["_id"] = id
		s.exec(rt, mop{kind: "insert", replica: r, id: id, doc: doc}, func(c *engine.Collection) (string, error) {
			_, err := c.InsertOne(context.Background(), value.Clone(doc))
			return id, err
		})
	}
}

func (s *propSystem) pickID(rt *rapid.T) string {
	return rapid.SampledFrom(s.ids).Draw(rt, "id")
}

func genUpdate(rt *rapid.T) map[string]any {
	f := rapid.SampledFrom(propFields).Draw(rt, "field")
	if rapid.IntRange(0, 3).Draw(rt, "nested") == 0 {
		f += rapid.SampledFrom([]string{".x", ".y", ".x.z"}).Draw(rt, "sub") // a nested path
	}
	switch op := rapid.SampledFrom([]string{"$set", "$unset", "$inc", "$inc", "$addToSet", "$addToSet", "$pull", "$push", "$rename", "$max"}).Draw(rt, "op"); op {
	case "$set":
		return engine.M{op: engine.M{f: genValue(rt, "v")}}
	case "$unset":
		return engine.M{op: engine.M{f: ""}}
	case "$inc":
		return engine.M{op: engine.M{f: int64(rapid.IntRange(-3, 5).Draw(rt, "by"))}}
	case "$max":
		return engine.M{op: engine.M{f: int64(rapid.IntRange(-3, 5).Draw(rt, "max"))}}
	case "$addToSet":
		if rapid.Bool().Draw(rt, "each") {
			n := rapid.IntRange(1, 3).Draw(rt, "n")
			items := make([]any, n)
			for i := range items {
				items[i] = genScalar(rt, "item")
			}
			return engine.M{op: engine.M{f: engine.M{"$each": items}}}
		}
		return engine.M{op: engine.M{f: genScalar(rt, "item")}}
	case "$pull", "$push":
		return engine.M{op: engine.M{f: genScalar(rt, "item")}}
	default: // $rename
		to := rapid.SampledFrom(propFields).Filter(func(g string) bool { return g != strings.Split(f, ".")[0] }).Draw(rt, "to")
		return engine.M{op: engine.M{f: to}}
	}
}

func (s *propSystem) update(rt *rapid.T) {
	r := s.live(rt)
	id := s.pickID(rt)
	u := genUpdate(rt)
	s.exec(rt, mop{kind: "update", replica: r, id: id, update: u}, func(c *engine.Collection) (string, error) {
		_, err := c.UpdateOne(context.Background(), engine.M{"_id": id}, value.Clone(u))
		return "", err
	})
}

func (s *propSystem) replace(rt *rapid.T) {
	r := s.live(rt)
	id := s.pickID(rt)
	doc := genDoc(rt)
	mdoc := value.Clone(doc).(map[string]any)
	mdoc["_id"] = id
	s.exec(rt, mop{kind: "replace", replica: r, id: id, doc: mdoc}, func(c *engine.Collection) (string, error) {
		_, err := c.ReplaceOne(context.Background(), engine.M{"_id": id}, value.Clone(doc))
		return "", err
	})
}

func (s *propSystem) delete(rt *rapid.T) {
	r := s.live(rt)
	id := s.pickID(rt)
	s.exec(rt, mop{kind: "delete", replica: r, id: id}, func(c *engine.Collection) (string, error) {
		_, err := c.DeleteOne(context.Background(), engine.M{"_id": id})
		return "", err
	})
}

func (s *propSystem) index(rt *rapid.T) {
	r := s.live(rt)
	path := rapid.SampledFrom([]string{"k", "a", "n"}).Draw(rt, "path")
	s.exec(rt, mop{kind: "index", replica: r, path: path}, func(c *engine.Collection) (string, error) {
		_, err := c.CreateIndex(context.Background(), path)
		return "", err
	})
}

func (s *propSystem) partition(rt *rapid.T) {
	var cand []int
	for i, r := range s.reps {
		if r.up && r.db != nil && !r.isolated {
			cand = append(cand, i)
		}
	}
	if len(cand) < 2 {
		rt.Skip("nothing to partition")
	}
	r := rapid.SampledFrom(cand).Draw(rt, "isolate")
	s.reps[r].isolated = true
	s.m.history = append(s.m.history, fmt.Sprintf("partition r%d", r))
	s.topology(rt)
}

func (s *propSystem) heal(rt *rapid.T) {
	cut := false
	for _, r := range s.reps {
		cut = cut || r.isolated
		r.isolated = false
	}
	if !cut {
		rt.Skip("nothing to heal")
	}
	s.m.history = append(s.m.history, "heal")
	s.topology(rt)
	s.settle(rt, s.group(s.live(rt)))
}

// crash closes a replica's engine and restarts it on the same data
// directory, opening the database by address.
func (s *propSystem) crash(rt *rapid.T) {
	r := s.live(rt)
	rep := s.reps[r]
	s.m.history = append(s.m.history, fmt.Sprintf("restart r%d", r))
	if err := rep.e.Close(); err != nil {
		rt.Fatalf("close: %v", err)
	}
	rep.up = false
	s.startEngine(rt, rep)
	s.open(rt, rep)
	// The restarted replica must show exactly what it held before.
	if err := s.m.observe(r, s.docs(rt, r)); err != nil {
		rt.Fatalf("after restart: %v", err)
	}
	s.topology(rt)
	s.settle(rt, s.group(r))
}

// join adds a fourth replica that opens the database late.
func (s *propSystem) join(rt *rapid.T) {
	if len(s.reps) >= propMaxReplicas {
		rt.Skip("already joined")
	}
	g := -1
	for i, r := range s.reps {
		if r.up && r.db != nil && !r.isolated {
			g = i
		}
	}
	if g < 0 {
		rt.Skip("nobody to join")
	}
	dir, err := os.MkdirTemp(s.t.TempDir(), "rep")
	if err != nil {
		rt.Fatal(err)
	}
	rep := &propReplica{dir: dir}
	s.reps = append(s.reps, rep)
	r := len(s.reps) - 1
	s.startEngine(rt, rep)
	s.m.addReplica(r, rep.id.String())
	s.m.history = append(s.m.history, fmt.Sprintf("join r%d", r))
	s.topology(rt)
	s.open(rt, rep)
	s.settle(rt, s.group(r))
}

// final heals everything, restarts nothing (every replica is up), waits
// for all replicas to settle and checks indexes against full scans.
func (s *propSystem) final(rt *rapid.T) {
	for _, r := range s.reps {
		r.isolated = false
	}
	s.m.history = append(s.m.history, "final heal")
	s.topology(rt)
	g := s.group(0)
	if len(g) != len(s.reps) {
		rt.Fatalf("final group %v misses replicas", g)
	}
	s.settle(rt, g)
	for _, r := range g {
		s.checkIndexes(rt, r)
		s.checkCounters(rt, r)
	}
}

// checkIndexes compares Find through every index with a scan filtered in Go.
func (s *propSystem) checkIndexes(rt *rapid.T, r int) {
	ctx := context.Background()
	c := s.reps[r].c
	specs, err := c.Indexes(ctx)
	if err != nil {
		rt.Fatal(err)
	}
	cur, err := c.Find(ctx, nil)
	if err != nil {
		rt.Fatal(err)
	}
	var all []map[string]any
	if err := cur.All(ctx, &all); err != nil {
		rt.Fatal(err)
	}
	filters := func(p string) []engine.M {
		var fs []engine.M
		for _, v := range []any{int64(0), int64(1), int64(3), "x", "y", nil} {
			fs = append(fs, engine.M{p: v})
		}
		fs = append(fs,
			engine.M{p: engine.M{"$gt": 0}}, engine.M{p: engine.M{"$lte": 1}},
			engine.M{p: engine.M{"$in": []any{"x", int64(2)}}}, engine.M{p: engine.M{"$gte": "y"}})
		return fs
	}
	for _, spec := range specs {
		for _, f := range filters(spec.Path) {
			pf, err := query.ParseFilter(f)
			if err != nil {
				rt.Fatal(err)
			}
			want := []string{}
			for _, d := range all {
				if pf.Match(d) {
					want = append(want, canonJSON(d))
				}
			}
			cur, err := c.Find(ctx, f)
			if err != nil {
				rt.Fatal(err)
			}
			var got []map[string]any
			if err := cur.All(ctx, &got); err != nil {
				rt.Fatal(err)
			}
			gotS := []string{}
			for _, d := range got {
				gotS = append(gotS, canonJSON(d))
			}
			if a, b := toJSONString(want), toJSONString(gotS); a != b {
				rt.Fatalf("replica %d: Find(%v) through index %s = %s, scan = %s", r, f, spec.Name, b, a)
			}
		}
	}
}

func toJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
