// run.js answers engine/query's differential test (differential_test.go)
// with mingo, an independent implementation of the MongoDB query language.
// It reads one JSON case per line on stdin and writes one JSON result per
// line on stdout:
//
//   {"kind":"filter","filter":F,"docs":[D...]}  -> {"match":[bool...]}
//   {"kind":"update","update":U,"doc":D}        -> {"doc":D'}
//   {"kind":"sort","sort":[[path,dir]...],"docs":[D...]} -> {"order":[i...]}
//
// or {"error":"message"} when mingo throws. Install with npm ci in this
// directory (package-lock.json pins mingo).
"use strict";
const readline = require("node:readline");
const mingo = require("mingo");
const { update } = require("mingo/updater");

// regexMembers turns {"$regex": p, "$options": o} members of $in and $nin
// (Lattice's spelling, JSON has no regex literal) into RegExp objects.
function regexMembers(v) {
  if (Array.isArray(v)) return v.map(regexMembers);
  if (v === null || typeof v !== "object") return v;
  const out = {};
  for (const [k, e] of Object.entries(v)) {
    if ((k === "$in" || k === "$nin") && Array.isArray(e)) {
      out[k] = e.map((m) => {
        if (m !== null && typeof m === "object" && !Array.isArray(m) && "$regex" in m) {
          return new RegExp(m.$regex, m.$options || "");
        }
        return regexMembers(m);
      });
    } else {
      out[k] = regexMembers(e);
    }
  }
  return out;
}

function answer(c) {
  switch (c.kind) {
    case "filter": {
      const q = new mingo.Query(regexMembers(c.filter));
      return { match: c.docs.map((d) => q.test(d)) };
    }
    case "update": {
      const d = c.doc;
      update(d, c.update, undefined, undefined, { cloneMode: "deep" });
      return { doc: d };
    }
    case "sort": {
      const spec = {};
      for (const [p, dir] of c.sort) spec[p] = dir;
      const docs = c.docs.map((d, i) => ({ ...d, __i: i }));
      const out = mingo.find(docs, {}).sort(spec).all();
      return { order: out.map((d) => d.__i) };
    }
  }
  throw new Error("unknown case kind " + c.kind);
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (line === "") return;
  let out;
  try {
    out = answer(JSON.parse(line));
  } catch (e) {
    out = { error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
