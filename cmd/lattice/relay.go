package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/relay"
)

func newRelayCmd() *cobra.Command {
	var data string
	var listen, announce, transportNames []string
	var inMemory bool
	var serveDHT bool
	var archive bool
	var allow []string
	var circuitDuration time.Duration
	var circuitData string
	res := relay.DefaultResources()
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Run a circuit relay for peers behind NATs",
		Long: `Run a libp2p circuit relay (v2) sized for Lattice's replication traffic.
Peers behind NATs keep a reservation on it (lattice node --relay ADDR) and
other peers reach them through it. It also answers AutoNAT (v1 and v2), so
the peers learn whether they are reachable, and carries the DCUtR exchange
with which two NATed peers punch a direct connection.

At start it prints one line per address:
  relay: <multiaddr>/p2p/<peer ID>
By default it listens on TCP and QUIC (port 4002) and on WebSocket (port
4003, the .../tcp/4003/ws line): browser peers dial the WebSocket one.
Give one of those to lattice node --relay. The identity key is kept in
--data, so the addresses stay the same across restarts. Behind a NAT (a
cloud VM, say), --announce gives the public address to print and advertise.

Each circuit lasts at most --circuit-duration (30m) and carries at most
--circuit-data (32MiB) each way; then the relay resets it and Lattice peers
redial (a new circuit, a new budget), if they have not moved to a direct
connection by then. The relay enforces these limits without announcing
them: libp2p's announced limits mark relayed connections "limited", and
Lattice's protocols (gossipsub, bitswap) do not run over those. It keeps at
most --max-reservations (128) reservations, --max-reservations-per-ip (4)
per IP address and one per peer, and 16 circuits per peer.

A relay carries circuits and stores no database, so it has no history to
compact: --archive is accepted (a deployment may pass it to every Lattice
process) and changes nothing.

By default any peer may reserve. On a public machine give --allow with the
peer ID of each node the relay is for (repeatable, or comma-separated):
only those reserve, so only they can be reached through it, and nobody
else can use it as a proxy.

It stops cleanly on Ctrl-C (SIGINT) or SIGTERM.`,
		Example: `  lattice relay
  lattice relay --data ./relay --listen /ip4/0.0.0.0/tcp/4002 --listen /ip4/0.0.0.0/udp/4002/quic-v1
  lattice relay --listen /ip4/0.0.0.0/tcp/4002 --announce /ip4/203.0.113.7/tcp/4002
  lattice relay --allow 12D3KooWAlice...,12D3KooWBob... --circuit-data 64MiB`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, l := range listen {
				if _, err := ma.NewMultiaddr(l); err != nil {
					return usageErr("--listen %q: %v", l, err)
				}
			}
			for _, a := range announce {
				if _, err := ma.NewMultiaddr(a); err != nil {
					return usageErr("--announce %q: %v", a, err)
				}
			}
			cfg := relay.Config{DataDir: data, Listen: listen, Announce: announce, Resources: &res}
			for _, list := range allow {
				for _, a := range strings.Split(list, ",") {
					if a = strings.TrimSpace(a); a == "" {
						continue
					}
					id, err := peer.Decode(a)
					if err != nil {
						return usageErr("--allow %q: not a peer ID: %v", a, err)
					}
					cfg.Allow = append(cfg.Allow, id)
				}
			}
			circuitBytes, err := parseBytes(circuitData)
			if err != nil {
				return usageErr("--circuit-data %q: %v", circuitData, err)
			}
			if circuitDuration <= 0 || circuitBytes <= 0 {
				return usageErr("--circuit-duration and --circuit-data must be positive (an unlimited relay is an open proxy)")
			}
			if res.MaxReservations <= 0 || res.MaxReservationsPerIP <= 0 {
				return usageErr("--max-reservations and --max-reservations-per-ip must be positive")
			}
			cfg.Circuit = relay.CircuitLimit{Duration: circuitDuration, Data: circuitBytes}
			if len(transportNames) > 0 {
				ts, err := transports.Parse(transportNames...)
				if err != nil {
					return usageErr("--transport: %v", err)
				}
				for _, t := range ts {
					if t.Name() == "tcp" {
						t = transports.TCP(tcp.DisableReuseport()) // see relay.Config.Transports
					}
					cfg.Transports = append(cfg.Transports, t.Options()...)
				}
			}
			if len(transportNames) > 0 && len(listen) == 0 {
				ts, _ := transports.Parse(transportNames...) // parsed above
				if cfg.Listen = relayDefaultListen(ts); len(cfg.Listen) == 0 {
					return usageErr("--transport %s has no default relay address: give --listen", strings.Join(transportNames, ","))
				}
			}
			if inMemory {
				cfg.DataDir = ""
			}
			r, err := relay.Start(cfg)
			if err != nil {
				return err
			}
			closeDHT, err := relayDHT(r.Host(), serveDHT)
			if err != nil {
				_ = r.Close()
				return err
			}
			defer closeDHT()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			for _, a := range r.Addrs() {
				fmt.Fprintf(out, "relay: %s\n", a)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "lattice relay is running; press Ctrl-C to stop.")
			<-ctx.Done()
			stop()
			fmt.Fprintln(cmd.ErrOrStderr(), "stopping...")
			if err := r.Close(); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "stopped.")
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", defaultRelayDir(), "data directory (identity key)")
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "listen multiaddr, repeatable (default: TCP and QUIC on all interfaces, port 4002, and WebSocket on port 4003, for browsers; only those of --transport's transports)")
	cmd.Flags().StringArrayVar(&announce, "announce", nil, "address to advertise and print instead of the listen addresses (its public address behind a NAT), repeatable")
	cmd.Flags().StringArrayVar(&transportNames, "transport", nil, "transports to speak, comma-separated or repeatable: tcp, quic, ws, webtransport, webrtc-direct (default: all)")
	cmd.Flags().BoolVar(&inMemory, "in-memory", false, "use a throwaway identity (ignores --data)")
	def := relay.DefaultCircuitLimit()
	cmd.Flags().StringArrayVar(&allow, "allow", nil, "peer ID that may reserve (and be reached through the relay), repeatable or comma-separated; default: any peer")
	cmd.Flags().DurationVar(&circuitDuration, "circuit-duration", def.Duration, "longest a circuit lasts before the relay resets it")
	cmd.Flags().StringVar(&circuitData, "circuit-data", fmt.Sprintf("%dMiB", def.Data>>20), "most bytes a circuit carries each way before the relay resets it (B, KiB, MiB, GiB)")
	cmd.Flags().IntVar(&res.MaxReservations, "max-reservations", res.MaxReservations, "reservations kept at once")
	cmd.Flags().IntVar(&res.MaxReservationsPerIP, "max-reservations-per-ip", res.MaxReservationsPerIP, "reservations kept at once per IP address")
	cmd.Flags().BoolVar(&archive, "archive", false, "keep full database histories (accepted for symmetry with lattice node --archive: a relay stores no database, so it never compacts anything)")
	cmd.Flags().BoolVar(&serveDHT, "dht", false, "also serve Lattice's private DHT, so nodes started with --dht --bootstrap <this relay> find each other's databases")
	return cmd
}

