package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	ipld "github.com/ipfs/go-ipld-format"
	"google.golang.org/protobuf/proto"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/validation"
)

// ValidatingDAG is the DAG service a database's go-ds-crdt instance uses.
// Every node it hands out has a verified signature whose author the access
// controller admits; any other node fails to fetch, so go-ds-crdt never
// merges it (and never walks below it). Reads go through the quarantine,
// and a node is written to disk only once admitted; writes of our own
// nodes pass straight through to the store.
type ValidatingDAG struct {
	ipld.DAGService                 // writes
	read            ipld.DAGService // reads, fetching into held
	held            *Quarantine
	cfg             ValidatorConfig

	latest atomic.Int64 // Unix ms: the latest time claimed by an admitted delta

	mu      sync.Mutex
	valid   map[cid.Cid]struct{} // verified nodes (bounded: reset when full)
	scanned map[cid.Cid]struct{} // nodes whose access-control entries were applied
	// linkedFrom maps the links of recently checked deltas to the delta
	// (bounded: reset when full); missDepth is the depth of each block
	// recently reported missing (bounded likewise), for Missing.
	linkedFrom map[cid.Cid]cid.Cid
	missDepth  map[cid.Cid]int
	// frontier holds scanned nodes whose parents a bounded walk did not
	// reach: the next walk starts with them, so no part of the history is
	// skipped because a walk stopped above it.
	frontier []cid.Cid
}

const maxValidCache = 1 << 17

// DefaultMaxACLWalk bounds the blocks one validation inspects for
// access-control entries; a longer unscanned history is covered by later
// validations, which resume from the frontier where the last one stopped.
const DefaultMaxACLWalk = 4096

// ValidatorConfig is what a ValidatingDAG judges deltas by.
type ValidatorConfig struct {
	// Database is the database's address, which signatures bind.
	Database string
	// Access is the database's access controller. Required.
	Access accesscontrol.Controller
	// Validator, if not nil, judges every change a delta makes to a
	// document before the delta is admitted (see judgeDelta).
	Validator validation.Validator
	// Counters, if not nil, count refused deltas.
	Counters *Counters
	// Log receives a debug line for each refused delta; nil is silent.
	Log hclog.Logger
	// Covered, if not nil, reports blocks in the past of the snapshot the
	// replica was installed from (internal/snapshot): the access-control
	// walk stops at them, as go-ds-crdt's walk does (they may be gone
	// everywhere, and their entries came with the snapshot).
	Covered func(c cid.Cid) bool
	// MaxACLWalk bounds one validation's walk for access-control entries
	// below a delta; 0 means DefaultMaxACLWalk.
	MaxACLWalk int
	// Missing, if not nil, is told when a walk (go-ds-crdt's, or the
	// access-control walk) asks for a block that is neither stored nor
	// held: a history this replica lacks is about to be fetched one
	// block at a time (see Broadcaster.Missing). depth is how many
	// missing blocks in a row the walk has gone down to reach c: 1 when
	// the delta linking to c was local, n+1 when that delta was itself
	// missing at depth n. It is called on the walking goroutine, at most
	// once per call, and must not block.
	Missing func(c cid.Cid, depth int)
}

// maxACLFrontier bounds the frontier; nodes beyond it are forgotten as
// scanned, so a later walk reaches them again from above.
const maxACLFrontier = 4096

// NewValidatingDAG returns a validating DAG service: write stores this
// peer's own nodes, read fetches remote ones into held, the quarantine
// read is backed by.
func NewValidatingDAG(write, read ipld.DAGService, held *Quarantine, cfg ValidatorConfig) *ValidatingDAG {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Counters == nil {
		cfg.Counters = new(Counters)
	}
	if cfg.MaxACLWalk <= 0 {
		cfg.MaxACLWalk = DefaultMaxACLWalk
	}
	return &ValidatingDAG{DAGService: write, read: read, held: held, cfg: cfg, valid: make(map[cid.Cid]struct{}), scanned: make(map[cid.Cid]struct{}), linkedFrom: make(map[cid.Cid]cid.Cid), missDepth: make(map[cid.Cid]int)}
}

// Get returns a node, verified and admitted, or an error.
func (v *ValidatingDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	v.noteMissing(ctx, c)
	nd, err := v.read.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := v.check(ctx, nd); err != nil {
		return nil, err
	}
	return nd, nil
}

