// Package console is deck console's web server: one page, embedded in the binary, that shows
// an environment's services, tasks, hosts, revisions, pending plan, events and logs, kept up
// to date over server-sent events. It reads through a Backend (the CLI's own readers) and
// changes nothing unless AllowDeploy, when deploys and rollbacks go through the Backend too.
//
// Access is by a random token, as Jupyter does it: the URL printed carries it once, the page
// keeps it in an HttpOnly, SameSite=Strict cookie and drops it from the address bar; a
// request without it gets 401. Every response forbids anything but its own origin
// (Content-Security-Policy default-src 'self'): the page loads nothing from elsewhere.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Status is an environment as deck status reads it.
type Status struct {
	App      string
	Env      string
	Services []Service
	Hosts    []Host
}

// Service is one service: counts, revisions, endpoints and tasks.
type Service struct {
	Name      string
	Type      string
	Desired   *int // nil: no manifest, or a schedule rather than a count
	Running   int
	Healthy   int
	Revisions []string
	Endpoints []string
	Tasks     []Task
}

// Task is one task of a service.
type Task struct {
	ID       string
	Host     string
	State    string
	Healthy  bool
	Health   string
	Revision string
	Endpoint string
}

// Host is one host and its capacity, in ECS CPU units and MiB.
type Host struct {
	Name      string
	Reachable bool
	Error     string
	Version   string
	CPUUsed   int64
	CPUFree   int64
	MemUsed   int64
	MemFree   int64
	Tasks     int
}

// Revision is one recorded revision of a service (deck history).
type Revision struct {
	Service  string
	Number   int
	Kind     string
	Outcome  string
	Started  time.Time
	Who      string
	Where    string
	Commit   string
	Image    string
	Detail   string
	Finished bool
}

// Event is one entry of the environment's event log (deck events).
type Event struct {
	Time    time.Time
	Service string
	Message string
}

// LogLine is one line of a service's tasks (deck logs), or a note about a task (Event).
type LogLine struct {
	Time  time.Time
	Task  string
	Host  string
	Line  string
	Event string
}

// Backend is what the page reads and does. The CLI implements it with the functions its
// commands use, so the page shows what deck status, plan, history, events and logs print.
type Backend interface {
	// Environments are the app's environments and the one shown first.
	Environments() (names []string, current string)
	Status(ctx context.Context, env string) (*Status, error)
	// Plan is the pending plan as deck plan prints it, and whether it changes anything.
	Plan(ctx context.Context, env string) (text string, changes bool, err error)
	// History is the revisions of every service, newest first.
	History(ctx context.Context, env string) ([]Revision, error)
	// Events are the event log's entries after since, oldest first.
	Events(ctx context.Context, env string, since time.Time) ([]Event, error)
	// Logs are the last tail lines of each running task of each service, merged per service.
	Logs(ctx context.Context, env string, services []string, tail int) (map[string][]LogLine, error)
	// Deploy and Rollback run deck deploy --yes and deck rollback SERVICE --yes, writing
	// what those print to out.
	Deploy(ctx context.Context, env string, out io.Writer) error
	Rollback(ctx context.Context, env, service string, out io.Writer) error
}

// Options configure a Server.
type Options struct {
	Backend     Backend
	AllowDeploy bool
	// Refresh is how often the page's status is read again (default 2s); the plan and
	// history are read every fifth time and whenever the status changed, the event log and
	// logs every time.
	Refresh time.Duration
	// LogTail is how many lines of each service's logs the page keeps (default 20).
	LogTail int
	// Token is the access token (default: 32 random bytes, hex).
	Token string
	// Logf reports errors of background work (nil: dropped).
	Logf func(format string, args ...any)
	// Context bounds the deploys and rollbacks started from the page: cancelling it stops
	// them as Ctrl-C stops deck deploy (default: never cancelled).
	Context context.Context
}

// Server serves the console.
type Server struct {
	opts  Options
	tmpl  *template.Template
	csrf  string // what forms carry to prove they came from the page: HMAC(token, "csrf")
	ops   *operations
	files http.Handler
}

//go:embed assets
var assets embed.FS

// CookieName starts the name of the cookie that keeps the token; the port follows
// (deck_console_8080): browsers keep cookies per host, not per port, so two consoles on
// one machine would otherwise overwrite each other's token.
const CookieName = "deck_console"

// cookieName is the token's cookie for the console the request reached.
func cookieName(r *http.Request) string {
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		return CookieName
	}
	return CookieName + "_" + port
}

// CSP is every response's Content-Security-Policy: nothing but the console's own origin.
const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// New makes a Server.
func New(o Options) (*Server, error) {
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.LogTail <= 0 {
		o.LogTail = 20
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Token == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		o.Token = hex.EncodeToString(b)
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, []byte(o.Token))
	mac.Write([]byte("deck console csrf"))
	return &Server{opts: o, tmpl: tmpl, csrf: hex.EncodeToString(mac.Sum(nil)), ops: &operations{ctx: o.Context},
		files: http.StripPrefix("/static/", http.FileServerFS(static))}, nil
}

// Token is the access token: the printed URL carries it.
func (s *Server) Token() string { return s.opts.Token }

// URL is the address to open, with the token, for a server listening on addr (host:port).
func (s *Server) URL(addr string) string {
	return "http://" + addr + "/?token=" + url.QueryEscape(s.opts.Token)
}

