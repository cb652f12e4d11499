package history

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/deckhq/deck/providers"
)

// ImageHost is a host whose images can be pruned; a providers.Host is one.
type ImageHost interface {
	Name() string
	providers.Images
}

// PruneImages removes, on each host (in parallel), the images named with each prefix of
// keep that are not in that prefix's set (image refs, as KeepImages returns them), then,
// once per host, the dangling images (build leftovers). A prefix must name one service's
// repository, such as "localhost/deck/shop-web:" (with the colon: "localhost/deck/shop-"
// would take app shop-admin's images too). An image a container still uses stays, and is
// not reported. removed lists "HOST REF" for each image removed; err joins the hosts'
// errors, and the other hosts are pruned all the same.
func PruneImages[H ImageHost](ctx context.Context, hosts []H, keep map[string]map[string]bool) (removed []string, err error) {
	for prefix := range keep {
		if !strings.Contains(prefix, "/") {
			return nil, fmt.Errorf("pruning images: prefix %q does not name a repository", prefix)
		}
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() {
			gone, err := pruneHost(ctx, h, keep)
			mu.Lock()
			defer mu.Unlock()
			for _, ref := range gone {
				removed = append(removed, h.Name()+" "+ref)
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	sort.Strings(removed)
	return removed, errors.Join(errs...)
}

func pruneHost(ctx context.Context, h ImageHost, keep map[string]map[string]bool) ([]string, error) {
	var gone []string
	var errs []error
	for prefix, kept := range keep {
		images, err := h.ListImages(ctx, prefix)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, im := range images {
			if kept[im.Ref] {
				continue
			}
			if err := h.RemoveImage(ctx, im.Ref); err != nil && !errors.Is(err, providers.ErrNotFound) {
				errs = append(errs, err)
				continue
			}
			// RemoveImage leaves an image a container uses without an error: ask.
			if still, err := h.ImageExists(ctx, im.Ref); err != nil {
				errs = append(errs, err)
			} else if !still {
				gone = append(gone, im.Ref)
			}
		}
	}
	if _, err := h.PruneImages(ctx); err != nil {
		errs = append(errs, err)
	}
	return gone, errors.Join(errs...)
}
