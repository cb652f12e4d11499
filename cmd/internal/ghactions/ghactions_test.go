package ghactions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscape(t *testing.T) {
	assert.Equal(t, "100%25 done%0D%0Anext: a,b", EscapeData("100% done\r\nnext: a,b"))
	assert.Equal(t, "a%3Ab%2Cc%25d%0Ae%0Df", EscapeProperty("a:b,c%d\ne\rf"))
	// % first: an escaped sequence in the input is not unescaped by the runner.
	assert.Equal(t, "%250A", EscapeData("%0A"))
}

func TestCommand(t *testing.T) {
	got := Command("error", []Prop{{"file", "deck/web.yaml"}, {"line", "3"}, {"col", ""}, {"title", "deck: bad, field: x"}}, "count: want a number\nnot \"x\"")
	assert.Equal(t, `::error file=deck/web.yaml,line=3,title=deck%3A bad%2C field%3A x::count: want a number%0Anot "x"`, got)
	assert.Equal(t, "::error::m", Command("error", nil, "m"))
}

func TestWriteErrorRelativeToWorkspace(t *testing.T) {
	ws := t.TempDir()
	sub := filepath.Join(ws, "app", "deck")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	r := &Runner{Workspace: ws}
	var b strings.Builder
	require.NoError(t, r.WriteError(&b, Annotation{File: filepath.Join(sub, "web.yaml"), Line: 7, Column: 3, Title: "t", Message: "m"}))
	assert.Equal(t, "::error file=app/deck/web.yaml,line=7,col=3,title=t::m\n", b.String())

	// A relative path is relative to the working directory.
	t.Chdir(filepath.Join(ws, "app"))
	assert.Equal(t, "app/deck/web.yaml", r.RelPath("deck/web.yaml"))
	// Outside the workspace: as given. No line: no line or col.
	b.Reset()
	require.NoError(t, r.WriteError(&b, Annotation{File: "/etc/hosts.yaml", Column: 4, Message: "m"}))
	assert.Equal(t, "::error file=/etc/hosts.yaml::m\n", b.String())
}

func parseOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out, err := ParseOutputs(string(b))
	require.NoError(t, err)
	return out
}

func TestSetOutputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "output")
	require.NoError(t, os.WriteFile(path, []byte("earlier=1\n"), 0o644))
	r := &Runner{OutputFile: path}
	// A value that tries to close a heredoc and set another output must stay one value.
	evil := "line1\nEOF\nrolled-back=true\nghadelimiter_x"
	require.NoError(t, r.SetOutputs(Output{"revisions", `{"web":3}`}, Output{"log", evil}, Output{"rolled-back", "false"}))
	got := parseOutputs(t, path)
	assert.Equal(t, map[string]string{"earlier": "1", "revisions": `{"web":3}`, "log": evil, "rolled-back": "false"}, got)

	_, err := ParseOutputs("x<<EOF\nnever closed\n")
	assert.Error(t, err)
	assert.Error(t, WriteOutput(&strings.Builder{}, "a\nb", "v"))
	assert.Error(t, WriteOutput(&strings.Builder{}, "", "v"))
	// No GITHUB_OUTPUT: nothing to do.
	assert.NoError(t, (&Runner{}).SetOutputs(Output{"a", "b"}))
}

func TestAppendSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary")
	r := &Runner{SummaryFile: path}
	require.NoError(t, r.AppendSummary("## one"))
	require.NoError(t, r.AppendSummary("two\n"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "## one\ntwo\n", string(b))
}

func TestDetect(t *testing.T) {
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/ws", "GITHUB_OUTPUT": "/o", "GITHUB_STEP_SUMMARY": "/s"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	assert.Equal(t, &Runner{Workspace: "/ws", OutputFile: "/o", SummaryFile: "/s"}, Detect(lookup))
	env["GITHUB_ACTIONS"] = "false"
	assert.Nil(t, Detect(lookup))
}

func TestCodeBlockAndCell(t *testing.T) {
	assert.Equal(t, "```text\na\n```\n", CodeBlock("text", "a"))
	assert.Equal(t, "````\nx ``` y\n````\n", CodeBlock("", "x ``` y\n"))
	assert.Equal(t, `a\|b<br>c`, Cell("a|b\nc"))
}
