// lattice-worker.js: runs the in-browser Lattice peer (lattice.wasm) in a
// dedicated Web Worker, off the page's main thread, so that a long
// catch-up or a burst of merges never freezes the page. lattice.js starts
// it and forwards each call of its API as a message: {id, fn, args} in,
// {id, value} or {id, error} out, and {sub, event} for a subscription's
// events. The worker has IndexedDB and WebSocket, all the peer needs.
"use strict";
importScripts("wasm_exec.js");

let started = null;

function boot(wasm) {
  if (!started) {
    started = (async () => {
      const ready = new Promise((resolve) => { self.latticeGoReady = resolve; });
      const go = new Go();
      const res = await WebAssembly.instantiateStreaming(fetch(wasm), go.importObject);
      go.run(res.instance);
      await ready;
    })();
  }
  return started;
}

self.onmessage = async (ev) => {
  const m = ev.data || {};
  try {
    let value;
    if (m.fn === "boot") {
      await boot(m.args[0]);
    } else {
      await started;
      const args = m.fn === "subscribe" ? [m.args[0], (event) => self.postMessage({sub: m.id, event})] : m.args;
      value = await self.latticeGo[m.fn](...args);
    }
    self.postMessage({id: m.id, value: value === undefined ? null : value});
  } catch (e) {
    self.postMessage({id: m.id, error: String((e && e.message) || e)});
  }
};
