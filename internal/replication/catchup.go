package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ipfs/boxo/blockstore"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Catch-up. A replica that learns a head whose history it lacks (a late
// joiner, a replica back from a long absence) would otherwise walk that
// history one bitswap round trip per DAG level: boxo's client waits at
// least 20 ms between messages, so thousands of single-write deltas take
// tens of seconds. Instead it asks the peer that announced the head for the
// whole missing history on one stream:
//
//	request:  'C' 0x02, claim (the database's TopicKey and a proof that the
//	          requester holds its address, see Claim: never the address),
//	          wanted heads, the requester's heads
//	response: status byte (0 ok; 1 refused, then a reason), then frames
//	          of (CID, block) in breadth-first order from the wanted heads
//	          (parents before children, the order go-ds-crdt walks in),
//	          ended by an empty CID
//
// The sender walks its stored (admitted) blocks only and stops at the
// requester's heads. The requester accepts only blocks reachable from what
// it asked for, verifies each against its CID, and puts it in the
// quarantine, where the access controller judges it when go-ds-crdt reads
// it, as for any remote block: nothing refused reaches the disk. It waits
// while the quarantine is half full, so memory stays bounded on both
// sides (the sender's only state is the set of blocks it has walked). go-ds-crdt
// merges while blocks arrive; any block the stream has not brought yet is
// fetched by bitswap as before, so catch-up only ever makes sync faster.

// CatchupProtocol is the libp2p protocol of catch-up streams.
const CatchupProtocol = protocol.ID("/lattice/catchup/1")

// Bounds of catch-up.
const (
	maxCatchupHeads      = 256              // wanted or have heads in one request
	maxCatchupRequest    = 64 << 10         // bytes of one request
	MaxCatchupBlocks     = 1 << 21          // blocks one stream may carry or track
	maxCatchupBlockBytes = 2 << 20          // one block
	catchupIdle          = 30 * time.Second // the longest pause between frames
	maxCatchupServing    = 4                // streams served at once
	catchupFlushBytes    = 256 << 10
)

// ErrCatchup marks a catch-up that failed: refused, broken, or a sender
// that broke the protocol (an unrequested or forged block, an endless
// stream).
var ErrCatchup = errors.New("replication: catch-up failed")

// errCatchupRefused is a sender's clear refusal (it lacks a wanted head,
// it does not serve the database, it is busy).
var errCatchupRefused = fmt.Errorf("%w: refused", ErrCatchup)

// CatchupRequest asks for the history below Wanted, excluding what the
// requester's heads (Have) already cover.
type CatchupRequest struct {
	// Claim names the database and proves the requester holds its
	// address; CatchUp makes it from Manifest when it is zero.
	Claim Claim
	// Manifest is the database's manifest CID, on the requester's side
	// only: it is not sent.
	Manifest cid.Cid
	Wanted   []cid.Cid
	Have     []cid.Cid
}

// EncodeCatchupRequest encodes r; it fails on more heads than allowed.
func EncodeCatchupRequest(r CatchupRequest) ([]byte, error) {
	if len(r.Wanted) == 0 || len(r.Wanted) > maxCatchupHeads || len(r.Have) > maxCatchupHeads {
		return nil, fmt.Errorf("%w: %d wanted and %d have heads", ErrCatchup, len(r.Wanted), len(r.Have))
	}
	b := appendClaim([]byte{'C', 2}, r.Claim)
	for _, list := range [][]cid.Cid{r.Wanted, r.Have} {
		b = appendUvarint(b, uint64(len(list)))
		for _, c := range list {
			b = appendBytes(b, c.Bytes())
		}
	}
	return b, nil
}

// DecodeCatchupRequest decodes a request from the network: bounded,
// canonical varints only, every CID well formed.
func DecodeCatchupRequest(data []byte) (CatchupRequest, error) {
	var r CatchupRequest
	bad := func(what string) (CatchupRequest, error) {
		return CatchupRequest{}, fmt.Errorf("%w: malformed request: %s", ErrCatchup, what)
	}
	if len(data) > maxCatchupRequest || len(data) < 2 || data[0] != 'C' || data[1] != 2 {
		return bad("header")
	}
	rd := byteReader{b: data[2:]}
	var ok bool
	if r.Claim, ok = rd.claim(); !ok {
		return bad("claim")
	}
	for i, list := range []*[]cid.Cid{&r.Wanted, &r.Have} {
		n, err := rd.uvarint()
		if err != nil || n > maxCatchupHeads || (i == 0 && n == 0) {
			return bad("head count")
		}
		for j := uint64(0); j < n; j++ {
			cb, err := rd.bytes(maxCIDLen)
			if err != nil {
				return bad("head")
			}
			c, err := cid.Cast(cb)
			if err != nil {
				return bad("head CID")
			}
			*list = append(*list, c)
		}
	}
	if len(rd.b) != 0 {
		return bad("trailing bytes")
	}
	return r, nil
}

