// Command gen writes the manifests' JSON Schemas to schema/ at the repository's root. It
// is run by go generate in package manifest/schema (make schema), whose directory it must
// be run from: the schemas' descriptions are the doc comments of its Go files.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/manifest/schema"
)

func main() {
	files, err := schema.Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	dir := filepath.Join("..", "..", manifest.SchemaDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
