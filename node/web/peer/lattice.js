// lattice.js: the JavaScript API of the in-browser Lattice peer.
//
// The peer is Lattice's Go engine compiled to WebAssembly (lattice.wasm,
// run by Go's wasm_exec.js): a replica of its own, keeping its data and
// identity in IndexedDB and syncing with Go nodes and relays over
// WebSocket. It works offline; writes sync when a peer is reachable.
//
//   <script src="wasm_exec.js"></script>
//   <script src="lattice.js"></script>
//   <script type="module">
//     const peer = await Lattice.start({name: "my-app"});   // loads lattice.wasm
//     await peer.connect({peer: "12D3KooW...", addrs: ["/ip4/192.0.2.7/tcp/4003/ws"]});
//     const db = await peer.open("/lattice/bafy.../TodoList");
//     const todos = db.collection("todos");
//     await todos.insertOne({title: "milk", isDone: false});
//     console.log(await todos.find({isDone: false}, {sort: {title: 1}}));
//     db.on((ev) => console.log(ev.type, ev.collection, ev.id));
//   </script>
//
// Lattice.start(options) -> Promise<Peer>
//   options.name    IndexedDB database of this peer (default "lattice")
//   options.wasm    URL of lattice.wasm (default "lattice.wasm")
//   options.worker  URL of lattice-worker.js (default "lattice-worker.js"),
//                   or false to run the peer on the page's main thread.
//                   In a worker (the default where Worker exists) a
//                   catch-up never freezes the page; wasm_exec.js is then
//                   loaded by the worker, beside lattice-worker.js.
// Peer.id                                  its peer ID
// Peer.connect({peer, addrs})              dial a node or relay (WebSocket addresses)
// Peer.join(link)                          connect to an invite link's inviter, open its database
// Peer.checkInvite(inv)                    reject if parseInvite's result has an invalid peer ID, address or database
// Peer.redeem(inv) -> Promise<role>        redeem the link's one-time key with its (connected) inviter: become a member
// Peer.open(address) -> Promise<Database>  open a database (offline too, once opened before)
// Peer.peers() -> Promise<string[]>        connected peer IDs
// Database.address
// Database.collection(name) -> Collection
// Database.on(callback)                    events: {type: "write"|"replicated"|"peer-joined"|"peer-left"|"catchup", collection, id, deleted, peer}
// Collection.insertOne(doc) -> Promise<{insertedId}>
// Collection.find(filter, {sort, limit}) -> Promise<doc[]>
// Collection.findOne(filter) -> Promise<doc|null>
// Collection.updateOne(filter, update) -> Promise<{matchedCount, modifiedCount}>
// Collection.deleteOne(filter) -> Promise<{deletedCount}>
// Collection.countDocuments(filter) -> Promise<number>
// Filters and updates are MongoDB's ($eq, $in, $set, $inc, $push, ...),
// as in the Go API. Every call rejects with an Error saying what failed.
"use strict";
(function () {
  const enc = (v) => JSON.stringify(v === undefined ? {} : v);

  class Collection {
    constructor(db, name) { this.db = db; this.name = name; }
    async insertOne(doc) { return JSON.parse(await call("insertOne", this.db.address, this.name, enc(doc))); }
    async find(filter, opts) { return JSON.parse(await call("find", this.db.address, this.name, enc(filter), enc(opts))); }
    async findOne(filter) { const d = await this.find(filter, {limit: 1}); return d.length ? d[0] : null; }
    async updateOne(filter, update) { return JSON.parse(await call("updateOne", this.db.address, this.name, enc(filter), enc(update))); }
    async deleteOne(filter) { return JSON.parse(await call("deleteOne", this.db.address, this.name, enc(filter))); }
    async countDocuments(filter) { return Number(await call("countDocuments", this.db.address, this.name, enc(filter))); }
  }

  class Database {
    constructor(address) { this.address = address; }
    collection(name) { return new Collection(this, name); }
    on(callback) { return call("subscribe", this.address, (ev) => callback(JSON.parse(ev))); }
  }

  class Peer {
    constructor(id) { this.id = id; }
    connect(target) { return call("connect", JSON.stringify(target)); }
    // checkInvite rejects, naming the part, when an invite's peer ID,
    // addresses or database address is not valid (parseInvite checks only
    // the link's shape).
    // redeem redeems an invite's one-time key (inv.key) with its inviter,
    // which must be connected: on a list whose members are named, that
    // makes this peer a member. It rejects with the inviter's reason.
    async redeem(inv) { return call("redeem", JSON.stringify({peer: inv.peer, key: inv.key, db: inv.db})); }
    async checkInvite(inv) { await call("checkInvite", JSON.stringify({peer: inv.peer, addrs: inv.addrs, db: inv.db})); }
    async open(address) { return new Database(await call("open", address)); }
    async peers() { return JSON.parse(await call("peers")); }
    // join connects to the inviter of a lattice://join?... link (or a web
    // link with #join=<link>) and opens its database.
    async join(link) {
      const inv = parseInvite(link);
      await this.checkInvite(inv);
      await this.connect({peer: inv.peer, addrs: inv.addrs});
      if (inv.key) await this.redeem(inv);
      return this.open(inv.db);
    }
  }

  // parseInvite reads an invite link: {peer, addrs, db, collection, title, key}.
  function parseInvite(link) {
    let s = String(link || "").trim();
    const hash = s.indexOf("#join=");
    if (/^https?:/.test(s) && hash >= 0) s = decodeURIComponent(s.slice(hash + 6));
    if (!s.startsWith("lattice://join?")) throw new Error("not a Lattice invite link");
    const q = new URLSearchParams(s.slice("lattice://join?".length));
    const inv = {peer: q.get("peer"), addrs: q.getAll("addr"), db: q.get("db"), collection: q.get("collection") || "todos", title: q.get("title") || "", key: q.get("key") || ""};
    if (!inv.peer || inv.addrs.length === 0) throw new Error("the invite link names no peer to reach");
    if (!inv.db) throw new Error("the invite link names no database (ask for a link with the database in it)");
    // A WebSocket address, or a relay circuit through a relay's WebSocket
    // address (an inviter behind a NAT).
    if (!inv.addrs.some((a) => /\/wss?(\/p2p\/[^/]+\/p2p-circuit)?$/.test(a))) throw new Error("the inviter has no WebSocket address a browser can reach (directly or through a relay)");
    return inv;
  }

  // call runs fn of the Go peer (latticeGo, which lattice.wasm defines)
  // with args: in the page, or in the worker (start sets it).
  let call = (fn, ...args) => globalThis.latticeGo[fn](...args);

  // inWorker starts lattice.wasm in a Web Worker (lattice-worker.js) and
  // makes call post each call to it; a subscription's callback (the last
  // argument of "subscribe") stays here and receives the worker's events.
  async function inWorker(o) {
    const worker = new Worker(o.worker || "lattice-worker.js");
    const pending = new Map();
    const subs = new Map();
    let next = 0;
    worker.onmessage = (ev) => {
      const m = ev.data;
      if (m.sub !== undefined) {
        const cb = subs.get(m.sub);
        if (cb) cb(m.event);
        return;
      }
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    };
    worker.onerror = (ev) => {
      const err = new Error("the Lattice worker failed: " + (ev.message || "unknown error"));
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    call = (fn, ...args) => new Promise((resolve, reject) => {
      const id = next++;
      if (fn === "subscribe") subs.set(id, args.pop());
      pending.set(id, {resolve, reject});
      worker.postMessage({id, fn, args});
    });
    await call("boot", new URL(o.wasm || "lattice.wasm", location.href).href);
  }

  let started = null;
  async function start(options) {
    if (started) return started;
    started = (async () => {
      const o = options || {};
      if (o.worker !== false && typeof Worker === "function") {
        await inWorker(o);
      } else {
        const ready = new Promise((resolve) => { globalThis.latticeGoReady = resolve; });
        const go = new Go();
        const res = await WebAssembly.instantiateStreaming(fetch(o.wasm || "lattice.wasm"), go.importObject);
        go.run(res.instance);
        await ready;
      }
      const info = JSON.parse(await call("start", JSON.stringify({name: o.name || "lattice"})));
      return new Peer(info.peer);
    })();
    try { return await started; } catch (e) { started = null; throw e; }
  }

  globalThis.Lattice = {start, parseInvite};
})();
