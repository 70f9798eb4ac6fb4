package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestCORSDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   *configv1.CORS // nil: no cors section
		want *configv1.CORS
	}{
		{"absent section: any origin, no credentials", nil, &configv1.CORS{
			AllowedHeaders: []string{"authorization", "x-api-key", "content-type", "*"},
			ExposedHeaders: []string{"x-request-id", "retry-after",
				"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
				"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"},
			MaxAge: durationpb.New(24 * time.Hour),
		}},
		{"set values are kept", &configv1.CORS{
			AllowedOrigins: []string{"https://app.example.com"},
			AllowedHeaders: []string{"authorization"},
			ExposedHeaders: []string{"x-request-id"},
			MaxAge:         durationpb.New(0),
		}, &configv1.CORS{
			AllowedOrigins: []string{"https://app.example.com"},
			AllowedHeaders: []string{"authorization"},
			ExposedHeaders: []string{"x-request-id"},
			MaxAge:         durationpb.New(0),
		}},
		{"only origins set", &configv1.CORS{AllowedOrigins: []string{"http://localhost:3000"}, AllowCredentials: true}, &configv1.CORS{
			AllowedOrigins:   []string{"http://localhost:3000"},
			AllowedHeaders:   DefaultCORSAllowedHeaders(),
			ExposedHeaders:   DefaultCORSExposedHeaders(),
			MaxAge:           durationpb.New(DefaultCORSMaxAge),
			AllowCredentials: true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &configv1.Config{Server: &configv1.Server{Cors: tt.in}}
			ApplyDefaults(cfg)
			require.True(t, proto.Equal(tt.want, cfg.Server.Cors), "got %v", cfg.Server.Cors)
			again := proto.Clone(cfg).(*configv1.Config)
			ApplyDefaults(again)
			require.True(t, proto.Equal(cfg, again), "idempotent")
			require.Empty(t, Validate(cfg, nil), "defaults are valid")
		})
	}
}

func TestCORSAllowsAnyOrigin(t *testing.T) {
	require.True(t, CORSAllowsAnyOrigin(nil))
	require.True(t, CORSAllowsAnyOrigin(&configv1.CORS{}))
	require.True(t, CORSAllowsAnyOrigin(&configv1.CORS{AllowedOrigins: []string{"https://a.example", "*"}}))
	require.False(t, CORSAllowsAnyOrigin(&configv1.CORS{AllowedOrigins: []string{"https://a.example"}}))
}

