package manifest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlLine picks the line out of yaml.v3's syntax errors ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseFile reads one YAML document. display is the path shown in errors. An empty file
// gives a nil node and no error: each caller knows what an empty file should have held.
func parseFile(display, path string) (*yaml.Node, *Error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := "cannot be read: " + err.Error()
		if errors.Is(err, os.ErrNotExist) {
			msg = "does not exist"
		}
		return nil, &Error{File: display, Msg: "file " + msg}
	}
	return parseYAML(display, data)
}

func parseYAML(display string, data []byte) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(display, data, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		return nil, &Error{File: display, Line: second.Line, Column: second.Column,
			Msg: "a second YAML document (after ---) is not allowed; want one document per file"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// syntaxError places a yaml.v3 syntax error. yaml.v3 reports only a line, so the column is
// that of the line's first character: where an editor should put the cursor.
func syntaxError(display string, data []byte, err error) *Error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: display, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	col := 1
	lines := strings.Split(string(data), "\n")
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		col = len(text) - len(strings.TrimLeft(text, " \t")) + 1
	}
	return &Error{File: display, Line: line, Column: col, Msg: "invalid YAML: " + m[2]}
}
