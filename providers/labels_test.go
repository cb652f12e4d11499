package providers_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

func TestLabelsRoundTrip(t *testing.T) {
	td := manifest.TaskDef{Image: "web:1", Port: 8080, CPU: 256, Memory: 512}
	d := providers.DesiredState{Type: manifest.LoadBalancedWebService, Count: manifest.Count{Value: 3}}
	in := providers.TaskMeta{App: "shop", Env: "prod", Service: "web", Revision: "r1", TaskID: "t1",
		Port: 8080, Epoch: 7, Spec: &td, Desired: &d}
	l := providers.EncodeTaskLabels(in, map[string]string{"team": "payments", providers.LabelApp: "spoofed"})
	assert.Equal(t, "payments", l["team"], "user labels are kept")
	assert.Equal(t, "shop", l[providers.LabelApp], "deck's own labels win over the user's")
	assert.Equal(t, "1", l[providers.LabelSchema])
	out := providers.DecodeTaskLabels(l)
	in.Schema = providers.LabelSchemaVersion
	assert.Equal(t, in, out)
	assert.True(t, providers.IsManaged(l))
}

// Containers made before labels were versioned carry no schema, epoch or desired state:
// they must still decode, so an upgrade of deck sees the fleet it had.
func TestLabelsOfUnversionedContainersDecode(t *testing.T) {
	l := map[string]string{providers.LabelManaged: "true", providers.LabelApp: "shop", providers.LabelEnv: "prod",
		providers.LabelService: "web", providers.LabelRevision: "r0", providers.LabelTask: "t0",
		providers.LabelSpec: `{"image":"web:0","cpu":256,"memory":512,"stop_timeout":10000000000}`, providers.LabelPort: "8080"}
	m := providers.DecodeTaskLabels(l)
	assert.Equal(t, 0, m.Schema)
	assert.Equal(t, uint64(0), m.Epoch)
	assert.Nil(t, m.Desired)
	assert.Equal(t, "web:0", m.Spec.Image)
	assert.Equal(t, 8080, m.Port)
	l[providers.LabelSpec] = "{broken"
	assert.Nil(t, providers.DecodeTaskLabels(l).Spec, "an unreadable spec is nil, not an error")
}

func TestJobRunLabelsRoundTrip(t *testing.T) {
	td := manifest.TaskDef{Image: "report:1", CPU: 64, Memory: 32}
	d := providers.DesiredState{Type: manifest.ScheduledJob, Count: manifest.Count{Value: 1}, Schedule: "@every 10s",
		Retries: 2, Timeout: time.Minute, Concurrency: 1}
	started := time.Date(2024, 9, 2, 10, 0, 0, 123456789, time.UTC)
	in := providers.TaskMeta{App: "shop", Env: "prod", Service: "report", Revision: "r1", TaskID: "t1",
		Spec: &td, Desired: &d, Kind: providers.KindJobRun, Run: "run1", Attempt: 2, Trigger: "retry", Started: started}
	out := providers.DecodeTaskLabels(providers.EncodeTaskLabels(in, nil))
	in.Schema = providers.LabelSchemaVersion
	assert.Equal(t, in, out)

	service := providers.DecodeTaskLabels(providers.EncodeTaskLabels(providers.TaskMeta{App: "shop", Service: "web"}, nil))
	assert.Empty(t, service.Kind, "a service's task has no kind")
	assert.Zero(t, service.Attempt)
	assert.True(t, service.Started.IsZero())
}
