package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/deckhq/deck/testhosts"
)

// TestGitHubAction runs action.yml's steps as a GitHub Actions runner does (the GITHUB_*
// and RUNNER_* variables, the per-step GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV and
// GITHUB_PATH files, ${{ }} expressions, if: always()), installing a deck release served
// from a local HTTP server and deploying to the real test hosts; h3 is reached over ssh
// with the key the action writes from its ssh-key input.
func TestGitHubAction(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts, "HELLO_API_TOKEN="+secretValue)
	a.write("deck/hello.yaml", hello("3", "hello"))

	const version = "1.2.3"
	rel := newRelease(t, version)
	key, knownHosts, hostsFile := sshViaInputs(t, hosts)

	// The workspace is the app's parent: the action runs in working-directory, and
	// annotations name files relative to the workspace.
	workspace, wd := filepath.Dir(a.dir), filepath.Base(a.dir)
	jobEnv := []string{"DECK_HOSTS_FILE=" + hostsFile, "DECK_LB_LISTEN=" + hosts.LB.Listen,
		"DECK_LB_ADMIN=" + hosts.LB.Admin, "HELLO_API_TOKEN=" + secretValue, "NO_COLOR=1"}
	inputs := func(command string, extra ...string) map[string]string {
		in := map[string]string{"command": command, "working-directory": wd, "version": "latest",
			"download-url": rel.srv.URL + "/latest", "ssh-key": key, "known-hosts": knownHosts}
		for i := 0; i+1 < len(extra); i += 2 {
			in[extra[i]] = extra[i+1]
		}
		return in
	}
	noSecrets := func(t *testing.T, run *actionRun) {
		t.Helper()
		everything := run.Summary + run.OutputsFile + run.Stdout + run.Stderr
		for name, s := range map[string]string{"the app's secret": secretValue, "the ssh key": strings.TrimSpace(key)} {
			assert.NotContains(t, everything, s, "%s in the summary, outputs or log", name)
		}
		// The key's body lines, not only the whole key.
		for _, line := range strings.Split(key, "\n") {
			if len(line) > 40 && !strings.HasPrefix(line, "-----") {
				assert.NotContains(t, everything, line, "a line of the ssh key")
			}
		}
	}

	t.Run("a tampered checksum fails the install and nothing runs", func(t *testing.T) {
		rel.tamper(true)
		defer rel.tamper(false)
		run := runAction(t, workspace, jobEnv, inputs("deploy", "version", version,
			"download-url", rel.srv.URL+"/releases/download/v"+version), nil)
		require.True(t, run.Failed, run.String())
		install := run.step("Install deck")
		assert.NotEqual(t, 0, install.Code)
		assert.Contains(t, install.Stdout, "::error title=deck action::checksum mismatch for deck_"+version+"_linux_")
		assert.NoFileExists(t, filepath.Join(run.Temp, "deck-"+version+"-linux-"+runtime.GOARCH, "deck"), "not installed")
		assert.False(t, run.step("deck deploy").Ran, "deck does not run")
		assert.True(t, run.step("Remove the ssh key and known_hosts").Ran, "the clean-up runs anyway")
		assert.Empty(t, containers(t, hosts, "hello"))
	})

	t.Run("plan: changes are a success, with the diff in the summary", func(t *testing.T) {
		planFile := filepath.Join(t.TempDir(), "plan.json")
		run := runAction(t, workspace, jobEnv, inputs("plan", "environment", "test",
			"flags", "--host-timeout 20s\n--out "+planFile), nil)
		require.False(t, run.Failed, run.String())
		assert.Contains(t, run.step("deck plan").Stdout, "deck plan --env test --host-timeout 20s --out "+planFile)
		assert.FileExists(t, planFile, "the flags reach deck")
		assert.Contains(t, run.step("Install deck").Stdout, "Verified deck_"+version+"_linux_")
		assert.Contains(t, run.step("Install deck").Stdout, "deck "+version+" (")
		assert.Equal(t, "true", run.Outputs["changes"])
		assert.Equal(t, "3", run.Outputs["create"])
		assert.Equal(t, "0", run.Outputs["destroy"])
		assert.Contains(t, run.Summary, "## deck plan: app hello, environment test")
		assert.Contains(t, run.Summary, "```diff\n")
		assert.Regexp(t, `(?m)^\+   task \w+ on h[123] `, run.Summary)
		assert.Contains(t, run.Summary, "Plan: 3 to create, 0 to replace, 0 to destroy")
		assert.Empty(t, containers(t, hosts, "hello"), "a plan changes nothing")
		noSecrets(t, run)
	})

	t.Run("deploy: installed, verified, deployed over the ssh key, outputs and summary written, key removed", func(t *testing.T) {
		var keyDir string
		run := runAction(t, workspace, jobEnv, inputs("deploy"), func(s stepRun) {
			if s.ID != "keys" {
				return
			}
			// While the action runs, the key and known_hosts are files only this user reads.
			keyDir = s.Outputs["dir"]
			for _, f := range []string{s.Outputs["key-file"], s.Outputs["known-hosts-file"]} {
				fi, err := os.Stat(f)
				if assert.NoError(t, err) {
					assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
				}
				assert.Equal(t, keyDir, filepath.Dir(f))
			}
			b, err := os.ReadFile(s.Outputs["key-file"])
			if assert.NoError(t, err) {
				assert.Equal(t, strings.TrimSpace(key), strings.TrimSpace(string(b)))
			}
		})
		require.False(t, run.Failed, run.String())
		require.NotEmpty(t, keyDir)
		assert.NoDirExists(t, keyDir, "the key is removed when the action ends")
		bin := filepath.Join(run.Temp, "deck-"+version+"-linux-"+runtime.GOARCH, "deck")
		assert.Empty(t, processesOf(t, bin), "no deck process of the action (an ssh-mux) outlives it with the key")

		installed, err := os.ReadFile(filepath.Join(run.Temp, "deck-"+version+"-linux-"+runtime.GOARCH, "deck"))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(rel.binary, installed), "the released binary is the one installed")
		assert.Contains(t, rel.requests(), "/latest/checksums.txt")

		st := a.status()
		require.Len(t, st.Services, 1)
		require.Equal(t, 3, st.Services[0].Healthy)
		var want []string
		onH3 := false
		for _, task := range st.Services[0].Tasks {
			want = append(want, task.Endpoint)
			onH3 = onH3 || task.Host == "h3"
		}
		assert.True(t, onH3, "a task runs on h3, reached over ssh with the key from the input")
		sort.Strings(want)

		assert.Equal(t, "3", run.Outputs["create"])
		assert.Equal(t, "0", run.Outputs["replace"])
		assert.Equal(t, "0", run.Outputs["destroy"])
		assert.Equal(t, "true", run.Outputs["changes"])
		assert.Equal(t, `{"hello":1}`, run.Outputs["revisions"])
		assert.Equal(t, "false", run.Outputs["rolled-back"])
		var eps map[string][]string
		require.NoError(t, json.Unmarshal([]byte(run.Outputs["endpoints"]), &eps), run.Outputs["endpoints"])
		assert.Equal(t, want, eps["hello"])

		assert.Contains(t, run.Summary, "## deck deploy: app hello, environment test")
		assert.Contains(t, run.Summary, "### Plan\n\n```diff\n")
		assert.Contains(t, run.Summary, "Plan: 3 to create")
		assert.Contains(t, run.Summary, "### Result")
		assert.Contains(t, run.Summary, "| hello | 1 | 3 | 0 | "+strings.Join(want, " ")+" | ✅ deployed |")
		assert.NotContains(t, run.Summary, "### Failed")
		noSecrets(t, run)
	})

	t.Run("a revision that fails is rolled back: the step fails, the summary says why", func(t *testing.T) {
		before := containers(t, hosts, "hello")
		a.write("deck/hello.yaml", strings.Replace(hello("3", "hello"), "GREETING: hello", "GREETING: hello\n  CRASH: \"3\"", 1))
		var keyDir string
		run := runAction(t, workspace, jobEnv, inputs("deploy"), func(s stepRun) {
			if s.ID == "keys" {
				keyDir = s.Outputs["dir"]
			}
		})
		require.True(t, run.Failed, run.String())
		assert.Equal(t, 1, run.step("deck deploy").Code)
		require.NotEmpty(t, keyDir)
		assert.NoDirExists(t, keyDir, "the key is removed after a failed deploy too")
		assert.Equal(t, "true", run.Outputs["rolled-back"], run.String())
		assert.Equal(t, "3", run.Outputs["replace"])
		assert.Contains(t, run.Summary, "**Rolled back:** service hello's revision 2 failed; it runs revision 1 again.")
		assert.Contains(t, run.Summary, "### Failed")
		assert.Contains(t, run.Summary, "the container exited with code 3")
		assert.Contains(t, run.Summary, "fatal: cannot start: CRASH=3 asked to exit")
		assert.Equal(t, containerIDs(before), containerIDs(containers(t, hosts, "hello")), "the old tasks serve on")
		noSecrets(t, run)
		a.write("deck/hello.yaml", hello("3", "hello"))
	})

	t.Run("a bad manifest: annotations on its lines, the step fails", func(t *testing.T) {
		a.write("deck/hello.yaml", hello("three", "hello"))
		defer a.write("deck/hello.yaml", hello("3", "hello"))
		run := runAction(t, workspace, jobEnv, inputs("plan"), nil)
		require.True(t, run.Failed, run.String())
		step := run.step("deck plan")
		assert.Equal(t, 1, step.Code)
		assert.Regexp(t, `(?m)^::error file=`+regexp.QuoteMeta(wd)+`/deck/hello\.yaml,line=8,col=8,title=deck%3A manifest error::count: .+$`, step.Stdout)
		assert.Contains(t, run.Summary, "| "+wd+"/deck/hello.yaml | 8 |")
		assert.Empty(t, run.Outputs["changes"], "no plan, no outputs")
	})
}

