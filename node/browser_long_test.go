package node_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
)

// longListSize is the to-dos of the long-list test (issue 24, item 1).
const longListSize = 10000

// insertTodos inserts n to-dos into list through the node's HTTP API
// (insertMany, 500 at a time): _id "tNNNNN", title "To-do NNNNN",
// createdAt base+NNNNN, every third done.
func insertTodos(t *testing.T, tn *testNode, list string, n int, base int64) {
	t.Helper()
	const batch = 500
	for from := 0; from < n; from += batch {
		docs := make([]map[string]any, 0, batch)
		for k := from; k < from+batch && k < n; k++ {
			docs = append(docs, map[string]any{"_id": fmt.Sprintf("t%05d", k), "title": fmt.Sprintf("To-do %05d", k),
				"isDone": k%3 == 0, "createdAt": base + int64(k)})
		}
		tn.act("insertMany", list, map[string]any{"documents": docs})
	}
}

// measureJS installs window.measure(name, act, cond) on a page: it runs
// act, and resolves to the milliseconds (performance.now) from just before
// act until the frame after cond() first holds, checked on every change
// of the list; and window.watch(cond), which records in window.seenAt the
// wall-clock time (performance.timeOrigin + now) of that frame, for a
// change made outside the page. Both leave a performance measure.
const measureJS = `(() => {
	const after = (t0, name, cond, done) => {
		let over = false;
		const check = () => {
			if (over || !cond()) return;
			over = true;
			obs.disconnect();
			requestAnimationFrame(() => {
				const end = performance.now();
				performance.measure(name, {start: t0, end});
				done(end);
			});
		};
		const obs = new MutationObserver(check);
		obs.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
		return check;
	};
	window.measure = (name, act, cond) => new Promise((resolve) => {
		const t0 = performance.now();
		const check = after(t0, name, cond, (end) => resolve(end - t0));
		act();
		check();
	});
	window.watch = (name, cond) => {
		window.seenAt = 0;
		after(performance.now(), name, cond, (end) => { window.seenAt = performance.timeOrigin + end; })();
	};
	window.row = (title) => [...document.querySelectorAll("#todos > li")].find((li) => li.querySelector(".title")?.textContent === title);
})()`

