package node_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/node"
)

// TestInviteMakesAMember: on a sealed list with a dynamic controller, an
// invite link carries a one-time key; following it makes the invitee a
// writer (it reads the sealed history and writes) with no other step.
// The same link then grants nothing to a third peer (refused by name, and
// the list stays unreadable there); an expired link is refused by name;
// the invitee following its own link again just opens the list.
func TestInviteMakesAMember(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := startNode(t, func(c *node.Config) { c.Clock = clock })
	b, c := startNode(t), startNode(t)

	out := a.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{
		"name": "private", "sealed": true,
		"access": map[string]any{"type": "dynamic", "admins": []string{a.e.ID().String()}},
	})
	db := out["address"].(string)
	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "x", "title": "marker-invite-secret"}})

	inv := a.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": db, "collection": "todos"})
	require.Equal(t, "writer", inv["role"])
	require.NotEmpty(t, inv["expires"])
	link := inv["link"].(string)
	require.Contains(t, link, "&key=")
	parsed, err := node.ParseInvite(link)
	require.NoError(t, err)
	require.Len(t, parsed.Key, 26)

	joined := b.ok(http.StatusOK, http.MethodPost, "/v1/join", map[string]any{"link": link})
	require.Equal(t, db, joined["address"])
	waitDoc(t, b, db, "x", func(d map[string]any) bool { return d["title"] == "marker-invite-secret" })
	b.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "y", "title": "from the invitee"}})
	waitDoc(t, a, db, "y", func(map[string]any) bool { return true })
	members := a.ok(http.StatusOK, http.MethodGet, "/v1/members?database="+db, nil)["members"].([]any)
	roles := map[string]string{}
	for _, m := range members {
		mm := m.(map[string]any)
		roles[mm["peerId"].(string)] = fmt.Sprint(mm["roles"])
	}
	require.Equal(t, "[reader writer]", roles[b.e.ID().String()])

	// Following it again: already a member, nothing to redeem.
	again := b.ok(http.StatusOK, http.MethodPost, "/v1/join", map[string]any{"link": link})
	require.Equal(t, db, again["address"])

	// The link leaked: it grants nothing to C, which is told why.
	status, out := c.do(http.MethodPost, "/v1/join", map[string]any{"link": link})
	require.Equal(t, http.StatusForbidden, status, "%v", out)
	require.Contains(t, fmt.Sprint(out), "already used")
	c.ok(http.StatusOK, http.MethodPost, "/v1/databases/open", map[string]any{"address": db})
	status, out = c.do(http.MethodPost, "/v1/action/find", map[string]any{"database": db, "collection": "todos"})
	require.Equal(t, http.StatusForbidden, status, "%v", out)
	require.Contains(t, fmt.Sprint(out), "not a reader")

	// An invite past its expiry grants nothing either.
	inv = a.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": db, "role": "reader", "expiresIn": 3600})
	require.Equal(t, "reader", inv["role"])
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	d := startNode(t)
	status, out = d.do(http.MethodPost, "/v1/join", map[string]any{"link": inv["link"]})
	require.Equal(t, http.StatusForbidden, status, "%v", out)
	require.Contains(t, fmt.Sprint(out), "expired")

	// Bad requests are refused by name.
	for _, bad := range []map[string]any{
		{"database": db, "role": "owner"},
		{"database": db, "expiresIn": -1},
		{"database": db, "expiresIn": 31 * 24 * 3600},
	} {
		status, out := a.do(http.MethodPost, "/v1/invites", bad)
		require.Equal(t, http.StatusBadRequest, status, "%v: %v", bad, out)
	}
	// A database whose members are not named takes no key.
	open := a.createDB("OpenList")
	inv = a.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": open})
	require.NotContains(t, inv["link"], "&key=")
	require.Nil(t, inv["role"])
	// Only an admin can invite into a dynamic list: B is a writer.
	status, out = b.do(http.MethodPost, "/v1/invites", map[string]any{"database": db})
	require.Equal(t, http.StatusForbidden, status, "%v", out)
}

// TestInviteKeysSurviveARestart: a pending key is kept in StateDir, so an
// inviter that restarts still honours it, once.
func TestInviteKeysSurviveARestart(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	withState := func(c *node.Config) { c.StateDir = state }
	a := startNodeIn(t, dir, "127.0.0.1:0", nil, nil, withState)
	out := a.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{
		"name": "team", "access": map[string]any{"type": "dynamic", "admins": []string{a.e.ID().String()}},
	})
	db := out["address"].(string)
	link := a.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": db})["link"].(string)
	key, err := node.ParseInvite(link)
	require.NoError(t, err)
	a.stop()
	a = startNodeIn(t, dir, "127.0.0.1:0", nil, nil, withState)
	// The restarted inviter listens elsewhere: a fresh link to dial, the
	// old key.
	inv, err := node.ParseInvite(a.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": db})["link"].(string))
	require.NoError(t, err)
	inv.Key = key.Key
	b := startNode(t)
	b.ok(http.StatusOK, http.MethodPost, "/v1/join", map[string]any{"link": inv.String()})
	poll.Eventually(t, 20*time.Second, func() error {
		for _, m := range a.ok(http.StatusOK, http.MethodGet, "/v1/members?database="+db, nil)["members"].([]any) {
			if m.(map[string]any)["peerId"] == b.e.ID().String() && strings.Contains(fmt.Sprint(m), "writer") {
				return nil
			}
		}
		return fmt.Errorf("b is not a writer yet")
	})
}

// TestInviteKeysAreBounded: a node keeps at most 1,024 unused invite keys;
// the next invite is refused with 429 until some are used or expire.
func TestInviteKeysAreBounded(t *testing.T) {
	a := startNode(t)
	out := a.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{
		"name": "bounded", "access": map[string]any{"type": "dynamic", "admins": []string{a.e.ID().String()}},
	})
	db := out["address"].(string)
	for i := 0; i < 1024; i++ {
		status, out := a.do(http.MethodPost, "/v1/invites", map[string]any{"database": db})
		require.Equal(t, http.StatusOK, status, "invite %d: %v", i, out)
	}
	status, out := a.do(http.MethodPost, "/v1/invites", map[string]any{"database": db})
	require.Equal(t, http.StatusTooManyRequests, status, "%v", out)
	require.Contains(t, fmt.Sprint(out), "waiting to be used")
}
