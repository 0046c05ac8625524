package discovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/time/rate"
)

// Limits bound what a Manager does with what its sources find. The zero
// value of a field means its default (DefaultLimits).
type Limits struct {
	// DialRate is the most dials started per second, over all sources.
	DialRate float64
	// MaxInFlight is the most dials running at once.
	MaxInFlight int
	// MaxAddrs is the most addresses of one peer that are kept and dialled.
	MaxAddrs int
	// QueueLen is the most peers waiting to be dialled per source (and per
	// namespace of a Namespaced source); past it the oldest are dropped.
	QueueLen int
	// DialTimeout bounds one dial.
	DialTimeout time.Duration
	// RetryAfter is how long a peer that was dialled is not queued again
	// when a source reports it.
	RetryAfter time.Duration
	// Yield is how long this peer waits before dialling a found peer
	// whose ID sorts below its own, and then dials only if no connection
	// came meanwhile. Two peers that find each other at once (mDNS answers
	// both ways within a millisecond) would otherwise dial each other at
	// the same instant; over TCP with port reuse the two dials can become
	// one TCP simultaneous open, on which both ends start the security
	// handshake as its client and both dials fail. The lower ID dials at
	// once, so only one of the pair dials.
	Yield time.Duration
	// DialRetries is how many times a failed dial is tried again, since a
	// source may report a peer only once (mDNS does); negative means
	// never.
	DialRetries int
	// RetryDelay is the wait before the first of those retries, doubled for
	// each next one, plus up to half of it again at random. Keep it above
	// libp2p's dial backoff (swarm.BackoffBase, 5 s), which refuses a
	// redial of the failed addresses before then.
	RetryDelay time.Duration
	// LogEvery is the least time between two warnings of one kind; the
	// ones in between are counted and the count logged with the next.
	LogEvery time.Duration
}

// DefaultLimits are a Manager's bounds unless told otherwise: 8 dials per
// second, 8 in flight, 8 addresses per peer, 64 peers queued per source,
// 10 s per dial, 30 s before a peer reported again is dialled again, a
// yield of 1 s, 2 retries of a failed dial after 6-9 s and 12-18 s, a
// warning of one kind every 10 s.
func DefaultLimits() Limits {
	return Limits{DialRate: 8, MaxInFlight: 8, MaxAddrs: 8, QueueLen: 64,
		DialTimeout: 10 * time.Second, RetryAfter: 30 * time.Second,
		Yield: time.Second, DialRetries: 2, RetryDelay: 6 * time.Second, LogEvery: 10 * time.Second}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.DialRate <= 0 {
		l.DialRate = d.DialRate
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = d.MaxInFlight
	}
	if l.MaxAddrs <= 0 {
		l.MaxAddrs = d.MaxAddrs
	}
	if l.QueueLen <= 0 {
		l.QueueLen = d.QueueLen
	}
	if l.DialTimeout <= 0 {
		l.DialTimeout = d.DialTimeout
	}
	if l.RetryAfter <= 0 {
		l.RetryAfter = d.RetryAfter
	}
	if l.Yield <= 0 {
		l.Yield = d.Yield
	}
	if l.DialRetries == 0 {
		l.DialRetries = d.DialRetries
	}
	if l.RetryDelay <= 0 {
		l.RetryDelay = d.RetryDelay
	}
	if l.LogEvery <= 0 {
		l.LogEvery = d.LogEvery
	}
	return l
}

// maxAddrLen bounds one address, in bytes of its binary form (as the node's
// dial policy does); maxRecent bounds the peers remembered as dialled.
const (
	maxAddrLen = 256
	maxRecent  = 4096
)

// Stats counts what a Manager did. Every field only grows, except
// InFlight.
type Stats struct {
	Found        uint64 `json:"found"`        // peers reported by sources
	Queued       uint64 `json:"queued"`       // of them, queued for a dial
	Dropped      uint64 `json:"dropped"`      // dropped: no usable address, or pushed out of a full queue
	DroppedAddrs uint64 `json:"droppedAddrs"` // addresses dropped: malformed, undialable, or past MaxAddrs
	Dialed       uint64 `json:"dialed"`       // dials started
	Connected    uint64 `json:"connected"`    // dials that connected
	Failed       uint64 `json:"failed"`       // dials that failed
	Retried      uint64 `json:"retried"`      // failed dials queued to be tried again
	InFlight     int64  `json:"inFlight"`     // dials running now
	MaxInFlight  int64  `json:"maxInFlight"`  // most dials that ran at once
}

