#!/usr/bin/env bash
# The real-kernel NAT test bed: network namespaces, veth pairs, a bridge and
# iptables NAT routers, with real `lattice relay` and `lattice node`
# processes. Run as root (ip netns, iptables); .ci/run runs it.
#
#   ltn-relay  5.1.1.10 ─┐
#   ltn-ra     5.1.1.1  ─┼─ bridge in ltn-pub ("the internet", 5.1.1.0/24)
#   ltn-rb     5.1.1.2  ─┘
#   ltn-ra ── 10.1.0.0/24 ── ltn-a (10.1.0.2)   router A: MASQUERADE
#   ltn-rb ── 10.2.0.0/24 ── ltn-b (10.2.0.2)   router B: MASQUERADE
#
# The "public" segment uses 5.1.1.0/24 because libp2p hole-punches only
# from public-looking addresses; no packet leaves these namespaces. Every
# name starts with ltn-; everything is torn down on exit, failure included.
#
# It shows, asserting each and exiting non-zero on failure:
#   (c) router B made symmetric (MASQUERADE --random-fully): the nodes sync
#       through the relay, a hole punch is tried and fails, the peer stays
#       "relayed";
#   (a) both routers endpoint-independent (plain MASQUERADE, conntrack
#       filtering): a to-do written on B appears on A through the relay;
#   (b) the hole punch succeeds and /v1/peers reports the peer
#       "holepunched" (direct), the relay circuit closes (no p2p-circuit
#       connection left on either side), and writes after the switch
#       replicate;
#   (e) a relayed connection made before the node can punch (it knows no
#       public address of its own yet) is redialled and punched once it
#       can;
#   and that AutoNAT (answered by the relay) finds the nodes private, which
#   lattice node prints and /v1/id reports.
# It prints the measurements BENCHMARKS.md quotes: time to first sync
# through the relay, time until direct, throughput relayed vs direct.
#
# Usage: scripts/natbed.sh [path to a built lattice binary]
# NATBED_LOGS=DIR keeps the processes' output there.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "natbed: needs root (network namespaces, iptables)"; exit 1; }
command -v iptables >/dev/null || { echo "natbed: iptables is not installed"; exit 1; }

WORK=$(mktemp -d /tmp/ltn-natbed.XXXXXX)
BIN=${1:-}
if [ -z "$BIN" ]; then
  BIN=$WORK/lattice
  go build -o "$BIN" ./cmd/lattice