// CatchupServer answers catch-up streams from blocks this peer stored.
type CatchupServer struct {
	// Blocks are the admitted blocks (never the quarantine: a peer serves
	// only what its access controller judged).
	Blocks blockstore.Blockstore
	// Resolve returns the manifest of the database open here with this
	// TopicKey; false if there is none. A request is served only when its
	// claim proves, against that manifest, that the requester holds the
	// address.
	Resolve func(key [32]byte) (cid.Cid, bool)
	// Admit, if set, is told of each requester whose claim verified,
	// before it is served.
	Admit func(p peer.ID, manifest cid.Cid)
	// Log receives a debug line per stream; nil is silent.
	Log hclog.Logger

	once sync.Once
	sem  chan struct{}
}

// admits tells whether the database c names is open here and c proves
// the stream's remote peer holds its address.
func (s *CatchupServer) admits(st network.Stream, c Claim) bool {
	if s.Resolve == nil {
		return false
	}
	m, ok := s.Resolve(c.Key)
	if !ok || !c.Verify(m, claimCatchup, st.Conn().RemotePeer(), st.Conn().LocalPeer()) {
		return false
	}
	if s.Admit != nil {
		s.Admit(st.Conn().RemotePeer(), m)
	}
	return true
}

// Handle serves one stream until it is done or ctx ends; call it from the
// host's stream handler for CatchupProtocol.
func (s *CatchupServer) Handle(ctx context.Context, st network.Stream) {
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	s.once.Do(func() { s.sem = make(chan struct{}, maxCatchupServing) })
	log := s.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	_ = st.SetDeadline(time.Now().Add(catchupIdle))
	raw, err := readBytes(bufio.NewReader(st), maxCatchupRequest)
	if err != nil {
		_ = st.Reset()
		return
	}
	req, err := DecodeCatchupRequest(raw)
	if err != nil {
		_ = st.Reset()
		return
	}
	bw := bufio.NewWriterSize(st, 64<<10)
	refuse := func(reason string) {
		_ = bw.WriteByte(1)
		_, _ = bw.Write(appendBytes(nil, []byte(reason)))
		_ = bw.Flush()
	}
	if !s.admits(st, req.Claim) {
		refuse("database not open here")
		return
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		refuse("busy")
		return
	}
	for _, h := range req.Wanted {
		if has, err := s.Blocks.Has(ctx, h); err != nil || !has {
			refuse("missing head " + h.String())
			return
		}
	}
	_ = bw.WriteByte(0)
	sent, err := s.walk(ctx, st, bw, req)
	if err == nil {
		_, err = bw.Write([]byte{0}) // end
	}
	if err == nil {
		err = bw.Flush()
	}
	log.Debug("catch-up served", "peer", st.Conn().RemotePeer(), "blocks", sent, "error", err)
}

// walk writes the blocks below the wanted heads, breadth first.
func (s *CatchupServer) walk(ctx context.Context, st network.Stream, bw *bufio.Writer, req CatchupRequest) (int, error) {
	// go-ds-crdt records a fresh replica's first announced heads as its
	// own before it merges them: a wanted head is walked even if the
	// requester says it has it.
	seen := cid.NewSet()
	queue := make([]cid.Cid, 0, len(req.Wanted))
	for _, h := range req.Wanted {
		if seen.Visit(h) {
			queue = append(queue, h)
		}
	}
	for _, h := range req.Have {
		seen.Add(h)
	}
	sent, pending := 0, 0
	for len(queue) > 0 && sent < MaxCatchupBlocks {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		c := queue[0]
		queue = queue[1:]
		blk, err := s.Blocks.Get(ctx, c)
		if err != nil {
			continue // not here: the requester fetches it elsewhere
		}
		frame := appendBytes(nil, c.Bytes())
		frame = appendBytes(frame, blk.RawData())
		if _, err := bw.Write(frame); err != nil {
			return sent, err
		}
		sent++
		if pending += len(frame); pending >= catchupFlushBytes {
			_ = st.SetDeadline(time.Now().Add(catchupIdle))
			if err := bw.Flush(); err != nil {
				return sent, err
			}
			pending = 0
		}
		nd, err := dag.DecodeProtobufBlock(blk)
		if err != nil {
			continue
		}
		for _, l := range nd.Links() {
			if seen.Len() < MaxCatchupBlocks && seen.Visit(l.Cid) {
				queue = append(queue, l.Cid)
			}
		}
	}
	_ = st.SetDeadline(time.Now().Add(catchupIdle))
	return sent, nil
}

