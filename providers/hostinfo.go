package providers

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/deckhq/deck/manifest"
)

// Podman's info call costs about a quarter of a CPU-second on the host (it walks storage
// and the network configuration), and a host's cpus and memory hardly ever change, so
// deck keeps what it read as a record on the host itself and reads it again at most every
// HostInfoMaxAge, by the host's clock. Every deck that reaches the host shares it.
const hostInfoPrefix = "deck-hostinfo.t"

// HostInfoMaxAge is how long a host's recorded capacity is trusted.
var HostInfoMaxAge = 5 * time.Minute

const (
	labelInfoCPU     = "deck.cpu"
	labelInfoMemory  = "deck.memory"
	labelInfoVersion = "deck.podman-version"
)

// hostInfo returns the host's capacity and version: the recorded one when it is fresh,
// else what Info says now (then recorded for the next reader).
func hostInfo(ctx context.Context, h Host) (HostInfo, error) {
	recs, err := h.ListRecords(ctx, hostInfoPrefix)
	if err == nil && len(recs) > 0 {
		sort.Slice(recs, func(i, j int) bool { return recs[i].Created.Before(recs[j].Created) })
		newest := recs[len(recs)-1]
		if info, ok := decodeHostInfo(newest.Labels); ok {
			if now, err := h.Now(ctx); err == nil && now.Sub(newest.Created) < HostInfoMaxAge {
				return info, nil
			}
		}
	}
	info, err := h.Info(ctx)
	if err != nil {
		return info, err
	}
	name := hostInfoPrefix + strconv.FormatInt(time.Now().UnixNano(), 10)
	if werr := h.CreateRecord(ctx, name, encodeHostInfo(info)); werr == nil || errors.Is(werr, ErrExists) {
		for _, r := range recs {
			_ = h.RemoveRecord(ctx, r.Name) // older readings: best effort, the newest wins
		}
	}
	return info, nil
}

func encodeHostInfo(info HostInfo) map[string]string {
	return map[string]string{
		labelInfoCPU:     strconv.FormatInt(info.Capacity.CPU, 10),
		labelInfoMemory:  strconv.FormatInt(info.Capacity.Memory, 10),
		labelInfoVersion: info.Version,
	}
}

func decodeHostInfo(l map[string]string) (HostInfo, bool) {
	cpu, err1 := strconv.ParseInt(l[labelInfoCPU], 10, 64)
	mem, err2 := strconv.ParseInt(l[labelInfoMemory], 10, 64)
	if err1 != nil || err2 != nil || cpu <= 0 || mem <= 0 {
		return HostInfo{}, false
	}
	return HostInfo{Version: l[labelInfoVersion], Capacity: manifest.Resources{CPU: cpu, Memory: mem}}, true
}
