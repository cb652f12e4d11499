package executor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

func TestRedactorHidesEverySecretValue(t *testing.T) {
	r := NewRedactor(map[string][]byte{
		"db":    []byte("postgres://app:s3cr3t-pw@db:5432/app"),
		"pw":    []byte("s3cr3t-pw"),
		"token": []byte("tok-123\n"), // as read from a file, with its newline
		"key":   []byte("-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\n-----END KEY-----\n"),
		"short": []byte("abc"),
	})
	for in, want := range map[string]string{
		"dial postgres://app:s3cr3t-pw@db:5432/app: refused": "dial ***: refused",
		"password s3cr3t-pw rejected":                        "password *** rejected",
		"token=tok-123 and again tok-123":                    "token=*** and again ***",
		"key line MIIBOgIBAAJBAKj34":                         "key line ***",
		"abc is too short to hide; nothing else here":        "abc is too short to hide; nothing else here",
	} {
		assert.Equal(t, want, r.Line(in))
	}
	var none *Redactor = NewRedactor(nil)
	assert.Nil(t, none)
	assert.Equal(t, "tok-123", none.Line("tok-123"), "no secrets: nothing hidden")
}

// A failed task's last log lines are shown in the terminal, the CI log, the JSON report
// and the job summary: the deploy's secret values are hidden in them.
func TestFailedTaskLogLinesHideTheSecrets(t *testing.T) {
	w, h, _, plan := replaceOne(t)
	h.Exits = func(s providers.TaskSpec) (int, bool) { return 1, s.Labels[providers.LabelTask] == "new1" }
	h.Output = func(providers.TaskSpec) []string {
		return []string{"connecting to postgres://app:hunter2-db@db/app", "fatal: connection refused"}
	}
	opts := w.opts()
	opts.Secrets = map[string][]byte{"app-test-web-DATABASE_URL-1a2b": []byte("postgres://app:hunter2-db@db/app")}
	_, err := Apply(context.Background(), plan, opts)
	require.Error(t, err)
	fs := Failures(err)
	require.Len(t, fs, 1)
	assert.Equal(t, []string{"connecting to ***", "fatal: connection refused"}, fs[0].Logs)
	assert.NotContains(t, fs[0].Detail(), "hunter2")
}
