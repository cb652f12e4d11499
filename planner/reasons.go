package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
)

// taskDefFields are the JSON names of TaskDef's fields in declaration order, so a list
// of changed fields reads in the order of the manifest's documentation.
var taskDefFields = func() []string {
	t := reflect.TypeOf(manifest.TaskDef{})
	out := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}()

// specDiff compares task definitions with a desired one, encoded once.
type specDiff struct{ want map[string]json.RawMessage }

func newSpecDiff(want manifest.TaskDef) specDiff { return specDiff{fieldsJSON(want)} }

// changed lists the fields of td that differ from the desired definition. Fields are
// compared in their JSON form, so a nil map and an empty one are the same, as they are
// in the revision digest.
func (d specDiff) changed(td manifest.TaskDef) []string {
	got := fieldsJSON(td)
	var out []string
	for _, name := range taskDefFields {
		if !bytes.Equal(got[name], d.want[name]) {
			out = append(out, name)
		}
	}
	return out
}

func fieldsJSON(td manifest.TaskDef) map[string]json.RawMessage {
	b, err := json.Marshal(td)
	if err != nil {
		panic("planner: task definition does not marshal: " + err.Error())
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		panic("planner: task definition does not unmarshal: " + err.Error())
	}
	return m
}

func countReason(from, to int) string { return fmt.Sprintf("count %d -> %d", from, to) }

func unreachableReason(host string) string { return "host " + host + " is unreachable" }

// shortfallReason explains new tasks while some hosts cannot be read: the missing tasks
// may be on those hosts, which counts them as lost.
func shortfallReason(seen, count int, unreachable []string) string {
	verb := "is"
	if len(unreachable) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%d of %d tasks seen; host %s %s unreachable, its tasks are replaced", seen, count, strings.Join(unreachable, ", "), verb)
}

// notRunningReason says what state a task is in, with the exit code when it exited.
func notRunningReason(t state.TaskState) string {
	st := t.State
	if st == "" {
		st = "unknown state"
	}
	if t.State == "exited" || t.State == "stopped" {
		st = fmt.Sprintf("%s, code %d", t.State, t.ExitCode)
	}
	return "task is not running (" + st + ")"
}

// newRevisionReason explains a replacement by a new revision, naming what changed.
func newRevisionReason(t state.TaskState, revID string, want specDiff) string {
	was := t.Revision
	if was == "" {
		was = "no revision label"
	}
	head := fmt.Sprintf("new revision %s (was %s)", revID, was)
	if t.Spec == nil {
		return head + ": the running task carries no readable spec"
	}
	fields := want.changed(*t.Spec)
	if len(fields) == 0 {
		return head + ": same task definition, other revision id"
	}
	return head + ": " + strings.Join(fields, ", ") + " changed"
}

func driftReason(fields []string) string {
	return "drift from the spec: " + strings.Join(fields, ", ")
}
