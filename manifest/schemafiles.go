package manifest

// The JSON Schemas of the manifests, generated from the types of package manifest/schema
// (make schema) and checked in, so that editors complete and check the files (deck init
// points at them with a yaml-language-server comment).
const (
	// SchemaDir is the schemas' directory, relative to the repository's root.
	SchemaDir = "schema"
	// AppSchemaFile is deck.yaml's schema, in SchemaDir.
	AppSchemaFile = "deck.schema.json"
	// ServiceSchemaFile is the service manifests' schema, in SchemaDir.
	ServiceSchemaFile = "service.schema.json"
	// SchemaBaseURL is where the schemas are published: SchemaDir of deck's repository on
	// its main branch. deck init uses it when the repository's own copy cannot be found.
	SchemaBaseURL = "https://raw.githubusercontent.com/deckhq/deck/main/schema/"
)
