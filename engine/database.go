package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/fanout"
	"github.com/latticedb/lattice/internal/readmodel"
	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/internal/sealing"
	"github.com/latticedb/lattice/manifest"
	"github.com/latticedb/lattice/validation"
)

// Database is one replicated database: a go-ds-crdt instance over its own
// namespace of the engine's store, one gossipsub topic, and the collections
// it holds. It is safe for concurrent use.
type Database struct {
	e        *Engine
	addr     Address
	manifest *Manifest
	log      hclog.Logger
	ns       ds.Key
	access   accesscontrol.Controller
	// validator judges what documents may hold (validation.Open when the
	// manifest names none).
	validator validation.Validator

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	rep  *replication.Replica                // its replication, once started
	live atomic.Pointer[replication.Replica] // rep until closed: what writes go to
	// beforeCommit, if set (by tests only), runs between signing a delta
	// and committing it, under the writer.
	beforeCommit func()
	mat          *readmodel.Model
	sealer       *sealing.Sealer // nil unless the database is sealed (seal.go)
	wq           writeQueue
	hub          *fanout.Hub[Event]
	stats        counters

	tok atomic.Pointer[[]byte] // capability token sent with local writes

	leave func() // leaves the rendezvous namespace (discovery.go)

	closed atomic.Bool
	// writing is held (read-locked) by every write call from admission to
	// its result; Close takes it to let writes in flight finish and to
	// refuse later ones, so no commit runs on a closing store.
	writing   sync.RWMutex
	closeOnce sync.Once
	closeErr  error
	done      chan struct{} // closed once Close has finished
}

const dbRegistryPrefix = "/lattice/dbs"

