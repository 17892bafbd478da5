package main

// EnvoyFilter verdicts on the shapes Istio documents (the EnvoyFilter reference's examples and
// the "Enabling rate limits using Envoy" task): a filter patch on the inbound
// http_connection_manager applies; the same patch on a port the workload does not serve, under a
// filter name no listener has, or in the GATEWAY context of a sidecar changes nothing; so does a
// cluster patch on a cluster the proxy does not have. All through Istio's own generation, in one
// run (each run starts a fake istiod).

import (
	"encoding/json"
	"strings"
	"testing"

	"istio.io/istio/pkg/test"
)

const rateLimit = `
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket: {max_tokens: 50, tokens_per_fill: 50, fill_interval: 1s}
              filter_enabled: {runtime_key: local_rate_limit_enabled, default_value: {numerator: 100, denominator: HUNDRED}}
              filter_enforced: {runtime_key: local_rate_limit_enforced, default_value: {numerator: 100, denominator: HUNDRED}}`

const envoyFilterCases = `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: httpbin, namespace: foo}
spec:
  workloadSelector: {labels: {app: httpbin}}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: {name: envoy.filters.http.router}
    patch:` + rateLimit + `
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        portNumber: 8000
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: {name: envoy.filters.http.router}
    patch:` + rateLimit + `
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_mgr}
    patch:` + rateLimit + `
  - applyTo: CLUSTER
    match:
      context: SIDECAR_OUTBOUND
      cluster: {service: ratings.foo.svc.cluster.local}
    patch:
      operation: MERGE
      value: {connect_timeout: 7s}
  - applyTo: CLUSTER
    match:
      context: SIDECAR_OUTBOUND
      cluster: {service: httpbin.foo.svc.cluster.local}
    patch:
      operation: MERGE
      value: {connect_timeout: 7s}
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:` + rateLimit + `
  - applyTo: BOOTSTRAP
    patch:
      operation: MERGE
      value: {}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: nobody, namespace: foo}
spec:
  workloadSelector: {labels: {app: nobody}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:` + rateLimit + `
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-ingress}
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingress, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingress, namespace: istio-ingress}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata:
      labels: {istio: ingressgateway}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      containers: [{name: istio-proxy, image: auto}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-ingress}
spec:
  hosts: ["*"]
  gateways: [web]
  http: [{route: [{destination: {host: httpbin.foo.svc.cluster.local, port: {number: 8000}}}]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ingress, namespace: istio-ingress}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener:
        portNumber: 8080
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:` + rateLimit + `
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener:
        portNumber: 8443
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:` + rateLimit + `
  - applyTo: VIRTUAL_HOST
    match:
      context: GATEWAY
      routeConfiguration: {portNumber: 8080}
    patch:
      operation: MERGE
      value: {response_headers_to_remove: [x-debug]}
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager}
    patch:` + rateLimit + `
  - applyTo: VIRTUAL_HOST
    match:
      context: GATEWAY
      routeConfiguration: {portNumber: 443}
    patch:
      operation: MERGE
      value: {response_headers_to_remove: [x-debug]}
`

func TestEnvoyFilterVerdicts(t *testing.T) {
	in := SimInput{Version: protocolVersion, ClusterDomain: "cluster.local", Objects: base + "---\n" + envoyFilterCases, EnvoyFilters: true}
	var out *SimOutput
	var err error
	if werr := test.Wrap(func(f test.Failer) { out, err = Simulate(f, in) }); werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ConfigErrors) > 0 {
		t.Fatalf("config errors: %+v", out.ConfigErrors)
	}
	byName := map[string]SimEnvoyFilter{}
	for _, ef := range out.EnvoyFilters {
		byName[ef.Namespace+"/"+ef.Name] = ef
	}
	dump := func() string { b, _ := json.MarshalIndent(out.EnvoyFilters, "", "  "); return string(b) }
	patch := func(ef string, i int) SimEnvoyFilterPatch {
		t.Helper()
		e, ok := byName[ef]
		if !ok || i >= len(e.Patches) {
			t.Fatalf("no verdict for %s patch %d:\n%s", ef, i, dump())
		}
		return e.Patches[i]
	}
	applied := func(ef string, i int, want bool, contains ...string) {
		t.Helper()
		p := patch(ef, i)
		if p.NotEvaluated != "" || p.Applied != want {
			t.Errorf("%s patch %d: want applied=%v, got %+v", ef, i, want, p)
		}
		text := strings.Join(p.Contains, "\n")
		for _, c := range contains {
			if !strings.Contains(text, c) {
				t.Errorf("%s patch %d: detail %q lacks %q", ef, i, text, c)
			}
		}
	}

	if got := byName["foo/httpbin"].Proxies; len(got) != 1 || got[0] != "foo/httpbin" {
		t.Errorf("foo/httpbin attaches to %v, want [foo/httpbin] (one per workload)", got)
	}
	applied("foo/httpbin", 0, true)
	// 8000 is the Service port; the inbound listener is on the container's 80.
	applied("foo/httpbin", 1, false, "foo/httpbin (sidecar), SIDECAR_INBOUND listeners: inbound ports 80", "envoy.filters.http.router")
	applied("foo/httpbin", 2, false, "network filters", "envoy.filters.network.http_connection_manager")
	applied("foo/httpbin", 3, false, "no cluster for a service like ratings.foo.svc.cluster.local")
	applied("foo/httpbin", 4, true)
	applied("foo/httpbin", 5, false, "no GATEWAY listener")
	if p := patch("foo/httpbin", 6); p.NotEvaluated == "" || p.Applied {
		t.Errorf("a BOOTSTRAP patch is not istiod's to apply: %+v", p)
	}
	if e := byName["foo/nobody"]; len(e.Proxies) != 0 || e.Patches[0].Applied {
		t.Errorf("foo/nobody selects no pod: %+v", e)
	}
	applied("istio-ingress/ingress", 0, true)
	applied("istio-ingress/ingress", 1, false, "GATEWAY listeners: listener ports 8080")
	applied("istio-ingress/ingress", 2, true)
	applied("istio-ingress/ingress", 3, false, "no SIDECAR_INBOUND listener")
	// A gateway's route configuration matches by the Gateway server's port number, not the
	// gateway Service's port (443 here).
	applied("istio-ingress/ingress", 4, false, "route configurations http.8080")
	t.Log(dump())
}