// GetMany is Get for many nodes, streamed.
func (v *ValidatingDAG) GetMany(ctx context.Context, cids []cid.Cid) <-chan *ipld.NodeOption {
	v.noteMissing(ctx, cids...)
	return v.filter(ctx, v.read.GetMany(ctx, cids))
}

// noteMissing tells cfg.Missing of the first of cids that is not local.
func (v *ValidatingDAG) noteMissing(ctx context.Context, cids ...cid.Cid) {
	if v.cfg.Missing == nil {
		return
	}
	for _, c := range cids {
		if has, err := v.held.Has(ctx, c); err == nil && !has {
			v.mu.Lock()
			depth := 1
			if parent, ok := v.linkedFrom[c]; ok {
				depth += v.missDepth[parent]
			}
			if len(v.missDepth) >= maxLinkedFrom {
				v.missDepth = make(map[cid.Cid]int)
			}
			v.missDepth[c] = depth
			v.mu.Unlock()
			v.cfg.Missing(c, depth)
			return
		}
	}
}

// ErrHeightMoved is what Add returns for this peer's own block when the
// height its signature binds is not the height go-ds-crdt gave the block:
// heads moved between signing and committing. Nothing is stored; the
// writer signs again for the new height and commits once more.
var ErrHeightMoved = errors.New("replication: the delta's height moved after it was signed")

// sigPrefix starts every signature element's key.
var sigPrefix = crdt.SigPrefix()

// Add stores one of this peer's own nodes, unless its signature binds
// another height than the node's (ErrHeightMoved).
func (v *ValidatingDAG) Add(ctx context.Context, nd ipld.Node) error {
	if err := heightMatches(nd); err != nil {
		return err
	}
	return v.DAGService.Add(ctx, nd)
}

// AddMany is Add for several nodes: none is stored if one is refused.
func (v *ValidatingDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		if err := heightMatches(nd); err != nil {
			return err
		}
	}
	return v.DAGService.AddMany(ctx, nds)
}

// heightMatches reports ErrHeightMoved for a delta whose signature names
// another height than its priority. Nodes that are not deltas, or carry
// no height, pass: judging them is the receivers'.
func heightMatches(nd ipld.Node) error {
	d, err := decodeDelta(nd)
	if err != nil {
		return nil
	}
	els := d.GetElements()
	for i := len(els) - 1; i >= 0; i-- { // the writer puts its signature last
		e := els[i]
		if !strings.HasPrefix(e.GetKey(), sigPrefix) {
			continue
		}
		if k, err := crdt.ParseKey(e.GetKey()); err != nil || k.Kind != crdt.KindSig {
			continue
		}
		var env envelope
		if json.Unmarshal(e.GetValue(), &env) == nil && env.Height != 0 && env.Height != d.GetPriority() {
			return fmt.Errorf("%w: signed for %d, built at %d", ErrHeightMoved, env.Height, d.GetPriority())
		}
		return nil
	}
	return nil
}

// Session keeps go-ds-crdt's session-based fetching, validated.
func (v *ValidatingDAG) Session(ctx context.Context) ipld.NodeGetter {
	var ng ipld.NodeGetter = v.read
	if s, ok := v.read.(interface {
		Session(context.Context) ipld.NodeGetter
	}); ok {
		ng = s.Session(ctx)
	}
	return &validatingGetter{NodeGetter: ng, v: v}
}

func (v *ValidatingDAG) filter(ctx context.Context, in <-chan *ipld.NodeOption) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, 1)
	go func() {
		defer close(out)
		for opt := range in {
			if opt.Err == nil {
				if err := v.check(ctx, opt.Node); err != nil {
					opt = &ipld.NodeOption{Err: err}
				}
			}
			select {
			case out <- opt:
			case <-ctx.Done():
				// Drain so the producer can finish.
				for range in {
				}
				return
			}
		}
	}()
	return out
}

type validatingGetter struct {
	ipld.NodeGetter
	v *ValidatingDAG
}

func (g *validatingGetter) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	g.v.noteMissing(ctx, c)
	nd, err := g.NodeGetter.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := g.v.check(ctx, nd); err != nil {
		return nil, err
	}
	return nd, nil
}

func (g *validatingGetter) GetMany(ctx context.Context, cids []cid.Cid) <-chan *ipld.NodeOption {
	g.v.noteMissing(ctx, cids...)
	return g.v.filter(ctx, g.NodeGetter.GetMany(ctx, cids))
}

