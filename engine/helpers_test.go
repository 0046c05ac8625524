package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
