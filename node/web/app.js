// Lattice to-do app: talks to the node that serves it through the HTTP API
// and follows changes through the server-sent event stream (never polls).
"use strict";

(() => {
  const LIST_NAME = "TodoList";
  const COLLECTION = "todos";
  // ABOUT holds the list's own document, {_id: "list", name, deleted}: its
  // name replicates like a to-do, so a rename shows on every device.
  const ABOUT = "about";
  // TODO_SCHEMA is what every replica of a list holds its to-dos to (the
  // list's address pins it): a node, or a modified peer, that skips the
  // page's own checks is refused by the others.
  const TODO_SCHEMA = {
    type: "object",
    properties: {
      title: { type: "string", minLength: 1, maxLength: 1000 },
      isDone: { type: "boolean" },
      createdAt: { type: "number" },
    },
    required: ["title"],
  };
  const NOTICE_MS = 60000; // how long "changed on another device" shows, with the loser's text to restore
  const SAVED_MS = 30000; // how long a saved title is watched for a concurrent edit
  const PAGE = 100; // to-dos read first, for the first paint; the rest follow in one more read
  const JOIN_QUIET_MS = 3000; // a joined list with no history yet counts as in after this
  const MAX_TITLE = 1000; // characters in a title: longer ones are refused with a message
  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    peerId: "",
    address: "",
    todos: [], // the list, sorted by order (newest first)
    byId: new Map(), // String(_id) -> to-do
    rows: new Map(), // String(_id) -> its row, for the rendered to-dos (the window and the pinned rows)
    heights: new Map(), // String(_id) -> its row's height in px, once measured and unlike rowH
    rowH: 48, // a row's height until measured (the first row measured sets it)
    rowMeasured: false,
    offs: null, // Float64Array: each row's offset from the top of the list (layout)
    layoutDirty: true, // offs is out of date
    renderQueued: false,
    anchor: null, // {id, index, off, h}: the row at the top of the screen, kept in place across changes
    fresh: new Set(), // _ids of to-dos that arrived since the last render (they fade in)
    adding: new Set(), // createdAt of the to-dos this page is adding: shown where they go
    reveal: null, // _id of a row to bring into view after the next render
    refocus: null, // {index, cls}: the control to focus after the next render (after a delete)
    dirty: new Map(), // String(_id) -> _id of to-dos changed since they were read
    deleted: new Map(), // String(_id) -> findGen when a delete event for it came (reads begun until then are stale for it)
    fetching: false, // fetchDirty runs
    loaded: false, // the whole list is in (load finished)
    loadedOnce: false,
    loadGen: 0,
    painted: false, // the first to-dos were on screen
    peers: [], // the node's peers
    listPeers: 0, // peers on this list's topic
    events: null,
    streamUp: false,
    nodeDown: false, // the node was out of reach
    offlineToast: false, // the message shown says the node is out of reach
    catchingUp: false,
    settling: false,
    settleAgain: false,
    settleTimer: null,
    missed: 0, // checks that found to-dos on the node the page never heard of
    joinedAt: 0, // when the list shown was joined (Date.now()), 0 if it was not
    editing: null, // _id of the to-do being edited
    editingTodo: null, // that to-do as it was last seen (it may be deleted meanwhile)
    focusEdit: false, // the editor is new: give it the focus
    saved: new Map(), // _id -> {title, written, gen, until}: titles this page saved, watched for a concurrent edit
    notices: new Map(), // _id -> {until, mine}: "changed on another device" shows until then, offering mine (the text this page saved) back
    findGen: 0, // finds started so far
    lists: [], // the TodoLists on this node, from /v1/databases
    listName: "", // the name of the list shown
    named: false, // the list has a name someone chose (its about document)
    deleting: null, // address of the list this page is deleting for everyone
    pendingToken: null, // a token from #token= waiting for the user's consent
  };

  // ---- URL fragment: #token=..., #join=<link> ------------------------------
  // Nothing changes state from a URL alone: any web page can send the
  // browser here with a fragment. A token replaces a stored one only after
  // the user agrees; a join link only shows what it would join, and joins
  // when the user clicks Join. The fragment is dropped from the address bar
  // once read.
  function readFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#\/?/, ""));
    if (location.hash) {
      history.replaceState(null, "", location.pathname + location.search);
    }
    const stored = localStorage.getItem("lattice.token");
    const offered = params.get("token");
    state.token = stored;
    if (offered && !stored) {
      localStorage.setItem("lattice.token", offered);
      state.token = offered;
    } else if (offered && offered !== stored) {
      state.pendingToken = offered;
    }
    return params.get("join");
  }

  // confirmBox shows the confirmation panel and resolves to true when the
  // user clicks its confirm button, false on cancel.
  // With check, it shows a checkbox of that label, and resolves to
  // {ok, checked}.
  function confirmBox(title, rows, yes, hint, check) {
    const box = $("confirm");
    $("confirm-check-row").hidden = !check;
    $("confirm-check-text").textContent = check || "";
    $("confirm-check").checked = false;
    $("confirm-title").textContent = title;
    $("confirm-hint").textContent = hint || "";
    $("confirm-body").replaceChildren(...rows.map(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      const code = document.createElement("code");
      code.textContent = v;
      dd.append(code);
      return [dt, dd];
    }).flat());
    $("confirm-yes").textContent = yes;
    box.hidden = false;
    $("confirm-no").focus();
    return new Promise((resolve) => {
      const done = (ok) => {
        box.hidden = true;
        $("confirm-yes").onclick = $("confirm-no").onclick = null;
        resolve(check ? { ok, checked: $("confirm-check").checked } : ok);
      };
      $("confirm-yes").onclick = () => done(true);
      $("confirm-no").onclick = () => done(false);
    });
  }

  async function offerToken() {
    const t = state.pendingToken;
    state.pendingToken = null;
    if (!t) return false;
    const ok = await confirmBox("Use a different API token?",
      [["Link's token", t.slice(0, 4) + "…"], ["Stored token", (state.token || "").slice(0, 4) + "…"]],
      "Replace the stored token",
      "A link opened this page with another token. Replace the stored one only if you opened that link yourself.");
    if (!ok) return false;
    localStorage.setItem("lattice.token", t);
    state.token = t;
    return true;
  }

  // offerJoin shows the list a link would join and who shares it, and joins
  // only if the user confirms.
  async function offerJoin(link) {
    let inv;
    try {
      inv = await api("POST", "/v1/invites/inspect", { link });
    } catch (e) {
      fail(e, "link");
      return;
    }
    // The list's name is the inviter's, carried in the link.
    const rows = [["List", inv.title || inv.name || "(announced by the inviter)"], ["Shared by", inv.peerId]];
    if (inv.database) rows.push(["Address", inv.database]);
    const hint = "Join only lists from people you know: your node connects to theirs, and what you add is shared with everyone on the list.";
    if (!(await confirmBox("Join this list?", rows, "Join", hint))) {
      toast("Not joined");
      return;
    }
    try {
      await join(link, inv.title, inv.count);
      toast(inv.title ? `Joined “${inv.title}”` : "Joined the list");
    } catch (e) {
      fail(e, "join");
    }
  }

  // ---- API ------------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.token) headers["Authorization"] = "Bearer " + state.token;
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      showOffline("Node unreachable");
      const err = new Error("fetch " + path + ": " + e.message);
      err.code = "offline";
      throw err;
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const msg = (data.error && data.error.message) || res.statusText;
      const err = new Error(msg);
      err.status = res.status;
      err.code = data.error && data.error.code;
      throw err;
    }
    return data;
  }
  const action = (name, body) =>
    api("POST", "/v1/action/" + name, Object.assign({ database: state.address, collection: COLLECTION }, body));

  // eventsURL is the event stream's URL. EventSource cannot send the
  // Authorization header, so with a token the app gets a short-lived,
  // single-use ticket first; the token itself never goes into a URL.
  async function eventsURL() {
    const url = "/v1/events?database=" + encodeURIComponent(state.address);
    if (!state.token) return url;
    const { ticket } = await api("POST", "/v1/events/ticket");
    return url + "&ticket=" + encodeURIComponent(ticket);
  }

  // showQR loads the QR code with the token in the header, not the URL.
  async function showQR(img, path) {
    const headers = state.token ? { "Authorization": "Bearer " + state.token } : {};
    const res = await fetch(path, { headers });
    if (!res.ok) throw new Error("cannot load the QR code");
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(await res.blob());
  }

  // ---- choosing the list ----------------------------------------------------
  // The lists are the node's TodoList databases (GET /v1/databases), less
  // those left on this node. A list's name is its about document's, else
  // the name it was created with (its manifest's meta.title); this browser
  // caches the names it has seen, for the lists not open now.
  async function fetchLists() {
    const { databases } = await api("GET", "/v1/databases");
    state.lists = databases.filter((d) => d.name === LIST_NAME && !d.left);
    return state.lists;
  }

  async function chooseList(fetched) {
    const lists = fetched || await fetchLists();
    const saved = localStorage.getItem("lattice.list");
    if (saved && lists.some((d) => d.address === saved)) return saved;
    if (lists.length > 0) return lists[0].address; // most recently used first
    return createList("My to-dos", true);
  }

  // createList creates a list; auto marks the one the app makes by itself
  // (which joining a list replaces while it is still empty).
  async function createList(name, auto) {
    const meta = { creator: state.peerId, created: new Date().toISOString(), title: name };
    if (auto) meta.auto = "true";
    const created = await api("POST", "/v1/databases", { name: LIST_NAME, access: { type: "open" }, meta, schemas: { [COLLECTION]: TODO_SCHEMA } });
    cacheName(created.address, name);
    return created.address;
  }

  const names = () => {
    try { return JSON.parse(localStorage.getItem("lattice.names") || "{}"); } catch (e) { return {}; }
  };
  function cacheName(address, name) {
    const all = names();
    if (name) all[address] = name; else delete all[address];
    localStorage.setItem("lattice.names", JSON.stringify(all));
  }
  const isOwn = (d) => !!(d && d.meta && d.meta.creator === state.peerId);
  function listLabel(d) {
    const name = names()[d.address] || (d.meta && d.meta.title);
    if (name) return name;
    return `${isOwn(d) ? "My list" : "Shared list"} · ${d.address.split("/")[2].slice(-6)}`;
  }

  // useList shows a list; joining says it was just joined, and arrives
  // from its peers: the status says so until it is in.
  async function useList(address, joining) {
    await api("POST", "/v1/databases/open", { address });
    state.address = address;
    localStorage.setItem("lattice.list", address);
    showAddress(address);
    $("share-out").hidden = true;
    state.editing = null;
    state.dirty.clear();
    state.heights.clear();
    state.anchor = null;
    state.loaded = false;
    state.loadedOnce = false;
    state.catchingUp = !!joining;
    state.expected = joining ? state.joinExpected || 0 : 0; // the count the invite link carried
    state.joinExpected = 0;
    state.joinedAt = joining ? Date.now() : 0;
    state.missed = 0;
    state.listPeers = 0;
    setModel([]);
    if (joining) showCatchup();
    state.saved.clear();
    state.notices.clear();
    state.named = false;
    subscribe();
    // The list switcher and the name come beside the to-dos, not before
    // them: the first paint waits on nothing but the list's first read.
    showName(listLabel(state.lists.find((d) => d.address === address) || { address }));
    const lists = refreshLists().then(() => {
      if (!state.named && state.address === address) showName(listLabel(state.lists.find((d) => d.address === address) || { address }));
    });
    await Promise.all([load(), loadName(), lists]);
  }

  async function refreshLists() {
    const lists = await fetchLists();
    const sel = $("list-select");
    sel.hidden = lists.length < 2;
    const labels = lists.map(listLabel);
    sel.replaceChildren(...lists.map((d, i) => {
      const o = document.createElement("option");
      o.value = d.address;
      // Two lists of one name are told apart by their addresses' ends.
      const twin = labels.indexOf(labels[i]) !== labels.lastIndexOf(labels[i]);
      o.textContent = twin ? `${labels[i]} · ${d.address.split("/")[2].slice(-6)}` : labels[i];
      o.selected = d.address === state.address;
      return o;
    }));
  }

  // showAddress shows the list's address with a line break allowed before
  // each "/": the name ("/TodoList") stays whole on its line, and only the
  // long CID between breaks anywhere.
  function showAddress(address) {
    const parts = address.split(/(?=\/)/);
    $("db-address").replaceChildren(...parts.flatMap((p, i) => i === 0 ? [p] : [document.createElement("wbr"), p]));
  }

  function showName(name) {
    state.listName = name;
    $("list-title").textContent = name;
    $("share-title").textContent = `Share “${name}”`;
    document.title = name + " · Lattice";
  }

  // loadName reads the list's about document: its name, and whether it was
  // deleted on another device.
  async function loadName() {
    const address = state.address;
    let doc;
    try {
      ({ document: doc } = await action("findOne", { collection: ABOUT, filter: { _id: "list" } }));
    } catch (e) {
      return; // the to-dos' reload reports what is wrong
    }
    if (address !== state.address) return;
    if (doc && doc.deleted) {
      if (state.deleting === address) return;
      toast(`“${state.listName}” was deleted on another device.`);
      try {
        await leaveList(address, false);
      } catch (e) {
        fail(e);
      }
      return;
    }
    if (doc && doc.name) {
      state.named = true;
      const renamed = doc.name !== state.listName;
      cacheName(address, doc.name);
      showName(doc.name);
      if (renamed) await refreshLists().catch(() => {});
    }
  }

  // leaveList closes a list on this node (forget: and deletes its data
  // here) and shows another, or a new one when none is left.
  async function leaveList(address, forget) {
    if (state.address === address && state.events) {
      state.events.close(); // its stream ends with it: not a lost connection
      state.events = null;
    }
    await api("POST", "/v1/databases/leave", { address, forget });
    cacheName(address, "");
    if (localStorage.getItem("lattice.list") === address) localStorage.removeItem("lattice.list");
    if (state.address === address) {
      state.address = "";
      await useList(await chooseList());
    } else {
      await refreshLists();
    }
  }

  // ---- event stream ---------------------------------------------------------
  // The page keeps the list in memory, sorted, and applies the stream's
  // changes to it one document at a time: an event names a document, the
  // page fetches that document (findOne by _id; a burst of them, as in a
  // catch-up, in one find by _id $in) and moves, adds, updates or removes
  // its one row. The event itself carries no document: a document can be
  // 512 KiB, and the stream is shared by every change of the list.
  async function subscribe() {
    if (state.events) state.events.close();
    state.events = null;
    const address = state.address;
    let url;
    try {
      url = await eventsURL();
    } catch (e) {
      showOffline("Reconnecting to node…");
      setTimeout(() => { if (state.address === address && !state.events) subscribe(); }, 2000);
      return;
    }
    if (state.address !== address) return;
    const es = new EventSource(url);
    state.events = es;
    es.addEventListener("ready", () => {
      const wasDown = state.nodeDown;
      state.streamUp = true;
      state.nodeDown = false;
      document.body.classList.remove("node-down");
      // The node is back: its "can't reach" message is no longer true.
      if (state.offlineToast) dismissToast();
      // Catch up on anything missed while the stream was down (the first
      // load starts with the list).
      if (state.loadedOnce || wasDown) load();
      refreshPeers();
    });
    const onChange = (ev) => {
      const data = JSON.parse(ev.data);
      if (data.collection === COLLECTION && data.id !== undefined) {
        const id = String(data.id);
        // A title this page saves is judged by the fetches that start
        // after the node reports the write: what they show has it, or
        // what replaced it later.
        const saved = ev.type === "write" && state.saved.get(id);
        if (saved && !saved.written) {
          saved.written = true;
          saved.gen = state.findGen;
        }
        if (data.deleted && state.loaded) {
          // A delete needs no read: the row goes at once. A read that
          // started before it must not bring the to-do back (fetchDirty).
          state.dirty.delete(id);
          state.deleted.set(id, state.findGen);
          removeDoc(id);
          renderList(true);
          if (state.catchingUp) checkSettled();
        } else {
          state.dirty.set(id, data.id);
          fetchDirty();
        }
      }
      if (data.collection === ABOUT) loadName();
    };
    es.addEventListener("write", onChange);
    es.addEventListener("replicated", onChange);
    es.addEventListener("peer-joined", refreshPeers);
    es.addEventListener("peer-left", refreshPeers);
    // A list with a long history arrives on one catch-up stream: say so,
    // in to-dos, until the last of them is in. The stream counts blocks
    // (a block can hold one to-do or a thousand), so the page counts the
    // to-dos it has, against the count the invite link carried (the
    // inviter's when it made the link) while it is ahead.
    es.addEventListener("catchup", (ev) => {
      const p = JSON.parse(ev.data).catchup || {};
      if (p.done) {
        checkSettled();
        return;
      }
      state.catchingUp = true;
      showCatchup();
    });
    es.onerror = () => {
      state.streamUp = false;
      showOffline("Reconnecting to node…");
      // The browser retries by itself unless the node refused the stream
      // (a spent ticket, a restart, too many streams): then start over.
      if (es.readyState === EventSource.CLOSED && state.events === es) {
        state.events = null;
        setTimeout(() => { if (!state.events) subscribe(); }, 1000);
      }
    };
  }

  const count = (n) => n.toLocaleString("en-US");
  function showCatchup() {
    const n = state.todos.length;
    if (state.expected > n) setStatus("busy", `Catching up… ${count(n)} of ${count(state.expected)} to-dos`);
    else setStatus("busy", `Catching up… ${count(n)} to-do${n === 1 ? "" : "s"} so far`);
  }

  // checkSettled ends the catch-up status once the node has merged all it
  // received (a catch-up's blocks are all in before their to-dos are) and
  // the page shows every to-do the node has. It asks again when the next
  // to-dos arrive; when the node has to-dos whose events never came (a
  // slow page misses events), it reads the list afresh.
  async function checkSettled() {
    if (state.settling) { state.settleAgain = true; return; }
    state.settling = true;
    const address = state.address;
    try {
      do {
        state.settleAgain = false;
        const s = await api("GET", "/v1/databases/stats?database=" + encodeURIComponent(address));
        let busy = s.catchup && s.catchup.running || (s.pendingChanges || 0) > 0 || (s.queuedHeads || 0) > 0;
        // Just joined, the node may not have heard of the list's history
        // yet (no heads): that is not "all in". A list that has none (an
        // empty one) counts as in after JOIN_QUIET_MS.
        if (!busy && (s.heads || 0) === 0 && Date.now() - state.joinedAt < JOIN_QUIET_MS) {
          busy = true;
          clearTimeout(state.settleTimer);
          state.settleTimer = setTimeout(() => { if (address === state.address && state.catchingUp) checkSettled(); }, 250);
        } else if (!busy) {
          const { count: n } = await action("countDocuments", { filter: {} });
          if (address !== state.address) return;
          busy = n !== state.todos.length;
          if (busy && !state.fetching && state.dirty.size === 0) {
            // Wait a moment for events on their way; then read afresh.
            clearTimeout(state.settleTimer);
            state.settleTimer = setTimeout(() => {
              if (address !== state.address || !state.catchingUp) return;
              if (state.dirty.size === 0 && !state.fetching) state.missed++;
              if (state.missed >= 2) { state.missed = 0; load(); } else checkSettled();
            }, 500);
          }
        }
        if (address !== state.address) return;
        state.catchingUp = busy;
        state.listPeers = s.peers || 0;
        if (busy) showCatchup(); else { state.missed = 0; renderPeers(); }
      } while (state.settleAgain);
    } catch (e) {
      // the stream's state says what is wrong
    } finally {
      state.settling = false;
    }
  }

  // load reads the whole list: at start, and after the stream was down.
  // The newest to-dos come first in a small read, shown at once; the rest
  // follow in one more. Changes that arrive meanwhile wait in dirty and
  // are fetched once the list is in.
  async function load() {
    const address = state.address;
    const gen = ++state.loadGen;
    state.loaded = false;
    const sort = { createdAt: -1, _id: -1 };
    try {
      const first = await action("find", { filter: {}, sort, limit: PAGE });
      if (gen !== state.loadGen || address !== state.address) return;
      setModel(first.documents);
      markPainted();
      if (first.documents.length >= PAGE) {
        const all = await action("find", { filter: {}, sort });
        if (gen !== state.loadGen || address !== state.address) return;
        setModel(all.documents);
      }
      state.loaded = true;
      state.loadedOnce = true;
      if (state.catchingUp && state.dirty.size === 0) checkSettled();
      if (!state.loadMarked && state.todos.length > 0) {
        state.loadMarked = true;
        requestAnimationFrame(() => performance.mark("todos-loaded"));
      }
      fetchDirty();
    } catch (e) {
      if (gen === state.loadGen) fail(e);
    }
  }

  // markPainted records, once per page load, when the first to-dos were on
  // screen (the Performance API mark "todos-painted").
  function markPainted() {
    if (state.painted || state.todos.length === 0) return;
    state.painted = true;
    requestAnimationFrame(() => performance.mark("todos-painted"));
  }

  // fetchDirty fetches the to-dos that changed since they were read, one
  // request at a time (so an older answer never overwrites a newer one),
  // and applies each to the model and its row.
  async function fetchDirty() {
    if (state.fetching || !state.loaded || state.dirty.size === 0) return;
    state.fetching = true;
    const address = state.address;
    try {
      while (state.dirty.size > 0 && state.loaded && address === state.address) {
        const batch = [...state.dirty.entries()].slice(0, 500);
        for (const [id] of batch) state.dirty.delete(id);
        const gen = ++state.findGen;
        let docs;
        if (batch.length === 1) {
          const { document: doc } = await action("findOne", { filter: { _id: batch[0][1] } });
          docs = doc ? [doc] : [];
        } else {
          ({ documents: docs } = await action("find", { filter: { _id: { $in: batch.map(([, raw]) => raw) } } }));
        }
        if (address !== state.address) return;
        const found = new Map(docs.map((d) => [String(d._id), d]));
        for (const [id] of batch) {
          const doc = found.get(id);
          if ((state.deleted.get(id) || -1) >= gen) continue; // deleted after this read began
          state.deleted.delete(id);
          if (doc) upsert(doc); else removeDoc(id);
        }
        renderList(true);
        watchSaved(gen, batch.map(([id]) => id));
        if (state.catchingUp) showCatchup();
      }
    } catch (e) {
      fail(e);
    } finally {
      state.fetching = false;
    }
    if (state.catchingUp) checkSettled();
  }

  // refreshPeers reads the node's peers (the node card) and the list's own
  // (the status): a list is synced with the peers on its topic, not with
  // every node this one is connected to.
  async function refreshPeers() {
    const address = state.address;
    try {
      const [{ peers }, stats] = await Promise.all([
        api("GET", "/v1/peers"),
        api("GET", "/v1/databases/stats?database=" + encodeURIComponent(address)),
      ]);
      if (address !== state.address) return;
      state.peers = peers;
      state.listPeers = stats.peers || 0;
    } catch (e) {
      return;
    }
    renderPeers();
  }

  // ---- rendering ------------------------------------------------------------
  function setStatus(kind, text) {
    $("status").dataset.state = kind;
    if ($("status-text").textContent !== text) $("status-text").textContent = text;
  }

  // showOffline says the node is out of reach, and forgets its peers: a
  // list of them from before would claim connections nobody can vouch for.
  function showOffline(text) {
    setStatus("offline", text);
    state.nodeDown = true;
    state.peers = [];
    state.listPeers = 0;
    document.body.classList.add("node-down");
    $("peer-list").textContent = "not known while the node is out of reach";
  }

  function renderPeers() {
    const n = state.peers.length;
    if (state.catchingUp) return; // the catch-up status stays until it ends
    if (!state.streamUp) {
      showOffline("Reconnecting to node…");
      return;
    }
    const k = state.listPeers || 0;
    if (k === 0) setStatus("alone", "Offline: your changes are saved here and will sync");
    else setStatus("online", `Synced with ${k} ${k === 1 ? "person" : "people"}`);
    const box = $("peer-list");
    if (n === 0) { box.textContent = "none yet"; return; }
    box.replaceChildren(...state.peers.map((p) => {
      const row = document.createElement("div");
      row.className = "peer";
      const code = document.createElement("code");
      code.textContent = "…" + p.peerId.slice(-10);
      code.title = p.peerId;
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.dataset.kind = p.kind; // direct, holepunched or relayed
      badge.title = p.kind === "relayed" ? "through a relay" : "direct connection";
      badge.textContent = `${p.kind === "relayed" ? "relayed" : "direct"}${p.kind === "holepunched" ? " (hole-punched)" : ""} · ${p.transport}`;
      row.append(code, badge);
      return row;
    }));
  }

  // watchSaved notes, after fetch number gen of the to-dos ids, which
  // titles this page saved have been replaced since (a concurrent edit on
  // another device won, or came after): those get a brief notice. Only a
  // fetch started after the node reported the save's write event can
  // tell: a change that replaces it comes as an event after that one, and
  // its fetch starts later still.
  function watchSaved(gen, ids) {
    const now = Date.now();
    for (const id of ids) {
      const s = state.saved.get(id);
      if (!s || !s.written || gen <= s.gen) continue;
      const t = state.byId.get(id);
      if (!t || now > s.until) {
        state.saved.delete(id);
      } else if (t.title !== s.title) {
        state.saved.delete(id);
        state.notices.set(id, { until: now + NOTICE_MS, mine: s.title });
        refreshRow(id);
        setTimeout(() => refreshRow(id), NOTICE_MS + 50);
      }
    }
  }

  // order is the list's sort order: newest first (createdAt, then _id),
  // so a new to-do shows at the top, under the box it was typed in.
  function order(a, b) {
    const ca = a.createdAt || 0, cb = b.createdAt || 0;
    if (ca !== cb) return ca > cb ? -1 : 1;
    const ia = String(a._id), ib = String(b._id);
    return ia > ib ? -1 : ia < ib ? 1 : 0;
  }
  // indexFor is where t goes in the sorted list (binary search).
  function indexFor(t) {
    let lo = 0, hi = state.todos.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order(state.todos[mid], t) < 0) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  function indexOfTodo(t) {
    const i = indexFor(t);
    return state.todos[i] === t ? i : state.todos.indexOf(t);
  }

  // ---- the list on screen: a window over the sorted to-dos ------------------
  // The page renders only the rows in view plus about a screen above and
  // below (the window); the ul's padding stands in for the rows outside
  // it, by their heights (measured once seen, an estimate until then), so
  // the scrollbar is the whole list's. A change re-renders the window in
  // the same task: its cost grows with the rows in view, not the list.
  // rows holds the rendered rows by _id. The row with the focus and the
  // one being edited stay rendered when scrolled away (pinned), so neither
  // the focus nor typed text is lost. The list stays a real list (ul/li,
  // each row with its position and the list's size for assistive
  // technology) that Tab and the arrow keys walk.
  function setModel(docs) {
    docs.sort(order);
    state.todos = docs;
    state.byId = new Map(docs.map((d) => [String(d._id), d]));
    state.layoutDirty = true;
    renderList(true);
  }

  // layout computes each row's offset from the top of the list, by the
  // heights known (state.rowH for a row not measured yet).
  function layout() {
    const n = state.todos.length;
    if (!state.offs || state.offs.length < n + 1) state.offs = new Float64Array(Math.max(2 * n, 1024) + 1);
    const offs = state.offs, heights = state.heights, H = state.rowH;
    let y = 0;
    for (let i = 0; i < n; i++) {
      offs[i] = y;
      y += heights.get(String(state.todos[i]._id)) || H;
    }
    offs[n] = y;
    state.layoutDirty = false;
  }

  // rowAt is the index of the row at y (list coordinates): the first whose
  // bottom is below y; n past the end.
  function rowAt(y) {
    const offs = state.offs, n = state.todos.length;
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offs[mid + 1] <= y) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // queueRender renders the window in the next frame (once per frame):
  // after a scroll or a resize.
  function queueRender() {
    if (state.renderQueued) return;
    state.renderQueued = true;
    requestAnimationFrame(() => {
      state.renderQueued = false;
      renderList(false);
    });
  }

  // renderList brings the window up to date with the list and the scroll
  // position. After a change of the list (change), the row at the top of
  // the screen keeps its place: a to-do added or removed above it shifts
  // nothing the user is looking at. (At the top of the list, a new to-do
  // shows where it sorts, under the add box.)
  function renderList(change) {
    const ul = $("todos");
    if (state.layoutDirty) layout();
    const n = state.todos.length, offs = state.offs;
    let listTop = ul.getBoundingClientRect().top;
    let shift = 0;
    const a = state.anchor;
    if (change && a && listTop < 0) {
      const t = state.byId.get(a.id);
      // The anchor row, or when it went, the row that came after it.
      const now = t ? offs[indexOfTodo(t)] : offs[Math.min(a.index, n)] - a.h;
      shift = now - a.off;
      listTop -= shift;
    }
    const viewTop = -listTop, margin = Math.max(innerHeight, 400);
    const start = Math.min(rowAt(viewTop - margin), n);
    const end = Math.min(rowAt(viewTop + innerHeight + margin) + 1, n);

    // The pinned rows outside the window.
    const pins = [];
    const focused = focusedControl();
    for (const id of [focused && focused.id, state.editing === null ? null : String(state.editing)]) {
      const t = id !== null && id !== undefined && state.byId.get(id);
      if (!t) continue;
      const i = indexOfTodo(t);
      if ((i < start || i >= end) && !pins.includes(i)) pins.push(i);
    }
    pins.sort((x, y) => x - y);
    const want = [...pins.filter((i) => i < start)];
    for (let i = start; i < end; i++) want.push(i);
    want.push(...pins.filter((i) => i >= end));

    const wantIds = new Set(want.map((i) => String(state.todos[i]._id)));
    for (const [id, li] of state.rows) {
      if (!wantIds.has(id)) { li.remove(); state.rows.delete(id); }
    }
    let cursor = ul.firstElementChild;
    const size = String(n);
    for (const i of want) {
      const t = state.todos[i], id = String(t._id);
      while (cursor && !state.rows.has(cursor.dataset.id)) cursor = cursor.nextElementSibling; // a draft stays where it is
      let li = state.rows.get(id);
      if (!li) {
        li = renderTodo(t);
        if (state.fresh.has(id)) li.classList.add("fresh");
        state.rows.set(id, li);
        ul.insertBefore(li, cursor);
      } else if (li === cursor) {
        cursor = cursor.nextElementSibling;
      } else if (!li.contains(document.activeElement)) {
        ul.insertBefore(li, cursor); // moved (moving the focused row would blur it)
      }
      const pos = String(i + 1);
      if (li.getAttribute("aria-posinset") !== pos) li.setAttribute("aria-posinset", pos);
      if (li.getAttribute("aria-setsize") !== size) li.setAttribute("aria-setsize", size);
    }
    state.fresh.clear();

    // Measure what is rendered: the first row measured sets the estimate.
    let measured = false;
    for (const i of want) {
      const id = String(state.todos[i]._id);
      const h = state.rows.get(id).offsetHeight;
      if (!h) continue;
      if (!state.rowMeasured) {
        state.rowMeasured = true;
        state.rowH = h;
        state.layoutDirty = true;
      }
      if (Math.abs((state.heights.get(id) || state.rowH) - h) > 0.5) {
        state.heights.set(id, h);
        state.layoutDirty = true;
      }
      measured = true;
    }
    if (state.layoutDirty) layout();
    // The padding is the rows outside the window, less the pinned ones.
    let before = 0, after = 0;
    for (const i of pins) {
      const h = offs[i + 1] - offs[i];
      if (i < start) before += h; else after += h;
    }
    const o = state.offs;
    ul.style.paddingTop = Math.max(0, o[start] - before) + "px";
    ul.style.paddingBottom = Math.max(0, o[n] - o[Math.max(end, start)] - after) + "px";
    if (shift) window.scrollBy(0, shift);

    // The anchor: the row at the top of the screen, when the list is
    // scrolled into.
    const top = -ul.getBoundingClientRect().top;
    if (top > 0 && n > 0) {
      const i = Math.min(rowAt(top), n - 1);
      state.anchor = { id: String(state.todos[i]._id), index: i, off: o[i], h: o[i + 1] - o[i] };
    } else {
      state.anchor = null;
    }

    if (state.reveal !== null) {
      const t = state.byId.get(state.reveal);
      state.reveal = null;
      if (t) reveal(indexOfTodo(t));
    }
    if (state.refocus) {
      const { index, cls } = state.refocus;
      state.refocus = null;
      const j = index < n ? index : n - 1;
      if (j < 0) $("new-title").focus();
      else {
        const li = reveal(j);
        const target = li && li.querySelector("." + (cls === "edit" ? "title" : cls));
        if (target) target.focus(); else $("new-title").focus();
      }
    }
    renderFoot();
  }

  // reveal makes sure row i is rendered and in view, and returns it.
  function reveal(i) {
    const t = state.todos[i];
    if (!t) return null;
    let li = state.rows.get(String(t._id));
    if (!li) {
      if (state.layoutDirty) layout();
      const listTop = $("todos").getBoundingClientRect().top + window.scrollY;
      window.scrollTo(0, listTop + state.offs[i] - innerHeight / 3);
      renderList(false);
      li = state.rows.get(String(t._id));
    }
    if (li) {
      const r = li.getBoundingClientRect();
      if (r.top < 0 || r.bottom > innerHeight) li.scrollIntoView({ block: "nearest" });
    }
    return li;
  }

  // focusedControl notes which control of which to-do has the focus.
  function focusedControl() {
    const active = document.activeElement;
    const li = active && active.closest && active.closest(".todo");
    if (!li || !$("todos").contains(li)) return null;
    return { id: li.dataset.id, cls: active.className.split(" ")[0] };
  }

  // editingRow is the row of the to-do being edited, when its editor is
  // open: it keeps its element, and with it the typed text, the caret and
  // the focus; a remote change neither ends the edit nor saves it.
  function editingRow() {
    if (state.editing === null) return null;
    const li = [...$("todos").children].find((x) => x.dataset.id === String(state.editing));
    return li && li.querySelector(".edit") ? li : null;
  }

  // upsert applies a fetched to-do to the list: a new one goes where it
  // sorts, a changed one is updated in place (its row, when rendered) or
  // moved. The caller renders the window once its batch is applied.
  function upsert(doc) {
    const id = String(doc._id);
    const old = state.byId.get(id);
    const row = state.rows.get(id);
    if (old && order(old, doc) === 0) {
      state.todos[indexOfTodo(old)] = doc;
      state.byId.set(id, doc);
      if (row) fillRow(row, doc);
      return;
    }
    if (old) state.todos.splice(indexOfTodo(old), 1);
    state.todos.splice(indexFor(doc), 0, doc);
    state.byId.set(id, doc);
    state.layoutDirty = true;
    if (row) {
      fillRow(row, doc);
    } else if (!old && state.painted) {
      state.fresh.add(id); // it fades in, if it comes into the window now
    }
    // This page's own new to-do is shown where it went (the top), even
    // when the list was scrolled.
    if (!old && state.adding.has(doc.createdAt)) {
      state.adding.delete(doc.createdAt);
      state.reveal = id;
    }
  }

  // removeDoc takes a to-do out of the list; the next render takes its row
  // off the page. A row that had the focus hands it to the same control of
  // the next to-do (the previous one at the end; the add box when none is
  // left). The row of a to-do being edited stays, as a draft (markGone).
  function removeDoc(id) {
    const old = state.byId.get(id);
    if (!old) return;
    const i = indexOfTodo(old);
    const row = state.rows.get(id);
    const keep = row && row.contains(document.activeElement) ? focusedControl() : null;
    state.todos.splice(i, 1);
    state.byId.delete(id);
    state.heights.delete(id);
    state.layoutDirty = true;
    if (!row) return;
    if (row.querySelector(".edit")) {
      state.rows.delete(id);
      markGone(row);
      return;
    }
    if (keep) state.refocus = { index: i, cls: keep.cls };
  }

  // refreshRow redraws one to-do's row (its notice came or went).
  function refreshRow(id) {
    const row = state.rows.get(id);
    const t = state.byId.get(id);
    if (row && t) fillRow(row, t);
    queueRender();
  }

  // renderFoot updates the counts and the empty note.
  function renderFoot() {
    const n = state.todos.length;
    $("empty").hidden = n > 0 || !!editingRow();
    let left = 0;
    for (const t of state.todos) if (!t.isDone) left++;
    const done = n - left;
    $("remaining").textContent = n ? `${count(left)} left · ${count(done)} done` : "";
    $("clear-done").hidden = done === 0;
    if (state.editing !== null && state.focusEdit) {
      state.focusEdit = false;
      const input = $("todos").querySelector(".edit");
      if (input) input.focus();
    }
  }

  // markGone turns the editor of a to-do deleted on another device into a
  // draft: the typed text stays, with a notice and the choice to add it
  // back (Enter) or discard it (Escape).
  function markGone(li) {
    if (li.classList.contains("gone")) return;
    li.classList.add("gone");
    li.querySelector(".toggle").disabled = true;
    li.querySelector(".delete").hidden = true;
    const note = document.createElement("div");
    note.className = "gone-note";
    note.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.textContent = "Deleted on another device. Your text is kept: ";
    const back = document.createElement("button");
    back.type = "button";
    back.className = "link readd";
    back.textContent = "Add it back";
    const drop = document.createElement("button");
    drop.type = "button";
    drop.className = "link discard";
    drop.textContent = "Discard";
    note.append(text, back, drop);
    li.append(note);
    const input = li.querySelector(".edit");
    input.setAttribute("aria-description", "Deleted on another device: Enter adds it back, Escape discards it");
    back.addEventListener("click", () => input.finish("save"));
    drop.addEventListener("click", () => input.finish("cancel"));
  }

  // label quotes a title in an accessible name, cut short when long.
  const label = (title) => {
    const s = String(title || "");
    return "“" + (s.length > 80 ? s.slice(0, 79) + "…" : s) + "”";
  };

  // fillRow brings a row up to date with its to-do, in place: the focus
  // and an open editor stay.
  function fillRow(li, t) {
    li.todo = t;
    li.classList.toggle("done", !!t.isDone);
    const box = li.querySelector(".toggle");
    box.checked = !!t.isDone;
    box.setAttribute("aria-label", `Mark ${label(t.title)} done`);
    li.querySelector(".delete").setAttribute("aria-label", `Delete ${label(t.title)}`);
    const title = li.querySelector(".title");
    if (title && title.textContent !== (t.title || "")) title.textContent = t.title || "";
    if (li.querySelector(".edit")) state.editingTodo = t;
    const notice = state.notices.get(String(t._id));
    const showNote = !!notice && notice.until > Date.now() && notice.mine !== t.title;
    let note = li.querySelector(".note");
    let restore = li.querySelector(".restore");
    if (showNote && !note) {
      note = document.createElement("span");
      note.className = "note";
      note.setAttribute("role", "status");
      note.textContent = "Changed on another device";
      // The text this page saved lost to the other device's: one click
      // saves it again (and it shows on hover, to copy by hand).
      restore = document.createElement("button");
      restore.type = "button";
      restore.className = "link restore";
      restore.textContent = "Restore my text";
      restore.addEventListener("click", () => restoreMine(li.todo._id));
      li.insertBefore(note, li.querySelector(".delete"));
      li.insertBefore(restore, li.querySelector(".delete"));
    } else if (!showNote && note) {
      note.remove();
      if (restore) restore.remove();
      restore = null;
    }
    if (restore) {
      restore.title = notice.mine;
      restore.setAttribute("aria-label", `Restore my text ${label(notice.mine)}`);
    }
  }

  // restoreMine saves again the title this page had saved for a to-do,
  // which a concurrent edit on another device replaced.
  function restoreMine(id) {
    const key = String(id);
    const notice = state.notices.get(key);
    state.notices.delete(key);
    const now = state.byId.get(key);
    if (!notice || !now) return;
    const row = state.rows.get(key);
    const refocus = row && row.contains(document.activeElement);
    saveTitle(now._id, notice.mine);
    const shown = Object.assign({}, now, { title: notice.mine });
    state.todos[indexOfTodo(now)] = shown;
    state.byId.set(key, shown);
    if (row) fillRow(row, shown);
    if (refocus && row) row.querySelector(".title").focus();
    toast("Your text is back");
  }

  // editRow swaps a row's title for an editor (or back, when the edit
  // ends): the rest of the row stays.
  function editRow(id) {
    const row = state.rows.get(String(id));
    const t = state.byId.get(String(id));
    if (!row || !t) return;
    state.editing = t._id;
    const fresh = renderTodo(t);
    row.replaceWith(fresh);
    state.rows.set(String(id), fresh);
    fresh.querySelector(".edit").focus();
  }

  function renderTodo(t) {
    const li = document.createElement("li");
    li.className = "todo";
    li.dataset.id = String(t._id);

    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "toggle";
    box.addEventListener("change", () => {
      showLocal(li.todo._id, { isDone: box.checked });
      update(li.todo._id, { isDone: box.checked });
    });

    let title;
    if (state.editing === t._id) {
      state.editingTodo = t;
      li.classList.add("editing");
      title = document.createElement("input");
      title.type = "text";
      title.className = "edit";
      title.value = t.title || "";
      title.setAttribute("aria-label", "Edit to-do");
      let finished = false;
      const address = state.address;
      // how: "save" (Enter), "cancel" (Escape) or "blur" (the focus left).
      const finish = (how) => {
        const gone = li.classList.contains("gone");
        if (finished || (gone && how === "blur")) return; // a draft stays until the user chooses
        const v = title.value.trim();
        if (how !== "cancel" && v.length > MAX_TITLE) {
          if (how === "save") toast(tooLong(v), true);
          return; // the editor stays open, with the text
        }
        finished = true;
        if (address !== state.address) return; // another list is shown now: nothing to save there
        state.editing = null;
        state.editingTodo = null;
        const latest = li.todo || t;
        if (gone) {
          if (how === "save" && v) {
            add(v, { isDone: !!latest.isDone, createdAt: latest.createdAt || Date.now() }).catch((e) => fail(e));
            toast("Added back");
          }
          li.remove();
          $("new-title").focus();
          queueRender();
          return;
        }
        if (how !== "cancel" && !v) toast("A to-do needs a title: the old one is kept.", true);
        const now = state.byId.get(String(latest._id)) || latest;
        let shown = now;
        if (how !== "cancel" && v && v !== now.title) {
          state.notices.delete(String(now._id)); // a new edit answers the old notice
          saveTitle(now._id, v);
          // The saved title shows at once: the old one must not come
          // back for the moment until the node's answer is in.
          shown = Object.assign({}, now, { title: v });
          if (state.byId.get(String(now._id)) === now) {
            state.todos[indexOfTodo(now)] = shown;
            state.byId.set(String(now._id), shown);
          }
        }
        const refocusTitle = how !== "blur";
        const fresh = renderTodo(shown);
        state.rows.set(String(shown._id), fresh);
        li.replaceWith(fresh);
        if (refocusTitle) fresh.querySelector(".title").focus();
        queueRender();
      };
      title.finish = finish;
      title.addEventListener("keydown", (e) => {
        if (e.key === "Enter") finish("save");
        if (e.key === "Escape") { e.stopPropagation(); finish("cancel"); }
      });
      title.addEventListener("blur", () => finish("blur"));
    } else {
      title = document.createElement("span");
      title.className = "title";
      title.textContent = t.title || "";
      title.title = "Click, or press Enter or F2, to edit";
      title.tabIndex = 0;
      title.setAttribute("role", "button");
      title.setAttribute("aria-description", "Press Enter or F2 to edit");
      const edit = () => editRow(li.todo._id);
      title.addEventListener("click", edit);
      title.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === "F2") { e.preventDefault(); edit(); }
      });
    }

    const del = document.createElement("button");
    del.type = "button";
    del.className = "delete";
    del.textContent = "×";
    del.addEventListener("click", () => remove(li.todo._id));

    li.append(box, title, del);
    fillRow(li, t);
    return li;
  }

  // arrowKeys moves the focus between to-dos with ArrowUp and ArrowDown
  // (Home and End: the first and the last), to the same control of that
  // row, rendering it first when it is outside the window.
  function arrowKeys(e) {
    const keys = { ArrowDown: 1, ArrowUp: -1, Home: -Infinity, End: Infinity };
    if (!(e.key in keys)) return;
    const active = document.activeElement;
    if (!active || active.classList.contains("edit")) return;
    const li = active.closest(".todo");
    const t = li && state.byId.get(li.dataset.id);
    if (!t) return;
    const cls = active.className.split(" ")[0];
    const n = state.todos.length;
    const j = Math.max(0, Math.min(n - 1, indexOfTodo(t) + keys[e.key]));
    const row = reveal(j);
    const target = row && row.querySelector("." + cls);
    if (target) {
      e.preventDefault();
      target.focus();
    }
  }

  // ---- actions --------------------------------------------------------------
  // After a write the app's own event brings the change (and fetches that
  // one to-do), so an action does not fetch it itself: it would fetch it
  // twice. It does when no event will come: the stream is down, or the
  // write failed and the page must drop what it showed.
  function written(id) {
    if (state.streamUp) return;
    if (id !== undefined) {
      state.dirty.set(String(id), id);
      fetchDirty();
    } else {
      load();
    }
  }
  const tooLong = (v) => `A to-do can be at most ${count(MAX_TITLE)} characters; this one has ${count(v.length)}. Shorten it and try again.`;
  // add adds a to-do, shown at once where it sorts (and brought into
  // view); if the node refuses it, it goes again.
  async function add(title, fields) {
    const doc = Object.assign({ _id: newId(), title, isDone: false, createdAt: Date.now() }, fields);
    state.adding.add(doc.createdAt);
    if (state.loaded) {
      upsert(doc);
      renderList(true);
    }
    try {
      const { insertedId } = await action("insertOne", { document: doc });
      written(insertedId);
    } catch (e) {
      state.adding.delete(doc.createdAt);
      removeDoc(doc._id);
      renderList(true);
      throw e;
    }
  }
  async function write(name, body, id) {
    try {
      await action(name, body);
      written(id);
    } catch (e) {
      fail(e);
      if (id !== undefined) { state.dirty.set(String(id), id); fetchDirty(); } else load();
    }
  }
  const update = (id, fields) => write("updateOne", { filter: { _id: id }, update: { $set: fields } }, id);
  // saveTitle saves an edited title and watches it for a while: if a
  // concurrent edit on another device replaces it, the to-do says so.
  async function saveTitle(id, title) {
    // Watched from before the request: its write event may come first.
    const entry = { title, written: false, gen: 0, until: Date.now() + SAVED_MS };
    state.saved.set(String(id), entry);
    try {
      await action("updateOne", { filter: { _id: id }, update: { $set: { title } } });
      // A write that loses at once (a concurrent edit with priority had
      // reached the node first) changes nothing there, and the node sends
      // no event for it: a read begun now judges it, as the event's would.
      if (!entry.written) {
        entry.written = true;
        entry.gen = state.findGen;
        state.dirty.set(String(id), id);
        fetchDirty();
      }
      written(id);
    } catch (e) {
      if (state.saved.get(String(id)) === entry) state.saved.delete(String(id));
      fail(e);
      state.dirty.set(String(id), id);
      fetchDirty();
    }
  }
  // A delete shows at once (the focus moves to the next to-do); if the
  // node refuses it, write reads the to-do back.
  const remove = (id) => {
    removeDoc(String(id));
    renderList(true);
    return write("deleteOne", { filter: { _id: id } }, id);
  };

  // showLocal shows a change this page is making at once, before the node
  // has it: the event that follows brings the node's version.
  function showLocal(id, fields) {
    const key = String(id);
    const cur = state.byId.get(key);
    if (!cur) return;
    const shown = Object.assign({}, cur, fields);
    state.todos[indexOfTodo(cur)] = shown;
    state.byId.set(key, shown);
    const row = state.rows.get(key);
    if (row) fillRow(row, shown);
    renderFoot();
  }

  // newId is an _id for a to-do this page adds (96 random bits, hex): with
  // it the page shows the to-do before the node answers, and the node's
  // event names the same one.
  function newId() {
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  // join joins the list of an invite link; title is the name the link
  // gives it, shown until the list's own name arrives.
  async function join(link, title, expected) {
    $("join-msg").textContent = "Connecting to the inviter and fetching the list…";
    // The list the app made by itself, still empty and unnamed, is not
    // worth keeping beside the joined one.
    const prev = state.lists.find((d) => d.address === state.address);
    const spare = prev && isOwn(prev) && prev.meta.auto === "true" && !state.named && state.todos.length === 0 ? prev.address : "";
    try {
      const res = await api("POST", "/v1/join", { link });
      $("join-msg").textContent = "Joined.";
      if (title && !names()[res.address]) cacheName(res.address, title);
      state.joinExpected = expected || 0;
      await useList(res.address, true);
      checkSettled();
      if (spare && spare !== res.address) {
        await api("POST", "/v1/databases/leave", { address: spare, forget: true }).catch(() => {});
        cacheName(spare, "");
        await refreshLists();
      }
      return res;
    } catch (e) {
      $("join-msg").textContent = plain(e, "join");
      throw e;
    }
  }

  // addMsg shows (or, with "", hides) a message under the add form. The
  // title has no length limit of its own: the node's document limit is the
  // one that holds, and a title over it gets a sentence here.
  function addMsg(msg) {
    $("add-msg").textContent = msg;
    $("add-msg").hidden = !msg;
  }

  // plain turns an API error into a sentence for people, chosen by the
  // API's error code (node/errors.go), never by reading its message. what
  // says what the user was doing: "link" (reading an invite link), "join"
  // (joining with one), or nothing.
  function plain(e, what) {
    const link = what === "link" || what === "join";
    switch (e.code) {
      case "offline": return "Can't reach this node. Is lattice node still running?";
      case "connect_failed": return what === "join" ? "Can't reach the node that shared this list." : "Can't reach that peer.";
      case "bad_request": case "bad_address": case "bad_json":
        return link ? "This link is damaged." : "The node did not understand this request.";
      case "too_large": return "This to-do is too long to save. Shorten it and try again.";
      case "bad_document": return "The list's rules refuse this to-do: a title is 1 to 1,000 characters.";
      case "forbidden": return "This list does not let your node make changes.";
      case "not_found": return link ? "The node that shared this list does not have it any more." : "This list is not on this node any more.";
      case "duplicate_key": return "That to-do exists already.";
      case "unauthorized": return "This node needs its API token: open the address lattice node printed (it ends in #token=…).";
      case "timeout": return link ? "The node that shared this list took too long to answer. Try again." : "The node took too long to answer. Try again.";
      case "unavailable": case "too_many_streams": case "too_many_databases": case "too_many_tickets":
        return "The node is busy or stopping. Try again in a moment.";
      default: return "Something went wrong on the node.";
    }
  }

  // fail shows an API error as a sentence, with the code and the node's
  // message one click away, until the user dismisses it.
  function fail(e, what) {
    toast(plain(e, what), true, (e.code ? e.code + ": " : "") + e.message);
    state.offlineToast = e.code === "offline";
  }

  // toast shows a message. A notice goes away by itself; an error stays
  // until dismissed (the × button or Escape), so it can be read.
  let toastTimer = null;
  function toast(msg, isError, detail) {
    const el = $("toast");
    $("toast-text").textContent = msg;
    $("toast-detail").textContent = detail || "";
    $("toast-details").hidden = !detail;
    $("toast-details").open = false;
    el.className = "toast" + (isError ? " error" : "");
    el.hidden = false;
    state.offlineToast = false;
    clearTimeout(toastTimer);
    if (!isError) toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
  }
  function dismissToast() {
    clearTimeout(toastTimer);
    $("toast").hidden = true;
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      toast("Copied");
    } catch (e) {
      toast("Select the text and copy it by hand", true);
    }
  }

  // ---- wiring ---------------------------------------------------------------
  function wire() {
    $("add-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const input = $("new-title");
      const title = input.value.trim();
      if (!title) {
        addMsg(input.value ? "A title of only spaces is empty: type a word or two." : "Type what needs doing first.");
        input.focus();
        return;
      }
      if (title.length > MAX_TITLE) {
        addMsg(tooLong(title));
        input.focus();
        return;
      }
      addMsg("");
      input.value = "";
      try {
        await add(title);
      } catch (err) {
        input.value = title;
        if (err.code === "too_large" || err.code === "bad_document") addMsg(plain(err));
        else fail(err);
      }
    });
    $("new-title").addEventListener("input", () => addMsg(""));
    $("todos").addEventListener("keydown", arrowKeys);
    // The window follows the scroll; a new width re-measures the rows.
    window.addEventListener("scroll", queueRender, { passive: true });
    window.addEventListener("resize", () => {
      state.heights.clear();
      state.rowMeasured = false;
      state.layoutDirty = true;
      queueRender();
    });
    $("toast-close").addEventListener("click", dismissToast);
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !$("toast").hidden && $("confirm").hidden && !state.editing) dismissToast();
    });
    $("clear-done").addEventListener("click", () => write("deleteMany", { filter: { isDone: true } }));
    $("share-btn").addEventListener("click", async () => {
      const btn = $("share-btn");
      btn.disabled = true;
      try {
        const inv = await api("POST", "/v1/invites", { database: state.address, collection: COLLECTION, title: state.listName.slice(0, 60) });
        $("invite-link").value = inv.link;
        $("share-out").hidden = false;
        state.invite = inv;
        await showInviteQR();
      } catch (e) {
        fail(e);
      } finally {
        btn.disabled = false;
      }
    });
    // A phone camera opens http(s) links only: the web form is this app
    // with #join=<link>, which shows the list and joins on a click.
    async function showInviteQR() {
      const inv = state.invite;
      const u = new URL($("qr-web").checked ? inv.webQr : inv.qr);
      await showQR($("invite-qr"), u.pathname + u.search);
    }
    $("qr-web").addEventListener("change", () => { if (state.invite) showInviteQR().catch(fail); });
    $("copy-btn").addEventListener("click", () => copy($("invite-link").value));
    $("invite-link").addEventListener("focus", (e) => e.target.select());
    $("peer-id").addEventListener("click", () => copy(state.peerId));
    $("join-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const link = $("join-input").value.trim();
      if (!link) return;
      const btn = e.target.querySelector("button");
      btn.disabled = true;
      try {
        const inv = await api("POST", "/v1/invites/inspect", { link }).catch(() => ({}));
        await join(link, inv.title, inv.count);
        $("join-input").value = "";
        toast("Joined the list");
      } catch (err) {
        fail(err, "join");
      } finally {
        btn.disabled = false;
      }
    });
    $("list-select").addEventListener("change", (e) => useList(e.target.value).catch((err) => fail(err)));
    wireListMenu();
    // A page left for another keeps its event stream open in the
    // browser's back-forward cache, and a browser opens only six
    // connections to one node: a few visits to other pages of the node
    // would leave this page none. The stream closes when the page is
    // left, and opens again (catching up on what it missed) if it comes
    // back.
    window.addEventListener("pagehide", () => {
      if (state.events) state.events.close();
      state.events = null;
      state.streamUp = false;
    });
    window.addEventListener("pageshow", (e) => {
      if (e.persisted && state.address) {
        state.nodeDown = true; // what changed meanwhile is read afresh when the stream is up
        subscribe();
      }
    });
    window.addEventListener("hashchange", async () => {
      const link = readFragment();
      if (await offerToken()) location.reload();
      if (link) offerJoin(link);
    });
  }

  // ---- managing lists ---------------------------------------------------------
  // nameForm shows the list-name field in place of the heading: to rename
  // the list, or to name a new one. It resolves to the trimmed name, or ""
  // when the user cancels.
  function nameForm(value, placeholder, submit) {
    const form = $("name-form");
    const input = $("name-input");
    input.value = value;
    input.placeholder = placeholder;
    $("name-save").textContent = submit;
    $("name-msg").hidden = true;
    form.hidden = false;
    $("list-title").hidden = true;
    input.focus();
    input.select();
    return new Promise((resolve) => {
      const done = (v) => {
        form.hidden = true;
        $("list-title").hidden = false;
        form.onsubmit = $("name-cancel").onclick = input.onkeydown = null;
        resolve(v);
      };
      form.onsubmit = (e) => {
        e.preventDefault();
        const v = input.value.trim();
        if (!v) {
          $("name-msg").textContent = "A list needs a name: type a word or two.";
          $("name-msg").hidden = false;
          input.focus();
          return;
        }
        done(v);
      };
      $("name-cancel").onclick = () => done("");
      input.onkeydown = (e) => { if (e.key === "Escape") { e.stopPropagation(); done(""); } };
    });
  }

  async function renameList() {
    const address = state.address;
    const name = await nameForm(state.listName, "Name of this list", "Rename");
    $("list-menu").focus();
    if (!name || name === state.listName || address !== state.address) return;
    try {
      await action("updateOne", { collection: ABOUT, filter: { _id: "list" }, update: { $set: { name } }, upsert: true });
      // The about event brings the name to every page on the list;
      // show it here at once.
      state.named = true;
      cacheName(address, name);
      showName(name);
      await refreshLists();
    } catch (e) {
      fail(e);
    }
  }

  async function newList() {
    const name = await nameForm("", "Name of the new list", "Create");
    $("list-menu").focus();
    if (!name) return;
    try {
      await useList(await createList(name, false));
      toast(`Created “${name}”`);
      $("new-title").focus(); // what comes next: its first to-do
    } catch (e) {
      fail(e);
    }
  }

  async function leaveCurrent() {
    const name = state.listName;
    const { ok, checked } = await confirmBox("Leave this list?", [["List", name]], "Leave",
      "It goes from this device only: the others keep it, and you can join it again with an invite link.",
      "Also delete its to-dos from this device");
    $("list-menu").focus();
    if (!ok) return;
    try {
      await leaveList(state.address, checked);
      toast(`Left “${name}”`);
    } catch (e) {
      fail(e);
    }
  }

  async function deleteCurrent() {
    const name = state.listName;
    const address = state.address;
    const ok = await confirmBox("Delete this list for everyone?", [["List", name]], "Delete",
      "Its to-dos are deleted on every device that has the list, and it goes from this one. This cannot be undone.");
    $("list-menu").focus();
    if (!ok) return;
    state.deleting = address;
    try {
      // Each change goes out before the list closes here: closing drops
      // an announcement still queued, and the others would never learn.
      let sent = await headsSent();
      await action("deleteMany", { filter: {} });
      await announced(sent);
      sent = await headsSent();
      await action("updateOne", { collection: ABOUT, filter: { _id: "list" }, update: { $set: { deleted: true } }, upsert: true });
      await announced(sent);
      await leaveList(address, true);
      toast(`Deleted “${name}”`);
    } catch (e) {
      fail(e);
    } finally {
      state.deleting = null;
    }
  }

  const headsSent = async () =>
    (await api("GET", "/v1/databases/stats?database=" + encodeURIComponent(state.address))).headsSent || 0;

  // announced waits, for at most 3 s, until the node has announced a change
  // to the list's peers since it had announced before heads. With no peers
  // there is nobody to tell (and the node announces nothing).
  async function announced(before) {
    if (state.listPeers === 0) return;
    const stop = Date.now() + 3000;
    while (Date.now() < stop && (await headsSent()) <= before) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function wireListMenu() {
    const menu = $("list-menu-box");
    const pick = (fn) => () => { menu.open = false; fn(); };
    $("rename-list").addEventListener("click", pick(renameList));
    $("new-list").addEventListener("click", pick(newList));
    $("leave-list").addEventListener("click", pick(leaveCurrent));
    $("delete-list").addEventListener("click", pick(deleteCurrent));
    menu.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && menu.open) { e.stopPropagation(); menu.open = false; $("list-menu").focus(); }
    });
  }

  async function start() {
    wire();
    const joinLink = readFragment();
    try {
      await offerToken();
      // The node's ID and its lists in one round trip's time: the first
      // paint waits on them.
      const [id, lists] = await Promise.all([api("GET", "/v1/id"), fetchLists()]);
      state.peerId = id.peerId;
      $("peer-id").textContent = id.peerId;
      const address = await chooseList(lists);
      if (address !== state.address) await useList(address);
      document.body.dataset.ready = "true";
      if (joinLink) offerJoin(joinLink);
    } catch (e) {
      if (e.status === 401) setStatus("offline", "Token needed");
      fail(e);
    }
  }

  start();
})();
