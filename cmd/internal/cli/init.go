package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/templates"
)

// InitOptions are deck init's inputs.
type InitOptions struct {
	Deps     Deps
	Globals  *Globals
	App      string
	Name     string
	Type     string
	Port     int
	Build    string
	Image    string
	Schedule string
	Force    bool
}

// NewCmdInit builds `deck init`.
func NewCmdInit(deps Deps, g *Globals, runF func(*InitOptions) error) *cobra.Command {
	opts := &InitOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starter manifest for a service (and deck.yaml when there is none)",
		Long: `Write deck/NAME.yaml from the starter template of a workload type, and deck.yaml when it is
missing. Every value can be given by flag; on a terminal, deck asks for the ones left out.
Workload types: ` + strings.Join(typeNames(), ", ") + `.`,
		Example: `  deck init --name web --type "Load Balanced Web Service" --port 8080 --build .
  deck init --name report --type "Scheduled Job" --image example.com/report:1 --schedule @daily`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runInit(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.App, "app", "", "app name for a new deck.yaml (default: the directory's name)")
	f.StringVarP(&opts.Name, "name", "n", "", "service name")
	f.StringVarP(&opts.Type, "type", "t", "", "workload type")
	f.IntVar(&opts.Port, "port", 0, "container port the service listens on")
	f.StringVar(&opts.Build, "build", "", "build context directory (with a Containerfile)")
	f.StringVar(&opts.Image, "image", "", "an existing image reference, instead of --build")
	f.StringVar(&opts.Schedule, "schedule", "", "cron expression (Scheduled Job)")
	f.BoolVar(&opts.Force, "force", false, "overwrite an existing manifest")
	return cmd
}

func typeNames() []string {
	var out []string
	for _, t := range manifest.WorkloadTypes {
		out = append(out, string(t))
	}
	return out
}

