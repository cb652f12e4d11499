package manifest

import (
	"fmt"
	"slices"
	"strings"
)

// routeTable holds the Load Balanced Web Services loaded so far, to find two whose routes
// would take the same requests: the load balancers could not tell which one a request is
// for. A route with aliases is more specific than one without, so those two never clash.
type routeTable []*serviceLoader

// add reports s when its route takes requests an earlier service's route takes, and else
// keeps it.
func (r *routeTable) add(s *serviceLoader) {
	h := s.spec.HTTP
	if h == nil || s.reported("http.path") {
		return // a path already reported as wrong would only clash by its default
	}
	for _, o := range *r {
		oh := o.spec.HTTP
		// Caddy matches paths case-insensitively: /api and /API take the same requests.
		if !strings.EqualFold(oh.Path, h.Path) {
			continue
		}
		which, clash := "any host", len(h.Aliases) == 0 && len(oh.Aliases) == 0
		for _, a := range h.Aliases {
			if slices.Contains(oh.Aliases, a) {
				which, clash = "host "+a, true
				break
			}
		}
		if clash {
			theirs := ""
			if oh.Path != h.Path {
				theirs = fmt.Sprintf(" (path %s: the load balancers match paths whatever their case)", oh.Path)
			}
			s.at("http.path", "service %s's route (path %s for %s) is also service %s's%s, in %s:%d, and the load balancers could not tell their requests apart; give one a different http.path or http.alias",
				s.spec.Name, h.Path, which, o.spec.Name, theirs, o.file, o.node("http.path").Line)
			return
		}
	}
	*r = append(*r, s)
}
