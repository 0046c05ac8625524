package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/engine"
)

// announcement is what an inviter publishes on its invite topic.
type announcement struct {
	Inviter   string        `json:"inviter"`
	Databases []announcedDB `json:"databases"`
}

type announcedDB struct {
	Address    string `json:"address"`
	Name       string `json:"name"`
	Collection string `json:"collection,omitempty"`
}

// inviteTopic announces the databases this node shares on
// /lattice/invite/<own peer ID>, whenever a peer subscribes to it and every
// AnnounceInterval, and lets Join wait for another inviter's announcement.
type inviteTopic struct {
	self   peer.ID
	log    hclog.Logger
	ps     *pubsub.PubSub
	topic  *pubsub.Topic
	events *pubsub.TopicEventHandler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	shared []announcedDB // most recently shared first

	// joinSlot admits one wait on another inviter's topic at a time; a
	// second join waits for it only as long as its own context allows.
	joinSlot chan struct{}
}

// startInviteTopic joins self's invite topic on ps and starts announcing.
func startInviteTopic(self peer.ID, ps *pubsub.PubSub, interval time.Duration, log hclog.Logger) (*inviteTopic, error) {
	t, err := ps.Join(InviteTopic(self))
	if err != nil {
		return nil, fmt.Errorf("node: join invite topic: %w", err)
	}
	h, err := t.EventHandler()
	if err != nil {
		_ = t.Close()
		return nil, fmt.Errorf("node: invite topic events: %w", err)
	}
	it := &inviteTopic{self: self, log: log, ps: ps, topic: t, events: h, joinSlot: make(chan struct{}, 1)}
	it.ctx, it.cancel = context.WithCancel(context.Background())
	it.wg.Add(2)
	go func() {
		defer it.wg.Done()
		for {
			ev, err := h.NextPeerEvent(it.ctx)
			if err != nil {
				return
			}
			if ev.Type == pubsub.PeerJoin {
				it.wg.Add(1)
				go func() {
					defer it.wg.Done()
					it.announceTo(ev.Peer)
				}()
			}
		}
	}()
	go func() {
		defer it.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-it.ctx.Done():
				return
			case <-tick.C:
				it.announce()
			}
		}
	}()
	return it, nil
}

// share adds a database to the announcements and announces at once.
func (it *inviteTopic) share(address, name, collection string) {
	it.mu.Lock()
	it.shared = slices.DeleteFunc(it.shared, func(a announcedDB) bool { return a.Address == address })
	it.shared = slices.Insert(it.shared, 0, announcedDB{Address: address, Name: name, Collection: collection})
	it.mu.Unlock()
	it.announce()
}

// unshare takes a database off the announcements: links to it made
// before no longer get an answer from this node.
func (it *inviteTopic) unshare(address string) {
	it.mu.Lock()
	it.shared = slices.DeleteFunc(it.shared, func(a announcedDB) bool { return a.Address == address })
	it.mu.Unlock()
}

// announceTo announces once p can receive it. Pubsub reports a peer's
// subscription (PeerJoin) before its outbound stream to that peer is ready,
// and a message published in between does not reach it; so wait, briefly,
// until the topic lists the peer.
func (it *inviteTopic) announceTo(p peer.ID) {
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(it.topic.ListPeers(), p) {
		if time.Now().After(deadline) {
			return // the periodic announcement will reach it, if ever
		}
		select {
		case <-it.ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	it.announce()
}

func (it *inviteTopic) announce() {
	it.mu.Lock()
	if len(it.shared) == 0 {
		it.mu.Unlock()
		return
	}
	msg := announcement{Inviter: it.self.String(), Databases: slices.Clone(it.shared)}
	it.mu.Unlock()
	b, err := json.Marshal(msg)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(it.ctx, 5*time.Second)
	defer cancel()
	if err := it.topic.Publish(ctx, b); err != nil && it.ctx.Err() == nil {
		it.log.Debug("invite announcement not published", "error", err)
	}
}

func (it *inviteTopic) close() error {
	it.cancel()
	it.events.Cancel()
	it.wg.Wait()
	return it.topic.Close()
}

// inviteWait is a subscription to another inviter's topic.
type inviteWait struct {
	it      *inviteTopic
	ctx     context.Context
	inviter peer.ID
	topic   *pubsub.Topic
	sub     *pubsub.Subscription
	once    sync.Once
}

// await subscribes to inviter's topic. The caller dials the inviter, then
// calls result (or cancel).
func (it *inviteTopic) await(ctx context.Context, inviter peer.ID) (*inviteWait, error) {
	select {
	case it.joinSlot <- struct{}{}:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, errorf(http.StatusGatewayTimeout, "timeout",
				"another join was waiting on an invite topic until the deadline; try again")
		}
		return nil, ctx.Err()
	}
	t, err := it.ps.Join(InviteTopic(inviter))
	if err != nil {
		<-it.joinSlot
		return nil, fmt.Errorf("node: join %s: %w", InviteTopic(inviter), err)
	}
	sub, err := t.Subscribe()
	if err != nil {
		_ = t.Close()
		<-it.joinSlot
		return nil, fmt.Errorf("node: subscribe %s: %w", InviteTopic(inviter), err)
	}
	return &inviteWait{it: it, ctx: ctx, inviter: inviter, topic: t, sub: sub}, nil
}

// result waits for the inviter's announcement and returns the database it
// shares (the most recently shared one), then leaves the topic.
func (w *inviteWait) result() (string, error) {
	defer w.cancel()
	for {
		msg, err := w.sub.Next(w.ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return "", errorf(http.StatusGatewayTimeout, "timeout",
					"the inviter announced no database on %s in time", InviteTopic(w.inviter))
			}
			return "", err
		}
		if msg.GetFrom() != w.inviter {
			continue // only the inviter's own, signed announcements count
		}
		var a announcement
		if json.Unmarshal(msg.Data, &a) != nil || len(a.Databases) == 0 {
			continue
		}
		if _, err := engine.ParseAddress(a.Databases[0].Address); err != nil {
			continue
		}
		return a.Databases[0].Address, nil
	}
}

// cancel leaves the topic. Idempotent.
func (w *inviteWait) cancel() {
	w.once.Do(func() {
		w.sub.Cancel()
		_ = w.topic.Close()
		<-w.it.joinSlot
	})
}
