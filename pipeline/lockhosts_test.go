package pipeline

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

func TestDialRecordsRedialsAHostThatCameBack(t *testing.T) {
	r := newRig(t, 2)
	recs := DialRecords(Target{App: r.app, Env: r.env, Dialer: r.cloud})
	require.Len(t, recs, 2)
	ctx := context.Background()
	require.NoError(t, recs[1].Records.CreateRecord(ctx, "deck-test.a", map[string]string{"k": "v"}))

	r.cloud.Host("h2").SetDown(true)
	_, err := recs[1].Records.ListRecords(ctx, "deck-test.")
	require.ErrorIs(t, err, providers.ErrUnreachable)
	_, err = recs[0].Records.ListRecords(ctx, "deck-test.")
	require.NoError(t, err, "the other host is not affected")

	r.cloud.Host("h2").SetDown(false)
	got, err := recs[1].Records.ListRecords(ctx, "deck-test.")
	require.NoError(t, err, "dialled again once it answers")
	require.Len(t, got, 1)
	assert.Equal(t, "v", got[0].Labels["k"])
}
