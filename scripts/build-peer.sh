#!/usr/bin/env bash
# Builds the browser peer into DIR (default ./peer-assets): lattice.wasm
# (cmd/lattice-peer for js/wasm) and the Go toolchain's wasm_exec.js, which
# must come from the same toolchain. Serve it with
#   lattice node --peer-assets DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-peer-assets}
mkdir -p "$dir"
GOOS=js GOARCH=wasm go build -ldflags=-s -o "$dir/lattice.wasm" ./cmd/lattice-peer
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$dir/wasm_exec.js"
# lattice node serves the gzipped copy to browsers that accept gzip.
gzip -9 -c "$dir/lattice.wasm" >"$dir/lattice.wasm.gz"
echo "lattice.wasm: $(wc -c <"$dir/lattice.wasm") bytes ($(wc -c <"$dir/lattice.wasm.gz") gzipped) in $dir"