func decodeDelta(nd ipld.Node) (*crdtpb.Delta, error) {
	pn, ok := nd.(*dag.ProtoNode)
	if !ok {
		return nil, fmt.Errorf("%w: not a dag-pb node", ErrBadDelta)
	}
	var d crdtpb.Delta
	if err := proto.Unmarshal(pn.Data(), &d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDelta, err)
	}
	return &d, nil
}

// check verifies a node once; verified nodes are remembered.
func (v *ValidatingDAG) check(ctx context.Context, nd ipld.Node) error {
	c := nd.Cid()
	v.mu.Lock()
	_, ok := v.valid[c]
	v.mu.Unlock()
	if ok {
		return nil
	}
	d, err := decodeDelta(nd)
	if err == nil {
		err = v.authorize(ctx, nd, d)
	}
	if err != nil {
		v.held.Reject(c)
		v.cfg.Counters.Rejected.Add(1)
		v.cfg.Log.Debug("delta refused", "cid", c, "error", err)
		return err
	}
	// Admitted: only now does the block reach the disk, before go-ds-crdt
	// merges it and records it as a head.
	if err := v.held.Admit(ctx, nd); err != nil {
		return fmt.Errorf("replication: store admitted block %s: %w", c, err)
	}
	v.mu.Lock()
	if len(v.valid) >= maxValidCache {
		v.valid = make(map[cid.Cid]struct{})
	}
	v.valid[c] = struct{}{}
	v.mu.Unlock()
	v.noteLinks(nd)
	return nil
}

// noteLinks records which delta nd's links are linked from, for Missing.
func (v *ValidatingDAG) noteLinks(nd ipld.Node) {
	if v.cfg.Missing == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.linkedFrom) >= maxLinkedFrom {
		v.linkedFrom = make(map[cid.Cid]cid.Cid)
	}
	for _, l := range nd.Links() {
		v.linkedFrom[l.Cid] = nd.Cid()
	}
}

// maxLinkedFrom bounds ValidatingDAG.linkedFrom and missDepth.
const maxLinkedFrom = 1 << 14

func (v *ValidatingDAG) authorize(ctx context.Context, nd ipld.Node, d *crdtpb.Delta) error {
	w, err := VerifyDelta(v.cfg.Database, d)
	if err != nil {
		return err
	}
	// A replicated controller is judged with every access-control entry of
	// the delta's causal past folded in first: go-ds-crdt walks the DAG from
	// the newest delta down, so without this a replica catching up would
	// judge a writer's delta before merging the grant (or revocation) that
	// the writer itself had seen. Schema entries likewise: the delta's
	// changes are judged with the schema its author held.
	rep, _ := v.cfg.Access.(accesscontrol.Replicated)
	val, _ := v.cfg.Validator.(validation.Replicated)
	if rep != nil || val != nil {
		v.applyACLBelow(ctx, rep, val, nd, d)
	}
	w.After = v.linkedTime(ctx, nd)
	if err := v.cfg.Access.CanWrite(ctx, w); err != nil {
		return err
	}
	if err := judgeDelta(v.cfg.Validator, d); err != nil {
		if v.cfg.Counters != nil {
			v.cfg.Counters.Invalid.Add(1)
		}
		return fmt.Errorf("delta by %s: %w", w.Author, err)
	}
	for ms := w.Time.UnixMilli(); ; {
		cur := v.latest.Load()
		if ms <= cur || v.latest.CompareAndSwap(cur, ms) {
			break
		}
	}
	return nil
}

