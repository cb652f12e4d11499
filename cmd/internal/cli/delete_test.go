package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const dataVolume = "volumes:\n  data: {path: /data}\n  conf: {host_path: /etc/shop, path: /conf}\n"

// volumes lists the named volumes of every fake host, as host:name.
func (h *harness) volumes() []string {
	var out []string
	for _, name := range []string{"h1", "h2"} {
		for _, v := range h.cloud.Host(name).Volumes() {
			out = append(out, name+":"+v)
		}
	}
	return out
}

func withVolume(h *harness, name string) {
	h.write("deck/"+name+".yaml", strings.Replace(strings.Replace(apiManifest, "name: api", "name: "+name, 1), "COUNT", "2", 1)+dataVolume)
}

func TestDeleteKeepsVolumesUnlessAsked(t *testing.T) {
	h := newHarness(t)
	withVolume(h, "api")
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, []string{"h1:shop.test.data", "h2:shop.test.data"}, h.volumes(), "one per host, named APP.ENV.NAME")

	code, _, errOut = h.run("delete", "api", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 0, h.tasks())
	assert.Contains(t, errOut, "Kept the named volumes of service api, and their data: shop.test.data. Remove them with: deck delete api --volumes\n")
	assert.Equal(t, []string{"h1:shop.test.data", "h2:shop.test.data"}, h.volumes())

	code, _, errOut = h.run("delete", "api", "--volumes")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "run again with --yes", "removing data is confirmed, even with no tasks left")
	assert.Len(t, h.volumes(), 2)

	code, _, errOut = h.run("delete", "api", "--volumes", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Removed volume shop.test.data from h1, h2.")
	assert.Empty(t, h.volumes())
}

// A service whose manifest is gone: its tasks' labels say what they mounted.
func TestDeleteVolumesOfAServiceWithoutManifest(t *testing.T) {
	h := newHarness(t)
	withVolume(h, "api")
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	require.NoError(t, os.Remove(filepath.Join(h.dir, "deck", "api.yaml")))

	code, _, errOut = h.run("delete", "api", "--volumes", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 0, h.tasks())
	assert.Contains(t, errOut, "Removed volume shop.test.data from h1, h2.")
	assert.Empty(t, h.volumes())

	code, _, errOut = h.run("delete", "api", "--volumes", "--yes")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no manifest that declares volumes")
}

func TestDeleteWithoutManifestSaysHowToRemoveTheVolumes(t *testing.T) {
	h := newHarness(t)
	withVolume(h, "api")
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	require.NoError(t, os.Remove(filepath.Join(h.dir, "deck", "api.yaml")))

	code, _, errOut = h.run("delete", "api", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Kept the named volumes of service api, and their data: shop.test.data. "+
		"Remove them with: podman volume rm shop.test.data, on each host\n")
	assert.Len(t, h.volumes(), 2)
}

func TestDeleteLeavesAVolumeAnotherServiceUses(t *testing.T) {
	h := newHarness(t)
	withVolume(h, "api")
	withVolume(h, "worker") // the same volume: services of an app share it by name
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)

	code, _, errOut = h.run("delete", "api", "--volumes", "--yes")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "some volumes of service api were left:")
	assert.Contains(t, errOut, "host h1: removing volume shop.test.data: volume shop.test.data is used by container(s) shop-test-worker-")
	assert.NotContains(t, errOut, "was on no reachable host")
	assert.Contains(t, errOut, "shop-test-worker-", "the containers that use it are named")
	assert.Equal(t, 2, h.tasks(), "worker's tasks run on")
	assert.NotEmpty(t, h.volumes())
}

// A service whose tasks are all gone (removed outside deck here; a failed first deploy or
// a count of 0 leave the same) still has its desired state on the hosts, from which a
// controller would start its tasks again. deck delete records it as deleted.
func TestDeleteForgetsAServiceWithNoTasks(t *testing.T) {
	h := newHarness(t)
	h.write("deck/api.yaml", strings.Replace(apiManifest, "COUNT", "2", 1))
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	for _, name := range []string{"h1", "h2"} {
		host := h.cloud.Host(name)
		for _, task := range host.Tasks() {
			require.NoError(t, host.Remove(context.Background(), task.ContainerID))
		}
	}
	require.Equal(t, 0, h.tasks())
	require.NoError(t, os.Remove(filepath.Join(h.dir, "deck", "api.yaml")))

	code, out, errOut := h.run("delete", "api", "--yes", "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Service api had no tasks; its desired state is now recorded as deleted")
	var r DeployReport
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.Equal(t, []string{"api"}, r.Forgotten)
	assert.False(t, r.Applied)

	code, _, errOut = h.run("controller", "--once")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 0, h.tasks(), "the controller does not start the deleted service again")

	code, _, errOut = h.run("delete", "api", "--yes")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "service api has no tasks and no desired state in app shop, environment test: nothing to delete")
}
