// The browser peer's service worker: it keeps the page, its scripts and
// lattice.wasm in a cache, so the list opens with no network (the data
// itself is in IndexedDB). Network first, so that a reachable node serves
// its current version; the cache answers when the network does not.
// Browsers run service workers only on https pages and on localhost.
"use strict";
const CACHE = "lattice-peer-v2";
const FILES = ["./", "lattice.js", "lattice-worker.js", "peer-app.js", "wasm_exec.js", "lattice.wasm", "../app.css", "../favicon.svg"];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  if (req.method !== "GET" || new URL(req.url).origin !== self.location.origin) return;
  ev.respondWith(fetch(req).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(req, copy));
    }
    return res;
  }).catch(() => caches.match(req, {ignoreSearch: true}).then((hit) => hit || Response.error())));
});
