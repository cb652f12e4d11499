package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
)

func TestStatusShowsTheAutoscalersCountLastActionAndWhyItDoesNotScaleIn(t *testing.T) {
	h := newHarness(t)
	h.write("deck/api.yaml", strings.Replace(apiManifest, "count: COUNT",
		"count:\n  range: 1-4\n  cpu_percentage: 70\n  cooldown: {in: 90s}", 1))
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 1, h.tasks())

	ctx := context.Background()
	env := &manifest.Environment{Name: "test", Hosts: []manifest.HostSpec{{Name: "h1"}, {Name: "h2"}}}
	s, err := pipeline.Open(ctx, pipeline.Target{App: &manifest.App{Name: "shop"}, Env: env, Dialer: h.cloud})
	require.NoError(t, err)
	defer s.Close()
	const out = "(service api) scaled out from 1 to 3 tasks: cpu 190% of target 70%"
	const held = "(service api) does not scale in: cpu 66% is above 90% of its target 70%"
	require.NoError(t, pipeline.SetDesiredCount(ctx, s, "api", 3, out, nil))
	require.NoError(t, pipeline.RecordNoScaleIn(ctx, s, "api", held, nil))

	code, text, errOut := h.run("status")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^api\s+Backend Service\s+3\s+1\s+1\s`, text, "desired is the autoscaler's 3, not the min")
	assert.Contains(t, text, "api scales within 1-4 on cpu 70%; cooldown in 1m30s, out 1m\n")
	assert.Regexp(t, `(?m)^  \d\d:\d\d:\d\d \(service api\) scaled out from 1 to 3 tasks: cpu 190% of target 70%$`, text)
	assert.Contains(t, text, "  "+held+"\n")

	code, js, errOut := h.run("status", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var st Status
	require.NoError(t, json.Unmarshal([]byte(js), &st))
	require.Len(t, st.Services, 1)
	sc := st.Services[0].Scaling
	require.NotNil(t, sc)
	assert.Equal(t, manifest.CountRange{Min: 1, Max: 4}, sc.Range)
	require.NotNil(t, sc.Last)
	assert.Equal(t, 1, sc.Last.From)
	assert.Equal(t, 3, sc.Last.To)
	assert.Equal(t, held, sc.NoScaleIn)
	assert.NotEmpty(t, sc.NoScaleInSince)

	// A deploy keeps the 3; a fixed count drops the scaling block.
	code, _, errOut = h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 3, h.tasks())
	h.write("deck/api.yaml", strings.Replace(apiManifest, "COUNT", "2", 1))
	code, text, errOut = h.run("status")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, text, "scales within")
}
