package engine

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/internal/replication"
)

// Reconnecting (WithReconnect): each open database keeps an address book
// of the peers it replicated with, in its own namespace of the store, and
// a replication.Redialer that redials them while the database has no peer.

// startRedial makes the database's redialer, which records the peers that
// join in the address book, and with run starts it redialing; Close ends
// it.
func (db *Database) startRedial(run bool) {
	db.redial = replication.NewRedialer(db.e.host, db.book, db.bc.Peers, db.log.Named("redial"))
	db.redial.OnRedial = func(peer.ID) { db.stats.reconnects.Add(1) }
	if !run {
		return
	}
	db.wg.Add(1)
	go func() {
		defer db.wg.Done()
		db.redial.Run(db.ctx)
	}()
}
