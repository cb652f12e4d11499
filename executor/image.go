package executor

import (
	"context"
	"fmt"
	"io"

	"github.com/deckhq/deck/providers"
)

// EnsureImage makes sure ref is on h: copied host to host (export and load) from the
// first of sources that has it, else, when pull is set, pulled from its registry (a built
// image has none to pull from). emit, when not nil, is told what is copied or pulled. The
// deploy's executor, standalone tasks and job runs all put images on hosts this way.
func EnsureImage(ctx context.Context, h providers.Host, ref string, sources []providers.Host, pull bool, emit func(Event)) error {
	if emit == nil {
		emit = func(Event) {}
	}
	ok, err := h.ImageExists(ctx, ref)
	if err != nil || ok {
		return err
	}
	src := imageSource(ctx, sources, ref, h.Name())
	if src == nil {
		if !pull {
			return fmt.Errorf("image %s was built but no reachable host has it", ref)
		}
		emit(Event{Kind: EventImageLoad, Host: h.Name(), Message: "pulling " + ref})
		return h.PullImage(ctx, ref, io.Discard)
	}
	emit(Event{Kind: EventImageLoad, Host: h.Name(), Message: ref + " from " + src.Name()})
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(src.ExportImage(ctx, ref, pw)) }()
	err = h.LoadImage(ctx, pr)
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("copying image %s from %s: %w", ref, src.Name(), err)
	}
	return nil
}

// imageSource is the first of sources, other than the host named except, that has ref.
func imageSource(ctx context.Context, sources []providers.Host, ref, except string) providers.Host {
	for _, c := range sources {
		if c == nil || c.Name() == except {
			continue
		}
		if ok, err := c.ImageExists(ctx, ref); err == nil && ok {
			return c
		}
	}
	return nil
}
