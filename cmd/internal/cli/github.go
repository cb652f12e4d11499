package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/deckhq/deck/cmd/internal/ghactions"
	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
)

// Under GitHub Actions (GITHUB_ACTIONS=true) deck also speaks to the runner: manifest
// errors become ::error annotations on their lines, and plan and deploy write a Markdown
// job summary and step outputs (see the README's "GitHub Actions"). Nothing here changes
// what deck prints or how it exits; a runner file deck cannot write is a warning.

// ghAnnotate writes an ::error annotation per manifest error (the first
// manifest.MaxShown, as on the terminal) to w, and lists them in the job summary.
func ghAnnotate(deps Deps, w io.Writer, list manifest.ErrorList) {
	r := ghactions.Detect(deps.LookupEnv)
	if r == nil {
		return
	}
	var md strings.Builder
	md.WriteString("## deck: " + countErrors(len(list)) + "\n\n| File | Line | Error |\n| --- | --- | --- |\n")
	for i, e := range list {
		if i == manifest.MaxShown {
			fmt.Fprintf(&md, "\n%s\n", manifest.MoreErrors(len(list)-i))
			break
		}
		title := "deck: manifest error"
		if e.Env != "" {
			title += " in environment " + e.Env
		}
		msg := e.Msg
		if e.Path != "" {
			msg = e.Path + ": " + msg
		}
		if err := r.WriteError(w, ghactions.Annotation{File: e.File, Line: e.Line, Column: e.Column, Title: title, Message: msg}); err != nil {
			ghWarn(deps, err)
			return
		}
		fmt.Fprintf(&md, "| %s | %d | %s |\n", ghactions.Cell(r.RelPath(e.File)), e.Line, ghactions.Cell(msg))
	}
	ghWarn(deps, r.AppendSummary(md.String()))
}

// ghPlan reports deck plan's plan: the summary shows it as a diff; the outputs are its
// counts and whether it changes anything. A plan that could not be made is reported as
// the error.
func ghPlan(deps Deps, out *pipeline.Outcome, err error) {
	r := ghactions.Detect(deps.LookupEnv)
	if r == nil || out == nil {
		return
	}
	if err != nil || out.Plan == nil {
		msg := "no plan"
		if err != nil {
			msg = err.Error()
		}
		ghWarn(deps, r.AppendSummary("## deck plan\n\n### Failed\n\n"+ghactions.CodeBlock("text", msg)))
		return
	}
	plan := out.Plan
	var md strings.Builder
	fmt.Fprintf(&md, "## deck plan: app %s, environment %s\n\n", plan.App, plan.Env)
	md.WriteString(planMarkdown(plan))
	ghWarn(deps, r.AppendSummary(md.String()))
	ghWarn(deps, r.SetOutputs(append(countOutputs(plan), ghactions.Output{Name: "changes", Value: fmt.Sprint(!plan.Empty())})...))
}