// CatchupSink is where a catch-up puts what it receives.
type CatchupSink interface {
	// Has tells whether the block is local (stored or held).
	Has(ctx context.Context, c cid.Cid) bool
	// Put holds a received block until it is judged (the quarantine),
	// and wakes whoever waits for it.
	Put(ctx context.Context, b blocks.Block) error
	// Wait returns when there is room for more blocks, or gives up after a
	// while (memory stays bounded by the quarantine's eviction either way).
	Wait(ctx context.Context) error
}

// CatchupCounters count catch-up progress; all fields are atomic.
type CatchupCounters struct {
	Runs      atomic.Uint64 // catch-ups started
	Failures  atomic.Uint64 // catch-ups that failed (refused, broken, protocol errors)
	Blocks    atomic.Uint64 // blocks received that were missing
	Bytes     atomic.Uint64 // bytes of those blocks
	Remaining atomic.Int64  // blocks known to be missing, not yet received (estimate)
}

// CatchUp runs one catch-up from p: it streams the history below
// req.Wanted into sink until the sender reaches req.Have or the roots,
// and returns the
// CIDs still missing (those the sender did not have) in breadth-first
// order, at most maxCatchupHeads of them. A sender that breaks the
// protocol gets an error wrapping ErrCatchup.
func CatchUp(ctx context.Context, h host.Host, p peer.ID, req CatchupRequest, sink CatchupSink, ctr *CatchupCounters) ([]cid.Cid, error) {
	if req.Claim == (Claim{}) {
		req.Claim = NewClaim(req.Manifest, claimCatchup, h.ID(), p)
	}
	raw, err := EncodeCatchupRequest(req)
	if err != nil {
		return nil, err
	}
	st, err := h.NewStream(network.WithAllowLimitedConn(ctx, "catch-up"), p, CatchupProtocol)
	if err != nil {
		return nil, fmt.Errorf("%w: open stream to %s: %v", ErrCatchup, p, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(catchupIdle))
	if _, err := st.Write(appendBytes(nil, raw)); err != nil {
		return nil, fmt.Errorf("%w: send request: %v", ErrCatchup, err)
	}
	_ = st.CloseWrite()
	br := bufio.NewReaderSize(st, 64<<10)
	status, err := br.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("%w: read status: %v", ErrCatchup, err)
	}
	if status != 0 {
		reason, _ := readBytes(br, 1024)
		return nil, fmt.Errorf("%w by %s: %s", errCatchupRefused, p, reason)
	}

	// reachable: what the sender may send (linked from what we asked for);
	// missing: what of it we lack and have not received.
	// The sender decides where the history ends (at our heads, or at the
	// roots): a block we hold already may be one the quarantine got from
	// bitswap meanwhile, with its past still missing, so every block it
	// sends is followed, and only the ones we lack are kept.
	reachable, missing := cid.NewSet(), cid.NewSet()
	var order []cid.Cid // missing, in the order they became known
	for _, w := range req.Wanted {
		reachable.Add(w)
		if !sink.Has(ctx, w) {
			missing.Add(w)
			order = append(order, w)
		}
	}
	track := func() { ctr.Remaining.Store(int64(missing.Len())) }
	defer ctr.Remaining.Store(0)
	for {
		_ = st.SetDeadline(time.Now().Add(catchupIdle))
		cb, err := readBytes(br, maxCIDLen)
		if err != nil {
			return nil, fmt.Errorf("%w: read frame: %v", ErrCatchup, err)
		}
		if len(cb) == 0 {
			break // the sender has nothing more
		}
		data, err := readBytes(br, maxCatchupBlockBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: read block: %v", ErrCatchup, err)
		}
		c, err := cid.Cast(cb)
		if err != nil {
			return nil, fmt.Errorf("%w: bad CID from %s", ErrCatchup, p)
		}
		if !reachable.Has(c) {
			return nil, fmt.Errorf("%w: %s sent %s, which nothing asked for", ErrCatchup, p, c)
		}
		blk, err := verifiedBlock(c, data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s sent %s: %v", ErrCatchup, p, c, err)
		}
		nd, err := dag.DecodeProtobufBlock(blk)
		if err != nil {
			return nil, fmt.Errorf("%w: %s sent %s, not a DAG node: %v", ErrCatchup, p, c, err)
		}
		if !sink.Has(ctx, c) {
			if err := sink.Wait(ctx); err != nil {
				return nil, err
			}
			if err := sink.Put(ctx, blk); err != nil {
				return nil, fmt.Errorf("%w: hold block: %v", ErrCatchup, err)
			}
			ctr.Blocks.Add(1)
			ctr.Bytes.Add(uint64(len(data)))
		}
		missing.Remove(c)
		for _, l := range nd.Links() {
			if reachable.Len() >= MaxCatchupBlocks {
				return nil, fmt.Errorf("%w: %s sent a history beyond %d blocks", ErrCatchup, p, MaxCatchupBlocks)
			}
			if !reachable.Visit(l.Cid) {
				continue
			}
			if !sink.Has(ctx, l.Cid) {
				missing.Add(l.Cid)
				order = append(order, l.Cid)
			}
		}
		track()
	}
	var left []cid.Cid
	for _, c := range order {
		if missing.Has(c) && !sink.Has(ctx, c) {
			if left = append(left, c); len(left) == maxCatchupHeads {
				break
			}
		}
	}
	return left, nil
}