// Manager runs discovery sources on a host and dials the peers they find,
// within Limits (see the package doc). It is safe for concurrent use.
// Close stops the sources, the dials and every goroutine of the manager.
type Manager struct {
	host   host.Host
	lim    Limits
	log    *limitedLog
	rate   *rate.Limiter
	srcs   []Source
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{}
	wake   chan struct{}

	mu     sync.Mutex
	closed bool
	queues []*queue // round robin
	retry  *queue   // failed dials waiting to be tried again
	next   int
	recent map[peer.ID]time.Time

	found, queued, dropped, droppedAddrs, dialed, connected, failed, retried atomic.Uint64
	inFlight, maxInFlight                                                    atomic.Int64
}

// NewManager starts sources on h and dials what they find. log may be
// nil. If a source fails to start, the ones started are closed and the
// error returned. The manager closes the sources on Close; h stays the
// caller's.
func NewManager(h host.Host, sources []Source, lim Limits, log hclog.Logger) (*Manager, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil host", ErrBadConfig)
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	lim = lim.withDefaults()
	m := &Manager{
		host:   h,
		lim:    lim,
		log:    &limitedLog{log: log, every: lim.LogEvery, last: map[string]time.Time{}, skipped: map[string]int{}},
		rate:   rate.NewLimiter(rate.Limit(lim.DialRate), max(1, int(lim.DialRate))),
		sem:    make(chan struct{}, lim.MaxInFlight),
		wake:   make(chan struct{}, 1),
		recent: make(map[peer.ID]time.Time),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.retry = m.addQueue("retries")
	for i, s := range sources {
		if s == nil {
			_ = m.Close()
			return nil, fmt.Errorf("%w: source %d is nil", ErrBadConfig, i)
		}
		q := m.addQueue(fmt.Sprintf("source %d (%T)", i, s))
		if err := s.Start(h, q.push); err != nil {
			_ = m.Close()
			return nil, fmt.Errorf("discovery: start %T: %w", s, err)
		}
		m.srcs = append(m.srcs, s)
	}
	m.wg.Add(1)
	go m.run()
	return m, nil
}

// Join joins the rendezvous namespace ns on every Namespaced source, until
// leave is called (idempotent; it waits for the joins to end) or the
// manager closes.
func (m *Manager) Join(ns string) (leave func()) {
	type join struct {
		n Namespaced
		q *queue
	}
	var js []join
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return func() {}
	}
	for i, s := range m.srcs {
		if n, ok := s.(Namespaced); ok {
			q := m.newQueue(fmt.Sprintf("source %d (%T) at %s", i, s, ns))
			m.queues = append(m.queues, q)
			js = append(js, join{n, q})
		}
	}
	m.mu.Unlock()
	// Join outside the lock: a source may report peers from within Join.
	stops := make([]func(), 0, len(js))
	for _, j := range js {
		stops = append(stops, j.n.Join(ns, j.q.push))
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, stop := range stops {
				stop()
			}
			m.mu.Lock()
			for _, j := range js {
				m.removeQueue(j.q)
			}
			m.mu.Unlock()
		})
	}
}

// Stats reports what the manager did so far.
func (m *Manager) Stats() Stats {
	return Stats{
		Found: m.found.Load(), Queued: m.queued.Load(), Dropped: m.dropped.Load(),
		DroppedAddrs: m.droppedAddrs.Load(), Dialed: m.dialed.Load(), Connected: m.connected.Load(),
		Failed: m.failed.Load(), Retried: m.retried.Load(),
		InFlight: m.inFlight.Load(), MaxInFlight: m.maxInFlight.Load(),
	}
}

// Close closes the sources, cancels the dials in flight and waits for
// every goroutine of the manager. It is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	var errs []error
	for _, s := range m.srcs {
		errs = append(errs, s.Close())
	}
	m.cancel()
	m.wg.Wait()
	return errors.Join(errs...)
}