// ServeHTTP answers every request: headers first, then the token, then the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: with it, browsers send "Origin: null" on the page's own POSTs.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if q := r.URL.Query().Get("token"); q != "" && s.tokenOK(q) && r.Method == http.MethodGet {
		// The token moves to a cookie and out of the address bar and the history.
		http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: s.opts.Token, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode})
		v := r.URL.Query()
		v.Del("token")
		to := r.URL.Path
		if len(v) > 0 {
			to += "?" + v.Encode()
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	c, err := r.Cookie(cookieName(r))
	if err != nil || !s.tokenOK(c.Value) {
		http.Error(w, "401 unauthorized: open the URL deck console printed (it carries the token)", http.StatusUnauthorized)
		return
	}
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		s.page(w, r)
	case r.URL.Path == "/stream" && r.Method == http.MethodGet:
		s.stream(w, r)
	case strings.HasPrefix(r.URL.Path, "/static/") && r.Method == http.MethodGet:
		s.files.ServeHTTP(w, r)
	case (r.URL.Path == "/deploy" || r.URL.Path == "/rollback") && r.Method == http.MethodPost:
		s.change(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.opts.Token)) == 1
}

// env is the environment the request asks for, or the backend's current one.
func (s *Server) env(r *http.Request) (string, []string, bool) {
	names, current := s.opts.Backend.Environments()
	env := r.URL.Query().Get("env")
	if env == "" {
		return current, names, true
	}
	return env, names, slices.Contains(names, env)
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	env, names, ok := s.env(r)
	if !ok {
		http.Error(w, "no environment "+env+" in this app", http.StatusNotFound)
		return
	}
	d := s.view(env)
	d.Envs = names
	d.Op = s.ops.snapshot(env)
	// The status is read before the page is sent: the first paint shows the services.
	st, err := s.opts.Backend.Status(r.Context(), env)
	if err != nil {
		d.StatusErr = err.Error()
	}
	d.Status, d.Updated = st, time.Now()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.tmpl.ExecuteTemplate(w, "index.html", d); err != nil {
		s.opts.Logf("console: rendering the page: %v", err)
	}
}

// change starts a deploy or a rollback, when allowed, and sends the browser back to the
// page, where the run's output streams in.
func (s *Server) change(w http.ResponseWriter, r *http.Request) {
	if !s.opts.AllowDeploy {
		http.Error(w, "deck console was started without --allow-deploy: the page is read-only", http.StatusForbidden)
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
		http.Error(w, "the form's check value is wrong: reload the page", http.StatusForbidden)
		return
	}
	env, _, ok := s.env(r)
	if f := r.PostFormValue("env"); f != "" {
		names, _ := s.opts.Backend.Environments()
		env, ok = f, slices.Contains(names, f)
	}
	if !ok {
		http.Error(w, "no environment "+env+" in this app", http.StatusNotFound)
		return
	}
	what, service := "deck deploy", ""
	if r.URL.Path == "/rollback" {
		service = r.PostFormValue("service")
		if service == "" {
			http.Error(w, "rollback: name a service", http.StatusBadRequest)
			return
		}
		what = "deck rollback " + service
	}
	run := func(ctx context.Context, out io.Writer) error {
		if service != "" {
			return s.opts.Backend.Rollback(ctx, env, service, out)
		}
		return s.opts.Backend.Deploy(ctx, env, out)
	}
	if !s.ops.start(env, what, run) {
		http.Error(w, "a deploy or rollback started from this console is still running", http.StatusConflict)
		return
	}
	http.Redirect(w, r, "/?env="+url.QueryEscape(env), http.StatusSeeOther)
}

// sameOrigin is true when the browser says the request comes from the page's own origin:
// by Sec-Fetch-Site when it sends it (a header no page can set), else by Origin against the
// Host asked for.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	return origin != "" && origin == "http://"+r.Host
}

// operations are the deploys and rollbacks started from the page: one at a time per
// console (the environment's deploy lock still guards against every other deck).
type operations struct {
	ctx  context.Context
	wg   sync.WaitGroup
	mu   sync.Mutex
	runs map[string]*operation // by environment: the latest
}

// Wait returns once the deploys and rollbacks started from the page have ended.
func (s *Server) Wait() { s.ops.wg.Wait() }

// Running is what a deploy or rollback started from the page is doing ("": none).
func (s *Server) Running() string {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	for env, op := range s.ops.runs {
		if !op.done() {
			return op.What + " (environment " + env + ")"
		}
	}
	return ""
}

type operation struct {
	What    string
	Started time.Time
	Done    bool
	Err     string
	out     lockedBuffer
}

func (o *operations) start(env, what string, run func(context.Context, io.Writer) error) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, op := range o.runs {
		if !op.done() {
			return false
		}
	}
	if o.runs == nil {
		o.runs = map[string]*operation{}
	}
	op := &operation{What: what, Started: time.Now()}
	o.runs[env] = op
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		// The run outlives the request that started it; the console's end cancels it.
		err := run(o.ctx, &op.out)
		op.out.mu.Lock()
		op.Done = true
		if err != nil {
			op.Err = err.Error()
		}
		op.out.mu.Unlock()
	}()
	return true
}

func (o *operation) done() bool {
	o.out.mu.Lock()
	defer o.out.mu.Unlock()
	return o.Done
}

// snapshot is the latest operation of env as it is now (nil: none).
func (o *operations) snapshot(env string) *operationView {
	o.mu.Lock()
	op := o.runs[env]
	o.mu.Unlock()
	if op == nil {
		return nil
	}
	op.out.mu.Lock()
	defer op.out.mu.Unlock()
	return &operationView{What: op.What, Started: op.Started, Done: op.Done, Err: op.Err, Output: op.out.b.String()}
}

type operationView struct {
	What    string
	Started time.Time
	Done    bool
	Err     string
	Output  string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
