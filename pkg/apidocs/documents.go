package apidocs

import _ "embed"

//go:embed public.openapi.json
var publicOpenAPI []byte

// PublicOpenAPI returns the OpenAPI 3 document of the public API: the endpoints callers
// reach through Envoy's listener (or `llm-router run`).
func PublicOpenAPI() []byte { return publicOpenAPI }