// verifiedBlock checks that data hashes to c.
func verifiedBlock(c cid.Cid, data []byte) (blocks.Block, error) {
	sum, err := c.Prefix().Sum(data)
	if err != nil {
		return nil, fmt.Errorf("unsupported hash: %v", err)
	}
	if !sum.Equals(c) {
		return nil, errors.New("block does not match its CID")
	}
	return blocks.NewBlockWithCid(data, c)
}

// CatchingUp tells whether a catch-up is running.
func (b *Broadcaster) CatchingUp() bool { return b.catching.Load() }

// catchupBan is how long a peer whose catch-up stream broke the protocol
// is not asked again.
const catchupBan = 10 * time.Minute

// maxCatchupTries bounds the peers one catch-up asks in turn.
const maxCatchupTries = 3

// maybeCatchUp starts a catch-up when a head handed to go-ds-crdt has a
// parent that is not local: go-ds-crdt is about to walk a history this
// replica lacks. One runs at a time; heads handed meanwhile are covered by
// it or fetched by bitswap.
//
// It is paced like Missing: after catch-ups that brought little it waits.
func (b *Broadcaster) maybeCatchUp(h cid.Cid, from peer.ID) {
	cc := b.cfg.Catchup
	if cc == nil || b.catching.Load() || b.backingOff() {
		return
	}
	blk, err := b.bstore.Get(b.ctx, h)
	if err != nil {
		return
	}
	nd, err := dag.DecodeProtobufBlock(blk)
	if err != nil {
		return
	}
	for _, l := range nd.Links() {
		if !cc.Sink.Has(b.ctx, l.Cid) {
			b.startCatchUp(h, from)
			return
		}
	}
}

// Missing starts a catch-up of the history below c, a block a DAG walk
// needs and does not have (see ValidatorConfig.Missing), unless one is
// running. A head whose parents are local does not start one when it is
// handed to go-ds-crdt (a joiner handed the writer's newest heads inline,
// one after another), but the walk below them reaches the missing history
// sooner or later: without this, that history would come one bitswap round
// trip per block. The peer asked first is the announcer of the head last
// handed to go-ds-crdt, which has the history it announced. Missing never
// blocks; it is safe to call from any goroutine until go-ds-crdt is closed.
//
// Many writers at once make many short gaps, each a missing block or two
// that bitswap fetches in a round trip, while a catch-up streams the
// sender's whole history down to where it meets this replica's heads. So a
// catch-up that brought fewer than catchupWorthBlocks blocks makes the
// next wait (Missing's and maybeCatchUp's), twice as long each time (up to
// maxCatchupBackoff); one that brought many resets the wait.
//
// A gap a few levels deep (depth, see ValidatorConfig.Missing, below
// minCatchupDepth) costs bitswap as many round trips, and starts no
// catch-up: with many writers, gaps one or two deltas deep are the rule.
func (b *Broadcaster) Missing(c cid.Cid, depth int) {
	if b.cfg.Catchup == nil || depth < minCatchupDepth || b.catching.Load() || b.ctx.Err() != nil {
		return
	}
	if b.backingOff() {
		return
	}
	from, _ := b.handedFrom.Load().(peer.ID)
	b.startCatchUp(c, from)
}