// Create creates a database and returns it open. Its address is
// /lattice/<manifest CID>/<name>, and the manifest carries a random nonce:
// every Create makes a new database, whose address cannot be guessed from
// its name or creator. With WithDeterministicAddress it has no nonce, and
// creating twice with the same name and options opens the same database.
func (e *Engine) Create(ctx context.Context, name string, opts ...DatabaseOption) (*Database, error) {
	ctx, leave, err := e.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	nonce, err := manifest.NewNonce()
	if err != nil {
		return nil, err
	}
	m := &Manifest{Name: name, Type: ManifestType, Access: accesscontrol.Static(e.ID()), Nonce: nonce}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	genesis, err := prepareSealed(m)
	if err != nil {
		return nil, err
	}
	// Refuse a validator this engine cannot build before the address
	// exists: no database is created that nobody could open. The one
	// built serves the database.
	v, err := e.newValidator(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	blk, err := manifest.Encode(m)
	if err != nil {
		return nil, err
	}
	if err := e.node.Put(ctx, blk); err != nil {
		return nil, fmt.Errorf("engine: store manifest: %w", err)
	}
	db, err := e.open(ctx, Address{Manifest: blk.Cid(), Name: name}, m, v)
	if err == nil && db.sealer != nil {
		if err = db.writeGenesis(ctx, genesis); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return db, err
}

// Open opens a database by address, fetching its manifest from connected
// peers when it is not local. Opening an open database returns it.
func (e *Engine) Open(ctx context.Context, address string) (*Database, error) {
	addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	ctx, leave, err := e.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	db, err := e.openDatabase(ctx, addr)
	if err != nil {
		return nil, err
	}
	if db != nil {
		if db.addr.Name != addr.Name {
			return nil, fmt.Errorf("%w: %s: the manifest names another database", ErrBadAddress, addr)
		}
		return db, nil
	}
	// Discovery looks for the database's peers while its manifest is
	// fetched from them (the database joins for itself once open).
	stopLooking := e.joinRendezvous(addr.String())
	defer stopLooking()
	m, admit, err := e.fetchManifest(ctx, addr)
	if err != nil {
		return nil, err
	}
	if err := admit(); err != nil {
		return nil, err
	}
	return e.open(ctx, addr, m, nil)
}

// fetchManifest fetches the manifest at addr from connected peers through
// the quarantine: a block that is no manifest (a wrong address) is never
// written to disk; admit stores it.
func (e *Engine) fetchManifest(ctx context.Context, addr Address) (_ *Manifest, admit func() error, _ error) {
	blk, err := e.node.Fetch(ctx, addr.Manifest)
	if err != nil {
		return nil, nil, fmt.Errorf("engine: fetch manifest of %s: %w", addr, err)
	}
	m, err := manifest.Decode(blk.RawData())
	if err != nil {
		return nil, nil, err // the block stays in memory until evicted
	}
	if m.Name != addr.Name {
		// Not the manifest's name: a caller who guessed the CID (seen
		// somewhere) must not learn the address from the error.
		return nil, nil, fmt.Errorf("%w: %s: the manifest names another database", ErrBadAddress, addr)
	}
	return m, func() error {
		if err := e.node.Admit(ctx, blk); err != nil {
			return fmt.Errorf("engine: store manifest of %s: %w", addr, err)
		}
		return nil
	}, nil
}

// judges builds the access controller and validator a manifest names.
func (e *Engine) judges(addr Address, m *Manifest, log hclog.Logger) (accesscontrol.Controller, validation.Validator, error) {
	return e.judgesWith(addr, m, log, nil)
}

// judgesWith is judges with the manifest's validator v when the caller
// built it already (Create: a schema is compiled once); nil builds it.
// On a dynamic database admins may change schemas (changeableSchemas).
func (e *Engine) judgesWith(addr Address, m *Manifest, log hclog.Logger, v validation.Validator) (accesscontrol.Controller, validation.Validator, error) {
	ac, err := e.registry.NewAccess(m.Access, accesscontrol.Env{Database: addr.String(), Self: e.ID(), Logger: log.Named("access")})
	if err != nil {
		return nil, nil, fmt.Errorf("engine: open %s: %w", addr, err)
	}
	if v == nil {
		if v, err = e.newValidator(m); err != nil {
			return nil, nil, fmt.Errorf("engine: open %s: %w", addr, err)
		}
	}
	return ac, changeableSchemas(v, m, addr.String(), ac), nil
}

// replicaBase is the part of a replica's configuration that only names
// the database and where it is stored.
func (e *Engine) replicaBase(addr Address) replication.ReplicaConfig {
	return replication.ReplicaConfig{Manifest: addr.Manifest, Database: addr.String(),
		Namespace: ds.NewKey("/db/" + addr.Manifest.String()), Store: e.store}
}

func (e *Engine) lookup(addr Address) *Database {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.databases[addr.Manifest.String()]
}

func isOpen(db *Database) bool { return db != nil && !db.closed.Load() }

// openDatabase returns the open database at addr, or nil if there is none.
// A database being closed or dropped is waited for, then reported absent:
// its caller must not get an instance that is shutting down.
func (e *Engine) openDatabase(ctx context.Context, addr Address) (*Database, error) {
	key := addr.Manifest.String()
	for {
		e.mu.Lock()
		db, wait := e.stateOf(key)
		e.mu.Unlock()
		if wait == nil {
			return db, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// stateOf tells, with e.mu held, what is at key: an open database, nothing
// (nil, nil), or a database being opened, closed or dropped (a channel
// closed when that is done).
func (e *Engine) stateOf(key string) (db *Database, wait <-chan struct{}) {
	db, busy := e.databases[key], e.busy[key]
	switch {
	case busy != nil:
		return nil, busy
	case db != nil && db.closed.Load():
		return nil, db.done
	}
	return db, nil
}

// markBusy records that the database at key is being closed or dropped
// and returns the function that ends that; false if it already is busy.
func (e *Engine) markBusy(key string) (release func(), ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.busy[key] != nil {
		return nil, false
	}
	ch := make(chan struct{})
	e.busy[key] = ch
	return func() {
		e.mu.Lock()
		delete(e.busy, key)
		e.mu.Unlock()
		close(ch)
	}, true
}

// DatabaseInfo describes a database known to this engine.
type DatabaseInfo struct {
	Address  string   `json:"address"`
	Name     string   `json:"name"`
	Open     bool     `json:"open"`
	Access   string   `json:"access"` // the access controller's type
	Manifest Manifest `json:"manifest"`
}

// Databases lists the databases stored on this engine, open or not, sorted
// by address.
func (e *Engine) Databases(ctx context.Context) ([]DatabaseInfo, error) {
	ctx, leave, err := e.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	res, err := e.store.Query(ctx, dsq.Query{Prefix: dbRegistryPrefix})
	if err != nil {
		return nil, err
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, err
	}
	var out []DatabaseInfo
	for _, en := range entries {
		var m Manifest
		addr, err := ParseAddress(string(en.Value))
		if err != nil {
			continue
		}
		if blk, err := e.node.Get(ctx, addr.Manifest); err == nil {
			if mm, err := manifest.Decode(blk.RawData()); err == nil {
				m = *mm
			}
		}
		out = append(out, DatabaseInfo{
			Address: addr.String(), Name: addr.Name, Open: isOpen(e.lookup(addr)),
			Access: m.Access.Type, Manifest: m,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

// Drop closes a database if open and deletes its local data. Other replicas
// keep theirs; the manifest block stays in the block store.
func (e *Engine) Drop(ctx context.Context, address string) error {
	addr, err := ParseAddress(address)
	if err != nil {
		return err
	}
	ctx, leave, err := e.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	key := addr.Manifest.String()
	var release func()
	for {
		var ok bool
		if release, ok = e.markBusy(key); ok {
			break
		}
		// Another Drop of it is under way: wait for it, then try (and
		// find nothing to drop).
		if _, err := e.openDatabase(ctx, addr); err != nil {
			return err
		}
	}
	defer release()
	if db := e.lookup(addr); db != nil {
		if err := db.Close(); err != nil {
			return err
		}
	}
	regKey := ds.NewKey(dbRegistryPrefix + "/" + addr.Manifest.String())
	if has, _ := e.store.Has(ctx, regKey); !has {
		return fmt.Errorf("%w: %s", ErrNoDatabase, addr)
	}
	res, err := e.store.Query(ctx, dsq.Query{Prefix: "/db/" + addr.Manifest.String(), KeysOnly: true})
	if err != nil {
		return err
	}
	entries, err := res.Rest()
	if err != nil {
		return err
	}
	b, err := e.store.Batch(ctx)
	if err != nil {
		return err
	}
	for _, en := range entries {
		if err := b.Delete(ctx, ds.NewKey(en.Key)); err != nil {
			return err
		}
	}
	if err := b.Delete(ctx, regKey); err != nil {
		return err
	}
	return b.Commit(ctx)
}

// open opens the database at addr with manifest m; v is its validator,
// when the caller built it already (nil: built from m).
func (e *Engine) open(ctx context.Context, addr Address, m *Manifest, v validation.Validator) (*Database, error) {
	key := addr.Manifest.String()
	e.mu.Lock()
	for {
		if e.closed {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		db, wait := e.stateOf(key)
		if wait == nil && db != nil {
			e.mu.Unlock()
			return db, nil
		}
		if wait == nil {
			break
		}
		// Closing or being dropped: open anew once that is done.
		e.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		e.mu.Lock()
	}
	// The database is marked busy while it starts, not held under e.mu:
	// reading a large store takes seconds, and lookups, listings and the
	// opening of other databases must not wait for it (a restarted node
	// answers while its databases reopen). Another Open or Drop of this
	// one waits for the mark (stateOf); Close waits for this call (enter).
	ch := make(chan struct{})
	e.busy[key] = ch
	e.mu.Unlock()
	db, err := e.startDatabase(ctx, addr, m, v)
	e.mu.Lock()
	if err == nil {
		e.databases[key] = db
	}
	delete(e.busy, key)
	e.mu.Unlock()
	close(ch)
	return db, err
}

// startDatabase starts the database at addr, which open has marked busy, and
// records it in the registry of stored databases.
func (e *Engine) startDatabase(ctx context.Context, addr Address, m *Manifest, v validation.Validator) (*Database, error) {
	key := addr.Manifest.String()
	db := &Database{
		e:         e,
		addr:      addr,
		manifest:  m,
		log:       e.log.Named("db").With("db", addr.Name),
		ns:        ds.NewKey("/db/" + key),
		done:      make(chan struct{}),
		validator: v,
	}
	db.hub = fanout.New[Event](eventBuffer, &db.stats.eventsDropped)
	db.ctx, db.cancel = context.WithCancel(e.ctx)
	if err := db.start(ctx); err != nil {
		db.cancel()
		db.stop()
		return nil, err
	}
	if err := e.store.Put(ctx, ds.NewKey(dbRegistryPrefix+"/"+key), []byte(addr.String())); err != nil {
		// Not db.Close: the database is not in e.databases yet.
		db.cancel()
		_ = db.stop()
		return nil, fmt.Errorf("engine: record database %s: %w", addr, err)
	}
	return db, nil
}

func (db *Database) start(ctx context.Context) error {
	e := db.e
	var err error
	if db.access, db.validator, err = e.judgesWith(db.addr, db.manifest, db.log, db.validator); err != nil {
		return err
	}

	db.mat = readmodel.New(db.log.Named("view"), e.store, db.ns)
	if db.manifest.Sealed != nil {
		if db.sealer, err = newSealer(ctx, db); err != nil {
			return fmt.Errorf("engine: open %s: %w", db.addr, err)
		}
		db.mat.SetCodec(db.sealer)
	}
	db.mat.OnChange = db.onDocChange
	db.mat.OnMeta = db.onMeta
	db.mat.Durable = e.store.SyncWAL
	if err := db.mat.Rebuild(ctx); err != nil {
		return fmt.Errorf("engine: open %s: read store: %w", db.addr, err)
	}
	db.wg.Add(1)
	go func() {
		defer db.wg.Done()
		db.mat.Run(db.ctx)
	}()

	rep, err := e.node.Open(ctx, replication.ReplicaConfig{
		Manifest:       db.addr.Manifest,
		Topic:          replication.TopicName(db.addr.Manifest),
		Database:       db.addr.String(),
		Namespace:      db.ns,
		Access:         db.access,
		Validator:      db.validator,
		Delegate:       delegate{db},
		Counters:       &db.stats.Counters,
		Log:            db.log,
		Store:          readmodel.NewWatchStore(e.store, db.ns, db.mat.Notify),
		InlineLimit:    e.cfg.inlineBlockLimit,
		FetchTimeout:   e.cfg.fetchTimeout,
		Rebroadcast:    e.cfg.rebroadcastInterval,
		DAGSyncTimeout: e.cfg.dagSyncTimeout,
		DAGWorkers:     e.cfg.footprint.dagWorkers,
		Catchup:        e.cfg.catchup,
		Reconnect:      e.cfg.reconnect,
		AutoCompact:    e.autoCompact(db.mat.LiveDocuments),
	})
	if err != nil {
		return fmt.Errorf("engine: open %s: %w", db.addr, err)
	}
	db.rep = rep
	db.live.Store(rep)
	db.leave = e.joinRendezvous(db.addr.String())
	return nil
}

// store is the database's replica, which writes go to; nil once closed.
func (db *Database) store() *replication.Replica { return db.live.Load() }

// Address is the database's address.
func (db *Database) Address() string { return db.addr.String() }

// Name is the database's name.
func (db *Database) Name() string { return db.addr.Name }

// Manifest returns a copy of the database's manifest.
func (db *Database) Manifest() Manifest { return *db.manifest }

// Access is the database's access controller.
func (db *Database) Access() accesscontrol.Controller { return db.access }

func (db *Database) checkOpen() error {
	if db.closed.Load() {
		return fmt.Errorf("%w: database %s", ErrClosed, db.addr.Name)
	}
	if db.sealer != nil {
		return db.sealer.Readable()
	}
	return nil
}

// Close stops replicating the database and releases its goroutines. The
// data stays on disk; Open it again by address. Idempotent.
func (db *Database) Close() error {
	db.closeOnce.Do(func() {
		// Let writes in flight finish, then refuse new ones.
		db.writing.Lock()
		db.closed.Store(true)
		db.writing.Unlock()
		db.cancel()
		db.closeErr = db.stop()
		db.e.mu.Lock()
		if db.e.databases[db.addr.Manifest.String()] == db {
			delete(db.e.databases, db.addr.Manifest.String())
		}
		db.e.mu.Unlock()
		close(db.done)
	})
	return db.closeErr
}

func (db *Database) stop() error {
	var errs []error
	if db.leave != nil {
		db.leave()
	}
	if r := db.live.Swap(nil); r != nil {
		errs = append(errs, r.Close())
	}
	db.hub.Close() // ends subscriptions, whose goroutines wg counts
	db.wg.Wait()
	return errors.Join(errs...)
}

// Events streams what happens in the database until ctx ends or the
// database closes: local writes, replicated changes, peers joining and
// leaving. The channel is buffered; a consumer that falls far behind misses
// events (counted in Stats).
func (db *Database) Events(ctx context.Context) <-chan Event {
	return db.hub.Subscribe(ctx, &db.wg)
}

func (db *Database) emit(ev Event) { db.hub.Send(ev) }

func (db *Database) onDocChange(r docRef, old, doc map[string]any, local bool) {
	ev := Event{Type: EventReplicated, Collection: r.Coll, Deleted: doc == nil}
	if local {
		ev.Type = EventWrite
		db.stats.localWrites.Add(1)
	} else {
		db.stats.remoteApplied.Add(1)
	}
	src := doc
	if src == nil {
		src = old
	}
	if src != nil {
		ev.ID = src["_id"]
	}
	db.emit(ev)
}

// onMeta reacts to a change of a non-document key: index definitions,
// collection markers, access-control entries.
func (db *Database) onMeta(key string) {
	pk, err := crdt.ParseKey(key)
	if err != nil {
		return
	}
	val, ok, err := db.mat.GetMeta(db.ctx, key)
	if err != nil {
		return
	}
	switch pk.Kind {
	case crdt.KindIndex:
		if !ok {
			db.mat.ApplyIndex(pk.Coll, pk.Sub, nil)
			return
		}
		var spec IndexSpec
		if json.Unmarshal(val, &spec) != nil || spec.Name != pk.Sub || validateIndexPath(spec.Path) != nil {
			return
		}
		db.mat.ApplyIndex(pk.Coll, pk.Sub, &spec)
	case crdt.KindCollection:
		db.mat.ApplyMarker(pk.Coll, ok)
	case crdt.KindSeal:
		if ok && db.sealer != nil && db.sealer.Apply(key, val) {
			// A key arrived: values that did not open may open now.
			if err := db.mat.RefreshAll(db.ctx); err != nil && db.ctx.Err() == nil {
				db.log.Warn("re-read sealed documents", "error", err)
			}
		}
	case crdt.KindACL:
		if ok {
			if r, isRep := db.access.(accesscontrol.Replicated); isRep {
				if err := r.Apply(val); err != nil {
					db.log.Debug("access entry refused", "error", err)
				}
			}
		}
	case crdt.KindSchema:
		if ok {
			db.applySchemaEntry(val)
		}
	}
}

// authorizeLocal asks the access controller whether this peer may make the
// group's writes. Nothing is stored when it may not.
func (db *Database) authorizeLocal(ctx context.Context, t *txn) error {
	w := accesscontrol.Write{Database: db.addr.String(), Author: db.e.ID(), Time: db.e.cfg.clock(), Token: db.token(), After: db.rep.Latest()}
	for c := range t.colls {
		w.Collections = append(w.Collections, c)
	}
	sort.Strings(w.Collections)
	for _, k := range t.meta {
		if crdt.IsAdminKey(k) {
			w.ACL = true
		}
	}
	return db.access.CanWrite(ctx, w)
}

// authorizeAnnouncement is the broadcast gate: may this author announce
// heads at all. Controllers that can judge a peer alone implement
// accesscontrol.AnnounceGate; for the others (tokens) every signed
// announcement passes and each delta is judged when fetched.
func (db *Database) authorizeAnnouncement(ctx context.Context, author peer.ID) error {
	if g, ok := db.access.(accesscontrol.AnnounceGate); ok {
		return g.CanAnnounce(ctx, author)
	}
	return nil
}

// delegate is what the database's replica tells it and asks of it.
type delegate struct{ db *Database }

func (d delegate) CanAnnounce(ctx context.Context, author peer.ID) error {
	return d.db.authorizeAnnouncement(ctx, author)
}

func (d delegate) PeerJoined(p peer.ID) {
	d.db.emit(Event{Type: EventPeerJoined, Peer: p})
}

func (d delegate) CatchingUp(received uint64, remaining int64, done bool) {
	d.db.emit(Event{Type: EventCatchup, Catchup: &CatchupProgress{Received: received, Remaining: remaining, Done: done}})
}

func (d delegate) PeerLeft(p peer.ID) {
	d.db.emit(Event{Type: EventPeerLeft, Peer: p})
}

var _ replication.ReplicaDelegate = delegate{}

// UseToken sets the capability token sent with this peer's writes, for
// databases whose controller asks for one (accesscontrol.Token).
func (db *Database) UseToken(token []byte) {
	t := append([]byte(nil), token...)
	db.tok.Store(&t)
}

func (db *Database) token() []byte {
	if t := db.tok.Load(); t != nil {
		return *t
	}
	return nil
}

// Grant gives target a role in a database whose controller is dynamic
// (accesscontrol.Dynamic). Only admins may grant; the entry replicates like
// any write and takes effect on every replica that receives it.
func (db *Database) Grant(ctx context.Context, target peer.ID, role accesscontrol.Role) error {
	return db.aclWrite(ctx, func(d *accesscontrol.DynamicController) ([]byte, error) {
		return d.Grant(db.e.key, target, role)
	})
}

// Revoke takes a role away from target (see Grant). Writes target makes
// after a replica learns of the revocation are refused there.
func (db *Database) Revoke(ctx context.Context, target peer.ID, role accesscontrol.Role) error {
	return db.aclWrite(ctx, func(d *accesscontrol.DynamicController) ([]byte, error) {
		return d.Revoke(db.e.key, target, role)
	})
}

func (db *Database) aclWrite(ctx context.Context, entry func(*accesscontrol.DynamicController) ([]byte, error)) error {
	d, ok := db.access.(*accesscontrol.DynamicController)
	if !ok {
		return fmt.Errorf("%w: database %s has a %q controller; grants need a dynamic one",
			accesscontrol.ErrBadConfig, db.addr.Name, db.access.Type())
	}
	b, err := entry(d)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	key := crdt.ACLKey(hex.EncodeToString(sum[:16]))
	return db.write(ctx, func(t *txn) error {
		t.stageMeta(crdt.Mutation{Key: key, Value: b})
		return nil
	})
}
