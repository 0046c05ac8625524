package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

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
Give one of those to lattice node --relay. The identity key is kept in
--data, so the addresses stay the same across restarts. Behind a NAT (a
cloud VM, say), --announce gives the public address to print and advertise.

Circuits carry no per-circuit time or data limit: libp2p's default limits
mark relayed connections "limited", and Lattice's protocols (gossipsub,
bitswap) do not run over those. The relay is bounded instead by libp2p's
other defaults: 128 reservations (8 per IP address), 16 circuits per peer,
and its resource manager's connection and stream limits.

It stops cleanly on Ctrl-C (SIGINT) or SIGTERM.`,
		Example: `  lattice relay
  lattice relay --data ./relay --listen /ip4/0.0.0.0/tcp/4002 --listen /ip4/0.0.0.0/udp/4002/quic-v1
  lattice relay --listen /ip4/0.0.0.0/tcp/4002 --announce /ip4/203.0.113.7/tcp/4002`,
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
			cfg := relay.Config{DataDir: data, Listen: listen, Announce: announce}
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
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "listen multiaddr, repeatable (default: TCP and QUIC on all interfaces, port 4002)")
	cmd.Flags().StringArrayVar(&announce, "announce", nil, "address to advertise and print instead of the listen addresses (its public address behind a NAT), repeatable")
	cmd.Flags().StringArrayVar(&transportNames, "transport", nil, "transports to speak, comma-separated or repeatable: tcp, quic, ws, webtransport, webrtc-direct (default: all)")
	cmd.Flags().BoolVar(&inMemory, "in-memory", false, "use a throwaway identity (ignores --data)")
	cmd.Flags().BoolVar(&serveDHT, "dht", false, "also serve Lattice's private DHT, so nodes started with --dht --bootstrap <this relay> find each other's databases")
	return cmd
}

// defaultRelayDir is <user config dir>/lattice-relay: apart from a node's
// data directory, so a relay and a node on one machine have two identities.
func defaultRelayDir() string { return defaultDataDir() + "-relay" }