// release is a deck release served over HTTP as goreleaser lays it out: the archive of a
// freshly built deck binary and checksums.txt, under /releases/download/vVERSION and
// /latest.
type release struct {
	srv     *httptest.Server
	binary  []byte
	mu      sync.Mutex
	bad     bool
	served  []string
	archive string
	files   map[string][]byte
}

func newRelease(t *testing.T, version string) *release {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "deck")
	build := exec.Command("go", "build", "-tags", buildTags, "-ldflags", "-X main.version="+version, "-o", bin, "./cmd/deck")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	r := &release{files: map[string][]byte{}}
	r.binary, err = os.ReadFile(bin)
	require.NoError(t, err)

	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{{"README.md", 0o644, []byte("deck\n")}, {"deck", 0o755, r.binary}} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(f.body)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	r.archive = fmt.Sprintf("deck_%s_linux_%s.tar.gz", version, runtime.GOARCH)
	r.files[r.archive] = buf.Bytes()
	other := fmt.Sprintf("deck_%s_darwin_arm64.tar.gz", version)
	r.files[other] = []byte("another platform's archive")

	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.served = append(r.served, req.URL.Path)
		bad := r.bad
		r.mu.Unlock()
		name := filepath.Base(req.URL.Path)
		dir := filepath.Dir(req.URL.Path)
		if dir != "/latest" && dir != "/releases/download/v"+version {
			http.NotFound(w, req)
			return
		}
		if name == "checksums.txt" {
			var b strings.Builder
			for _, n := range []string{other, r.archive} {
				sum := sha256.Sum256(r.files[n])
				if bad && n == r.archive {
					sum[0] ^= 0xff
				}
				fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
			}
			_, _ = w.Write([]byte(b.String()))
			return
		}
		body, ok := r.files[name]
		if !ok {
			http.NotFound(w, req)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// tamper makes checksums.txt list a wrong sha256 for this machine's archive.
func (r *release) tamper(bad bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad = bad
}

func (r *release) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.served...)
}

