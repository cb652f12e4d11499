package history

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/deckhq/deck/providers"
)

const namePrefix = "deck-rev."

// Labels of every record. The content is one JSON label, versioned by its "v".
const (
	labelApp     = providers.LabelApp
	labelEnv     = providers.LabelEnv
	labelService = providers.LabelService
	labelRecord  = "deck.history.record" // recordRevision, recordOutcome or recordBreak
	labelBody    = "deck.history"
	bodyVersion  = 1
)

const (
	recordRevision = "revision"
	recordOutcome  = "outcome"
	recordBreak    = "break"
)

// maxBody bounds a record's content: labels travel in the URL of Podman's create call,
// which takes a few tens of KB.
const maxBody = 32 << 10

func digest12(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:12]
}

// appPrefix names every record of app+env; servicePrefix those of one service.
func appPrefix(app, env string) string { return namePrefix + digest12(app, env) + "." }

func servicePrefix(app, env, service string) string {
	return appPrefix(app, env) + digest12(app, env, service) + "."
}

func revisionName(svcPrefix string, n int) string { return svcPrefix + strconv.Itoa(n) }

func outcomeName(svcPrefix string, n int) string { return revisionName(svcPrefix, n) + ".done" }

// breakName keys a lock break by the broken holder's id (lock ids are 16 hex); anything
// else is digested so that the name stays valid.
func breakName(appPfx, holderID string) string {
	id := holderID
	if len(id) > 16 || strings.Trim(id, "0123456789abcdef") != "" || id == "" {
		id = digest12(holderID)
	}
	return appPfx + recordBreak + "." + id
}

// parseNumber reads the revision number of a record name under a service prefix, and
// whether it is the outcome record; ok is false for other names.
func parseNumber(svcPrefix, name string) (n int, done, ok bool) {
	rest, found := strings.CutPrefix(name, svcPrefix)
	if !found {
		return 0, false, false
	}
	rest, done = strings.CutSuffix(rest, ".done")
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 || strconv.Itoa(n) != rest {
		return 0, false, false
	}
	return n, done, true
}

// revisionBody is a revision record's content. Nonce tells this writer's record from
// another writer's identical revision.
type revisionBody struct {
	V     int    `json:"v"`
	Nonce string `json:"nonce"`
	Revision
}

type outcomeBody struct {
	V        int       `json:"v"`
	Number   int       `json:"number"`
	Outcome  Outcome   `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	Finished time.Time `json:"finished"`
}

func (s *Store) labels(service, kind string, body any) (map[string]string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("the %s record of service %s is %d bytes, more than the %d a host keeps in a record's labels "+
			"(large variables?)", kind, service, len(b), maxBody)
	}
	return map[string]string{labelApp: s.app, labelEnv: s.env, labelService: service,
		labelRecord: kind, labelBody: string(b)}, nil
}

// decode reads a record's body into v when the record is of kind and belongs to this
// store's app and environment (a digest collision would otherwise mix two services).
func (s *Store) decode(r providers.Record, kind string, v any) bool {
	l := r.Labels
	if l[labelApp] != s.app || l[labelEnv] != s.env || l[labelRecord] != kind {
		return false
	}
	var head struct {
		V int `json:"v"`
	}
	body := []byte(l[labelBody])
	if json.Unmarshal(body, &head) != nil || head.V != bodyVersion {
		return false // damaged, or written by a newer deck in a layout this one cannot read
	}
	return json.Unmarshal(body, v) == nil
}

func sameLabels(a, b map[string]string) bool { return maps.Equal(a, b) }

func newNonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