fi
NS="ltn-pub ltn-relay ltn-ra ltn-rb ltn-a ltn-b"
PIDS=()

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in $NS; do ip netns del "$n" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    echo "natbed: FAILED (exit $rc); logs:"
    for f in "$WORK"/*.out "$WORK"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
  fi
  if [ -n "${NATBED_LOGS:-}" ]; then mkdir -p "$NATBED_LOGS" && cp "$WORK"/*.out "$WORK"/*.err "$WORK"/*.old "$NATBED_LOGS"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT INT TERM

fail() { echo "natbed: FAIL: $*"; exit 1; }
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds,
# failing the bed after SECONDS.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within ${limit}s"
    sleep 0.1
  done
}

# api NODE METHOD PATH [BODY]: the node's HTTP API, inside its namespace.
api() {
  local n=$1 m=$2 p=$3 body=${4:-}
  if [ -n "$body" ]; then
    nsx "ltn-$n" curl -sf -X "$m" -H 'Content-Type: application/json' --data-binary "$body" "http://127.0.0.1:5080$p"
  else
    nsx "ltn-$n" curl -sf -X "$m" "http://127.0.0.1:5080$p"
  fi
}

# peer_kind NODE PEERID: the kind /v1/peers of NODE reports for PEERID.
peer_kind() {
  api "$1" GET /v1/peers | grep -o "\"peerId\":\"$2\"[^}]*\"kind\":\"[a-z]*\"" | sed 's/.*"kind":"//; s/"$//'
}
is_kind() { [ "$(peer_kind "$1" "$2")" = "$3" ]; }
# no_circuit NODE PEERID: NODE is connected to PEERID and none of its
# connections to it (the addrs of its /v1/peers entry) is a relay circuit.
no_circuit() {
  local e
  e=$(api "$1" GET /v1/peers | grep -o "\"peerId\":\"$2\"[^}]*") || return 1
  [ -n "$e" ] && ! printf '%s' "$e" | grep -q p2p-circuit
}
has_circuit() { api "$1" GET /v1/id | grep -q p2p-circuit; }
field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p"; }

echo "== building the network"
for n in $NS; do ip netns add "$n"; nsx "$n" ip link set lo up; done
nsx ltn-pub ip link add br0 type bridge
nsx ltn-pub ip link set br0 up
wan() { # NS ADDR: a veth from NS's wan0 to a port of the bridge
  local n=$1 a=$2 port=p-${1#ltn-}
  ip -n ltn-pub link add "$port" type veth peer name wan0 netns "$n"
  nsx ltn-pub ip link set "$port" master br0 up
  nsx "$n" ip addr add "$a/24" dev wan0
  nsx "$n" ip link set wan0 up
}
wan ltn-relay 5.1.1.10
wan ltn-ra 5.1.1.1
wan ltn-rb 5.1.1.2
lan() { # ROUTER HOST SUBNET: a LAN between a router and a host, NATed
  local r=$1 h=$2 s=$3
  ip -n "$r" link add lan0 type veth peer name eth0 netns "$h"
  nsx "$r" ip addr add "$s.1/24" dev lan0
  nsx "$r" ip link set lan0 up
  nsx "$h" ip addr add "$s.2/24" dev eth0
  nsx "$h" ip link set eth0 up
  nsx "$h" ip route add default via "$s.1"
  nsx "$r" sysctl -qw net.ipv4.ip_forward=1
  # Filtering: only replies to what the LAN sent get in.
  nsx "$r" iptables -P FORWARD DROP
  nsx "$r" iptables -A FORWARD -i lan0 -o wan0 -j ACCEPT
  nsx "$r" iptables -A FORWARD -i wan0 -o lan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  # The router itself accepts nothing unsolicited from outside either: a
  # packet it accepted would leave a conntrack entry that takes the very
  # mapping a LAN host's punch needs, and MASQUERADE would pick another
  # port (as home routers do, it drops them).
  nsx "$r" iptables -A INPUT -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  nsx "$r" iptables -A INPUT -i wan0 -j DROP
}
lan ltn-ra ltn-a 10.1.0
lan ltn-rb ltn-b 10.2.0
# nat ROUTER [--random-fully]: the router's source NAT. Plain MASQUERADE
# keeps the source port and maps endpoint-independently (punchable);
# --random-fully picks a new port per connection: a symmetric NAT.
nat() {
  local r=$1; shift
  nsx "$r" iptables -t nat -F POSTROUTING
  nsx "$r" iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE "$@"
}
nat ltn-ra
nat ltn-rb
# The LANs are behind their routers: the public side has no route in.
if nsx ltn-relay ip route get 10.1.0.2 >/dev/null 2>&1; then fail "the relay has a route into LAN A"; fi

echo "== relay"
ip netns exec ltn-relay "$BIN" relay --in-memory --listen /ip4/5.1.1.10/tcp/4002 --listen /ip4/5.1.1.10/udp/4002/quic-v1 \
  >"$WORK/relay.out" 2>"$WORK/relay.err" &
PIDS+=($!)
wait_for 30 "relay address" grep -q '^relay: /ip4/5.1.1.10/tcp/4002/p2p/' "$WORK/relay.out"
RELAY=$(grep -m1 '^relay: /ip4/5.1.1.10/tcp/4002/p2p/' "$WORK/relay.out" | cut -d' ' -f2)
RELAY_Q=$(grep -m1 '^relay: /ip4/5.1.1.10/udp/4002/quic-v1/p2p/' "$WORK/relay.out" | cut -d' ' -f2)
echo "relay: $RELAY"

# start_node NAME [--bootstrap ADDR]: a node in ltn-NAME, its peer ID in $ID.
# With NO_RELAY set, the node has no relay of its own (no reservation) and
# hole punching on.
start_node() {
  local n=$1; shift
  # Not through nsx: $! must be the node's own pid (ip netns exec execs).
  # The previous round's output must not satisfy the waits below before
  # the new process truncates it: set it aside (NATBED_LOGS keeps it).
  local f
  for f in "$WORK/$n.out" "$WORK/$n.err"; do
    [ ! -f "$f" ] || mv "$f" "$f.$(date +%s%N).old"
  done
  local relays=(--relay "$RELAY" --relay "$RELAY_Q")
  [ -z "${NO_RELAY:-}" ] || relays=(--holepunch on)
  ip netns exec "ltn-$n" "$BIN" node --in-memory --api 127.0.0.1:5080 --transport tcp,quic \
    "${relays[@]}" --log-level info "$@" >"$WORK/$n.out" 2>"$WORK/$n.err" &
  PIDS+=($!)
  LAST_PID=$!
  wait_for 30 "node $n started" grep -q '^api: ' "$WORK/$n.out"
  ID=$(grep -m1 '^peer: ' "$WORK/$n.out" | cut -d' ' -f2)
}
stop_nodes() {
  kill "$PID_A" "$PID_B" 2>/dev/null || true
  wait "$PID_A" "$PID_B" 2>/dev/null || true
}

# round LABEL: B (reserved on the relay) creates a list, A dials B's circuit
# address, opens the list, and a to-do written on B appears on A. Sets
# FIRST_SYNC (seconds from A's dial to the to-do on A), T0 (A's dial).
round() {
  start_node b; ID_B=$ID; PID_B=$LAST_PID
  start_node a; ID_A=$ID; PID_A=$LAST_PID
  wait_for 30 "B's relay reservation" has_circuit b
  # libp2p punches once, when the relayed connection opens, and only if
  # both sides know a public address of their own by then (learnt from the
  # relay within a second or so of reserving): wait for that.
  wait_for 30 "$1: A ready to hole-punch" punch_ready a
  wait_for 30 "$1: B ready to hole-punch" punch_ready b
  local circuit="$RELAY_Q/p2p-circuit/p2p/$ID_B"
  T0=$(now)
  api a POST /v1/connect "{\"addr\":\"$circuit\"}" >/dev/null || fail "$1: A could not dial B through the relay"
  wait_for 30 "A connected to B" is_connected a "$ID_B"
  DB=$(api b POST /v1/databases '{"name":"natbed","access":{"type":"open"}}' | field address)
  [ -n "$DB" ] || fail "no database address"
  api a POST /v1/databases/open "{\"address\":\"$DB\"}" >/dev/null || fail "A could not open $DB"
  api b POST /v1/action/insertOne "{\"database\":\"$DB\",\"collection\":\"todos\",\"document\":{\"_id\":\"milk\",\"title\":\"milk\",\"isDone\":false}}" >/dev/null
  wait_for 30 "$1: the to-do written on B reaches A" has_todo a milk
  FIRST_SYNC=$(since "$T0")
}
punch_ready() { api "$1" GET /v1/id | grep -q '"holePunch":{"ready":true'; }
is_connected() { api "$1" GET /v1/peers | grep -q "\"peerId\":\"$2\""; }
has_todo() { api "$1" POST /v1/action/findOne "{\"database\":\"$DB\",\"collection\":\"todos\",\"filter\":{\"_id\":\"$2\"}}" | grep -q "\"_id\":\"$2\""; }
count_big() { api a POST /v1/action/countDocuments "{\"database\":\"$DB\",\"collection\":\"big\",\"filter\":{}}" | grep -q "\"count\":$1[,}]"; }
punch() { api "$1" GET /v1/id | grep -o '"holePunch":{[^}]*}'; }
punch_attempts() { punch "$1" | sed 's/.*"attempts":\([0-9]*\).*/\1/'; }
punch_successes() { punch "$1" | sed 's/.*"successes":\([0-9]*\).*/\1/'; }
all_tries() { [ "$(punch_attempts b)" -ge 3 ]; }
tried_punch() { [ "$(punch_attempts a)" -ge 1 ] || [ "$(punch_attempts b)" -ge 1 ]; }