func runInit(o *InitOptions) error {
	io := o.Deps.IO
	ask := func(field *string, question, def string) error {
		if *field != "" {
			return nil
		}
		if !io.CanPrompt() {
			if def != "" {
				*field = def
				return nil
			}
			return flagErrorf("--%s is required when not on a terminal", question)
		}
		v, err := io.Prompt(question, def)
		*field = v
		return err
	}
	if err := ask(&o.Name, "name", ""); err != nil {
		return err
	}
	if err := manifest.ValidateName(o.Name, "service"); err != nil {
		return err // said at once, not after the other questions
	}
	if o.Type == "" && io.CanPrompt() {
		for i, t := range manifest.WorkloadTypes {
			fmt.Fprintf(io.ErrOut, "  %d. %s\n", i+1, t)
		}
		v, err := io.Prompt("type (number or name)", "1")
		if err != nil {
			return err
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= len(manifest.WorkloadTypes) {
			v = string(manifest.WorkloadTypes[n-1])
		}
		o.Type = v
	}
	if err := ask(&o.Type, "type", ""); err != nil {
		return err
	}
	typ := manifest.WorkloadType(o.Type)
	if typ == manifest.ScheduledJob {
		if err := ask(&o.Schedule, "schedule", "@daily"); err != nil {
			return err
		}
	}
	if io.CanPrompt() {
		if err := o.askImageAndPort(typ); err != nil {
			return err
		}
	}
	if typ == manifest.LoadBalancedWebService && o.Port == 0 {
		o.Port = 8080
	}
	body, err := templates.Render(templates.Options{Name: o.Name, Type: typ, Port: o.Port,
		Build: o.Build, Image: o.Image, Schedule: o.Schedule})
	if err != nil {
		return &FlagError{Err: err}
	}
	dir := filepath.Dir(o.Globals.File)
	written := InitJSON{Service: o.Name, Type: o.Type}
	if _, err := os.Stat(o.Globals.File); errors.Is(err, os.ErrNotExist) {
		app := o.App
		if app == "" {
			abs, _ := filepath.Abs(dir)
			app = sanitizeName(filepath.Base(abs))
		}
		body := withSchema(dir, manifest.AppSchemaFile, templates.AppFile(app))
		if err := os.WriteFile(o.Globals.File, body, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(io.ErrOut, "Wrote %s (app %s)\n", o.Globals.File, app)
		written.App, written.AppFile = app, o.Globals.File
	}
	path := filepath.Join(dir, "deck", o.Name+".yaml")
	if _, err := os.Stat(path); err == nil && !o.Force {
		return fmt.Errorf("%s exists; use --force to overwrite it", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, withSchema(filepath.Dir(path), manifest.ServiceSchemaFile, body), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(io.ErrOut, "Wrote %s. Next: deck validate, then deck deploy.\n", path)
	if o.Globals.Output == "json" {
		written.Manifest = path
		return writeJSON(o.Deps, written)
	}
	return nil
}

// InitJSON is deck init's -o json: the files it wrote.
type InitJSON struct {
	Service string `json:"service"`
	Type    string `json:"type"`
	// Manifest is the service manifest written.
	Manifest string `json:"manifest"`
	// AppFile and App are set when deck.yaml was missing and deck init wrote it.
	AppFile string `json:"app_file,omitempty"`
	App     string `json:"app,omitempty"`
}

// withSchema puts the yaml-language-server comment that names the file's JSON Schema at
// the top of body, a file to be written in dir, so editors (VS Code's YAML extension and
// others using the YAML language server) complete and check its keys.
func withSchema(dir, name string, body []byte) []byte {
	return append([]byte("# yaml-language-server: $schema="+schemaRef(dir, name)+"\n"), body...)
}

// schemaRef is where a file in dir finds the schema name: the path of schema/NAME relative
// to dir when dir is inside a checkout of deck's repository (as examples/ are), so the
// schema matches the code; else manifest.SchemaBaseURL, the copy on deck's main branch.
func schemaRef(dir, name string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return manifest.SchemaBaseURL + name
	}
	for d := abs; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, manifest.SchemaDir, name)); err == nil && fi.Mode().IsRegular() {
			if rel, err := filepath.Rel(abs, filepath.Join(d, manifest.SchemaDir, name)); err == nil {
				return filepath.ToSlash(rel)
			}
		}
		if filepath.Dir(d) == d {
			return manifest.SchemaBaseURL + name
		}
	}
}

// sanitizeName turns a directory name into a valid app name.
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" || out[0] < 'a' {
		out = "app" + out
	}
	return out
}

// askImageAndPort asks, on a terminal, what the flags left out: an image to run or a
// directory to build (offered only when it holds a Containerfile), and the port of a
// service that listens.
func (o *InitOptions) askImageAndPort(typ manifest.WorkloadType) error {
	io := o.Deps.IO
	if o.Build == "" && o.Image == "" {
		def := ""
		dir := filepath.Dir(o.Globals.File)
		for _, f := range []string{"Containerfile", "Dockerfile"} {
			if fileExists(filepath.Join(dir, f)) {
				def = "."
			}
		}
		v, err := io.Prompt("build context (a directory with a Containerfile; empty to run an existing image)", def)
		if err != nil {
			return err
		}
		o.Build = v
		if o.Build == "" {
			if o.Image, err = io.Prompt("image", ""); err != nil {
				return err
			}
			if o.Image == "" {
				return flagErrorf("give a directory to build or an image to run")
			}
		}
	}
	if o.Port == 0 && (typ == manifest.LoadBalancedWebService || typ == manifest.BackendService) {
		v, err := io.Prompt("port the service listens on", strconv.Itoa(templates.DefaultPort))
		if err != nil {
			return err
		}
		if o.Port, err = strconv.Atoi(v); err != nil {
			return flagErrorf("port %q: want a number, 1 to 65535", v)
		}
	}
	return nil
}