// sshViaInputs returns the ssh host's key and known_hosts contents, and a hosts file that
// names them as ${DECK_SSH_KEY} and ${DECK_KNOWN_HOSTS}, as a repository using the action
// would: h3 is reached only with the files the action writes from its inputs.
func sshViaInputs(t *testing.T, hosts *testhosts.Env) (key, knownHosts, hostsFile string) {
	t.Helper()
	var hs []testhosts.Host
	for _, h := range hosts.Hosts {
		if h.Identity != "" {
			require.Empty(t, key, "one ssh host")
			k, err := os.ReadFile(h.Identity)
			require.NoError(t, err)
			require.NotEmpty(t, h.KnownHosts)
			kh, err := os.ReadFile(h.KnownHosts)
			require.NoError(t, err)
			key, knownHosts = string(k), string(kh)
			h.Identity, h.KnownHosts = "${DECK_SSH_KEY}", "${DECK_KNOWN_HOSTS}"
		}
		hs = append(hs, h)
	}
	require.NotEmpty(t, key, "the test hosts have an ssh host")
	b, err := yaml.Marshal(hs)
	require.NoError(t, err)
	hostsFile = filepath.Join(t.TempDir(), "hosts.yaml")
	require.NoError(t, os.WriteFile(hostsFile, b, 0o644))
	return key, knownHosts, hostsFile
}

