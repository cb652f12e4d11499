// Package templates holds the starter manifests deck init writes: one commented service
// manifest per workload type, and a starter deck.yaml.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/deckhq/deck/manifest"
)

//go:embed services/*.yaml.tmpl app.yaml.tmpl
var files embed.FS

// funcs are the helpers the templates use; quote makes any string a safe YAML scalar
// (a Go-quoted string is a valid YAML double-quoted string).
var funcs = template.FuncMap{"quote": strconv.Quote}

var parsed = template.Must(template.New("").Funcs(funcs).ParseFS(files, "services/*.yaml.tmpl", "app.yaml.tmpl"))

// templateFor names each type's template file.
var templateFor = map[manifest.WorkloadType]string{
	manifest.LoadBalancedWebService: "lb-web-service.yaml.tmpl",
	manifest.BackendService:         "backend-service.yaml.tmpl",
	manifest.WorkerService:          "worker-service.yaml.tmpl",
	manifest.ScheduledJob:           "scheduled-job.yaml.tmpl",
}

// DefaultPort is the port a Load Balanced Web Service gets when none is given.
const DefaultPort = 8080

// DefaultSchedule is the schedule a Scheduled Job gets when none is given.
const DefaultSchedule = "@daily"

// Options describe the service to write.
type Options struct {
	Name     string
	Type     manifest.WorkloadType
	Port     int    // container port; a Load Balanced Web Service gets DefaultPort when 0
	Build    string // context directory to build from (default "." when Image is empty)
	Image    string // an existing image to run instead of building
	Schedule string // Scheduled Job only (default DefaultSchedule)
}

// Render writes the starter manifest for o, after checking o and filling its defaults.
func Render(o Options) ([]byte, error) {
	if err := o.complete(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := parsed.ExecuteTemplate(&b, templateFor[o.Type], o); err != nil {
		return nil, fmt.Errorf("render %s manifest: %w", o.Type, err)
	}
	return b.Bytes(), nil
}

// complete validates o and fills its defaults.
func (o *Options) complete() error {
	if _, ok := templateFor[o.Type]; !ok {
		names := make([]string, len(manifest.WorkloadTypes))
		for i, t := range manifest.WorkloadTypes {
			names[i] = strconv.Quote(string(t))
		}
		return fmt.Errorf("%q is not a workload type; want one of %s", o.Type, strings.Join(names, ", "))
	}
	if err := manifest.ValidateName(o.Name, "service"); err != nil {
		return err
	}
	if o.Build != "" && o.Image != "" {
		return fmt.Errorf("give either a directory to build (%s) or an image to run (%s), not both", o.Build, o.Image)
	}
	if o.Image == "" && o.Build == "" {
		o.Build = "."
	}
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("port %d is out of range; want 1 to 65535", o.Port)
	}
	switch o.Type {
	case manifest.LoadBalancedWebService:
		if o.Port == 0 {
			o.Port = DefaultPort
		}
	case manifest.WorkerService, manifest.ScheduledJob:
		if o.Port != 0 {
			return fmt.Errorf("a %s takes no port; leave the port out, or choose %q", o.Type, manifest.BackendService)
		}
	}
	if o.Type == manifest.ScheduledJob {
		if o.Schedule == "" {
			o.Schedule = DefaultSchedule
		}
		if err := manifest.ValidateSchedule(o.Schedule); err != nil {
			return fmt.Errorf("schedule: %w", err)
		}
	} else if o.Schedule != "" {
		return fmt.Errorf("only a %s has a schedule, and %s is a %s", manifest.ScheduledJob, o.Name, o.Type)
	}
	return nil
}

// AppFile is a starter deck.yaml for app, with a commented example of environments.
func AppFile(app string) []byte {
	var b bytes.Buffer
	if err := parsed.ExecuteTemplate(&b, "app.yaml.tmpl", app); err != nil {
		// The template is embedded and takes a plain string: it cannot fail at run time.
		panic(err)
	}
	return b.Bytes()
}