// Pacing of catch-ups (see Missing).
const (
	minCatchupDepth    = 4  // missing blocks in a row that make a walk worth a stream
	catchupWorthBlocks = 16 // a catch-up bringing fewer was not worth a stream
	minCatchupBackoff  = 250 * time.Millisecond
	maxCatchupBackoff  = 30 * time.Second
)

// backingOff tells whether catch-ups wait after unproductive ones.
func (b *Broadcaster) backingOff() bool {
	until := b.missingAfter.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// startCatchUp runs a catch-up of the history below h in the background,
// unless one is running, and moves the backoff by what it brought.
func (b *Broadcaster) startCatchUp(h cid.Cid, from peer.ID) {
	if !b.catching.CompareAndSwap(false, true) {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.catching.Store(false)
		before := b.stats.Catchup.Blocks.Load()
		b.catchUp(h, from)
		if b.stats.Catchup.Blocks.Load()-before >= catchupWorthBlocks {
			b.missingBackoff.Store(0)
			b.missingAfter.Store(0)
			return
		}
		wait := min(max(2*time.Duration(b.missingBackoff.Load()), minCatchupBackoff), maxCatchupBackoff)
		b.missingBackoff.Store(int64(wait))
		b.missingAfter.Store(time.Now().Add(wait).UnixNano())
	}()
}

// catchupReportEvery spaces catch-up progress reports.
const catchupReportEvery = 250 * time.Millisecond

// catchUp asks the announcer, then other peers of the topic, for the
// history below h, each time for what is still missing.
func (b *Broadcaster) catchUp(h cid.Cid, from peer.ID) {
	cc, ctr := b.cfg.Catchup, &b.stats.Catchup
	start := ctr.Blocks.Load()
	report := func(done bool) {
		b.cfg.Delegate.CatchingUp(ctr.Blocks.Load()-start, ctr.Remaining.Load(), done)
	}
	stop := make(chan struct{})
	var reporter sync.WaitGroup
	reporter.Add(1)
	go func() {
		defer reporter.Done()
		t := time.NewTicker(catchupReportEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-b.ctx.Done():
				return
			case <-t.C:
				report(false)
			}
		}
	}()
	defer func() {
		close(stop)
		reporter.Wait()
		report(true)
	}()
	wanted := []cid.Cid{h}
	tried := map[peer.ID]bool{}
	for try := 0; try < maxCatchupTries && len(wanted) > 0 && b.ctx.Err() == nil; try++ {
		p := b.catchupPeer(from, tried)
		if p == "" {
			return
		}
		tried[p] = true
		var have []cid.Cid
		for _, c := range b.cfg.Delegate.Heads(b.ctx) {
			if len(have) < maxCatchupHeads && !slices.Contains(wanted, c) {
				have = append(have, c)
			}
		}
		ctr.Runs.Add(1)
		left, err := CatchUp(b.ctx, cc.Host, p, CatchupRequest{Manifest: cc.Manifest, Wanted: wanted, Have: have}, cc.Sink, ctr)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			ctr.Failures.Add(1)
			b.log.Debug("catch-up", "peer", p, "error", err)
			if !errors.Is(err, errCatchupRefused) {
				b.ban(p)
			}
			continue // the same heads, from another peer
		}
		wanted = left
	}
}

// catchupPeer picks whom to ask: the announcer first, then any other peer
// of the topic not tried or banned.
func (b *Broadcaster) catchupPeer(from peer.ID, tried map[peer.ID]bool) peer.ID {
	ok := func(p peer.ID) bool { return p != "" && p != b.self && !tried[p] && !b.isBanned(p) }
	if ok(from) {
		return from
	}
	for _, p := range b.topic.ListPeers() {
		if ok(p) {
			return p
		}
	}
	return ""
}

func (b *Broadcaster) ban(p peer.ID) {
	b.banMu.Lock()
	defer b.banMu.Unlock()
	if b.banned == nil {
		b.banned = make(map[peer.ID]time.Time)
	}
	now := time.Now()
	for q, until := range b.banned { // bounded: expired bans go
		if now.After(until) {
			delete(b.banned, q)
		}
	}
	b.banned[p] = now.Add(catchupBan)
}

func (b *Broadcaster) isBanned(p peer.ID) bool {
	b.banMu.Lock()
	defer b.banMu.Unlock()
	until, ok := b.banned[p]
	return ok && time.Now().Before(until)
}