// The runner's side: action.yml's definition and one run of it.

type actionDef struct {
	Inputs  map[string]struct{ Default string } `yaml:"inputs"`
	Outputs map[string]struct{ Value string }   `yaml:"outputs"`
	Runs    struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	If               string            `yaml:"if"`
	Shell            string            `yaml:"shell"`
	Run              string            `yaml:"run"`
	WorkingDirectory string            `yaml:"working-directory"`
	Env              map[string]string `yaml:"env"`
}

type stepRun struct {
	Name, ID       string
	Ran            bool
	Code           int
	Stdout, Stderr string
	Outputs        map[string]string
}

type actionRun struct {
	Steps          []stepRun
	Failed         bool
	Outputs        map[string]string // the action's outputs
	OutputsFile    string            // every step's GITHUB_OUTPUT, as written
	Summary        string            // every step's GITHUB_STEP_SUMMARY, in order
	Stdout, Stderr string
	Temp           string // RUNNER_TEMP
}

func (r *actionRun) step(name string) stepRun {
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	panic("no step " + name)
}

func (r *actionRun) String() string {
	var b strings.Builder
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "=== step %q ran=%v exit %d\n--- stdout\n%s--- stderr\n%s", s.Name, s.Ran, s.Code, s.Stdout, s.Stderr)
	}
	fmt.Fprintf(&b, "=== summary\n%s=== outputs\n%v\n", r.Summary, r.Outputs)
	return b.String()
}

