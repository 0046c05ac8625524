package sim

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// tail writes a diagnosis of the (write, replica) pairs slower than over.
func (r *runner) tail(w io.Writer, over time.Duration) {
	idx := map[peer.ID]int{}
	for _, p := range r.peers {
		if p.h != nil {
			idx[p.h.ID()] = p.idx
		}
	}
	name := func(id peer.ID) string {
		if i, ok := idx[id]; ok {
			return fmt.Sprint(i)
		}
		return id.ShortString()
	}
	slowPaths := map[Path]int{}
	slowBy := map[int]int{}
	type line struct {
		d    time.Duration
		text string
	}
	var lines []line
	for _, wr := range r.writes {
		for _, p := range r.peers {
			if p.idx == wr.writer || p.trace == nil {
				continue
			}
			p.mu.Lock()
			at, ok := p.arrivals[wr.doc]
			p.mu.Unlock()
			if !ok {
				continue
			}
			d := at.Sub(wr.at)
			if d <= over {
				continue
			}
			topicPeers := -1 // down at the end
			if p.isUp() {
				topicPeers = len(p.eng.PubSub().ListPeers(p.trace.topic()))
			}
			first := r.firstAnnouncement(wr, p)
			path := Path("none")
			if first != nil {
				path = first.path
			}
			tr := p.trace
			tr.mu.Lock()
			slowPaths[path]++
			slowBy[p.idx]++
			// The replica's mesh for the topic at the write: grafts minus
			// prunes it made before then.
			topic := tr.topicLocked()
			mesh := map[peer.ID]bool{}
			var changes []string
			for _, ev := range tr.meshLog[topic] {
				if !ev.at.After(wr.at) && !ev.remote {
					if ev.graft {
						mesh[ev.peer] = true
					} else {
						delete(mesh, ev.peer)
					}
				}
				if ev.at.After(wr.at.Add(-2*time.Second)) && !ev.at.After(at) {
					kind := "prune"
					if ev.graft {
						kind = "graft"
					}
					who := "local"
					if ev.remote {
						who = "remote"
					}
					changes = append(changes, fmt.Sprintf("%+dms %s %s %s", ev.at.Sub(wr.at).Milliseconds(), who, kind, name(ev.peer)))
				}
			}
			var ms []string
			for q := range mesh {
				ms = append(ms, name(q))
			}
			sort.Strings(ms)
			txt := fmt.Sprintf("write %s by %d at %.1fs -> replica %d (%s, %d conns, %d topic peers now): %dms; ",
				wr.doc, wr.writer, wr.at.Sub(r.start).Seconds(), p.idx, p.node.NAT, len(p.h.Network().Peers()), topicPeers, d.Milliseconds())
			if first != nil {
				link := "direct"
				if first.relayed {
					link = "relayed"
				}
				txt += fmt.Sprintf("announcement at +%dms via %s from %s over a %s stream (mesh %d)", first.at.Sub(wr.at).Milliseconds(), first.path, name(first.from), link, first.meshSize)
			} else {
				txt += "no announcement by the writer delivered"
			}
			txt += fmt.Sprintf("; mesh at write %v; changes %v", ms, changes)
			tr.mu.Unlock()
			lines = append(lines, line{d, txt})
		}
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].d > lines[j].d })
	fmt.Fprintf(w, "pairs over %v: %d, by path %v, by replica %v\n", over, len(lines), slowPaths, slowBy)
	for i, l := range lines {
		if i == 60 {
			break
		}
		fmt.Fprintln(w, l.text)
	}
}

// topic is the topic with the most mesh changes: the database's.
func (t *tracer) topic() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.topicLocked()
}

func (t *tracer) topicLocked() string {
	var topic string
	for tp := range t.meshLog {
		if len(t.meshLog[tp]) > len(t.meshLog[topic]) {
			topic = tp
		}
	}
	return topic
}

// firstAnnouncement is the first message from w's writer that reached p
// after w (a copy), or nil.
func (r *runner) firstAnnouncement(w writeRec, p *simPeer) *delivery {
	wp := r.peers[w.writer]
	wp.mu.Lock()
	wh := wp.h
	wp.mu.Unlock()
	p.mu.Lock()
	tr := p.trace
	p.mu.Unlock()
	if wh == nil || tr == nil {
		return nil
	}
	author := wh.ID()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := range tr.deliveries {
		if d := tr.deliveries[i]; d.author == author && !d.at.Before(w.at) {
			return &d
		}
	}
	return nil
}