func TestValidateCORS(t *testing.T) {
	tests := []struct {
		name string
		cors *configv1.CORS
		want []Problem
	}{
		{"empty section", &configv1.CORS{}, nil},
		{"good origins", &configv1.CORS{AllowedOrigins: []string{
			"https://app.example.com", "http://localhost:3000", "http://127.0.0.1:9090",
			"http://[::1]:8080", "chrome-extension://abcdefghijklmnop", "HTTPS://Upper.Example.COM",
		}}, nil},
		{"any origin", &configv1.CORS{AllowedOrigins: []string{"*"}}, nil},
		{"bad origins", &configv1.CORS{AllowedOrigins: []string{
			"app.example.com",
			"https://app.example.com/",
			"https://app.example.com/path",
			"https://app.example.com?x=1",
			"https://app.example.com#frag",
			"https://user@app.example.com",
			"https://",
			"https://app.example.com:99999",
			"https://app.example.com:",
			"null",
			"",
			"1http://a.example",
			"*.example.com",
		}}, []Problem{
			{Path: "server.cors.allowed_origins[0]", Message: `invalid origin "app.example.com" (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[1]", Message: `origin "https://app.example.com/" must not have a path, query, fragment or trailing slash (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[2]", Message: `origin "https://app.example.com/path" must not have a path, query, fragment or trailing slash (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[3]", Message: `origin "https://app.example.com?x=1" must not have a path, query, fragment or trailing slash (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[4]", Message: `origin "https://app.example.com#frag" must not have a path, query, fragment or trailing slash (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[5]", Message: `origin "https://user@app.example.com" must not contain user info (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[6]", Message: `origin "https://" has no host (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[7]", Message: `origin "https://app.example.com:99999" has an invalid port (want 1-65535)`},
			{Path: "server.cors.allowed_origins[8]", Message: `origin "https://app.example.com:" has an invalid port (want 1-65535)`},
			{Path: "server.cors.allowed_origins[9]", Message: `invalid origin "null" (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[10]", Message: `invalid origin "" (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[11]", Message: `invalid origin "1http://a.example" (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
			{Path: "server.cors.allowed_origins[12]", Message: `invalid origin "*.example.com" (want "*" or scheme://host[:port], e.g. "https://app.example.com")`},
		}},
		{"duplicate origin, any case", &configv1.CORS{AllowedOrigins: []string{"https://a.example", "https://A.example"}}, []Problem{
			{Path: "server.cors.allowed_origins[1]", Message: `duplicate origin "https://A.example" (also server.cors.allowed_origins[0])`},
		}},
		{"credentials with explicit origins", &configv1.CORS{AllowedOrigins: []string{"https://a.example"}, AllowCredentials: true}, nil},
		{"credentials with any origin", &configv1.CORS{AllowedOrigins: []string{"https://a.example", "*"}, AllowCredentials: true}, []Problem{
			{Path: "server.cors.allow_credentials", Message: `needs explicit allowed_origins: credentials cannot be allowed for any origin ("*" or none listed)`},
		}},
		{"credentials with no origins", &configv1.CORS{AllowCredentials: true}, []Problem{
			{Path: "server.cors.allow_credentials", Message: `needs explicit allowed_origins: credentials cannot be allowed for any origin ("*" or none listed)`},
		}},
		{"header names", &configv1.CORS{
			AllowedHeaders: []string{"authorization", "X-Custom-Header", "*", "bad header", "", "x-a:b"},
			ExposedHeaders: []string{"x-request-id", "*", "réponse"},
		}, []Problem{
			{Path: "server.cors.allowed_headers[3]", Message: `"bad header" is not a header name (an HTTP token) or "*"`},
			{Path: "server.cors.allowed_headers[4]", Message: `"" is not a header name (an HTTP token) or "*"`},
			{Path: "server.cors.allowed_headers[5]", Message: `"x-a:b" is not a header name (an HTTP token) or "*"`},
			{Path: "server.cors.exposed_headers[2]", Message: `"réponse" is not a header name (an HTTP token) or "*"`},
		}},
		{"max_age zero", &configv1.CORS{MaxAge: durationpb.New(0)}, nil},
		{"max_age negative", &configv1.CORS{MaxAge: durationpb.New(-time.Second)}, []Problem{
			{Path: "server.cors.max_age", Message: "must not be negative"},
		}},
		{"max_age fraction", &configv1.CORS{MaxAge: durationpb.New(1500 * time.Millisecond)}, []Problem{
			{Path: "server.cors.max_age", Message: "must be a whole number of seconds (Access-Control-Max-Age counts seconds)"},
		}},
		{"max_age invalid", &configv1.CORS{MaxAge: &durationpb.Duration{Seconds: 1, Nanos: -1}}, []Problem{
			{Path: "server.cors.max_age", Message: "invalid duration"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(&configv1.Config{Server: &configv1.Server{Cors: tt.cors}}, nil)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseCORS(t *testing.T) {
	// Problems carry the YAML position, like every other validation problem.
	_, err := Parse([]byte(`server:
  cors:
    allowed_origins: ["https://app.example.com/"]
    allow_credentials: true
providers: [{name: m, kind: mock}]
models: [{name: m, backends: [{provider: m}]}]
`), Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), `line 3: server.cors.allowed_origins[0]: origin "https://app.example.com/" must not have a path`)

	cfg, err := Parse([]byte(`server:
  cors:
    allowed_origins: ["https://app.example.com"]
    allow_credentials: true
    max_age: 10m
providers: [{name: m, kind: mock}]
models: [{name: m, backends: [{provider: m}]}]
`), Options{})
	require.NoError(t, err)
	require.Equal(t, 10*time.Minute, cfg.GetServer().GetCors().GetMaxAge().AsDuration())
	require.Equal(t, DefaultCORSAllowedHeaders(), cfg.GetServer().GetCors().GetAllowedHeaders())
}