// testLongList (issue 24, item 1): a list of 10,000 to-dos, inserted
// through the node's HTTP API while the page is open and again read from
// scratch: the page shows the newest at once and the rest a page at a
// time as it scrolls (a real ul/li list, walked with the arrow keys), and
// applies every change, local or not, to that one to-do's row. It logs
// the first paint and each change's time to the screen, measured in the
// page with the Performance API (reported in BENCHMARKS.md, not asserted).
func testLongList(t *testing.T, br *browser) {
	a := startNode(t)
	page := br.page(t)
	list := openApp(t, page, a, "")
	base := time.Now().Add(-time.Hour).UnixMilli()
	start := time.Now()
	insertTodos(t, a, list, longListSize, base)
	t.Logf("inserted %d to-dos in %s", longListSize, time.Since(start))
	// The open page follows the bulk insert from its event stream.
	runOn(t, page, until(`document.querySelector("#remaining").textContent === "6,666 left · 3,334 done"`))
	t.Logf("the open page showed all %d after %s", longListSize, time.Since(start))

	// From scratch: the newest page first, then the rest.
	runOn(t, page,
		chromedp.Navigate(a.url+"/?long"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
		until(`document.querySelector("#remaining").textContent === "6,666 left · 3,334 done"`),
		until(`performance.getEntriesByName("todos-painted").length === 1 && performance.getEntriesByName("todos-loaded").length === 1`),
		js(measureJS),
	)
	paint := textOn(t, page, chromedp.Evaluate[string](`JSON.stringify({paint: performance.getEntriesByName("todos-painted")[0].startTime,
		loaded: performance.getEntriesByName("todos-loaded")[0].startTime,
		rows: document.querySelectorAll("#todos > li").length,
		first: document.querySelector("#todos > li .title").textContent,
		height: document.documentElement.scrollHeight,
		finds: performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/v1/action/find")).map((e) => [Math.round(e.startTime), Math.round(e.duration)])})`))
	t.Logf("from scratch (ms since navigation): %s", paint)
	require.Contains(t, paint, `"rows":200,"first":"To-do 09999"`, "the newest page, and only it, is shown")

	// Accessible names carry the title; the × meets WCAG AA contrast.
	runOn(t, page,
		until(`row("To-do 09999").querySelector(".toggle").getAttribute("aria-label") === "Mark “To-do 09999” done"`),
		until(`row("To-do 09999").querySelector(".delete").getAttribute("aria-label") === "Delete “To-do 09999”"`),
		until(`document.querySelector("#todos").tagName === "UL" && !document.querySelector("#todos").hasAttribute("aria-live")`),
		until(`document.querySelector("#status").getAttribute("aria-live") === "polite"`),
	)
	contrast := textOn(t, page, chromedp.Evaluate[string](`(() => {
		const lum = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
		const fg = lum(getComputedStyle(row("To-do 09999").querySelector(".delete")).color);
		const bg = lum(getComputedStyle(document.querySelector(".list-card")).backgroundColor);
		return ((Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)).toFixed(2);
	})()`))
	c, err := strconv.ParseFloat(contrast, 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, c, 4.5, "the × has contrast %s:1", contrast)

	ms := func(name, act, cond string) float64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(page, 45*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf(`measure(%q, () => { %s }, () => %s)`, name, act, cond), chromedp.EvalAwaitPromise))
		require.NoError(t, err, name)
		t.Logf("%s: on screen after %.1f ms", name, v)
		return v
	}
	// Add: the new to-do shows at the top, under the add box, in view.
	ms("add", `document.querySelector("#new-title").value = "Brand new"; document.querySelector("#add-form").requestSubmit();`,
		`!!row("Brand new")`)
	runOn(t, page, until(`document.querySelector("#todos > li .title").textContent === "Brand new" && row("Brand new").getBoundingClientRect().bottom < innerHeight`))
	// Toggle, edit (the saved title shows at once and the old one never
	// comes back), delete (the focus goes to the next to-do).
	ms("toggle", `row("To-do 09998").querySelector(".toggle").click()`, `row("To-do 09998").classList.contains("done")`)
	runOn(t, page, js(`window.oldBack = false; window.oldWatch = new MutationObserver(() => { if (row("To-do 09997")) window.oldBack = true; }); window.oldWatch.observe(document.querySelector("#todos"), {subtree: true, childList: true, characterData: true})`))
	ms("edit", `row("To-do 09997").querySelector(".title").click(); const e = document.activeElement; e.value = "Edited"; e.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));`,
		`!!row("Edited")`)
	poll.Eventually(t, 30*time.Second, func() error {
		if got := titleOf(a, list, "t09997"); got != "Edited" {
			return fmt.Errorf("the node has %q", got)
		}
		return nil
	})
	runOn(t, page, until(`row("Edited") && document.activeElement === row("Edited").querySelector(".title")`))
	require.Equal(t, "false", textOn(t, page, chromedp.Evaluate[string](`window.oldWatch.disconnect(), String(window.oldBack)`)), "the old title came back after the edit was saved")
	ms("delete", `row("To-do 09996").querySelector(".delete").focus(); row("To-do 09996").querySelector(".delete").click();`, `!row("To-do 09996")`)
	runOn(t, page, until(`document.activeElement === row("To-do 09995").querySelector(".delete")`))

	// Changes made elsewhere (another client of the node): from the write
	// to the frame that shows it.
	remote := func(name, cond string, write func()) {
		t.Helper()
		runOn(t, page, js(fmt.Sprintf(`watch(%q, () => %s)`, name, cond)))
		t0 := time.Now()
		write()
		runOn(t, page, until(`window.seenAt > 0`))
		seen, err := chromedp.Run(page, chromedp.Evaluate[float64](`window.seenAt`))
		require.NoError(t, err)
		t.Logf("%s: on screen after %.1f ms", name, seen-float64(t0.UnixMicro())/1000)
	}
	remote("remote add", `!!row("From elsewhere")`, func() {
		a.act("insertOne", list, map[string]any{"document": map[string]any{"_id": "elsewhere", "title": "From elsewhere", "isDone": false, "createdAt": time.Now().UnixMilli()}})
	})
	remote("remote toggle", `row("To-do 09991").classList.contains("done")`, func() {
		a.act("updateOne", list, map[string]any{"filter": map[string]any{"_id": "t09991"}, "update": map[string]any{"$set": map[string]any{"isDone": true}}})
	})
	remote("remote edit", `!!row("Renamed elsewhere")`, func() {
		a.act("updateOne", list, map[string]any{"filter": map[string]any{"_id": "t09989"}, "update": map[string]any{"$set": map[string]any{"title": "Renamed elsewhere"}}})
	})
	remote("remote delete", `!row("To-do 09988")`, func() {
		a.act("deleteOne", list, map[string]any{"filter": map[string]any{"_id": "t09988"}})
	})
	// A change to a to-do far down, not shown yet, changes only the counts.
	a.act("updateOne", list, map[string]any{"filter": map[string]any{"_id": "t00001"}, "update": map[string]any{"$set": map[string]any{"isDone": true}}})
	runOn(t, page, until(`document.querySelector("#remaining").textContent === "6,664 left · 3,336 done"`),
		until(`!row("To-do 00001")`))

	// The arrow keys walk the list, showing more past the last row.
	// The arrow keys walk the list, showing more past the last row.
	runOn(t, page,
		js(`window.shown = document.querySelectorAll("#todos > li").length; document.querySelector("#todos > li:last-child .toggle").focus()`),
		chromedp.KeyEvent(kb.ArrowDown),
		until(`document.querySelectorAll("#todos > li").length > window.shown && document.activeElement.closest("li") === document.querySelectorAll("#todos > li")[window.shown]`),
		chromedp.KeyEvent(kb.ArrowUp),
		until(`document.activeElement.closest("li") === document.querySelectorAll("#todos > li")[window.shown - 1] && document.activeElement.classList.contains("toggle")`),
	)

	// Scrolled to the end, the list is complete, in order, each once.
	sctx, cancel := context.WithTimeout(page, 3*time.Minute)
	defer cancel()
	scrolled, err := chromedp.Run(sctx, chromedp.Evaluate[string](`(async () => {
		const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
		const t0 = performance.now();
		let pages = 0;
		while (!document.querySelector("#more").hidden) {
			window.scrollTo(0, document.documentElement.scrollHeight);
			await frame(); await frame();
			pages++;
		}
		return pages + " scrolls, " + Math.round(performance.now() - t0) + " ms";
	})()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	t.Logf("scrolled to the end in %s", scrolled)
	order := textOn(t, page, chromedp.Evaluate[string](`(() => {
		const ids = [...document.querySelectorAll("#todos > li")].map((li) => li.dataset.id);
		return ids.length + " " + new Set(ids).size + " " + ids.slice(-3).join(",") + " " + ids.slice(0, 2).join(",");
	})()`))
	t.Logf("rows when scrolled to the end: %s", order)
	wantRows := longListSize - 2 + 2 // two deleted, two added
	require.Regexp(t, fmt.Sprintf(`^%d %d t00002,t00001,t00000 elsewhere,`, wantRows, wantRows), order)
	// The row is found once: looking it up among 10,000 on every change
	// of the page would be the test's cost, not the app's.
	runOn(t, page, js(`window.far = row("To-do 00002")`))
	ms("toggle with every row shown", `far.querySelector(".toggle").click()`, `far.classList.contains("done")`)
}

// testListStatusAndNames (issue 24, items 2, 3, 5, 6, 7): the status is
// the list's own ("Offline: …" with nobody on it, "Synced with 1 person"
// once someone joins), announced politely; the list's name is in the share
// panel, in the link and its join confirmation, and the heading after the
// join; "Can't reach this node" goes once the node is back; a long title
// wraps within a bounded row; the list address wraps anywhere; at phone
// width the ⋯ button stays on the card; after creating a list the focus
// is in the add box.
func testListStatusAndNames(t *testing.T, br *browser) {
	aliceDir := t.TempDir()
	alice := startNodeIn(t, aliceDir, "127.0.0.1:0", nil, nil)
	bob := startNode(t)
	pa, pb := br.page(t), br.page(t)
	status := func(state, text string) chromedp.Action[chromedp.Void] {
		return until(fmt.Sprintf(`document.querySelector("#status").dataset.state === %q && document.querySelector("#status-text").textContent === %q`, state, text))
	}
	list := openApp(t, pa, alice, "")
	runOn(t, pa, status("alone", "Offline: your changes are saved here and will sync"))
	alice.act("updateOne", list, map[string]any{"collection": "about", "filter": map[string]any{"_id": "list"},
		"update": map[string]any{"$set": map[string]any{"name": "Weekend trip"}}, "upsert": true})
	runOn(t, pa,
		until(`document.querySelector("#list-title").textContent === "Weekend trip"`),
		until(`document.querySelector("#share-title").textContent === "Share “Weekend trip”"`),
		chromedp.Click(chromedp.CSS(`#share-btn`)),
		until(`document.querySelector("#invite-link").value.includes("&title=Weekend+trip")`),
	)
	link := textOn(t, pa, chromedp.Value(chromedp.CSS(`#invite-link`)))

	// Bob's app shows the name the link gives before he joins, and as the
	// heading once he has.
	runOn(t, pb,
		chromedp.Navigate(bob.url+"/#join="+url.QueryEscape(link)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		until(`document.querySelector("#confirm-body dd").textContent === "Weekend trip"`),
		chromedp.Click(chromedp.CSS(`#confirm-yes`)),
		until(fmt.Sprintf(`document.querySelector("#db-address").textContent === %q`, list)),
		until(`document.querySelector("#list-title").textContent === "Weekend trip"`),
	)
	for _, p := range []context.Context{pa, pb} {
		runOn(t, p, status("online", "Synced with 1 person"))
	}

	// A long title (the node takes it; the app refuses over 1,000
	// characters) wraps within a bounded row, and the row's controls stay
	// in view with it.
	long := ""
	for len(long) < 1000 {
		long += "supercalifragilistic "
	}
	long = long[:1000]
	alice.act("insertOne", list, map[string]any{"document": map[string]any{"_id": "long", "title": long, "isDone": false, "createdAt": time.Now().UnixMilli()}})
	runOn(t, pa, until(`(() => {
		const li = document.querySelector('.todo[data-id="long"]');
		if (!li) return false;
		const card = document.querySelector(".list-card").getBoundingClientRect();
		const r = li.getBoundingClientRect();
		const del = li.querySelector(".delete").getBoundingClientRect();
		return r.height < 260 && r.right <= card.right && del.bottom <= r.bottom && del.right <= card.right;
	})()`))
	// An edit over 1,000 characters is refused, with the editor kept.
	runOn(t, pa,
		startEditing("long"),
		js(`document.activeElement.value = "y".repeat(1001); document.activeElement.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}))`),
		until(`!document.querySelector("#toast").hidden && document.querySelector("#toast-text").textContent.startsWith("A to-do can be at most 1,000 characters")`),
		until(`document.activeElement.classList.contains("edit")`),
		chromedp.KeyEvent(kb.Escape),
		until(`!document.querySelector(".edit")`),
	)
	screenshot(t, pa, "todo-long-title.png")

	// The address wraps anywhere; at phone width ⋯ stays on the card.
	runOn(t, pa,
		until(`getComputedStyle(document.querySelector("#db-address")).overflowWrap === "anywhere" && document.querySelector("#db-address").innerHTML.endsWith("<wbr>/TodoList")`),
		chromedp.EmulateViewport(375, 720),
		until(`(() => {
			const m = document.querySelector("#list-menu").getBoundingClientRect();
			const c = document.querySelector(".list-card").getBoundingClientRect();
			return m.width > 0 && m.right <= c.right && m.left >= c.left;
		})()`),
	)
	screenshot(t, pa, "todo-phone.png")
	runOn(t, pa, chromedp.EmulateViewport(1180, 760))

	// After creating a list the focus is in the add box.
	runOn(t, pb,
		chromedp.Click(chromedp.CSS(`#list-menu`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-list`)),
		chromedp.Click(chromedp.CSS(`#new-list`)),
		chromedp.WaitVisible(chromedp.CSS(`#name-input`)),
		chromedp.KeyEvent("Errands"),
		chromedp.KeyEvent(kb.Enter),
		until(`document.querySelector("#list-title").textContent === "Errands" && document.activeElement.id === "new-title"`),
		status("alone", "Offline: your changes are saved here and will sync"),
	)

	// Alice's node goes away: a change then says it cannot reach it; once
	// the node is back (same data, same address), that message goes.
	addr := alice.url[len("http://"):]
	alice.stop()
	runOn(t, pa,
		status("offline", "Reconnecting to node…"),
		js(`document.querySelector("#new-title").value = "While down"; document.querySelector("#add-form").requestSubmit()`),
		until(`!document.querySelector("#toast").hidden && document.querySelector("#toast-text").textContent === "Can't reach this node. Is lattice node still running?"`),
	)
	startNodeIn(t, aliceDir, addr, nil, nil)
	runOn(t, pa,
		until(`document.querySelector("#toast").hidden`),
		until(`document.querySelector("#status").dataset.state !== "offline"`),
		hasTodoAction(long, false),
	)
}

// testCatchUpInTodos (issue 24, item 4): a node joining a list of 3,000
// to-dos through the app says it is catching up, counted in to-dos, with
// the list filling in below, and says "Synced" only once every to-do is in.
func testCatchUpInTodos(t *testing.T, br *browser) {
	const n = 3000
	alice, bob := startNode(t), startNode(t)
	pb := br.page(t)
	list := alice.createDB("TodoList")
	insertTodos(t, alice, list, n, time.Now().Add(-time.Hour).UnixMilli())
	link := alice.ok(200, "POST", "/v1/invites", map[string]any{"database": list, "collection": "todos"})["link"].(string)
	runOn(t, pb,
		chromedp.Navigate(bob.url+"/?join#join="+url.QueryEscape(link)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		// Each status the page shows, with the to-dos it counted then.
		js(`(() => {
			window.statuses = [];
			new MutationObserver(() => {
				const s = document.querySelector("#status-text").textContent;
				const last = window.statuses[window.statuses.length - 1];
				if (!last || last.s !== s) window.statuses.push({s, shown: document.querySelector("#remaining").textContent, t: Math.round(performance.now())});
			}).observe(document.querySelector("#status"), {subtree: true, childList: true, characterData: true});
		})()`),
	)
	start := time.Now()
	runOn(t, pb, chromedp.Click(chromedp.CSS(`#confirm-yes`)))
	runOn(t, pb,
		until(`document.querySelector("#remaining").textContent === "2,000 left · 1,000 done"`),
		until(`document.querySelector("#status-text").textContent === "Synced with 1 person"`),
	)
	t.Logf("all %d to-dos shown %s after the join started", n, time.Since(start))
	statuses := textOn(t, pb, chromedp.Evaluate[string](`JSON.stringify(window.statuses)`))
	t.Logf("statuses: %s", statuses)
	// "Synced" never showed while to-dos were still arriving.
	require.Equal(t, "true", textOn(t, pb, chromedp.Evaluate[string](`String(window.statuses.filter((x) => x.s.startsWith("Synced")).every((x) => x.shown === "2,000 left · 1,000 done"))`)), statuses)
	require.Equal(t, "true", textOn(t, pb, chromedp.Evaluate[string](`String(window.statuses.filter((x) => x.s.startsWith("Catching")).every((x) => /^Catching up… [0-9,]+ to-dos? so far$/.test(x.s)))`)), statuses)
}
