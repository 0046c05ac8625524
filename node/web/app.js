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
  const NOTICE_MS = 6000; // how long "changed on another device" shows
  const SAVED_MS = 30000; // how long a saved title is watched for a concurrent edit
  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    peerId: "",
    address: "",
    todos: [],
    peers: [],
    events: null,
    streamUp: false,
    reloading: false,
    reloadAgain: false,
    editing: null, // _id of the to-do being edited
    editingTodo: null, // that to-do as it was last seen (it may be deleted meanwhile)
    focusEdit: false, // the editor is new: give it the focus
    saved: new Map(), // _id -> {title, written, gen, until}: titles this page saved, watched for a concurrent edit
    notices: new Map(), // _id -> time until which "changed on another device" shows
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
    const rows = [["List", inv.name || "(announced by the inviter)"], ["Shared by", inv.peerId]];
    if (inv.database) rows.push(["Address", inv.database]);
    const hint = "Join only lists from people you know: your node connects to theirs, and what you add is shared with everyone on the list.";
    if (!(await confirmBox("Join this list?", rows, "Join", hint))) {
      toast("Not joined");
      return;
    }
    try {
      await join(link);
      toast("Joined the list");
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

  async function chooseList() {
    const lists = await fetchLists();
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

  async function useList(address) {
    await api("POST", "/v1/databases/open", { address });
    state.address = address;
    localStorage.setItem("lattice.list", address);
    $("db-address").textContent = address;
    $("share-out").hidden = true;
    state.todos = [];
    state.editing = null;
    state.saved.clear();
    state.notices.clear();
    state.named = false;
    render();
    subscribe();
    await refreshLists();
    showName(listLabel(state.lists.find((d) => d.address === address) || { address }));
    await Promise.all([reload(), loadName()]);
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

  function showName(name) {
    state.listName = name;
    $("list-title").textContent = name;
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
      state.streamUp = true;
      // Catch up on anything missed while the stream was down.
      reload();
      refreshPeers();
    });
    const onChange = (ev) => {
      const data = JSON.parse(ev.data);
      if (data.collection === COLLECTION) {
        // A title this page saves is judged by the finds that start after
        // the node reports the write: what they show has it, or what
        // replaced it later.
        const saved = ev.type === "write" && state.saved.get(String(data.id));
        if (saved && !saved.written) {
          saved.written = true;
          saved.gen = state.findGen;
        }
        reload();
      }
      if (data.collection === ABOUT) loadName();
    };
    es.addEventListener("write", onChange);
    es.addEventListener("replicated", onChange);
    es.addEventListener("peer-joined", refreshPeers);
    es.addEventListener("peer-left", refreshPeers);
    // A list with a long history arrives on one catch-up stream: say so,
    // rather than show a half-filled list as if it were all.
    es.addEventListener("catchup", (ev) => {
      const p = JSON.parse(ev.data).catchup || {};
      if (p.done) {
        state.catchingUp = false;
        reload();
        renderPeers();
        return;
      }
      state.catchingUp = true;
      const total = (p.received || 0) + Math.max(0, p.remaining || 0);
      setStatus("busy", `Catching up… ${p.received || 0} of ${total}`);
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

  // reload fetches the list; calls that arrive while one runs are coalesced
  // into one more run.
  async function reload() {
    if (state.reloading) { state.reloadAgain = true; return; }
    state.reloading = true;
    try {
      do {
        state.reloadAgain = false;
        const gen = ++state.findGen;
        const address = state.address;
        const { documents } = await action("find", { filter: {}, sort: { createdAt: 1, _id: 1 } });
        if (address !== state.address) continue;
        state.todos = documents;
        watchSaved(gen);
        render();
      } while (state.reloadAgain);
    } catch (e) {
      fail(e);
    } finally {
      state.reloading = false;
    }
  }

  async function refreshPeers() {
    try {
      const { peers } = await api("GET", "/v1/peers");
      state.peers = peers;
    } catch (e) {
      return;
    }
    renderPeers();
  }

  // ---- rendering ------------------------------------------------------------
  function setStatus(kind, text) {
    $("status").dataset.state = kind;
    $("status-text").textContent = text;
  }

  // showOffline says the node is out of reach, and forgets its peers: a
  // list of them from before would claim connections nobody can vouch for.
  function showOffline(text) {
    setStatus("offline", text);
    state.peers = [];
    $("peer-list").textContent = "not known while the node is out of reach";
  }

  function renderPeers() {
    const n = state.peers.length;
    if (state.catchingUp) return; // the catch-up status stays until it ends
    if (!state.streamUp) {
      showOffline("Reconnecting to node…");
      return;
    } else if (n === 0) {
      setStatus("alone", "Online · no peers yet");
    } else {
      setStatus("online", `Online · ${n} peer${n === 1 ? "" : "s"}`);
    }
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

  // watchSaved notes, after a find started as find number gen, which
  // titles this page saved have been replaced since (a concurrent edit on
  // another device won, or came after): those get a brief notice. Only a
  // find started after the node reported the save's write event can tell:
  // a change that replaces it comes as an event after that one, and its
  // find starts later still.
  function watchSaved(gen) {
    const now = Date.now();
    for (const [id, s] of state.saved) {
      if (!s.written || gen <= s.gen) continue;
      const t = state.todos.find((x) => String(x._id) === id);
      if (!t || now > s.until) {
        state.saved.delete(id);
      } else if (t.title !== s.title) {
        state.saved.delete(id);
        state.notices.set(id, now + NOTICE_MS);
        setTimeout(render, NOTICE_MS + 50);
      }
    }
  }

  // order is the list's sort order: createdAt, then _id.
  function order(a, b) {
    const ca = a.createdAt || 0, cb = b.createdAt || 0;
    if (ca !== cb) return ca < cb ? -1 : 1;
    const ia = String(a._id), ib = String(b._id);
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  }

  function render() {
    const ul = $("todos");
    // A re-render (a remote change, say) must not take the keyboard focus
    // away: note which control of which to-do has it, and give it back.
    const active = document.activeElement;
    const li = active && active.closest && active.closest(".todo");
    const keep = state.focus || (li && ul.contains(li) ? { id: li.dataset.id, cls: active.className.split(" ")[0] } : null);
    state.focus = null;
    // The to-do being edited keeps its element, and with it the typed text,
    // the caret and the focus: a remote change neither ends the edit nor
    // saves it. Only the other to-dos are rebuilt around it.
    const kept = state.editing === null ? null
      : [...ul.children].find((x) => x.dataset.id === String(state.editing) && x.querySelector(".edit"));
    if (kept) {
      const now = state.todos.find((t) => t._id === state.editing);
      if (now) {
        state.editingTodo = now;
        kept.classList.toggle("done", !!now.isDone);
        kept.querySelector(".toggle").checked = !!now.isDone;
      } else {
        markGone(kept);
      }
    }
    for (const child of [...ul.children]) {
      if (child !== kept) child.remove();
    }
    for (const t of state.todos) {
      if (kept && t._id === state.editing) continue;
      const item = renderTodo(t);
      if (kept && order(t, state.editingTodo) < 0) ul.insertBefore(item, kept);
      else ul.append(item);
    }
    $("empty").hidden = state.todos.length > 0 || !!kept;
    const left = state.todos.filter((t) => !t.isDone).length;
    const done = state.todos.length - left;
    $("remaining").textContent = state.todos.length ? `${left} left · ${done} done` : "";
    $("clear-done").hidden = done === 0;
    if (state.editing !== null && state.focusEdit) {
      state.focusEdit = false;
      const input = ul.querySelector(".edit");
      if (input) input.focus();
    } else if (keep) {
      const el = [...ul.querySelectorAll(".todo")].find((x) => x.dataset.id === keep.id);
      const target = el && el.querySelector("." + (keep.cls === "edit" ? "title" : keep.cls));
      if (target) target.focus();
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

  function renderTodo(t) {
    const li = document.createElement("li");
    li.className = "todo" + (t.isDone ? " done" : "");
    li.dataset.id = String(t._id);

    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "toggle";
    box.checked = !!t.isDone;
    box.setAttribute("aria-label", "Done");
    box.addEventListener("change", () => update(t._id, { isDone: box.checked }));

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
        finished = true;
        if (address !== state.address) return; // another list is shown now: nothing to save there
        state.editing = null;
        state.editingTodo = null;
        const v = title.value.trim();
        if (gone) {
          if (how === "save" && v) {
            add(v, { isDone: !!t.isDone, createdAt: t.createdAt || Date.now() }).catch((e) => fail(e));
            toast("Added back");
          }
          render();
          $("new-title").focus();
          return;
        }
        state.focus = { id: String(t._id), cls: "title" }; // back to the title
        const latest = state.todos.find((x) => x._id === t._id) || t;
        if (how !== "cancel" && !v) toast("A to-do needs a title: the old one is kept.", true);
        if (how !== "cancel" && v && v !== latest.title) saveTitle(t._id, v);
        render();
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
      const edit = () => { state.editing = t._id; state.focusEdit = true; render(); };
      title.addEventListener("click", edit);
      title.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === "F2") { e.preventDefault(); edit(); }
      });
    }

    const del = document.createElement("button");
    del.type = "button";
    del.className = "delete";
    del.setAttribute("aria-label", "Delete");
    del.textContent = "×";
    del.addEventListener("click", () => remove(t._id));

    li.append(box, title);
    if ((state.notices.get(String(t._id)) || 0) > Date.now()) {
      const note = document.createElement("span");
      note.className = "note";
      note.setAttribute("role", "status");
      note.textContent = "Changed on another device";
      li.append(note);
    }
    li.append(del);
    return li;
  }

  // ---- actions --------------------------------------------------------------
  // After a write the app's own event brings the change (and reloads the
  // list, once), so an action does not fetch the list itself: it would
  // fetch it twice. It does when no event will come: the stream is down,
  // or the write failed and the page must drop what it showed.
  function written() {
    if (!state.streamUp) reload();
  }
  async function add(title, fields) {
    await action("insertOne", { document: Object.assign({ title, isDone: false, createdAt: Date.now() }, fields) });
    written();
  }
  async function write(name, body) {
    try {
      await action(name, body);
      written();
    } catch (e) {
      fail(e);
      reload();
    }
  }
  const update = (id, fields) => write("updateOne", { filter: { _id: id }, update: { $set: fields } });
  // saveTitle saves an edited title and watches it for a while: if a
  // concurrent edit on another device replaces it, the to-do says so.
  async function saveTitle(id, title) {
    // Watched from before the request: its write event may come first.
    const entry = { title, written: false, gen: 0, until: Date.now() + SAVED_MS };
    state.saved.set(String(id), entry);
    try {
      await action("updateOne", { filter: { _id: id }, update: { $set: { title } } });
      written();
    } catch (e) {
      if (state.saved.get(String(id)) === entry) state.saved.delete(String(id));
      fail(e);
      reload();
    }
  }
  const remove = (id) => write("deleteOne", { filter: { _id: id } });
  async function join(link) {
    $("join-msg").textContent = "Connecting to the inviter and fetching the list…";
    // The list the app made by itself, still empty and unnamed, is not
    // worth keeping beside the joined one.
    const prev = state.lists.find((d) => d.address === state.address);
    const spare = prev && isOwn(prev) && prev.meta.auto === "true" && !state.named && state.todos.length === 0 ? prev.address : "";
    try {
      const res = await api("POST", "/v1/join", { link });
      $("join-msg").textContent = "Joined.";
      await useList(res.address);
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
    $("toast-close").addEventListener("click", dismissToast);
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !$("toast").hidden && $("confirm").hidden && !state.editing) dismissToast();
    });
    $("clear-done").addEventListener("click", () => write("deleteMany", { filter: { isDone: true } }));
    $("share-btn").addEventListener("click", async () => {
      const btn = $("share-btn");
      btn.disabled = true;
      try {
        const inv = await api("POST", "/v1/invites", { database: state.address, collection: COLLECTION });
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
        await join(link);
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
    if (state.peers.length === 0) return;
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
      const id = await api("GET", "/v1/id");
      state.peerId = id.peerId;
      $("peer-id").textContent = id.peerId;
      const address = await chooseList();
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
