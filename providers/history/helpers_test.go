package history

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/fake"
)

// base is the fake hosts' clock at the start of a test.
var base = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// cluster is n fake hosts named h1..hn on one fake clock.
type cluster struct {
	hosts []*fake.Host
	clock *fake.Clock
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{clock: fake.NewClock(base)}
	cloud := fake.NewCloud()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("h%d", i)
		h := cloud.AddHost(manifest.HostSpec{Name: name, URL: "ssh://" + name}, manifest.Resources{})
		h.SetClock(c.clock.Now)
		c.hosts = append(c.hosts, h)
	}
	return c
}

func (c *cluster) advance(d time.Duration) { c.clock.Advance(d) }

func (c *cluster) store() *Store { return New(c.hosts, "shop", "prod") }

// records lists host i's history records.
func (c *cluster) records(t *testing.T, i int) []providers.Record {
	t.Helper()
	recs, err := c.hosts[i].ListRecords(context.Background(), namePrefix)
	require.NoError(t, err)
	return recs
}

func rev(service, image string) Revision {
	return Revision{Service: service, ID: "id-" + image, Kind: KindDeploy,
		Task: manifest.TaskDef{Image: image, CPU: 256, Memory: 128},
		Meta: Meta{Who: "alice@laptop", Where: "laptop:/src/shop", Commit: "0123456789abcdef", Message: "Add a cart", Trigger: "deck deploy"}}
}

func create(t *testing.T, s *Store, r Revision) Revision {
	t.Helper()
	got, err := s.Create(context.Background(), r)
	require.NoError(t, err)
	return got
}

func list(t *testing.T, s *Store, service string) []Entry {
	t.Helper()
	entries, err := s.List(context.Background(), service)
	require.NoError(t, err)
	return entries
}

func numbers(entries []Entry) []int {
	out := []int{}
	for _, e := range entries {
		out = append(out, e.Number)
	}
	return out
}

// slowHost delays every record call by up to max, so concurrent writers interleave as
// they do over a network; down makes it unreachable for its store alone.
type slowHost struct {
	*fake.Host
	max  time.Duration
	down bool
}

func (s slowHost) pause() error {
	time.Sleep(rand.N(s.max))
	if s.down {
		return fmt.Errorf("host %s: %w", s.Name(), providers.ErrUnreachable)
	}
	return nil
}

func (s slowHost) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	if err := s.pause(); err != nil {
		return err
	}
	return s.Host.CreateRecord(ctx, name, labels)
}

func (s slowHost) ListRecords(ctx context.Context, prefix string) ([]providers.Record, error) {
	if err := s.pause(); err != nil {
		return nil, err
	}
	return s.Host.ListRecords(ctx, prefix)
}

func (s slowHost) RemoveRecord(ctx context.Context, name string) error {
	if err := s.pause(); err != nil {
		return err
	}
	return s.Host.RemoveRecord(ctx, name)
}

func taskImage(ref string) manifest.TaskDef { return manifest.TaskDef{Image: ref} }
