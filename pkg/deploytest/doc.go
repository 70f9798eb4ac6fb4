// Package deploytest holds the validation tests for everything under deploy/ (Docker
// Compose, Kubernetes, Istio, Helm), the container image and the CI workflows. It has
// no code of its own: there is no cluster here, so the tests check what can be checked
// offline, strictly.
//
//   - Every YAML file parses (duplicate keys are errors).
//   - Kubernetes objects decode strictly into the k8s.io/api types: an unknown or
//     misspelt field fails. Istio, Prometheus Operator and Kustomize documents decode
//     strictly into small local models of the fields their APIs define.
//   - Kustomize bases and overlays are built in the test (resources, generators,
//     strategic-merge and JSON 6902 patches, images, replicas, namespace) and the
//     result is checked like any manifest, with cross-references (selectors, volumes,
//     ConfigMaps, probes' ports, the HPA target).
//   - Every Envoy bootstrap and EnvoyFilter validates with pkg/envoyconfig against the
//     llm-router config it belongs to, and equals what the generator produces from that
//     config (regenerate with `go test ./pkg/deploytest -run TestGeneratedEnvoyFiles -update`).
//   - Istio VirtualServices route every backend of their config to its provider, and
//     carry CORS where the gateway's CORS filter applies it: a corsPolicy on the
//     catch-all, which must be a route (not a directResponse) and not to a provider;
//     the shipped policy is llm-router's default (envoyconfig.CORSPolicy).
//   - The Helm chart renders with the Helm engine, with its default values and with
//     the Istio and production examples, and its output passes the same checks.
//   - Compose files decode strictly into a model of the Compose specification, and
//     every variable they read is listed in .env.example.
//   - The CI workflows run what .ci/run runs, and the Dockerfile builds the way the
//     project requires (static, -trimpath, distroless, non-root, HEALTHCHECK).
package deploytest
