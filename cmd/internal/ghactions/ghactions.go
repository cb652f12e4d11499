// Package ghactions writes what a GitHub Actions runner reads from a step: workflow
// commands (annotations) on stdout, the job summary ($GITHUB_STEP_SUMMARY) and the step's
// outputs ($GITHUB_OUTPUT). It knows nothing of deck's types; cmd/internal/cli/github.go
// turns plans, results and manifest errors into these.
package ghactions

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Runner is the GitHub Actions runner deck runs under.
type Runner struct {
	Workspace   string // GITHUB_WORKSPACE: annotation paths are relative to it
	OutputFile  string // GITHUB_OUTPUT ("" when the runner set none)
	SummaryFile string // GITHUB_STEP_SUMMARY
}

// Detect returns the runner when GITHUB_ACTIONS=true, else nil.
func Detect(lookup func(string) (string, bool)) *Runner {
	if v, _ := lookup("GITHUB_ACTIONS"); v != "true" {
		return nil
	}
	get := func(k string) string { v, _ := lookup(k); return v }
	return &Runner{Workspace: get("GITHUB_WORKSPACE"), OutputFile: get("GITHUB_OUTPUT"), SummaryFile: get("GITHUB_STEP_SUMMARY")}
}

// EscapeData escapes a workflow command's message: %, CR and LF.
func EscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// EscapeProperty escapes a workflow command's property value: as EscapeData, and the
// separators : and , too.
func EscapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// Prop is one property of a workflow command, kept in the order given.
type Prop struct{ Key, Value string }

// Command renders ::name k=v,k=v::message, leaving out empty properties.
func Command(name string, props []Prop, message string) string {
	var b strings.Builder
	b.WriteString("::" + name)
	sep := " "
	for _, p := range props {
		if p.Value == "" {
			continue
		}
		b.WriteString(sep + p.Key + "=" + EscapeProperty(p.Value))
		sep = ","
	}
	b.WriteString("::" + EscapeData(message))
	return b.String()
}

// Annotation is an error annotation on a file's line and column (0: unknown, left out).
type Annotation struct {
	File         string // as deck names it: relative to the working directory, or absolute
	Line, Column int
	Title        string
	Message      string
}

// WriteError writes a as an ::error workflow command, its path relative to the workspace
// so GitHub shows it on the pull request's diff.
func (r *Runner) WriteError(w io.Writer, a Annotation) error {
	props := []Prop{{"file", r.RelPath(a.File)}}
	if a.Line > 0 {
		props = append(props, Prop{"line", fmt.Sprint(a.Line)})
		if a.Column > 0 {
			props = append(props, Prop{"col", fmt.Sprint(a.Column)})
		}
	}
	props = append(props, Prop{"title", a.Title})
	_, err := fmt.Fprintln(w, Command("error", props, a.Message))
	return err
}

// RelPath makes file relative to the workspace, with forward slashes. A file outside it
// (or with no workspace set) is left as it is.
func (r *Runner) RelPath(file string) string {
	if file == "" || r.Workspace == "" {
		return filepath.ToSlash(file)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return filepath.ToSlash(file)
	}
	ws, err := filepath.Abs(r.Workspace)
	if err != nil {
		return filepath.ToSlash(file)
	}
	// The workspace may be reached through a symlink (macOS's /var -> /private/var).
	if e, err := filepath.EvalSymlinks(ws); err == nil {
		ws = e
	}
	if e, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(e, filepath.Base(abs))
	}
	rel, err := filepath.Rel(ws, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(file)
	}
	return filepath.ToSlash(rel)
}

// Output is one step output.
type Output struct{ Name, Value string }

// SetOutputs appends outputs to $GITHUB_OUTPUT, each in the heredoc form
// (name<<DELIMITER, value, DELIMITER) so values may span lines. Without GITHUB_OUTPUT it
// does nothing.
func (r *Runner) SetOutputs(outs ...Output) error {
	if r.OutputFile == "" {
		return nil
	}
	var b strings.Builder
	for _, o := range outs {
		if err := WriteOutput(&b, o.Name, o.Value); err != nil {
			return err
		}
	}
	return appendFile(r.OutputFile, b.String())
}

// WriteOutput writes one output in the heredoc form, with a random delimiter that the
// value does not contain (so a value cannot end the heredoc and set other outputs).
func WriteOutput(w io.Writer, name, value string) error {
	if name == "" || strings.ContainsAny(name, "\r\n=<") {
		return fmt.Errorf("invalid output name %q", name)
	}
	var delim string
	for {
		buf := make([]byte, 16)
		if _, err := rand.Read(buf); err != nil {
			return err
		}
		delim = "ghadelimiter_" + hex.EncodeToString(buf)
		if !strings.Contains(value, delim) {
			break
		}
	}
	_, err := fmt.Fprintf(w, "%s<<%s\n%s\n%s\n", name, delim, value, delim)
	return err
}

// AppendSummary appends Markdown to $GITHUB_STEP_SUMMARY. Without it, it does nothing.
func (r *Runner) AppendSummary(markdown string) error {
	if r.SummaryFile == "" {
		return nil
	}
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	return appendFile(r.SummaryFile, markdown)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CodeBlock fences s for Markdown with a fence longer than any run of backticks in s, so
// log lines cannot end the block early.
func CodeBlock(lang, s string) string {
	fence := "```"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return fence + lang + "\n" + s + fence + "\n"
}

// Cell escapes s for a Markdown table cell: pipes and line breaks.
func Cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\r\n", "<br>", "\n", "<br>", "\r", "<br>").Replace(s)
}

// ParseOutputs reads a $GITHUB_OUTPUT file as the runner does: name=value lines and
// name<<DELIMITER heredocs. Tests use it to check what a step wrote.
func ParseOutputs(data string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	if data == "" {
		return out, nil
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			end := -1
			for j := i + 1; j < len(lines); j++ {
				if lines[j] == delim {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("output %s: delimiter %s not found", name, delim)
			}
			out[name] = strings.Join(lines[i+1:end], "\n")
			i = end
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("invalid output line %q", line)
		}
		out[name] = val
	}
	return out, nil
}
