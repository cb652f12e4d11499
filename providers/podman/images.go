package podman

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	buildahdefine "github.com/containers/buildah/define"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/deckhq/deck/providers"
)

// ImageExists reports whether ref is in the host's image store.
func (h *Host) ImageExists(ctx context.Context, ref string) (bool, error) {
	ok, err := images.Exists(h.call(ctx), ref, nil)
	if err != nil {
		return false, h.wrap("image exists", "image "+ref, err)
	}
	return ok, nil
}

// PullImage pulls ref from its registry, writing progress to output (may be nil). Registry
// access (credentials, insecure registries) is the host's own configuration.
func (h *Host) PullImage(ctx context.Context, ref string, output io.Writer) error {
	if output == nil {
		output = io.Discard
	}
	opts := new(images.PullOptions).WithProgressWriter(output)
	_, err := images.Pull(h.call(ctx), ref, opts)
	if err != nil && isMissingInRegistry(err) {
		return h.fail("pull image", fmt.Errorf("image %s: %w (%s)", ref, providers.ErrNotFound, errorText(err)))
	}
	return h.wrap("pull image", "image "+ref, err)
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
	// Checked first: a missing image would otherwise be an error in the middle of a stream.
	ok, err := images.Exists(cctx, ref, nil)
	if err != nil {
		return h.wrap("export image", "image "+ref, err)
	}
	if !ok {
		return h.wrap("export image", "image "+ref, notFoundError())
	}
	opts := new(images.ExportOptions).WithFormat("docker-archive").WithCompress(false)
	return h.wrap("export image", "image "+ref, images.Export(cctx, []string{ref}, w, opts))
}

// LoadImage loads a tarball written by ExportImage.
func (h *Host) LoadImage(ctx context.Context, r io.Reader) error {
	_, err := images.Load(h.call(ctx), r)
	return h.wrap("load image", "", err)
}

// Build builds req.Context with req.Containerfile on the host and tags it req.Ref. The
// bindings send the context directory as a tarball, so it must be readable here.
func (h *Host) Build(ctx context.Context, req providers.BuildRequest) error {
	out := req.Output
	if out == nil {
		out = io.Discard
	}
	contextDir, err := filepath.Abs(req.Context)
	if err != nil {
		return h.fail("build", err)
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
	_, err = images.Build(h.call(ctx), []string{containerfile}, opts)
	return h.wrap("build", "image "+req.Ref, err)
}