# throughput LABEL: B writes 8 documents of 400 KB (past the inline limit,
# so A fetches each block with bitswap); prints MB/s until all are on A.
throughput() {
  local doc="$WORK/big.json" n=8
  local body
  body=$(head -c 400000 /dev/zero | tr '\0' 'x')
  local t=$(now)
  for i in $(seq 1 $n); do
    printf '{"database":"%s","collection":"big","document":{"_id":"%s-%d","body":"%s"}}' "$DB" "$1" "$i" "$body" >"$doc"
    nsx ltn-b curl -sf -X POST -H 'Content-Type: application/json' --data-binary @"$doc" http://127.0.0.1:5080/v1/action/insertOne >/dev/null
  done
  wait_for 60 "$1: the large documents reach A" count_big $n
  local s; s=$(since "$t")
  THROUGHPUT=$(awk -v s="$s" -v n=$n 'BEGIN { printf "%.1f", n * 0.4 / s }')
  echo "$1: $n x 400 KB in ${s}s = ${THROUGHPUT} MB/s"
}

echo "== (a) sync through the relay, then (b) the hole punch"
round punchable
echo "(a) ok: first sync (relayed or already direct) ${FIRST_SYNC}s after A dialed"
wait_for 60 "(b) A's connection to B becomes direct" is_kind a "$ID_B" holepunched
DIRECT_AFTER=$(since "$T0")
echo "(b) ok: holepunched ${DIRECT_AFTER}s after A dialed; A sees $(peer_kind a "$ID_B"), B sees $(peer_kind b "$ID_A")"
[ "$(punch_successes a)" -ge 1 ] || [ "$(punch_successes b)" -ge 1 ] || fail "(b) no punch success counted"
wait_for 30 "(b) A's relay circuit to B closed" no_circuit a "$ID_B"
wait_for 30 "(b) B's relay circuit to A closed" no_circuit b "$ID_A"
CIRCUIT_CLOSED_AFTER=$(since "$T0")
is_kind a "$ID_B" holepunched || fail "(b) after the circuit closed A reaches B by '$(peer_kind a "$ID_B")', want holepunched"
echo "(b) ok: relay circuit closed ${CIRCUIT_CLOSED_AFTER}s after A dialed; only the direct connection is left"
api b POST /v1/action/insertOne "{\"database\":\"$DB\",\"collection\":\"todos\",\"document\":{\"_id\":\"eggs\",\"title\":\"eggs\"}}" >/dev/null
wait_for 30 "(b) a to-do written after the switch reaches A" has_todo a eggs
throughput direct
DIRECT_TP=$THROUGHPUT
stop_nodes

