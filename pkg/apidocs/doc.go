// Package apidocs is the API reference page: the OpenAPI 3 documents of the public API
// (what callers send through Envoy) and of the admin API, and a Swagger UI page that
// shows them, served on the admin listener. The Swagger UI assets come from the npm
// package swagger-ui-dist at a pinned version and are embedded in the binary, so the
// page works on machines without internet access.
package apidocs
