package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/history"
)

// refusingDialer dials the fake cloud; while refuse is set, its hosts refuse to record a
// revision of service web (a host that stops answering, or a Ctrl-C, between the two
// services' revision records).
type refusingDialer struct {
	cloud  *fake.Cloud
	refuse *atomic.Bool
}

func (d refusingDialer) Dial(ctx context.Context, spec manifest.HostSpec) (providers.Host, error) {
	h, err := d.cloud.Dial(ctx, spec)
	if err != nil {
		return nil, err
	}
	return refusingHost{Host: h, refuse: d.refuse}, nil
}

type refusingHost struct {
	providers.Host
	refuse *atomic.Bool
}

func (h refusingHost) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	if h.refuse.Load() && labels["deck.history.record"] == "revision" && labels[providers.LabelService] == "web" {
		return errors.New("connection reset (test)")
	}
	return h.Host.CreateRecord(ctx, name, labels)
}

// A deploy of two services records api's revision (services go in name order), then fails
// to record web's: it returns an error and applies nothing. api's revision must end failed,
// not stay "in progress": the controller reads that as a deploy that died midway
// (CurrentTaskDef) and would roll api out to an image the user was told was not deployed.
func TestAFailedRevisionRecordEndsTheRevisionsRecordedBeforeItFailed(t *testing.T) {
	r := newRig(t, 1)
	ctx := context.Background()
	api := webService(1)
	api.Name = "api"
	_, err := r.deploy(t, webService(1), api)
	require.NoError(t, err)
	r.cloud.Host("h1").AddImage("web:2")

	web2 := webService(1)
	web2.Task.Variables = map[string]string{"V": "2"}
	api2 := api
	api2.Image.Location, api2.Task.Image = "web:2", "web:2"
	var refuse atomic.Bool
	refuse.Store(true)
	d := Deploy{Target: Target{App: r.app, Env: r.env, Services: []manifest.ServiceSpec{web2, api2},
		Dialer: refusingDialer{cloud: r.cloud, refuse: &refuse}}}
	out, err := d.Run(ctx)
	if out.Session != nil {
		out.Session.Close()
	}
	require.Error(t, err)
	require.Contains(t, err.Error(), "recording revision of service web")
	for _, tk := range r.cloud.Host("h1").Tasks() {
		if tk.Service == "api" {
			require.Equal(t, "web:1", r.cloud.Host("h1").TaskSpec(tk.ContainerID).Image, "the failed deploy changed nothing")
		}
	}

	entries, herr := r.session(t).history().List(ctx, "api")
	require.NoError(t, herr)
	assert.NotEqual(t, history.InProgress, entries[len(entries)-1].Outcome,
		"api's revision %d of a deploy that failed before applying anything is left in progress", entries[len(entries)-1].Number)

	// The controller's next reconcile then rolls out what the failed deploy never did.
	refuse.Store(false)
	require.NoError(t, heal(ctx, Target{App: r.app, Env: r.env, Dialer: r.cloud}))
	for _, tk := range r.cloud.Host("h1").Tasks() {
		if tk.Service == "api" && tk.Running() {
			assert.Equal(t, "web:1", r.cloud.Host("h1").TaskSpec(tk.ContainerID).Image,
				"the controller rolled api out to the image of a deploy that failed and applied nothing")
		}
	}
}
