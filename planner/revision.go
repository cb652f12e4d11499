package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/deckhq/deck/manifest"
)

// Desired is one service as the manifests want it, with its rendered revision.
type Desired struct {
	Service  manifest.ServiceSpec
	Revision Revision
	// Hold leaves the service's tasks as they are in this plan (the controller holds a
	// service waiting out a back-off): nothing is started or stopped, but its route still
	// follows the tasks that serve, so one that died is taken out of it at once.
	Hold bool
}

// NewRevision renders a service's task definition into a revision whose id is a digest of
// the definition: the same definition always gives the same id, so an unchanged service
// plans no changes, and any change to the definition gives a new id.
// The task definition must be fully resolved (image reference, secret digests).
func NewRevision(service string, td manifest.TaskDef) Revision {
	b, err := json.Marshal(td) // map keys are sorted by encoding/json: the form is canonical
	if err != nil {
		panic("planner: task definition does not marshal: " + err.Error())
	}
	sum := sha256.Sum256(append([]byte(service+"\x00"), b...))
	return Revision{ID: hex.EncodeToString(sum[:])[:12], Service: service, Task: td}
}
