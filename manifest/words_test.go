package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitWords(t *testing.T) {
	tests := map[string][]string{
		"":                            nil,
		"  /app  --flag  ":            {"/app", "--flag"},
		`sh -c "echo 'hi' \"there\""`: {"sh", "-c", `echo 'hi' "there"`},
		`a 'b c' d\ e ""`:             {"a", "b c", "d e", ""},
		`a"b"'c'`:                     {"abc"},
	}
	for in, want := range tests {
		got, err := splitWords(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{`"open`, `'open`, `trailing\`} {
		_, err := splitWords(bad)
		assert.Error(t, err, bad)
	}
}
