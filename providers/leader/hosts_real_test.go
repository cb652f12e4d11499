package leader_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/deckhq/deck/providers/leader"
	"github.com/deckhq/deck/providers/lock"
	"github.com/deckhq/deck/providers/podman"
	"github.com/deckhq/deck/testhosts"
)

// realTTL is the lease on real hosts, whose record times read to the second: renewals
// every 1.33s, Check trusted for 2.67s after one was sent.
const realTTL = 4 * time.Second

// dialHosts connects to the hosts of a testhosts hosts.yaml, as the lock's hosts.
func dialHosts(file string) ([]lock.NamedRecords, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var hosts []testhosts.Host
	if err := yaml.Unmarshal(data, &hosts); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var named []lock.NamedRecords
	for _, h := range hosts {
		c, err := podman.Dialer{}.Dial(ctx, h.Spec())
		if err != nil {
			return nil, err
		}
		named = append(named, lock.NamedRecords{Name: h.Name, Records: c})
	}
	return named, nil
}

func childHostsElector(file string, o leader.Options) (leader.Elector, error) {
	named, err := dialHosts(file)
	if err != nil {
		return nil, err
	}
	return leader.NewHosts(named, "shop", "prod", o)
}

// On three real Podman hosts (records are Podman secrets, times read to the second):
// a standby takes over from a leader that stops renewing, from one killed with SIGKILL,
// and from one stopped with SIGSTOP, whose Checks fail from before the standby leads.
func TestHostsOnRealHosts(t *testing.T) {
	testhosts.Require(t)
	env, err := testhosts.Up(3, 0)
	require.NoError(t, err)
	defer func() { require.NoError(t, env.Down()) }()
	named, err := dialHosts(env.HostsFile)
	require.NoError(t, err)

	t.Run("abandoned", func(t *testing.T) {
		first := hostsElector(t, named, "first", realTTL)
		second := hostsElector(t, named, "second", realTTL)
		t1 := lead(t, first)
		standby := campaign(context.Background(), second)
		requireWaiting(t, standby, 2*realTTL)
		require.NoError(t, first.Close())
		died := time.Now()
		r := waitResult(t, standby, 2*realTTL)
		t.Logf("takeover %s after the leader stopped renewing (TTL %s)", r.at.Sub(died).Round(time.Millisecond), realTTL)
		require.Greater(t, r.term.Epoch(), t1.Epoch())
		require.ErrorIs(t, t1.Check(), leader.ErrLost)
		require.NoError(t, r.term.Resign(context.Background()))
	})
	t.Run("paused", func(t *testing.T) {
		leaderHosts, proc := pausableHosts(named)
		defer proc.Resume()
		first := hostsElector(t, leaderHosts, "first", realTTL)
		second := hostsElector(t, named, "second", realTTL)
		t1 := lead(t, first)
		standby := campaign(context.Background(), second)
		requireWaiting(t, standby, realTTL)
		proc.Pause()
		failed := failsAt(t1)
		r := waitResult(t, standby, 3*realTTL)
		checkFailed := <-failed
		t.Logf("the paused leader's Check failed %s before the standby led", r.at.Sub(checkFailed).Round(time.Millisecond))
		require.True(t, checkFailed.Before(r.at))
		proc.Resume()
		<-t1.Lost()
		requireWaitingTerm(t, r.term, realTTL)
		require.NoError(t, r.term.Resign(context.Background()))
	})
	childEnv := []string{childEnv + "=hosts", "DECK_LEADER_HOSTS_FILE=" + env.HostsFile, "DECK_LEADER_TTL=" + realTTL.String()}
	t.Run("SIGKILL", func(t *testing.T) {
		killed(t, startChild(t, childEnv...), hostsElector(t, named, "standby", realTTL), realTTL)
	})
	t.Run("SIGSTOP", func(t *testing.T) {
		stopped(t, startChild(t, childEnv...), hostsElector(t, named, "standby", realTTL), realTTL)
	})
}
