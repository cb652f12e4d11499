package history

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/deckhq/deck/providers"
)

// Scaling is one scaling action of a service, as the audit trail keeps it.
type Scaling struct {
	Service string    `json:"service"`
	From    int       `json:"from"`
	To      int       `json:"to"`
	Reason  string    `json:"reason"` // the autoscaler's sentence, "(service web) scaled out ..."
	Who     string    `json:"who"`
	Time    time.Time `json:"time"` // by a host's clock
}

// Kinds of scaling event in the audit trail.
const (
	EventScaleOut = "scale out"
	EventScaleIn  = "scale in"
)

// KeepScalings is how many scaling actions of a service the hosts keep: an autoscaled
// service may scale every minute, and every record costs a read in deck history.
const KeepScalings = 50

const recordScaling = "scaling"

type scalingBody struct {
	V int `json:"v"`
	Scaling
}

// scalingPrefix names the scaling records of one service: kept apart from its revisions,
// so reading those (every deploy does) never reads these.
func scalingPrefix(app, env, service string) string {
	return appPrefix(app, env) + "scale." + digest12(app, env, service) + "."
}

// RecordScaling keeps a scaling action in the audit trail on every reachable host, and
// returns it with its Time (from a host's clock, when it was zero). Only the service's
// newest KeepScalings actions are kept.
func (s *Store) RecordScaling(ctx context.Context, sc Scaling) (Scaling, error) {
	if sc.Service == "" || sc.From == sc.To {
		return sc, errors.New("history: a scaling action needs its service and two different counts")
	}
	if sc.Time.IsZero() {
		now, err := s.Now(ctx)
		if err != nil {
			return sc, err
		}
		sc.Time = now
	}
	pfx := scalingPrefix(s.app, s.env, sc.Service)
	// Names sort by time: seconds, zero-padded, then a nonce for two in one second.
	name := fmt.Sprintf("%s%011d.%s", pfx, sc.Time.Unix(), newNonce()[:6])
	labels, err := s.labels(sc.Service, recordScaling, scalingBody{V: bodyVersion, Scaling: sc})
	if err != nil {
		return sc, err
	}
	views := s.listAll(ctx, pfx)
	if err := noneAnswered(views); err != nil {
		return sc, fmt.Errorf("recording a scaling action of service %s: %w", sc.Service, err)
	}
	if err := s.writeAll(ctx, views, name, labels, func(providers.Record) bool { return false }); err != nil {
		return sc, err
	}
	s.pruneScalings(ctx, views)
	return sc, nil
}

// pruneScalings removes, on each host, what is beyond the newest KeepScalings (counting
// the one just written, which the views, read before it, do not hold). Best effort.
func (s *Store) pruneScalings(ctx context.Context, views []hostRecords) {
	for _, v := range views {
		if v.err != nil || len(v.recs) < KeepScalings {
			continue
		}
		names := make([]string, 0, len(v.recs))
		for name := range v.recs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names[:len(names)-KeepScalings+1] {
			_ = v.host.RemoveRecord(ctx, name)
		}
	}
}

// event is how a scaling action reads in the audit trail.
func (sc Scaling) event() Event {
	kind := EventScaleOut
	if sc.To < sc.From {
		kind = EventScaleIn
	}
	text := sc.Reason
	if text == "" {
		text = "from " + strconv.Itoa(sc.From) + " to " + strconv.Itoa(sc.To) + " tasks"
	}
	return Event{Time: sc.Time, Kind: kind, Service: sc.Service, Who: sc.Who, Text: text}
}
