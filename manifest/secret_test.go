package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadSecret(t *testing.T) {
	const value = "s3cr3t-value"
	dir := writeFiles(t, map[string]string{"db": value, "empty": ""})
	unreadable := filepath.Join(dir, "dir")
	require.NoError(t, os.Mkdir(unreadable, 0o755))
	env := mapLookup(map[string]string{"DB_PASSWORD": value, "EMPTY": ""})
	tests := []struct {
		name    string
		secret  Secret
		want    string
		wantErr string
	}{
		{"from env", Secret{Name: "DB", FromEnv: "DB_PASSWORD"}, value, ""},
		{"from file", Secret{Name: "DB", File: filepath.Join(dir, "db")}, value, ""},
		{"env unset", Secret{Name: "DB", FromEnv: "NOPE"}, "", "secret DB: variable NOPE is not set; set it in the environment that runs deck"},
		{"env empty", Secret{Name: "DB", FromEnv: "EMPTY"}, "", "secret DB: variable EMPTY is empty"},
		{"file missing", Secret{Name: "DB", File: filepath.Join(dir, "nope")}, "", "secret DB: file " + filepath.Join(dir, "nope") + " does not exist"},
		{"file empty", Secret{Name: "DB", File: filepath.Join(dir, "empty")}, "", "secret DB: file " + filepath.Join(dir, "empty") + " is empty"},
		{"file is a directory", Secret{Name: "DB", File: unreadable}, "", "secret DB: file " + unreadable + " cannot be read"},
		{"no source", Secret{Name: "DB"}, "", "secret DB has no source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSecret(tt.secret, env)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), value, "an error must never show the value")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}