// Latest is the latest time claimed by a delta this DAG admitted (zero
// before the first): what a local write builds on, as far as this replica
// knows (accesscontrol.Write.After).
func (v *ValidatingDAG) Latest() time.Time {
	if ms := v.latest.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// linkedTime is the latest time claimed by the deltas nd links to, of
// those held here (quarantine or store); it never waits on the network, and
// is zero when none is held.
func (v *ValidatingDAG) linkedTime(ctx context.Context, nd ipld.Node) time.Time {
	var latest time.Time
	for _, l := range nd.Links() {
		child, err := v.localNode(ctx, l.Cid)
		if err != nil {
			continue
		}
		d, err := decodeDelta(child)
		if err != nil {
			continue
		}
		if t, ok := ClaimedTime(d); ok && t.After(latest) {
			latest = t
		}
	}
	return latest
}

// ClaimedTime is the time a delta's signature claims, if it carries a
// well-formed one (not verified: callers judge the delta itself apart).
func ClaimedTime(d *crdtpb.Delta) (time.Time, bool) {
	for _, e := range d.GetElements() {
		k, err := crdt.ParseKey(e.GetKey())
		if err != nil || k.Kind != crdt.KindSig || len(e.GetValue()) > maxEnvelopeSize {
			continue
		}
		var env envelope
		if json.Unmarshal(e.GetValue(), &env) != nil {
			return time.Time{}, false
		}
		return time.UnixMilli(env.Time), true
	}
	return time.Time{}, false
}

// applyACLBelow applies the access-control and schema entries of a node
// and of its ancestors not scanned before (bounded per call).
func (v *ValidatingDAG) applyACLBelow(ctx context.Context, rep accesscontrol.Replicated, val validation.Replicated, nd ipld.Node, d *crdtpb.Delta) {
	apply := func(d *crdtpb.Delta) { applyEntries(rep, val, d) }
	apply(d)
	// The queue holds scanned nodes whose links are still to follow: this
	// node, then where earlier walks stopped.
	v.mu.Lock()
	queue := append([]cid.Cid{nd.Cid()}, v.frontier...)
	v.frontier = nil
	v.mu.Unlock()
	walked := 0
	var retry []cid.Cid // frontier nodes that could not be read this time
	for len(queue) > 0 && walked < v.cfg.MaxACLWalk {
		c := queue[0]
		queue = queue[1:]
		cur := nd
		if c != nd.Cid() {
			// A frontier node was read by an earlier walk: it is local
			// unless the quarantine evicted it. Never wait on the network
			// for it (its announcer may be gone); go-ds-crdt fetches it in
			// time, and a later walk resumes from it.
			var err error
			if cur, err = v.localNode(ctx, c); err != nil {
				retry = append(retry, c)
				continue
			}
		}
		for _, l := range cur.Links() {
			if v.cfg.Covered != nil && v.cfg.Covered(l.Cid) {
				continue // in a snapshot's past: its entries came with the snapshot
			}
			if !v.markScanned(l.Cid) {
				continue
			}
			walked++
			v.noteMissing(ctx, l.Cid)
			child, err := v.read.Get(ctx, l.Cid)
			if err != nil {
				v.unmarkScanned(l.Cid) // try again when it can be fetched
				continue
			}
			if cd, err := decodeDelta(child); err == nil {
				apply(cd)
				v.keepAncestor(ctx, child, cd)
			}
			queue = append(queue, l.Cid)
		}
	}
	queue = append(queue, retry...)
	if len(queue) == 0 {
		return
	}
	v.mu.Lock()
	v.frontier = append(v.frontier, queue...)
	if over := len(v.frontier) - maxACLFrontier; over > 0 {
		for _, c := range v.frontier[maxACLFrontier:] {
			delete(v.scanned, c)
		}
		v.frontier = v.frontier[:maxACLFrontier]
	}
	v.mu.Unlock()
}

// localNode reads a node from the quarantine or the store, never the
// network.
func (v *ValidatingDAG) localNode(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	blk, err := v.held.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return dag.DecodeProtobufBlock(blk)
}

// keepAncestor stores a block the access-control walk read, if it is a
// delta with a valid signature whose author the controller admits now:
// go-ds-crdt is about to walk down to it, and the walk may read more than
// the quarantine holds. Blocks it cannot vouch for stay in the quarantine,
// judged when go-ds-crdt gets to them. (Storing is not merging: the full
// judgment, with the entries below the block applied, is check's.)
func (v *ValidatingDAG) keepAncestor(ctx context.Context, nd ipld.Node, d *crdtpb.Delta) {
	w, err := VerifyDelta(v.cfg.Database, d)
	if err != nil || v.cfg.Access.CanWrite(ctx, w) != nil {
		return
	}
	_ = v.held.Admit(ctx, nd)
}

// markScanned records that a block's entries (and, once the walk finishes,
// its ancestors') were applied; false if it already was.
func (v *ValidatingDAG) markScanned(c cid.Cid) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.scanned[c]; ok {
		return false
	}
	if len(v.scanned) >= maxValidCache {
		v.scanned = make(map[cid.Cid]struct{})
	}
	v.scanned[c] = struct{}{}
	return true
}

func (v *ValidatingDAG) unmarkScanned(c cid.Cid) {
	v.mu.Lock()
	delete(v.scanned, c)
	v.mu.Unlock()
}
