// Package invitegrant is the wire side of invites that make members: an
// invitee redeems the one-time key of an invite link with its inviter
// over Protocol, one JSON request and one JSON answer per stream. Package
// node serves it (and keeps the keys); Claim is the invitee's side, used
// by nodes and by the browser peer alike.
package invitegrant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Protocol redeems an invite key with its inviter.
const Protocol protocol.ID = "/lattice/invite/grant/1.0.0"

// MaxMessage bounds a request or an answer.
const MaxMessage = 4 << 10

// Timeout bounds one redemption when the caller's context has no
// deadline: the grant it waits for may fetch the invitee's member record.
const Timeout = 30 * time.Second

// Request is what the invitee sends: the key and the database it is for.
type Request struct {
	Key      string `json:"key"`
	Database string `json:"database"`
}

// Answer is what the inviter answers: the role granted, or why not.
type Answer struct {
	Role  string `json:"role,omitempty"`
	Error string `json:"error,omitempty"`
}

// ErrRefused wraps the inviter's refusal (used, expired, unknown key, or
// a grant that failed); its text is the inviter's.
var ErrRefused = errors.New("invite refused")

// ErrUnreachable wraps a failure to ask the inviter at all.
var ErrUnreachable = errors.New("inviter unreachable")

// Claim redeems key for database with inviter p, connected through h,
// and returns the role granted.
func Claim(ctx context.Context, h host.Host, p peer.ID, key, database string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Timeout)
		defer cancel()
	}
	st, err := h.NewStream(ctx, p, Protocol)
	if err != nil {
		return "", fmt.Errorf("%w: the inviter does not take invite keys: %v", ErrUnreachable, err)
	}
	defer st.Close()
	d, _ := ctx.Deadline()
	_ = st.SetDeadline(d)
	if err := json.NewEncoder(st).Encode(Request{Key: key, Database: database}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	var ans Answer
	if err := json.NewDecoder(io.LimitReader(st, MaxMessage)).Decode(&ans); err != nil {
		return "", fmt.Errorf("%w: the inviter did not answer the invite: %v", ErrUnreachable, err)
	}
	if ans.Error != "" {
		return "", fmt.Errorf("%w: %s", ErrRefused, ans.Error)
	}
	return ans.Role, nil
}
