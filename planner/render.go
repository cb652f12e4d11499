package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/deckhq/deck/manifest"
)

// Style is how the human plan marks its parts; the caller decides whether that is colour
// (a terminal) or nothing. PlainStyle marks nothing.
type Style interface {
	Bold(s string) string
	Action(a Action, s string) string
	Warning(s string) string
}

// PlainStyle is a Style without marks.
type PlainStyle struct{}

func (PlainStyle) Bold(s string) string             { return s }
func (PlainStyle) Action(_ Action, s string) string { return s }
func (PlainStyle) Warning(s string) string          { return s }

// RenderText writes the plan for a human: per service, its changes by wave, each with its
// reason, then a legend of the symbols used and the totals.
func RenderText(w io.Writer, p *Plan, st Style) error {
	if st == nil {
		st = PlainStyle{}
	}
	var b bytes.Buffer

	if p.Empty() {
		b.WriteString("No changes. The hosts match the manifests.\n")
		writeWarnings(&b, p.Warnings, st)
		_, err := w.Write(b.Bytes())
		return err
	}

	fmt.Fprintf(&b, "deck will perform the following actions in app %s, environment %s (snapshot %s):\n",
		p.App, p.Env, p.Fingerprint)

	// One column for the reasons across the whole plan, so they line up.
	width := 0
	for _, c := range p.Changes {
		width = max(width, len(changeText(c)))
	}
	present := map[Action]bool{}
	for _, sp := range p.Services {
		waves := map[int][]Change{}
		maxWave := -1
		for _, c := range p.Changes {
			if c.Service == sp.Name {
				waves[c.Wave] = append(waves[c.Wave], c)
				maxWave = max(maxWave, c.Wave)
			}
		}
		if maxWave < 0 {
			continue
		}
		b.WriteString("\n")
		b.WriteString(st.Bold(unitWord(sp)+" "+sp.Name) + "  (" + serviceSummary(sp) + ")\n")
		for wv := 0; wv <= maxWave; wv++ {
			if len(waves[wv]) == 0 {
				continue
			}
			fmt.Fprintf(&b, "  wave %d\n", wv+1)
			for _, c := range waves[wv] {
				present[c.Action] = true
				text := changeText(c)
				line := c.Action.Symbol() + " " + text
				pad := strings.Repeat(" ", width-len(text)+4)
				fmt.Fprintf(&b, "  %s%s%s\n", st.Action(c.Action, line), pad, Describe(c.Reason))
			}
		}
	}

	var legend []string
	for _, a := range Actions {
		if present[a] {
			legend = append(legend, st.Action(a, a.Symbol())+" "+string(a))
		}
	}
	b.WriteString("\n  " + strings.Join(legend, "   ") + "\n")
	writeWarnings(&b, p.Warnings, st)
	n := p.Counts()
	fmt.Fprintf(&b, "\n%s %d to create, %d to replace, %d to destroy", st.Bold("Plan:"), n[Create], n[Replace], n[Destroy])
	if n[Verify] > 0 {
		fmt.Fprintf(&b, ", %d to verify", n[Verify])
	}
	kinds := map[Kind]int{}
	for _, c := range p.Changes {
		kinds[c.Kind]++
	}
	if lbn := kinds[KindRoute] + kinds[KindTarget]; lbn > 0 {
		fmt.Fprintf(&b, "; %d load balancer change%s", lbn, map[bool]string{true: "", false: "s"}[lbn == 1])
	}
	if jn := kinds[KindJob]; jn > 0 {
		fmt.Fprintf(&b, "; %d job change%s", jn, map[bool]string{true: "", false: "s"}[jn == 1])
	}
	b.WriteString(".\n")
	_, err := w.Write(b.Bytes())
	return err
}

func writeWarnings(b *bytes.Buffer, warnings []string, st Style) {
	if len(warnings) == 0 {
		return
	}
	b.WriteString("\n")
	for _, wn := range warnings {
		b.WriteString(st.Warning("Warning:") + " " + wn + "\n")
	}
}

func serviceSummary(sp ServicePlan) string {
	if sp.Delete {
		return fmt.Sprintf("delete, %s running", tasksWord(sp.Running))
	}
	if sp.Type == manifest.ScheduledJob {
		return fmt.Sprintf("revision %s, runs on its schedule", sp.Revision)
	}
	mode := "rolling"
	if sp.Deployment.Strategy == "recreate" {
		mode = "recreate"
	}
	return fmt.Sprintf("revision %s, %s, %s %d%%/%d%%", sp.Revision, tasksWord(sp.Desired), mode,
		sp.Deployment.MinHealthyPercent, sp.Deployment.MaxPercent)
}

func tasksWord(n int) string {
	if n == 1 {
		return "1 task"
	}
	return fmt.Sprintf("%d tasks", n)
}

// changeText is what a change does, before its reason: the task stopped and the one started.
func changeText(c Change) string {
	if c.Kind == KindJob {
		return jobText(c)
	}
	if c.Kind != KindTask {
		return routeText(c)
	}
	switch c.Action {
	case Create:
		return "task " + c.TaskID + " on " + c.Host
	case Destroy:
		return "task " + c.Old.TaskID + " on " + c.Old.Host
	case Verify:
		if c.Old != nil {
			return "task " + c.Old.TaskID + " on " + c.Old.Host + " -> " + c.TaskID + " on " + c.Host
		}
		return "task " + c.TaskID + " on " + c.Host
	default:
		s := "task " + c.Old.TaskID + " on " + c.Old.Host + " -> " + c.TaskID + " on " + c.Host
		if c.StopFirst {
			s += " (stop first)"
		}
		return s
	}
}

// RenderJSON writes the plan as indented JSON, the form `deck plan -out` saves and
// `deck apply` reads back with ReadJSON.
func RenderJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// ReadJSON reads a plan written by RenderJSON. A plan of another format version is
// refused: its fields may not mean what this deck thinks.
func ReadJSON(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("read plan: not a deck plan: %w", err)
	}
	if head.FormatVersion == nil {
		return nil, fmt.Errorf("read plan: not a deck plan: no format_version")
	}
	if *head.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("read plan: format version %d is not supported (this deck reads version %d); make the plan again with this deck",
			*head.FormatVersion, FormatVersion)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a field this deck does not know would be silently dropped on apply
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return &p, nil
}

// DescribeChange is one change on one line: its action, what it does and why, as the
// controller logs it.
func DescribeChange(c Change) string {
	return string(c.Action) + " " + changeText(c) + ": " + Describe(c.Reason)
}