// ghDeploy reports a deploy (or rollback) run: the plan, what each service did, what was
// rolled back, and the failures with their stop reasons and last log lines; the outputs are
// the plan's counts, the revisions, the endpoints and whether it rolled back.
func ghDeploy(deps Deps, verb string, out *pipeline.Outcome, err error) {
	r := ghactions.Detect(deps.LookupEnv)
	if r == nil || out == nil {
		return
	}
	var md strings.Builder
	outs := []ghactions.Output{}
	rolledBack := len(out.Rollbacks) > 0 || errors.As(err, new(*pipeline.RolledBackError))
	if out.Plan != nil {
		fmt.Fprintf(&md, "## deck %s: app %s, environment %s\n\n", verb, out.Plan.App, out.Plan.Env)
		md.WriteString("### Plan\n\n" + planMarkdown(out.Plan))
		outs = append(outs, countOutputs(out.Plan)...)
		outs = append(outs, ghactions.Output{Name: "changes", Value: fmt.Sprint(!out.Plan.Empty())})
	} else {
		fmt.Fprintf(&md, "## deck %s\n\n", verb)
	}
	revisions := map[string]int{}
	for k, v := range out.Revisions {
		revisions[k] = v
	}
	endpoints := map[string][]string{}
	if out.Result != nil && out.Session != nil {
		md.WriteString("\n### Result\n\n| Service | Revision | Started | Stopped | Endpoints | |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, sr := range out.Result.Services {
			eps := out.Endpoints(sr.Name)
			endpoints[sr.Name] = append([]string{}, eps...)
			status := "✅ deployed"
			if sr.Err != nil {
				status = "❌ failed"
			}
			rev := "-"
			if n, ok := out.Revisions[sr.Name]; ok {
				rev = fmt.Sprint(n)
			}
			left := ""
			if sr.Left > 0 {
				left = fmt.Sprintf(" (%d left on unreachable hosts)", sr.Left)
			}
			fmt.Fprintf(&md, "| %s | %s | %d | %d%s | %s | %s |\n", ghactions.Cell(sr.Name), rev, len(sr.Created), sr.Stopped,
				left, ghactions.Cell(strings.Join(eps, " ")), status)
		}
		for _, sr := range out.Rollbacks {
			status := "↩️ rolled back"
			if sr.Err != nil {
				status = "❌ rollback failed"
			}
			fmt.Fprintf(&md, "| %s | | %d | %d | | %s |\n", ghactions.Cell(sr.Name), len(sr.Created), sr.Stopped, status)
		}
	}
	var rb *pipeline.RolledBackError
	if errors.As(err, &rb) {
		revisions[rb.Service] = rb.To
		if rb.Rollback == nil {
			fmt.Fprintf(&md, "\n**Rolled back:** service %s's revision %d failed; it runs revision %d again.\n", rb.Service, rb.Failed, rb.To)
		} else {
			fmt.Fprintf(&md, "\n**Rollback failed:** service %s's revision %d failed and rolling back to revision %d failed too.\n", rb.Service, rb.Failed, rb.To)
		}
	}
	if err != nil {
		md.WriteString("\n### Failed\n\n" + ghactions.CodeBlock("text", err.Error()))
		for _, f := range executor.Failures(err) {
			fmt.Fprintf(&md, "\n**Task %s on %s** (%s): %s\n\n", f.TaskID, f.Host, f.Service, ghactions.Cell(f.StopReason()))
			if len(f.Logs) == 0 {
				md.WriteString("The task wrote no log lines.\n")
			} else {
				fmt.Fprintf(&md, "Last %d log lines:\n\n%s", len(f.Logs), ghactions.CodeBlock("text", strings.Join(f.Logs, "\n")))
			}
		}
	}
	outs = append(outs, ghactions.Output{Name: "revisions", Value: jsonString(revisions)},
		ghactions.Output{Name: "endpoints", Value: jsonString(endpoints)},
		ghactions.Output{Name: "rolled-back", Value: fmt.Sprint(rolledBack)})
	ghWarn(deps, r.AppendSummary(md.String()))
	ghWarn(deps, r.SetOutputs(outs...))
}

// planMarkdown is the plan as deck prints it, in a diff block: + creates, - destroys,
// ! replaces (GitHub colours them), then the counts.
func planMarkdown(plan *planner.Plan) string {
	if plan.Empty() {
		return "No changes. The hosts match the manifests.\n"
	}
	var text bytes.Buffer
	if err := planner.RenderText(&text, plan, planner.PlainStyle{}); err != nil {
		return ghactions.CodeBlock("text", err.Error())
	}
	return ghactions.CodeBlock("diff", planDiff(text.String()))
}

// planDiff moves each change's symbol to the start of its line, where a diff block looks
// for it; every other line starts with a space.
func planDiff(text string) string {
	marks := map[byte]string{'+': "+", '-': "-", '~': "!", '?': "?"}
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if m, ok := marks[firstByte(trimmed)]; ok && indent > 0 && strings.HasPrefix(trimmed[1:], " ") && !isLegend(trimmed) {
			b.WriteString(m + line[1:indent] + " " + trimmed[1:] + "\n")
			continue
		}
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}

// isLegend reports whether line is the plan's legend ("+ create   ~ replace ..."), which
// marks nothing.
func isLegend(line string) bool {
	word, _, _ := strings.Cut(strings.TrimSpace(line[1:]), " ")
	for _, a := range planner.Actions {
		if word == string(a) {
			return true
		}
	}
	return false
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// countOutputs are the plan's task changes per action: create, verify, replace, destroy.
func countOutputs(plan *planner.Plan) []ghactions.Output {
	counts := plan.Counts()
	var outs []ghactions.Output
	for _, a := range planner.Actions {
		outs = append(outs, ghactions.Output{Name: string(a), Value: fmt.Sprint(counts[a])})
	}
	return outs
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func ghWarn(deps Deps, err error) {
	if err != nil {
		fmt.Fprintf(deps.IO.ErrOut, "Warning: writing GitHub Actions' step files: %v\n", err)
	}
}
