package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadOnlyRegularFiles: a FIFO would block forever and /dev/zero never ends, so only
// regular files are read, and only up to MaxFileSize.
func TestReadOnlyRegularFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"big.yaml": "app: x\n" + strings.Repeat("# padding\n", MaxFileSize/10)})
	fifo := filepath.Join(dir, "fifo.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	link := filepath.Join(dir, "link.yaml")
	require.NoError(t, os.Symlink(fifo, link))
	tests := map[string]string{
		fifo:                           "file is a named pipe (FIFO), not a regular file; want a YAML file saved on disk",
		link:                           "file is a named pipe (FIFO), not a regular file; want a YAML file saved on disk",
		"/dev/zero":                    "file is a device, not a regular file; want a YAML file saved on disk",
		dir:                            "file is a directory, not a regular file; want a YAML file saved on disk",
		filepath.Join(dir, "big.yaml"): "file is larger than 1 MiB; a manifest is a small YAML file",
		filepath.Join(dir, "no.yaml"):  "file does not exist",
	}
	for path, want := range tests {
		t.Run(filepath.Base(path), func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := LoadApp(path, mapLookup(nil)); done <- err }()
			select {
			case err := <-done:
				assert.EqualError(t, err, path+": "+want)
			case <-time.After(5 * time.Second):
				t.Fatal("reading blocked")
			}
		})
	}
}

func TestParseYAML(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"a second document", "name: web\n---\nname: api\n", "f.yaml:2:1: a second YAML document (after ---) is not allowed; want one document per file"},
		{"a second document that does not parse", "name: web\n---\ngarbage: [\n", "f.yaml:2:1: a second YAML document (after ---) is not allowed; want one document per file"},
		{"text after the end marker", "name: web\n...\ngarbage: [\n", "f.yaml:2:1: text after ... (the end of the YAML document) is not allowed; want one document per file"},
		{"a leading --- is one document", "---\nname: web\n...\n# a comment only\n", ""},
		{"a tab that breaks the indentation is on its own line", "name: web\nimage:\n  location: x\n\tport: 1\n",
			"f.yaml:4:1: invalid YAML: found a tab character that violates indentation; indent with spaces, not tabs"},
		{"a tab that starts a line", "name: web\nimage:\n  \tport: 1\n",
			"f.yaml:3:3: invalid YAML: found character that cannot start any token; indent with spaces, not tabs"},
		// yaml.v3 counts its parser's lines from 0: each of these is one line further down.
		{"an unclosed [", "name: web\ncpu: 256\ncommand: [\"/api\", \"--verbose\"\nstop_timeout: 10s\n",
			"f.yaml:3:10: invalid YAML: did not find expected ',' or ']': the [ here is not closed, or an item in it lacks its comma"},
		{"an unclosed { after a closed one", "name: web\nimage: {build: .}\nvariables: {A: '{', B: [1]\ncpu: 1\n",
			"f.yaml:3:12: invalid YAML: did not find expected ',' or '}': the { here is not closed, or an item in it lacks its comma"},
		{"an unclosed [ on the first line", "command: [x, y\nname: web\n",
			"f.yaml:1:10: invalid YAML: did not find expected ',' or ']': the [ here is not closed, or an item in it lacks its comma"},
		{"a nested unclosed [", "name: web\nimage:\n  build: .\nentrypoint: [a, [b, c], [d\n",
			"f.yaml:4:25: invalid YAML: did not find expected ',' or ']': the [ here is not closed, or an item in it lacks its comma"},
		{"a key out of line", "name: web\nimage:\n  location: x\n port: 80\n", "f.yaml:4:2: invalid YAML: did not find expected key"},
		{"an alias without its anchor", "name: web # *base\nvariables: {A: '*base'}\nlabels: *base\n",
			"f.yaml:3:9: invalid YAML: alias *base has no anchor &base before it; define &base on a value earlier in the file, or fix the name"},
		{"an alias without its anchor in a list", "name: web\ncommand: [a, *cmd]\n", "f.yaml:2:14: invalid YAML: alias *cmd has no anchor &cmd before it; define &cmd on a value earlier in the file, or fix the name"},
		{"a list item in a map", "name: web\n- port\n", "f.yaml:2:1: invalid YAML: did not find expected key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseYAML("f.yaml", []byte(tt.yaml))
			if tt.want == "" {
				assert.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}
