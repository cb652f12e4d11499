package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/bench/load"
)

func TestRunPrintsJSON(t *testing.T) {
	hit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hit <- struct{}{}:
		default:
		}
		_, _ = w.Write([]byte("hi\n"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-hit; cancel() }() // as a SIGINT would, once the load has arrived
	var out, errs bytes.Buffer
	code := run(ctx, []string{"-url", srv.URL, "-json", "-rate", "0", "-conns", "2"}, &out, &errs)
	require.Equal(t, 0, code, errs.String())
	var res load.Result
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	assert.Equal(t, res.Sent, res.OK)
	assert.Equal(t, res.OK, res.ByBody["hi"])
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{}, {"-url", "http://x", "-conns", "0"}, {"-url", "http://x", "extra"}, {"-nope"}} {
		var out, errs bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, &out, &errs), "%q", args)
		assert.NotEmpty(t, errs.String())
		assert.Empty(t, out.String())
	}
}
