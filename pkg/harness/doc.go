// Package harness emulates Envoy's HTTP data path with the ext_proc filter, so that tests
// and `llm-router run` need no Envoy:
//
//	client → [CORS] → [router-level ext_proc] → route match → router (retries) →
//	    per attempt: [upstream ext_proc] → upstream HTTP → back the same way
//
// The filter configurations are the real Envoy protos
// (envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor), and every side stream is a
// real gRPC Process stream to the processor, driven the way Envoy's filter drives it. The
// behaviour follows the numbered checklist in shared/envoy-extproc-behaviour.md (the project's design notes); the
// tests cite item numbers.
//
// # Using it
//
// New validates a Config like Envoy validates its configuration and returns an *Envoy.
// (*Envoy).ServeHTTP is the downstream side (an http.Handler); (*Envoy).Do runs one request
// without an HTTP server and returns the recorded Response (for unit tests and benchmarks).
// Stats returns Envoy-named counters, Config.AccessLog receives one AccessLogEntry per
// request, and Close releases idle upstream connections.
//
// # Model
//
// Each downstream request runs on one dispatcher goroutine, like an Envoy worker thread:
// gRPC receivers, body readers, upstream calls and timers only post events to it, so the
// ordering rules (lock-step per direction, FIFO chunk responses, responses arriving in any
// state, late messages after processing completed) are applied exactly as Envoy applies
// them. The filter is a transcription of Envoy's Filter/ProcessorState logic; the filter
// manager's iteration (held headers, buffered data, re-injection) is emulated per direction.
//
// Deliberate choices and differences from Envoy:
//
//   - The router starts the upstream request only once the whole downstream request has gone
//     through the router-level filter (golang/go#40747: never proxy while still reading the
//     request body). Envoy would start it at the headers.
//   - A body frame is one Read of the body (at most 16 KiB). Data that arrives while a headers
//     call is outstanding is read until it exceeds the buffer limit (Envoy raises a watermark
//     at once but still dispatches what it already read).
//   - The route is resolved from the original headers before the filter chain, and again only
//     after a route-cache clear (items 77–81); matching is by one exact header and/or a :path
//     prefix.
//   - Message-valued attributes (xds.upstream_host_metadata, xds.cluster_metadata, metadata)
//     are sent as Envoy sends them: a string_value holding the message's single-line text
//     format (C++ ShortDebugString), which Envoy AI Gateway parses with prototext.Unmarshal.
//     Path expressions such as
//     xds.upstream_host_metadata.filter_metadata['llm_router']['backend'] return the leaf
//     (a string). Supported roots: request.*, response.*, xds.*, upstream.address/port,
//     source.address and metadata.
//   - The HCM adds x-request-id and x-forwarded-proto when absent; hop-by-hop headers are
//     dropped; the upstream :authority is the endpoint hostname (auto_host_rewrite); no
//     x-envoy-* headers are added. With Config.AlwaysSetRequestIDInResponse
//     (always_set_request_id_in_response) every response, local replies included, carries
//     the request's x-request-id, set after the encoder filters.
//   - Dynamic metadata is one store shared by the router-level and upstream filters (Envoy's
//     upstream filter manager uses the downstream stream info).
//   - Local replies (ext_proc errors and immediate responses, route_not_found, 413, 503
//     upstream failures, 504 timeouts) bypass the router-level processor (item 99), are
//     shaped by Config.LocalReply, and become a stream reset once response headers went
//     downstream. An upstream filter's immediate or error reply goes downstream with no retry
//     (item 98).
//   - Config.CORS emulates envoy.filters.http.cors (cors_filter.cc) ahead of the router-level
//     filter, with one virtual-host policy: a preflight from an allowed origin is answered
//     with 200 and encoded through the encoder chain (so the router-level processor sees
//     its response headers, never its request); responses to allowed origins, local
//     replies included, get allow-origin, allow-credentials and expose-headers. As in
//     Envoy, the filter does nothing for a request that matches no route.
//   - Routes match by header and path prefix and send to a cluster or, with ClusterHeader
//     (cluster_header), to the cluster a request header names; an unknown one is a local
//     reply with cluster_not_found_response_code and flag NC.
//   - Retries: connect failures retry immediately, everything else after Envoy's jittered
//     exponential backoff; previous_priorities walks priority levels 0, 1, 2, ….
//
// Not emulated (New rejects them with ErrNotEmulated): FULL_DUPLEX_STREAMED, observability
// mode, send_body_without_waiting_for_header_response, http_service,
// processing_request_modifier/on_processing_response, streamed_immediate_response (treated as
// an unknown message, as before Envoy 1.37), graceful gRPC close, side-stream retries,
// per-route ExtProcPerRoute overrides, 1xx forwarding, and gRPC-style local replies.
package harness
