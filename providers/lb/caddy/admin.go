package caddy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// callTimeout bounds one admin call when the caller's context has no deadline. A write
// reloads the whole configuration, which takes milliseconds on a small one.
const callTimeout = 30 * time.Second

// maxBody bounds what deck reads from the admin API (a whole configuration at most).
const maxBody = 64 << 20

// admin is a client of Caddy's admin API over a connection the caller opens (the unix
// socket, locally or through ssh).
type admin struct {
	client *http.Client
}

func newAdmin(dial func(ctx context.Context) (net.Conn, error)) *admin {
	return &admin{client: &http.Client{Transport: transport{dial: dial}}}
}

// unreachableError is a call that got no answer: the socket did not open, or the
// connection broke before a response came.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// apiError is an answer with an error status; msg is Caddy's own message.
type apiError struct {
	method, path string
	status       int
	msg          string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.method, e.path, e.status, http.StatusText(e.status), e.msg)
}

// errStale is a write refused because the configuration changed since it was read (412).
var errStale = errors.New("the configuration changed while deck was changing it")

// missing reports whether err says the path leads nowhere: Caddy 2.6.2 answers a GET below
// an absent key with 400 "invalid traversal path".
func missing(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == http.StatusBadRequest && strings.Contains(ae.msg, "invalid traversal path")
}

// get returns the JSON at path and its Etag.
func (a *admin) get(ctx context.Context, path string) (json.RawMessage, string, error) {
	resp, body, err := a.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, "", err
	}
	// Caddy sends the Etag of a config read as a trailer, after the body.
	etag := resp.Trailer.Get("Etag")
	if etag == "" {
		etag = resp.Header.Get("Etag")
	}
	return body, etag, nil
}

// write sends method path with v as JSON, only if the configuration read with etag is
// still current (etag is "" for an unconditional write).
func (a *admin) write(ctx context.Context, method, path string, v any, etag string) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, _, err = a.do(ctx, method, path, data, etag)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusPreconditionFailed {
		return errStale
	}
	return err
}

func (a *admin) do(ctx context.Context, method, path string, body []byte, etag string) (*http.Response, []byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://caddy-admin"+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if etag != "" {
		req.Header.Set("If-Match", etag)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, nil, unwrapURLError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, &unreachableError{fmt.Errorf("reading the answer to %s %s: %w", method, path, err)}
	}
	if resp.StatusCode >= 300 {
		return nil, nil, &apiError{method: method, path: path, status: resp.StatusCode, msg: errorMessage(data)}
	}
	return resp, data, nil
}

// errorMessage returns the "error" of Caddy's JSON error body, or the body.
func errorMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(body))
}

// unwrapURLError drops net/http's `Get "http://caddy-admin/...":` prefix, which names a
// host that does not exist; the transport's own error says what failed.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// transport is an http.RoundTripper that sends each request on a new connection from
// dial, with an empty Host header. Caddy 2.6.2 accepts no other Host on a unix admin
// socket ("host not allowed"; later versions also accept 127.0.0.1), and net/http's own
// Transport always sends one. One connection per call is cheap: a unix socket, or one ssh
// channel on the host's open connection.
type transport struct {
	dial func(ctx context.Context) (net.Conn, error)
}

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	conn, err := t.dial(req.Context())
	if err != nil {
		return nil, &unreachableError{err}
	}
	// A canceled or expired context ends the call by closing the connection: an ssh
	// channel has no deadlines.
	stop := context.AfterFunc(req.Context(), func() { _ = conn.Close() })
	fail := func(what string, err error) (*http.Response, error) {
		stop()
		_ = conn.Close()
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, &unreachableError{fmt.Errorf("%s %s %s: %w", what, req.Method, req.URL.Path, err)}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s %s HTTP/1.1\r\nHost: \r\nConnection: close\r\nContent-Length: %d\r\n", req.Method, req.URL.RequestURI(), len(body))
	if err := req.Header.Write(&buf); err != nil {
		return fail("writing", err)
	}
	buf.WriteString("\r\n")
	buf.Write(body)
	if _, err := conn.Write(buf.Bytes()); err != nil {
		return fail("sending", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return fail("no answer to", err)
	}
	resp.Body = &connBody{ReadCloser: resp.Body, conn: conn, stop: stop}
	return resp, nil
}

// connBody closes the connection with the body.
type connBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
}

func (b *connBody) Close() error {
	b.stop()
	err := b.ReadCloser.Close()
	_ = b.conn.Close()
	return err
}