// run starts dials, one per token of the rate limiter and free slot,
// taking queued peers that are due round robin across queues.
func (m *Manager) run() {
	defer m.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case m.sem <- struct{}{}:
		}
		it, next, ok := m.pop(time.Now())
		for !ok {
			wait := time.Hour
			if !next.IsZero() {
				wait = time.Until(next)
			}
			timer.Reset(wait) // since Go 1.23 no stale fire survives a Reset
			select {
			case <-m.ctx.Done():
				return
			case <-m.wake:
			case <-timer.C:
			}
			it, next, ok = m.pop(time.Now())
		}
		if err := m.rate.Wait(m.ctx); err != nil {
			return
		}
		m.wg.Add(1)
		go m.dial(it)
	}
}

func (m *Manager) dial(it item) {
	defer m.wg.Done()
	defer func() { <-m.sem }()
	ai := it.ai
	if m.host.Network().Connectedness(ai.ID) == network.Connected {
		return
	}
	n := m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	for {
		old := m.maxInFlight.Load()
		if n <= old || m.maxInFlight.CompareAndSwap(old, n) {
			break
		}
	}
	m.dialed.Add(1)
	ctx, cancel := context.WithTimeout(m.ctx, m.lim.DialTimeout)
	defer cancel()
	if err := m.host.Connect(ctx, ai); err != nil {
		if m.ctx.Err() != nil {
			return
		}
		m.failed.Add(1)
		m.log.debug("dial", "discovered peer unreachable", "peer", ai.ID, "attempt", it.attempt+1, "error", err)
		if it.attempt < m.lim.DialRetries {
			d := m.lim.RetryDelay << it.attempt
			d += rand.N(d/2 + 1)
			m.requeue(item{ai: ai, attempt: it.attempt + 1, due: time.Now().Add(d)})
		}
		return
	}
	m.connected.Add(1)
}

// item is a peer waiting in a queue: its dial is due at due, after
// attempt failed dials.
type item struct {
	ai      peer.AddrInfo
	attempt int
	due     time.Time
}

// requeue queues a failed dial to be tried again.
func (m *Manager) requeue(it item) {
	m.mu.Lock()
	q := m.retry
	if m.closed || q.ids[it.ai.ID] {
		m.mu.Unlock()
		return
	}
	q.add(it)
	m.retried.Add(1)
	m.mu.Unlock()
	m.poke()
}

// poke wakes run to look at the queues.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// queue is the bounded, newest-first list of peers one source (or one
// namespace of it) found, or of failed dials to try again.
type queue struct {
	m     *Manager
	name  string
	items []item
	ids   map[peer.ID]bool
}

// add appends it, dropping the oldest item if the queue is full (with
// m.mu held).
func (q *queue) add(it item) {
	m := q.m
	if len(q.items) == m.lim.QueueLen {
		delete(q.ids, q.items[0].ai.ID)
		q.items = append(q.items[:0], q.items[1:]...)
		m.dropped.Add(1)
		m.log.warn("queue "+q.name, "discovery queue full: dropping the oldest peers found", "source", q.name, "limit", m.lim.QueueLen)
	}
	q.items = append(q.items, it)
	q.ids[it.ai.ID] = true
}

// addQueue adds a queue for a source; newQueue makes one the caller adds
// (both with m.mu held or before run starts).
func (m *Manager) addQueue(name string) *queue {
	q := m.newQueue(name)
	m.queues = append(m.queues, q)
	return q
}

func (m *Manager) newQueue(name string) *queue {
	return &queue{m: m, name: name, ids: map[peer.ID]bool{}}
}

func (m *Manager) removeQueue(q *queue) {
	for i, o := range m.queues {
		if o == q {
			m.queues = append(m.queues[:i], m.queues[i+1:]...)
			return
		}
	}
}

// push is the Found of one queue.
func (q *queue) push(ai peer.AddrInfo) {
	m := q.m
	m.found.Add(1)
	if ai.ID == "" || ai.ID == m.host.ID() || m.host.Network().Connectedness(ai.ID) == network.Connected {
		return
	}
	ai = m.sanitize(ai)
	if len(ai.Addrs) == 0 && len(m.host.Peerstore().Addrs(ai.ID)) == 0 {
		m.dropped.Add(1)
		return
	}
	m.mu.Lock()
	if m.closed || q.ids[ai.ID] {
		m.mu.Unlock()
		return
	}
	now := time.Now()
	if t, ok := m.recent[ai.ID]; ok && now.Sub(t) < m.lim.RetryAfter {
		m.mu.Unlock()
		return
	}
	it := item{ai: ai, due: now}
	if m.host.ID() > ai.ID {
		it.due = now.Add(m.lim.Yield) // see Limits.Yield
	}
	q.add(it)
	m.queued.Add(1)
	m.mu.Unlock()
	m.poke()
}