var expression = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// runAction runs action.yml's steps with inputs, in a fresh RUNNER_TEMP, as a runner does
// for a composite action: ${{ inputs.* }} and ${{ steps.*.outputs.* }} are substituted, each
// step gets its own GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV and GITHUB_PATH files
// (read back after it), and after a failure only if: always() steps run. after, when not
// nil, is called after each step that ran, while the next has not started.
func runAction(t *testing.T, workspace string, jobEnv []string, inputs map[string]string, after func(stepRun)) *actionRun {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	require.NoError(t, err)
	var def actionDef
	require.NoError(t, yaml.Unmarshal(b, &def))
	require.Equal(t, "composite", def.Runs.Using)
	for k := range inputs {
		require.Contains(t, def.Inputs, k, "action.yml has no input %s", k)
	}
	in := map[string]string{}
	for k, v := range def.Inputs {
		in[k] = v.Default
	}
	for k, v := range inputs {
		in[k] = v
	}

	temp := t.TempDir()
	run := &actionRun{Temp: temp, Outputs: map[string]string{}}
	stepOutputs := map[string]map[string]string{}
	eval := func(s string) string {
		return expression.ReplaceAllStringFunc(s, func(m string) string {
			e := expression.FindStringSubmatch(m)[1]
			parts := strings.Split(e, ".")
			switch {
			case len(parts) == 2 && parts[0] == "inputs":
				v, ok := in[parts[1]]
				require.True(t, ok, "action.yml uses undeclared input %s", parts[1])
				return v
			case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
				return stepOutputs[parts[1]][parts[3]]
			}
			t.Fatalf("action.yml uses an expression this test runner does not know: %s", m)
			return ""
		})
	}

	// The job's environment: this machine's, less any runner's variables and any other
	// deck on PATH (the action must install its own), plus what a runner sets.
	var path []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, "deck")); err != nil {
			path = append(path, dir)
		}
	}
	var base []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GITHUB_") || strings.HasPrefix(k, "RUNNER_") || strings.HasPrefix(k, "INPUT_") || strings.HasPrefix(k, "DECK_") || k == "PATH" {
			continue
		}
		base = append(base, kv)
	}
	arch := map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH]
	require.NotEmpty(t, arch)
	base = append(base, jobEnv...)
	base = append(base, "GITHUB_ACTIONS=true", "CI=true", "GITHUB_WORKSPACE="+workspace, "GITHUB_ACTION_PATH="+repoRoot,
		"RUNNER_TEMP="+temp, "RUNNER_OS=Linux", "RUNNER_ARCH="+arch)
	exported := map[string]string{} // from GITHUB_ENV
	var added []string              // from GITHUB_PATH, newest first

	for i, st := range def.Runs.Steps {
		sr := stepRun{Name: eval(st.Name), ID: st.ID}
		switch st.If {
		case "":
			sr.Ran = !run.Failed
		case "always()":
			sr.Ran = true
		default:
			t.Fatalf("step %q: this test runner does not know if: %s", st.Name, st.If)
		}
		if !sr.Ran {
			run.Steps = append(run.Steps, sr)
			continue
		}
		require.Equal(t, "bash", st.Shell, "step %q", st.Name)
		files := map[string]string{}
		for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH"} {
			files[f] = filepath.Join(temp, fmt.Sprintf("_runner_file_commands/%s_%d", strings.ToLower(f), i))
			require.NoError(t, os.MkdirAll(filepath.Dir(files[f]), 0o755))
			require.NoError(t, os.WriteFile(files[f], nil, 0o644))
		}
		script := filepath.Join(temp, fmt.Sprintf("_runner_file_commands/step_%d.sh", i))
		require.NoError(t, os.WriteFile(script, []byte(eval(st.Run)), 0o644))

		env := append([]string{}, base...)
		for k, v := range exported {
			env = append(env, k+"="+v)
		}
		env = append(env, "PATH="+strings.Join(append(append([]string{}, added...), path...), string(os.PathListSeparator)))
		for f, p := range files {
			env = append(env, f+"="+p)
		}
		for k, v := range st.Env {
			env = append(env, k+"="+eval(v))
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = workspace
		if wd := eval(st.WorkingDirectory); wd != "" {
			cmd.Dir = filepath.Join(workspace, wd)
		}
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			sr.Code = ee.ExitCode()
		} else {
			require.NoError(t, err, "step %q", st.Name)
		}
		sr.Stdout, sr.Stderr = stdout.String(), stderr.String()
		run.Stdout += sr.Stdout
		run.Stderr += sr.Stderr
		if sr.Code != 0 {
			run.Failed = true
		}

		read := func(f string) string {
			b, err := os.ReadFile(files[f])
			require.NoError(t, err)
			return string(b)
		}
		out := read("GITHUB_OUTPUT")
		run.OutputsFile += out
		sr.Outputs, err = parseRunnerFile(out)
		require.NoError(t, err, "step %q's GITHUB_OUTPUT:\n%s", st.Name, out)
		if st.ID != "" {
			stepOutputs[st.ID] = sr.Outputs
		}
		run.Summary += read("GITHUB_STEP_SUMMARY")
		envs, err := parseRunnerFile(read("GITHUB_ENV"))
		require.NoError(t, err)
		for k, v := range envs {
			exported[k] = v
		}
		for _, p := range strings.Split(strings.TrimSpace(read("GITHUB_PATH")), "\n") {
			if p != "" {
				added = append([]string{p}, added...)
			}
		}
		run.Steps = append(run.Steps, sr)
		if after != nil {
			after(sr)
		}
	}
	for k, o := range def.Outputs {
		run.Outputs[k] = eval(o.Value)
	}
	return run
}

// parseRunnerFile reads a GITHUB_OUTPUT or GITHUB_ENV file as the runner does: NAME=VALUE
// lines and NAME<<DELIMITER heredocs. It is the test's own, not deck's.
func parseRunnerFile(data string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(data, "\n")
	if strings.HasSuffix(data, "\n") {
		lines = lines[:len(lines)-1]
	}
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue // the runner skips blank lines
		}
		if name, delim, ok := strings.Cut(lines[i], "<<"); ok {
			end := i + 1
			for end < len(lines) && lines[end] != delim {
				end++
			}
			if end == len(lines) {
				return nil, fmt.Errorf("%s: no closing %s", name, delim)
			}
			out[name] = strings.Join(lines[i+1:end], "\n")
			i = end
			continue
		}
		name, value, ok := strings.Cut(lines[i], "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid line %q", lines[i])
		}
		out[name] = value
	}
	return out, nil
}

