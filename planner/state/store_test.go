package state

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
)

func task(host, cid, service, rev, state string, td *manifest.TaskDef) providers.Task {
	labels := map[string]string{providers.LabelService: service, providers.LabelRevision: rev}
	if td != nil {
		b, _ := json.Marshal(td)
		labels[providers.LabelSpec] = string(b)
	}
	t := providers.TaskFromLabels(labels)
	t.ContainerID, t.Host, t.TaskID, t.State = cid, host, "t"+cid, state
	return t
}

func observation() *providers.Observation {
	td := &manifest.TaskDef{Image: "web:1", CPU: 256, Memory: 512}
	return &providers.Observation{App: "hello", Env: "test", Hosts: []providers.HostObservation{
		{Spec: manifest.HostSpec{Name: "zeta", Attributes: map[string]string{"zone": "a"},
			Reserved: manifest.Resources{CPU: 100, Memory: 1000}},
			Reachable: true, Info: providers.HostInfo{Version: "5.4.0", Capacity: manifest.Resources{CPU: 4096, Memory: 8000}},
			Tasks: []providers.Task{
				task("zeta", "c1", "web", "r1", "running", td),
				task("zeta", "c2", "api", "r9", "exited", nil),
			}},
		{Spec: manifest.HostSpec{Name: "alpha"}, Err: errors.New("connection refused"),
			Tasks: []providers.Task{task("alpha", "c1", "web", "r2", "running", td)}},
		{Spec: manifest.HostSpec{Name: "mid"}, Reachable: true,
			Tasks: []providers.Task{func() providers.Task {
				t := task("mid", "c3", "web", "r1", "running", nil)
				t.Labels[providers.LabelSpec] = "{not json"
				t.Meta = providers.DecodeTaskLabels(t.Labels) // read as deck reads it
				return t
			}()}},
	}}
}

func TestLoadAndQuery(t *testing.T) {
	st, err := Load(observation(), nil)
	require.NoError(t, err)
	s := st.Snapshot()
	assert.Equal(t, "hello", s.App())
	assert.Equal(t, "test", s.Env())

	var names []string
	for _, h := range s.Hosts() {
		names = append(names, h.Name)
	}
	assert.Equal(t, []string{"zeta", "alpha", "mid"}, names, "environment order, not name order")

	zeta, ok := s.Host("zeta")
	require.True(t, ok)
	assert.Equal(t, manifest.Resources{CPU: 3996, Memory: 7000}, zeta.Capacity)
	assert.Equal(t, "5.4.0", zeta.Version)
	v, ok := zeta.Attribute("zone")
	assert.True(t, ok)
	assert.Equal(t, "a", v)
	alpha, _ := s.Host("alpha")
	assert.False(t, alpha.Reachable)
	assert.Equal(t, "connection refused", alpha.Err)
	_, ok = s.Host("nope")
	assert.False(t, ok)
	assert.Len(t, s.ReachableHosts(), 2)
	require.Len(t, s.UnreachableHosts(), 1)

	assert.Len(t, s.Tasks(), 4)
	web := s.TasksByService("web")
	require.Len(t, web, 3)
	assert.Equal(t, "alpha/c1", web[0].ID)
	assert.False(t, web[0].HostReachable, "tasks listed under an unreachable host are lost")
	assert.Nil(t, web[1].Spec, "unreadable spec label")
	require.NotNil(t, web[2].Spec)
	assert.Equal(t, int64(512), web[2].Spec.Memory)
	assert.Len(t, s.TasksByHost("zeta"), 2)
	assert.Len(t, s.TasksByRevision("r1"), 2)
	assert.Len(t, s.TasksByServiceRevision("web", "r1"), 2)
	assert.Len(t, s.TasksByServiceRevision("api", "r1"), 0)
	assert.Equal(t, []string{"api", "web"}, s.Services())
	got, ok := s.Task("zeta/c2")
	require.True(t, ok)
	assert.Nil(t, got.Spec)
	assert.Equal(t, "exited", got.State)
}

func TestFingerprintFollowsWhatApplyDependsOn(t *testing.T) {
	fp := func(edit func(*providers.Observation)) string {
		obs := observation()
		edit(obs)
		st, err := Load(obs, nil)
		require.NoError(t, err)
		return st.Snapshot().Fingerprint()
	}
	base := fp(func(*providers.Observation) {})
	assert.Len(t, base, 12)
	assert.Equal(t, base, fp(func(*providers.Observation) {}))
	assert.Equal(t, base, fp(func(o *providers.Observation) { o.Hosts[0].Info.Capacity.Memory = 1 }), "capacity is not part of it")
	assert.NotEqual(t, base, fp(func(o *providers.Observation) { o.Hosts[0].Tasks[0].State = "exited" }))
	assert.NotEqual(t, base, fp(func(o *providers.Observation) { o.Hosts[1].Reachable = true }))
	assert.NotEqual(t, base, fp(func(o *providers.Observation) { o.Hosts[0].Tasks[0].Revision = "r3" }))
	assert.NotEqual(t, base, fp(func(o *providers.Observation) { o.Hosts[0].Tasks = o.Hosts[0].Tasks[1:] }))
}

func TestLoadRejectsDuplicateHosts(t *testing.T) {
	obs := observation()
	obs.Hosts = append(obs.Hosts, obs.Hosts[0])
	_, err := Load(obs, nil)
	assert.EqualError(t, err, "state: host zeta is listed twice")
}

// A service's tasks are a prefix of the tasks' one index: a service whose name starts
// another's (web, web2) keeps to its own, and every query gives the same tasks in the
// order it documents.
func TestTaskQueriesKeepToTheirService(t *testing.T) {
	obs := &providers.Observation{App: "hello", Env: "test", Hosts: []providers.HostObservation{
		{Spec: manifest.HostSpec{Name: "h1"}, Reachable: true, Tasks: []providers.Task{
			task("h1", "c9", "web2", "r1", "running", nil),
			task("h1", "c1", "web", "r1", "running", nil),
			task("h1", "c5", "we", "r1", "running", nil),
		}},
		{Spec: manifest.HostSpec{Name: "h0"}, Reachable: true, Tasks: []providers.Task{
			task("h0", "c7", "web", "r2", "running", nil),
		}},
	}}
	st, err := Load(obs, nil)
	require.NoError(t, err)
	s := st.Snapshot()
	ids := func(ts []TaskState) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	assert.Equal(t, []string{"h0/c7", "h1/c1"}, ids(s.TasksByService("web")), "by id, and not web2's or we's")
	assert.Equal(t, []string{"h1/c9"}, ids(s.TasksByService("web2")))
	assert.Equal(t, []string{"h1/c5"}, ids(s.TasksByService("we")))
	assert.Empty(t, s.TasksByService("w"))
	var each []string
	for t := range s.EachTaskOf("web") {
		each = append(each, t.ID)
	}
	assert.Equal(t, []string{"h0/c7", "h1/c1"}, each)
	assert.Equal(t, []string{"h1/c5", "h0/c7", "h1/c1", "h1/c9"}, ids(s.Tasks()), "by service, then id")
	assert.Equal(t, []string{"h1/c1"}, ids(s.TasksByServiceRevision("web", "r1")))
	assert.Equal(t, []string{"we", "web", "web2"}, s.Services())
	got, ok := s.Task("h1/c9")
	require.True(t, ok)
	assert.Equal(t, "web2", got.Service)
	_, ok = s.Task("h1/c2")
	assert.False(t, ok)
}