// pop takes the newest peer that is due of the next queue that has one,
// round robin. If none is due, it returns when the first one will be
// (zero if none is queued).
func (m *Manager) pop(now time.Time) (it item, next time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range m.queues {
		m.next = (m.next + 1) % len(m.queues)
		q := m.queues[m.next]
		i := len(q.items) - 1
		for ; i >= 0; i-- {
			d := q.items[i].due
			if !d.After(now) {
				break
			}
			if next.IsZero() || d.Before(next) {
				next = d
			}
		}
		if i < 0 {
			continue
		}
		it = q.items[i]
		q.items = append(q.items[:i], q.items[i+1:]...)
		ai := it.ai
		delete(q.ids, ai.ID)
		if len(m.recent) >= maxRecent {
			for p, t := range m.recent {
				if now.Sub(t) >= m.lim.RetryAfter {
					delete(m.recent, p)
				}
			}
			if len(m.recent) >= maxRecent {
				clear(m.recent)
			}
		}
		m.recent[ai.ID] = now
		return it, time.Time{}, true
	}
	return item{}, next, false
}

// sanitize keeps at most MaxAddrs of the peer's addresses that could be
// dialled: well-formed, at most maxAddrLen bytes, not naming another peer,
// not unspecified or multicast, and with a transport on the host.
func (m *Manager) sanitize(ai peer.AddrInfo) peer.AddrInfo {
	tr, _ := m.host.Network().(interface {
		TransportForDialing(ma.Multiaddr) transport.Transport
	})
	out := peer.AddrInfo{ID: ai.ID}
	seen := map[string]bool{}
	dropped := 0
	for _, a := range ai.Addrs {
		if len(out.Addrs) == m.lim.MaxAddrs {
			dropped++
			continue
		}
		if ok := m.dialable(ai.ID, a, tr); !ok || seen[string(a.Bytes())] {
			dropped++
			continue
		}
		seen[string(a.Bytes())] = true
		a, _ = peer.SplitAddr(a)
		out.Addrs = append(out.Addrs, a)
	}
	if dropped > 0 {
		m.droppedAddrs.Add(uint64(dropped))
		m.log.warn("addrs", "discovered peer has unusable or too many addresses: dropped", "peer", ai.ID, "dropped", dropped, "kept", len(out.Addrs))
	}
	return out
}

func (m *Manager) dialable(id peer.ID, a ma.Multiaddr, tr interface {
	TransportForDialing(ma.Multiaddr) transport.Transport
}) bool {
	if a == nil || len(a.Bytes()) == 0 || len(a.Bytes()) > maxAddrLen {
		return false
	}
	t, p := peer.SplitAddr(a)
	if t == nil || (p != "" && p != id) {
		return false
	}
	if ip, err := manet.ToIP(t); err == nil && (ip.IsUnspecified() || ip.IsMulticast()) {
		return false
	}
	return tr == nil || tr.TransportForDialing(t) != nil
}

// limitedLog logs at most one line of each kind per period, counting the
// ones it skips.
type limitedLog struct {
	log     hclog.Logger
	every   time.Duration
	mu      sync.Mutex
	last    map[string]time.Time
	skipped map[string]int
}

func (l *limitedLog) allow(kind string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if t, ok := l.last[kind]; ok && now.Sub(t) < l.every {
		l.skipped[kind]++
		return 0, false
	}
	if len(l.last) > 1024 {
		clear(l.last)
		clear(l.skipped)
	}
	n := l.skipped[kind]
	l.last[kind], l.skipped[kind] = now, 0
	return n, true
}

func (l *limitedLog) warn(kind, msg string, args ...any) {
	if n, ok := l.allow(kind); ok {
		l.log.Warn(msg, append(args, "suppressed", n)...)
	}
}

func (l *limitedLog) debug(kind, msg string, args ...any) {
	if !l.log.IsDebug() {
		return
	}
	if n, ok := l.allow(kind); ok {
		l.log.Debug(msg, append(args, "suppressed", n)...)
	}
}
