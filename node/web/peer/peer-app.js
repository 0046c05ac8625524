// The to-do app of the in-browser peer: joins the list of the link in the
// page's #join=..., keeps it in this browser (it opens offline after the
// first visit), and syncs with the node that invited it when reachable.
"use strict";
(async function () {
  const $ = (id) => document.getElementById(id);
  const status = (state, text) => { $("status").dataset.state = state; $("status-text").textContent = text; };
  const say = (text) => { $("message").textContent = text; };
  const KEY = "lattice-peer-list";
  let todos = null;

  let waitingKey = false;
  async function render() {
    let docs;
    try {
      docs = await todos.find({}, {sort: {createdAt: 1}});
    } catch (e) {
      // A new member of a sealed list reads once a member's key package
      // reaches it, a moment after it joined.
      if (!/not a reader/.test(e.message)) throw e;
      waitingKey = true;
      say("Waiting for this list's key from its members…");
      return;
    }
    if (waitingKey) { waitingKey = false; say(""); }
    const ul = $("todos");
    ul.replaceChildren(...docs.map((d) => {
      const li = document.createElement("li");
      li.className = "todo" + (d.isDone ? " done" : "");
      li.dataset.id = d._id;
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !!d.isDone;
      box.addEventListener("change", () => todos.updateOne({_id: d._id}, {$set: {isDone: box.checked}}).catch((e) => say(e.message)));
      const title = document.createElement("span");
      title.className = "title";
      title.textContent = d.title;
      li.append(box, title);
      return li;
    }));
    $("count").textContent = String(docs.length);
  }

  // The page opens with no network once a service worker has cached it
  // (https and localhost only).
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((e) => console.log("no offline page: " + e.message));
  }
  try {
    // The peer runs in a Web Worker; ?worker=0 keeps it on the main thread.
    const peer = await Lattice.start({name: "lattice-peer", worker: new URLSearchParams(location.search).get("worker") === "0" ? false : undefined});
    $("peer-id").textContent = peer.id;
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(KEY) || "null"); } catch (_) {}
    let inv = null;
    if (location.hash.startsWith("#join=")) {
      try {
        inv = Lattice.parseInvite(decodeURIComponent(location.hash.slice(6)));
        await peer.checkInvite(inv);
      } catch (e) {
        inv = null;
        say("This link cannot be joined: " + e.message);
        status("error", "Bad link");
        if (!saved) return;
      }
    }
    let list = inv ? {db: inv.db, collection: inv.collection, title: inv.title, peer: inv.peer, addrs: inv.addrs, key: inv.key} : saved;
    if (inv && saved && saved.db === inv.db && !saved.key) list = {...list, key: ""}; // a member already: nothing to redeem
    if (!list) { say("Open this page from an invite link (or scan the list's QR code)."); status("idle", "No list"); return; }
    localStorage.setItem(KEY, JSON.stringify(list));
    if (list.title) $("list-title").textContent = list.title;
    status("connecting", "Connecting…");
    // Reach the inviter in the background: the list opens from this
    // browser's store if it was opened here before, network or not.
    const reach = () => peer.connect({peer: list.peer, addrs: list.addrs})
      .then(() => status("online", "Synced with " + list.peer.slice(-6)))
      .catch((e) => { status("offline", "Offline: changes stay here and sync later"); console.log(e.message); });
    const connected = reach();
    if (list.key) {
      // A list whose members are named: the link's one-time key makes this
      // page a member, once the inviter is reached.
      await connected;
      try {
        await peer.redeem(list);
        list = {...list, key: ""};
        localStorage.setItem(KEY, JSON.stringify(list));
      } catch (e) {
        say("This invite cannot be used: " + e.message.replace(/^invite refused: /, ""));
        status("error", "Invite refused");
        return; // not a member: nothing here to show
      }
    }
    // Back online: dial at once rather than at the engine's next redial.
    window.addEventListener("online", () => { reach(); });
    let db;
    try {
      db = await peer.open(list.db);
    } catch (e) {
      await connected;
      db = await peer.open(list.db);
    }
    todos = db.collection(list.collection || "todos");
    let pending = null;
    db.on(() => { if (!pending) pending = setTimeout(() => { pending = null; render().catch((e) => say(e.message)); }, 30); });
    await render();
    $("add-form").hidden = false;
    $("add-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = $("new-title");
      const title = input.value.trim();
      if (!title) return;
      input.value = "";
      try {
        await todos.insertOne({title, isDone: false, createdAt: Date.now()});
        await render();
      } catch (e) { say("Not saved: " + e.message); }
    });
    window.latticeApp = {peer, db, todos}; // for the console and tests
    document.body.dataset.ready = "true";
  } catch (e) {
    say("The browser peer failed: " + e.message);
    status("error", "Failed");
  }
})();
