package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// MaxSecretSize is one byte more than the largest secret Podman stores (its secrets
// refuse 512000 bytes and more).
const MaxSecretSize = 512000

// tooBig says a secret's value is larger than Podman takes, without a byte of it.
func tooBig(s Secret, from string, n int) error {
	return fmt.Errorf("secret %s: %s holds %d bytes, and Podman stores secrets below %d bytes (500 KiB); keep the secret small and mount larger files as a volume",
		s.Name, from, n, MaxSecretSize)
}

// ReadSecret reads a secret's value from where the manifest says it comes from: a variable of
// deck's own environment, or a file. lookupEnv nil means os.LookupEnv. Errors name the secret
// and its source but never hold the value, so they are safe to print and to log in CI.
func ReadSecret(s Secret, lookupEnv func(string) (string, bool)) ([]byte, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	switch {
	case s.FromEnv != "":
		v, ok := lookupEnv(s.FromEnv)
		if !ok {
			return nil, fmt.Errorf("secret %s: variable %s is not set; set it in the environment that runs deck", s.Name, s.FromEnv)
		}
		if v == "" {
			return nil, fmt.Errorf("secret %s: variable %s is empty; set it to the secret's value", s.Name, s.FromEnv)
		}
		if len(v) >= MaxSecretSize {
			return nil, tooBig(s, "variable "+s.FromEnv, len(v))
		}
		return []byte(v), nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			// The message is built from the kind of failure, not from err, so nothing read
			// from the file can ever reach it.
			var reason string
			var pe *fs.PathError
			switch {
			case errors.Is(err, fs.ErrNotExist):
				reason = "does not exist"
			case errors.Is(err, fs.ErrPermission):
				reason = "is not readable (permission denied)"
			case errors.As(err, &pe):
				reason = "cannot be read: " + pe.Err.Error()
			default:
				reason = "cannot be read"
			}
			return nil, fmt.Errorf("secret %s: file %s %s", s.Name, s.File, reason)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("secret %s: file %s is empty; put the secret's value in it", s.Name, s.File)
		}
		if len(b) >= MaxSecretSize {
			return nil, tooBig(s, "file "+s.File, len(b))
		}
		return b, nil
	}
	return nil, fmt.Errorf("secret %s has no source; want from_env or file", s.Name)
}
