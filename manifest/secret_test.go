package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadSecret(t *testing.T) {
	const value = "s3cr3t-value"
	big := strings.Repeat(value, MaxSecretSize/len(value)+1)
	dir := writeFiles(t, map[string]string{"db": value, "empty": "", "big": big, "fits": big[:MaxSecretSize-1]})
	unreadable := filepath.Join(dir, "dir")
	require.NoError(t, os.Mkdir(unreadable, 0o755))
	env := mapLookup(map[string]string{"DB_PASSWORD": value, "EMPTY": "", "BIG": big})
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
		{"file too big for Podman", Secret{Name: "DB", File: filepath.Join(dir, "big")}, "",
			"secret DB: file " + filepath.Join(dir, "big") + " holds 512004 bytes, and Podman stores secrets below 512000 bytes (500 KiB)"},
		{"env too big for Podman", Secret{Name: "DB", FromEnv: "BIG"}, "", "secret DB: variable BIG holds 512004 bytes"},
		{"the largest Podman takes", Secret{Name: "DB", File: filepath.Join(dir, "fits")}, big[:MaxSecretSize-1], ""},
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

// TestSecretsTooBigForPodman: a secret Podman would refuse is an error at its key when the
// manifests load (deck validate, plan), not in the middle of a deploy.
func TestSecretsTooBigForPodman(t *testing.T) {
	big := strings.Repeat("x", MaxSecretSize)
	dir := writeFiles(t, map[string]string{
		"deck.yaml": testApp, testKey: "", "big.pem": big, "fits.pem": big[1:],
		"deck/svc.yaml": "name: api\ntype: Backend Service\nimage: {location: x}\nsecrets:\n  CERT: {file: ./big.pem}\n  KEY: {file: ./fits.pem}\n  TOKEN: {from_env: TOKEN}\n",
	})
	_, _, _, err := Load(filepath.Join(dir, "deck.yaml"), "test", mapLookup(map[string]string{"TOKEN": big}))
	require.Error(t, err)
	msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	assert.Contains(t, msg, "deck/svc.yaml:5:16: secrets.CERT.file: file ./big.pem (big.pem) holds 512000 bytes, and Podman stores secrets below 512000 bytes (500 KiB); keep the secret small and mount larger files as a volume")
	assert.Contains(t, msg, "deck/svc.yaml:7:21: secrets.TOKEN.from_env: variable TOKEN holds 512000 bytes")
	assert.NotContains(t, msg, "KEY", "511999 bytes fit")
}