// relayDefaultListen are the relay's default addresses (relay.DefaultListen)
// that the transports ts speak: a relay started with --transport tcp,quic
// does not try to listen on WebSocket.
func relayDefaultListen(ts []transports.Transport) []string {
	var out []string
	for _, a := range relay.DefaultListen {
		var name string
		switch {
		case strings.HasSuffix(a, "/ws"):
			name = "ws"
		case strings.HasSuffix(a, "/quic-v1"):
			name = "quic"
		case strings.Contains(a, "/tcp/"):
			name = "tcp"
		}
		for _, t := range ts {
			if t.Name() == name {
				out = append(out, a)
			}
		}
	}
	return out
}

// defaultRelayDir is <user config dir>/lattice-relay: apart from a node's
// data directory, so a relay and a node on one machine have two identities.
func defaultRelayDir() string { return defaultDataDir() + "-relay" }

// parseBytes parses a byte count with an optional unit: 1048576, 512KiB,
// 32MiB, 1GiB (B, KiB, MiB and GiB; KB, MB and GB mean the same).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a byte count like 32MiB")
	}
	shift := map[string]uint{"": 0, "b": 0, "kib": 10, "kb": 10, "k": 10, "mib": 20, "mb": 20, "m": 20, "gib": 30, "gb": 30, "g": 30}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q: use B, KiB, MiB or GiB", unit)
	}
	if n > (1<<62)>>sh {
		return 0, fmt.Errorf("too large")
	}
	return n << sh, nil
}
