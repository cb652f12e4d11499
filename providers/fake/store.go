package fake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"

	"github.com/deckhq/deck/providers"
)

// Images and secrets: what the executor moves onto a host before it creates tasks.

func (h *Host) ImageExists(_ context.Context, ref string) (bool, error) {
	if err := h.check("looking for image " + ref); err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.images[ref], nil
}

func (h *Host) PullImage(_ context.Context, ref string, _ io.Writer) error {
	if err := h.check("pulling image " + ref); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "pull "+ref)
	if !h.cloud.InRegistry(ref) {
		return fmt.Errorf("pulling %s: manifest unknown: %w", ref, providers.ErrNotFound)
	}
	h.images[ref] = true
	return nil
}

func (h *Host) ExportImage(_ context.Context, ref string, w io.Writer) error {
	if err := h.check("exporting image " + ref); err != nil {
		return err
	}
	h.mu.Lock()
	ok := h.images[ref]
	h.mu.Unlock()
	if !ok {
		return fmt.Errorf("image %s: %w", ref, providers.ErrNotFound)
	}
	_, err := io.WriteString(w, "fake-image:"+ref)
	return err
}

func (h *Host) LoadImage(_ context.Context, r io.Reader) error {
	if err := h.check("loading an image"); err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	ref, ok := strings.CutPrefix(b.String(), "fake-image:")
	if !ok {
		return fmt.Errorf("fake: not an image archive")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "load "+ref)
	h.images[ref] = true
	return nil
}

func (h *Host) Build(_ context.Context, req providers.BuildRequest) error {
	if err := h.check("building image " + req.Ref); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Calls = append(h.Calls, "build "+req.Ref)
	h.images[req.Ref] = true
	return nil
}

func (h *Host) EnsureSecret(_ context.Context, name string, value []byte) error {
	if err := h.check("creating secret " + name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.secrets[name]; !ok {
		h.secrets[name] = append([]byte(nil), value...)
	}
	return nil
}

func (h *Host) ListSecrets(_ context.Context, prefix string) ([]string, error) {
	if err := h.check("listing secrets"); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for n := range h.secrets {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (h *Host) RemoveSecret(_ context.Context, name string) error {
	if err := h.check("removing secret " + name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.secrets, name)
	return nil
}

// checkSecret refuses what the Podman provider refuses: a secret given as neither or both
// of an environment variable and a file, or a file name that is not a plain name.
func checkSecret(s providers.TaskSecret) error {
	switch {
	case s.Secret == "":
		return fmt.Errorf("a secret without a name (env %q, file %q)", s.Env, s.File)
	case (s.Env == "") == (s.File == ""):
		return fmt.Errorf("secret %s: set exactly one of env and file", s.Secret)
	case s.File == "." || s.File == ".." || strings.ContainsAny(s.File, "/\x00"):
		return fmt.Errorf("secret %s: file %q must be a plain file name (it is mounted at /run/secrets/NAME)", s.Secret, s.File)
	}
	return nil
}

// Files returns the secret files a container sees, by path (/run/secrets/NAME), with the
// values they hold.
func (h *Host) Files(containerID string) map[string][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]byte{}
	for _, s := range h.specs[containerID].Secrets {
		if s.File != "" {
			out["/run/secrets/"+s.File] = append([]byte(nil), h.secrets[s.Secret]...)
		}
	}
	return out
}

// ListImages lists the host's images named with prefix. The fake keeps no ids or sizes:
// an image's id is its name.
func (h *Host) ListImages(_ context.Context, prefix string) ([]providers.Image, error) {
	if err := h.check("listing images"); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []providers.Image
	for ref := range h.images {
		if strings.HasPrefix(ref, prefix) {
			out = append(out, providers.Image{Ref: ref, ID: ref})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// RemoveImage removes ref unless a container of the host uses it.
func (h *Host) RemoveImage(_ context.Context, ref string) error {
	if err := h.check("removing image " + ref); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.images[ref] {
		return fmt.Errorf("image %s: %w", ref, providers.ErrNotFound)
	}
	for _, sp := range h.specs {
		if sp.Image == ref {
			return nil
		}
	}
	h.Calls = append(h.Calls, "rmi "+ref)
	delete(h.images, ref)
	return nil
}

// PruneImages has nothing to do: the fake's builds leave no dangling images.
func (h *Host) PruneImages(context.Context) (int, error) {
	return 0, h.check("pruning images")
}

var _ providers.SocketDialer = (*Host)(nil)

// DialSocket fails: a fake host has no sockets. A fake balancer (providers/lb/fake) never
// dials, so tests that route through one open it on a fake host all the same.
func (h *Host) DialSocket(_ context.Context, path string) (net.Conn, error) {
	if err := h.check("opening socket " + path); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("fake host %s: no socket %s", h.spec.Name, path)
}
