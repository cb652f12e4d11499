package podman

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	buildahdefine "github.com/containers/buildah/define"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/deckhq/deck/providers"
)

// ImageExists reports whether ref is in the host's image store.
func (h *Host) ImageExists(ctx context.Context, ref string) (bool, error) {
	cctx := h.call(ctx)
	ok, err := images.Exists(cctx, ref, nil)
	if err != nil {
		return false, h.wrap(cctx, "looking for image "+ref, err)
	}
	return ok, nil
}

// PullImage pulls ref from its registry, writing progress to output (may be nil). Registry
// access (credentials, insecure registries) is the host's own configuration.
func (h *Host) PullImage(ctx context.Context, ref string, output io.Writer) error {
	if output == nil {
		output = io.Discard
	}
	cctx := h.call(ctx)
	op := "pulling image " + ref
	opts := new(images.PullOptions).WithProgressWriter(output)
	_, err := images.Pull(cctx, ref, opts)
	if err != nil && h.unreachable(cctx, err) == "" && isMissingInRegistry(err) {
		return h.fail(op, fmt.Errorf("%w (%s)", providers.ErrNotFound, errorText(err)))
	}
	return h.wrap(cctx, op, err)
}

// isMissingInRegistry recognises the registry's answer for an unknown image; the pull
// stream reports it only as text.
func isMissingInRegistry(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "manifest unknown") || strings.Contains(msg, "name unknown") ||
		strings.Contains(msg, "not found")
}

// ExportImage streams ref to w as a docker-archive tarball.
func (h *Host) ExportImage(ctx context.Context, ref string, w io.Writer) error {
	cctx := h.call(ctx)
	op := "exporting image " + ref
	// Checked first: a missing image would otherwise be an error in the middle of a stream.
	ok, err := images.Exists(cctx, ref, nil)
	if err != nil {
		return h.wrap(cctx, op, err)
	}
	if !ok {
		return h.fail(op, fmt.Errorf("%w (no such image)", providers.ErrNotFound))
	}
	opts := new(images.ExportOptions).WithFormat("docker-archive").WithCompress(false)
	return h.wrap(cctx, op, images.Export(cctx, []string{ref}, w, opts))
}

// LoadImage loads a tarball written by ExportImage.
func (h *Host) LoadImage(ctx context.Context, r io.Reader) error {
	cctx := h.call(ctx)
	_, err := images.Load(cctx, r)
	return h.wrap(cctx, "loading an image", err)
}

// Build builds req.Context with req.Containerfile on the host and tags it req.Ref. The
// bindings send the context directory as a tarball, so it must be readable here.
func (h *Host) Build(ctx context.Context, req providers.BuildRequest) error {
	out := req.Output
	if out == nil {
		out = io.Discard
	}
	op := "building image " + req.Ref
	contextDir, err := filepath.Abs(req.Context)
	if err != nil {
		return h.fail(op, err)
	}
	req.Context = contextDir
	containerfile := req.Containerfile
	if containerfile == "" {
		containerfile = "Containerfile"
		if _, err := os.Stat(filepath.Join(req.Context, containerfile)); err != nil {
			containerfile = "Dockerfile"
		}
	}
	if !filepath.IsAbs(containerfile) {
		containerfile = filepath.Join(req.Context, containerfile)
	}
	opts := types.BuildOptions{BuildOptions: buildahdefine.BuildOptions{
		ContextDirectory: req.Context,
		Output:           req.Ref,
		Args:             req.Args,
		Out:              out,
		Err:              out,
		ReportWriter:     out,
		// Layers keep rebuilds of an unchanged context fast.
		Layers:                  true,
		RemoveIntermediateCtrs:  true,
		ForceRmIntermediateCtrs: true,
	}}
	cctx := h.call(ctx)
	_, err = images.Build(cctx, []string{containerfile}, opts)
	return h.wrap(cctx, op, err)
}

// ListImages lists the host's named images whose name starts with prefix.
func (h *Host) ListImages(ctx context.Context, prefix string) ([]providers.Image, error) {
	cctx := h.call(ctx)
	list, err := images.List(cctx, nil)
	if err != nil {
		return nil, h.wrap(cctx, "listing images", err)
	}
	var out []providers.Image
	for _, im := range list {
		for _, ref := range im.RepoTags {
			if strings.HasPrefix(ref, prefix) {
				out = append(out, providers.Image{Ref: ref, ID: im.ID, Created: time.Unix(im.Created, 0), Size: im.Size})
			}
		}
	}
	return out, nil
}

// RemoveImage untags ref; Podman deletes the image with its last name. An image that a
// container (running or not) still uses is left as it is.
func (h *Host) RemoveImage(ctx context.Context, ref string) error {
	cctx := h.call(ctx)
	op := "removing image " + ref
	_, errs := images.Remove(cctx, []string{ref}, nil)
	for _, err := range errs {
		if err == nil {
			continue
		}
		if h.unreachable(cctx, err) == "" {
			msg := strings.ToLower(errorText(err))
			switch {
			case strings.Contains(msg, "image not known") || strings.Contains(msg, "no such image"):
				return h.fail(op, fmt.Errorf("%w (no such image)", providers.ErrNotFound))
			case strings.Contains(msg, "in use") || strings.Contains(msg, "being used"):
				return nil
			}
		}
		return h.wrap(cctx, op, err)
	}
	return nil
}

// PruneImages removes dangling images (build layers and replaced builds with no name).
func (h *Host) PruneImages(ctx context.Context) (int, error) {
	cctx := h.call(ctx)
	reps, err := images.Prune(cctx, nil)
	if err != nil {
		return 0, h.wrap(cctx, "pruning dangling images", err)
	}
	n := 0
	for _, r := range reps {
		if r.Err == nil {
			n++
		}
	}
	return n, nil
}
