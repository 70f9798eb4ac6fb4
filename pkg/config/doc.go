// Package config loads, checks and prepares llm-router's configuration file.
//
// The file is YAML whose schema is the protobuf message llmrouter.config.v1.Config.
// Loading happens in four steps, each exported on its own so commands and tests can
// use any of them:
//
//  1. The YAML tree is walked against the proto descriptor. Every unknown field,
//     wrong type and bad enum value is reported at once, each with its YAML path
//     (providers[2].base_url) and line, instead of protojson's first-error-only
//     message. The walk also turns friendly YAML into protojson's JSON: durations
//     such as "1m30s", unquoted numbers in string fields, YAML anchors and merge keys
//     (keys starting with "x-" are ignored so they can hold anchors).
//  2. protojson decodes that JSON into the generated configv1.Config.
//  3. ApplyDefaults fills in the defaults documented in config.proto.
//  4. Validate checks what the schema cannot express: uniqueness, references between
//     sections, URLs, addresses, secret reference syntax.
//
// Secrets are never stored in the parsed config: fields marked (secret) in the proto
// hold references ("${ENV_VAR}", "file:/path") that ResolveAll turns into values when
// a command needs them, and Redact / LogObject hide them from logs.
package config
