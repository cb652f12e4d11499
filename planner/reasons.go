package planner

import (
	"bytes"
	"encoding/json"
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
type specDiff struct {
	def  *manifest.TaskDef
	want map[string]json.RawMessage
}

func newSpecDiff(want manifest.TaskDef) specDiff { return specDiff{&want, fieldsJSON(want)} }

// same reports whether td is the desired definition (no field changed).
func (d specDiff) same(td *manifest.TaskDef) bool {
	// Equal values encode alike: the usual case (a task of the desired revision) is
	// answered without encoding the task's definition. Pointers, so that nothing is
	// copied to the heap to be compared.
	return reflect.DeepEqual(td, d.def) || len(d.changed(*td)) == 0
}

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

// ChangedFields names the fields of the task definition that differ between from and to
// (image, variables, secrets, ...), in their JSON form.
func ChangedFields(from, to manifest.TaskDef) []string { return newSpecDiff(to).changed(from) }

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

func countReason(from, to int) Reason { return Reason{Code: ReasonCount, From: from, To: to} }

func unreachableReason(host string) Reason {
	return Reason{Code: ReasonHostUnreachable, Hosts: []string{host}}
}

// shortfallReason explains new tasks while some hosts cannot be read: the missing tasks
// may be on those hosts, which counts them as lost.
func shortfallReason(seen, count int, unreachable []string) Reason {
	return Reason{Code: ReasonShortfall, From: seen, To: count, Hosts: unreachable}
}

// notRunningReason records the task's state, with the exit code when it exited.
func notRunningReason(t state.TaskState) Reason {
	return Reason{Code: ReasonNotRunning, State: t.State, ExitCode: t.ExitCode}
}

// newRevisionReason explains a replacement by a new revision, naming what changed.
func newRevisionReason(t state.TaskState, revID string, want specDiff) Reason {
	r := Reason{Code: ReasonNewRevision, WasRevision: t.Revision, Revision: revID}
	if t.Spec == nil {
		r.SpecUnreadable = true
		return r
	}
	r.Fields = want.changed(*t.Spec)
	return r
}

func driftReason(fields []string) Reason { return Reason{Code: ReasonDrift, Fields: fields} }
