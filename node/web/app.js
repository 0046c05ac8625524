// Lattice to-do app: talks to the node that serves it through the HTTP API
// and follows changes through the server-sent event stream (never polls).
"use strict";

(() => {
  const LIST_NAME = "TodoList";
  const COLLECTION = "todos";
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
  function confirmBox(title, rows, yes, hint) {
    const box = $("confirm");
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
        resolve(ok);
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
  async function chooseList() {
    const { databases } = await api("GET", "/v1/databases");
    const lists = databases.filter((d) => d.name === LIST_NAME);
    const saved = localStorage.getItem("lattice.list");
    if (saved && lists.some((d) => d.address === saved)) return saved;
    if (lists.length > 0) return lists[0].address; // most recently used first
    const created = await api("POST", "/v1/databases", {
      name: LIST_NAME,
      access: { type: "open" },
      meta: { creator: state.peerId, created: new Date().toISOString() },
    });
    return created.address;
  }

  async function useList(address) {
    await api("POST", "/v1/databases/open", { address });
    state.address = address;
    localStorage.setItem("lattice.list", address);
    $("db-address").textContent = address;
    $("share-out").hidden = true;
    state.todos = [];
    render();
    subscribe();
    await reload();
    await refreshLists();
  }

  async function refreshLists() {
    const { databases } = await api("GET", "/v1/databases");
    const lists = databases.filter((d) => d.name === LIST_NAME);
    const sel = $("list-select");
    sel.hidden = lists.length < 2;
    sel.replaceChildren(...lists.map((d, i) => {
      const o = document.createElement("option");
      o.value = d.address;
      const who = d.meta && d.meta.creator === state.peerId ? "my list" : "shared list";
      o.textContent = `${who} · ${d.address.split("/")[2].slice(-6)}`;
      o.selected = d.address === state.address;
      return o;
    }));
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
      if (data.collection === COLLECTION) reload();
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
        const { documents } = await action("find", { filter: {}, sort: { createdAt: 1, _id: 1 } });
        state.todos = documents;
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

  function render() {
    const ul = $("todos");
    // A re-render (a remote change, say) must not take the keyboard focus
    // away: note which control of which to-do has it, and give it back.
    const active = document.activeElement;
    const li = active && active.closest && active.closest(".todo");
    const keep = state.focus || (li && ul.contains(li) ? { id: li.dataset.id, cls: active.className.split(" ")[0] } : null);
    state.focus = null;
    const items = state.todos.map((t) => renderTodo(t));
    ul.replaceChildren(...items);
    $("empty").hidden = state.todos.length > 0;
    const left = state.todos.filter((t) => !t.isDone).length;
    const done = state.todos.length - left;
    $("remaining").textContent = state.todos.length ? `${left} left · ${done} done` : "";
    $("clear-done").hidden = done === 0;
    if (state.editing) {
      const input = ul.querySelector(".edit");
      if (input) input.focus();
    } else if (keep) {
      const el = [...ul.querySelectorAll(".todo")].find((x) => x.dataset.id === keep.id);
      const target = el && el.querySelector("." + (keep.cls === "edit" ? "title" : keep.cls));
      if (target) target.focus();
    }
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
      title = document.createElement("input");
      title.type = "text";
      title.className = "edit";
      title.value = t.title || "";
      let finished = false;
      const finish = (save) => {
        if (finished) return;
        finished = true;
        state.editing = null;
        state.focus = { id: String(t._id), cls: "title" }; // back to the title
        const v = title.value.trim();
        if (save && !v) toast("A to-do needs a title: the old one is kept.", true);
        if (save && v && v !== t.title) update(t._id, { title: v });
        render();
      };
      title.addEventListener("keydown", (e) => {
        if (e.key === "Enter") finish(true);
        if (e.key === "Escape") { e.stopPropagation(); finish(false); }
      });
      title.addEventListener("blur", () => finish(true));
    } else {
      title = document.createElement("span");
      title.className = "title";
      title.textContent = t.title || "";
      title.title = "Click, or press Enter or F2, to edit";
      title.tabIndex = 0;
      title.setAttribute("role", "button");
      title.setAttribute("aria-description", "Press Enter or F2 to edit");
      const edit = () => { state.editing = t._id; render(); };
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

    li.append(box, title, del);
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
  async function add(title) {
    await action("insertOne", { document: { title, isDone: false, createdAt: Date.now() } });
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
  const remove = (id) => write("deleteOne", { filter: { _id: id } });
  async function join(link) {
    $("join-msg").textContent = "Connecting to the inviter and fetching the list…";
    try {
      const res = await api("POST", "/v1/join", { link });
      $("join-msg").textContent = "Joined.";
      await useList(res.address);
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
        if (err.code === "too_large") addMsg(plain(err));
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
    window.addEventListener("hashchange", async () => {
      const link = readFragment();
      if (await offerToken()) location.reload();
      if (link) offerJoin(link);
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