echo "== (e) a relayed connection made before the node can hole-punch is punched once it can"
# A has no relay of its own, so it learns its public address only from the
# relay it dials B through: its relayed connection to B opens before A is
# ready to punch, which libp2p alone would leave relayed.
start_node b; ID_B=$ID; PID_B=$LAST_PID
wait_for 30 "(e) B's relay reservation" has_circuit b
wait_for 30 "(e) B ready to hole-punch" punch_ready b
NO_RELAY=1 start_node a; ID_A=$ID; PID_A=$LAST_PID
punch_ready a && fail "(e) A is ready to punch before it met anyone"
T0=$(now)
api a POST /v1/connect "{\"addr\":\"$RELAY_Q/p2p-circuit/p2p/$ID_B\"}" >/dev/null || fail "(e) A could not dial B through the relay"
wait_for 60 "(e) A's early connection to B becomes direct" is_kind a "$ID_B" holepunched
EARLY_DIRECT_AFTER=$(since "$T0")
grep -q "relayed peer redialled for a hole punch" "$WORK/a.err" "$WORK/b.err" || fail "(e) direct without the redial: the connection was not early"
wait_for 30 "(e) A's relay circuit to B closed" no_circuit a "$ID_B"
echo "(e) ok: early relayed connection holepunched ${EARLY_DIRECT_AFTER}s after A dialed (after A's redial)"
stop_nodes

echo "== (c) router B symmetric (MASQUERADE --random-fully): the connection stays relayed"
nat ltn-rb --random-fully
round symmetric
echo "first sync through the relay: ${FIRST_SYNC}s"
RELAY_FIRST_SYNC=$FIRST_SYNC
is_kind a "$ID_B" relayed || fail "(c) A reaches B by '$(peer_kind a "$ID_B")', want relayed"
wait_for 45 "(c) a hole punch attempt" tried_punch
# The initiator (B, which got the relayed connection) tries three times
# before it gives up; after the third the peer is still relayed.
wait_for 60 "(c) three punch attempts" all_tries
throughput relayed
RELAY_TP=$THROUGHPUT
is_kind a "$ID_B" relayed || fail "(c) after the punch attempts A reaches B by '$(peer_kind a "$ID_B")', want relayed"
[ "$(punch_successes a)" -eq 0 ] && [ "$(punch_successes b)" -eq 0 ] || fail "(c) a punch succeeded through a symmetric NAT"
echo "(c) ok: punch attempts a=$(punch_attempts a) b=$(punch_attempts b), no success, still relayed"
# AutoNAT (the relay answers it) finds both nodes unreachable from outside,
# and lattice node says so (after libp2p's 15 s boot delay).
wait_for 60 "A prints its reachability" grep -q '^reachability: private$' "$WORK/a.out"
wait_for 60 "B prints its reachability" grep -q '^reachability: private$' "$WORK/b.out"
api a GET /v1/id | grep -q '"reachability":"private"' || fail "A's /v1/id does not say private"
echo "(c) ok: both nodes report reachability private"
stop_nodes

echo "natbed: first sync through the relay ${RELAY_FIRST_SYNC}s; direct ${DIRECT_AFTER}s after start; circuit closed ${CIRCUIT_CLOSED_AFTER}s after start; early connection direct ${EARLY_DIRECT_AFTER}s after start; throughput relayed ${RELAY_TP} MB/s, direct ${DIRECT_TP} MB/s"
echo "natbed: all passed"