// TestExampleWorkflow keeps the README's workflow usable: it is examples/github-actions/
// deploy.yml verbatim, its deck steps pass only inputs action.yml declares, and it reads
// only outputs action.yml sets.
func TestExampleWorkflow(t *testing.T) {
	wf, err := os.ReadFile(filepath.Join(repoRoot, "examples/github-actions/deploy.yml"))
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(readme), "```yaml\n"+string(wf)+"```\n"),
		"the README shows examples/github-actions/deploy.yml as it is, in a yaml block")

	b, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	require.NoError(t, err)
	var def actionDef
	require.NoError(t, yaml.Unmarshal(b, &def))
	var doc struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			If    string `yaml:"if"`
			Steps []struct {
				ID   string            `yaml:"id"`
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(wf, &doc))
	assert.Contains(t, doc.On, "push")
	assert.Contains(t, doc.On, "pull_request")
	commands := map[string]bool{}
	secretEnv := map[string][]string{} // the deck step's env, by command
	outputRef := regexp.MustCompile(`steps\.deck\.outputs\.([a-z-]+)`)
	for name, job := range doc.Jobs {
		deckSteps := 0
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "deckhq/deck@") {
				deckSteps++
				assert.Equal(t, "deck", s.ID, "job %s", name)
				for k := range s.With {
					assert.Contains(t, def.Inputs, k, "job %s passes an input action.yml does not declare", name)
				}
				cmd := s.With["command"]
				if cmd == "" {
					cmd = def.Inputs["command"].Default
				}
				commands[cmd] = true
				secretEnv[cmd] = slices.Sorted(maps.Keys(s.Env))
			}
			for _, v := range s.Env {
				for _, m := range outputRef.FindAllStringSubmatch(v, -1) {
					assert.Contains(t, def.Outputs, m[1], "job %s reads an output action.yml does not set", name)
				}
			}
		}
		assert.Equal(t, 1, deckSteps, "job %s runs the action once", name)
	}
	assert.Equal(t, map[string]bool{"deploy": true, "plan": true}, commands)
	// deck plan digests the secrets the manifests read from the environment, as deploy
	// does: without them, every pull request's plan fails.
	assert.NotEmpty(t, secretEnv["deploy"])
	assert.Equal(t, secretEnv["deploy"], secretEnv["plan"], "the plan job is given the deploy job's secrets")
}

// TestActionScriptsRefuse checks the action's scripts' refusals that need no release or
// hosts: a runner deck has no build for, a command that is neither deploy nor plan, and a
// directory to remove that keys.sh did not make.
func TestActionScriptsRefuse(t *testing.T) {
	temp := t.TempDir()
	script := func(env []string, args ...string) (string, int) {
		cmd := exec.Command("bash", append([]string{"--noprofile", "--norc", "-eo", "pipefail"}, args...)...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + temp,
			"GITHUB_PATH=" + filepath.Join(temp, "path"), "GITHUB_OUTPUT=" + filepath.Join(temp, "output")}, env...)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return string(out), code
	}
	action := filepath.Join(repoRoot, "action")

	out, code := script([]string{"RUNNER_OS=Windows", "RUNNER_ARCH=X64"}, filepath.Join(action, "install.sh"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "::error title=deck action::deck is released for Linux and macOS runners, not RUNNER_OS=Windows")
	out, code = script([]string{"RUNNER_OS=Linux", "RUNNER_ARCH=ARM"}, filepath.Join(action, "install.sh"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "not RUNNER_ARCH=ARM")

	out, code = script([]string{"INPUT_COMMAND=destroy"}, filepath.Join(action, "run.sh"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "::error title=deck action::the command input is deploy or plan, not destroy")

	victim := t.TempDir()
	out, code = script([]string{"DECK_SSH_DIR=" + victim}, filepath.Join(action, "keys.sh"), "remove")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "refusing to remove "+victim)
	assert.DirExists(t, victim)

	// With no key and no known_hosts, write makes nothing and names nothing.
	_, code = script(nil, filepath.Join(action, "keys.sh"), "write")
	assert.Equal(t, 0, code)
	assert.NoFileExists(t, filepath.Join(temp, "output"))
	matches, _ := filepath.Glob(filepath.Join(temp, "deck-ssh.*"))
	assert.Empty(t, matches)
}

// processesOf lists the command lines of running processes whose program is bin.
func processesOf(t *testing.T, bin string) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	var found []string
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue // gone, or a kernel thread
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if args[0] == bin {
			found = append(found, strings.Join(args, " "))
		}
	}
	return found
}
