package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/latticedb/lattice/node"
)

func newInviteCmd() *cobra.Command {
	var (
		f          apiFlags
		database   string
		collection string
		topic      bool
		invert     bool
		noQR       bool
		web        string
	)
	cmd := &cobra.Command{
		Use:   "invite --database ADDRESS",
		Short: "Print a share link and its QR code for a database",
		Long: `Ask a running node for an invite link to one of its databases and print
the link, then its QR code.

The link (lattice://join?peer=...&addr=...&db=...) carries this node's peer
ID, its dialable addresses and the database address. Give it to the other
side: "lattice join LINK" on their node, or paste it into "Join a list" in
their web app. With --topic the link leaves the database out and the invitee
learns it from this node's invite topic (/lattice/invite/<peer ID>); the
node then announces the address to every peer that subscribes to that
topic, which anyone who knows this node's peer ID can do: the address
opens the database, so use --topic only for databases meant for anyone.

The first line of output is the link alone, for scripts.

A phone camera opens only http(s) links. --web URL (the address of a node's
web app the phone can reach, e.g. http://192.168.1.20:5080) also prints
  web: URL/#join=<link>
and draws the QR code of that form instead: scanning it opens that app,
which shows the list and joins it when the user clicks Join.`,
		Example: `  lattice invite --database /lattice/bagu.../TodoList
  lattice invite --api http://127.0.0.1:5081 --database "$DB" --no-qr
  lattice invite --database "$DB" --invert     # for light terminal backgrounds
  lattice invite --database "$DB" --web http://192.168.1.20:5080   # QR for a phone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if database == "" {
				return usageErr("--database is required (list them with: curl %s/v1/databases)", f.api)
			}
			if u, err := url.Parse(web); web != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "") {
				return usageErr("--web %q: want the http(s) URL of a node's web app, like http://192.168.1.20:5080", web)
			}
			var res struct {
				Link string `json:"link"`
				QR   string `json:"qr"`
			}
			body := map[string]any{"database": database, "collection": collection, "topic": topic}
			if err := f.post(cmd.Context(), "/v1/invites", body, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, res.Link)
			text, png := res.Link, res.QR
			if web != "" {
				text = node.WebLink(web, res.Link)
				png += "&web=" + url.QueryEscape(web)
				fmt.Fprintf(out, "web: %s\n", text)
			}
			if noQR {
				return nil
			}
			code, err := terminalQR(text, invert)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "(no QR code: %v; the node serves it as a PNG at %s)\n", err, png)
				return nil
			}
			fmt.Fprint(out, "\n"+code)
			fmt.Fprintf(out, "\nQR code as PNG: %s\n", png)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&database, "database", "", "address of the database to share (/lattice/<CID>/<name>)")
	cmd.Flags().StringVar(&collection, "collection", "", "collection hint for the invitee's app (the to-do app uses \"todos\")")
	cmd.Flags().BoolVar(&topic, "topic", false, "leave the database out of the link; announce it on the invite topic instead")
	cmd.Flags().BoolVar(&invert, "invert", false, "draw the QR code for a light terminal background")
	cmd.Flags().BoolVar(&noQR, "no-qr", false, "print the link only")
	cmd.Flags().StringVar(&web, "web", "", "http(s) URL of a node's web app: also print the link in the form a phone camera opens (URL/#join=<link>) and draw its QR code")
	return cmd
}

func newJoinCmd() *cobra.Command {
	var f apiFlags
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "join LINK",
		Short: "Join a database shared by an invite link",
		Long: `Ask a running node to follow an invite link: it dials the inviter, learns the
database address (from the link, or from the inviter's invite topic), fetches
the database's manifest and opens it. Replication starts at once.

Prints "joined: <address>" on success.`,
		Example: `  lattice join 'lattice://join?peer=12D3KooW...&addr=/ip4/192.0.2.7/tcp/4001&db=/lattice/bagu.../TodoList'
  lattice join --api http://127.0.0.1:5081 "$LINK"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res struct {
				Address string `json:"address"`
				Name    string `json:"name"`
				PeerID  string `json:"peerId"`
			}
			stopProgress := progress(cmd.Context(), cmd.ErrOrStderr(), "joining: dialing the inviter and fetching the database")
			err := f.post(cmd.Context(), "/v1/join", map[string]string{"link": args[0]}, &res)
			stopProgress()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "joined: %s\n", res.Address)
			fmt.Fprintf(cmd.ErrOrStderr(), "%s is open on the node and replicating with %s.\n", res.Name, res.PeerID)
			if wait > 0 {
				followCatchup(cmd.Context(), &f, res.Address, wait, cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr()))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "follow the list's history arriving for at most this long, with a progress bar on stderr (0: return at once)")
	return cmd
}

// progress shows a spinner with msg on w while a long call runs, when w is a
// terminal; otherwise it prints msg once. The returned func stops it.
func progress(ctx context.Context, w io.Writer, msg string) func() {
	file, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(file.Fd()) {
		fmt.Fprintln(w, msg+"...")
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "\r%c %s (%ds)", frames[i%len(frames)], msg, int(time.Since(start).Seconds()))
			select {
			case <-ctx.Done():
				fmt.Fprint(w, "\r\033[K")
				return
			case <-tick.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}
