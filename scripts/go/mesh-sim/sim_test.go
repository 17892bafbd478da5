package main

// End-to-end checks of the helper against outcomes Istio documents: the authorization policy
// reference (istio.io/latest/docs/reference/config/security/authorization-policy/), the
// "Authorization on HTTP traffic", "JWT authorization", "Mutual TLS migration" and "Traffic
// shifting" tasks. Each case is real Istio config through Istio's own xDS generation.

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"istio.io/istio/pkg/test"
)

// The docs' setup: namespace foo with sidecars, httpbin (port 8000 -> 80) and sleep (its own
// service account); namespace legacy without sidecars, with its own sleep.
const base = `
apiVersion: v1
kind: Namespace
metadata: {name: foo, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000, targetPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: foo}
spec:
  replicas: 2
  selector: {matchLabels: {app: httpbin}}
  template:
    metadata: {labels: {app: httpbin, version: v1}}
    spec:
      serviceAccountName: httpbin
      containers: [{name: httpbin, image: httpbin, ports: [{containerPort: 80}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleep, namespace: foo}
spec:
  selector: {matchLabels: {app: sleep}}
  template:
    metadata: {labels: {app: sleep}}
    spec:
      serviceAccountName: sleep
      containers: [{name: sleep, image: curl}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleep, namespace: legacy}
spec:
  selector: {matchLabels: {app: sleep}}
  template:
    metadata: {labels: {app: sleep}}
    spec:
      containers: [{name: sleep, image: curl}]
`

func TestMain(m *testing.M) {
	quietLogs()
	m.Run()
}

var lastErrors []SimConfigError

func simulate(t *testing.T, objects string, jwks map[string]string, reqs ...SimRequest) map[string]SimResult {
	t.Helper()
	in := SimInput{Version: protocolVersion, ClusterDomain: "cluster.local", Objects: base + "---\n" + objects, JWKS: jwks, Requests: reqs}
	var out *SimOutput
	var err error
	if werr := test.Wrap(func(f test.Failer) { out, err = Simulate(f, in) }); werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	lastErrors = out.ConfigErrors
	res := map[string]SimResult{}
	for _, r := range out.Results {
		res[r.ID] = r
	}
	return res
}

func get(id, ns, from, path string, headers map[string]string) SimRequest {
	return SimRequest{
		ID: id, From: SimSource{Kind: "workload", Namespace: ns, Name: from},
		Host: "httpbin.foo", Port: 8000, Protocol: "http", Path: path, Method: "GET", Headers: headers,
	}
}

func want(t *testing.T, res map[string]SimResult, id, kind string, status int) {
	t.Helper()
	r, ok := res[id]
	if !ok {
		t.Fatalf("%s: no result", id)
	}
	if r.Outcome.Kind != kind || r.Outcome.Status != status {
		b, _ := json.MarshalIndent(r, "", "  ")
		t.Errorf("%s: want %s %d, got %s %d\n%s", id, kind, status, r.Outcome.Kind, r.Outcome.Status, b)
	}
}

func TestNoPolicyDelivers(t *testing.T) {
	res := simulate(t, "", nil, get("plain", "foo", "sleep", "/ip", nil))
	want(t, res, "plain", "delivered", 0)
	r := res["plain"]
	if len(r.Hops) != 2 || r.Hops[0].UpstreamTLS != "ISTIO_MUTUAL" || *r.Hops[0].Endpoints != 2 {
		t.Errorf("want sidecar -> sidecar over auto mTLS to 2 endpoints, got %+v", r.Hops)
	}
	if r.Outcome.Destination != "foo/httpbin" {
		t.Errorf("destination %q", r.Outcome.Destination)
	}
}

// "allow-nothing": an ALLOW policy with no rules denies every request (403).
func TestAllowNothing(t *testing.T) {
	res := simulate(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: foo}
spec: {action: ALLOW}
`, nil, get("a", "foo", "sleep", "/ip", nil))
	want(t, res, "a", "denied", 403)
}

// The reference's first example: ALLOW from the sleep service account or the dev namespace, GET
// on /info*, POST on /data; anything else is denied.
func TestAllowPrincipalsAndPaths(t *testing.T) {
	res := simulate(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/foo/sa/sleep"]}
    - source: {namespaces: ["dev"]}
    to:
    - operation: {methods: ["GET"], paths: ["/info*"]}
    - operation: {methods: ["POST"], paths: ["/data"]}
`, nil,
		get("info", "foo", "sleep", "/info/x", nil),
		get("ip", "foo", "sleep", "/ip", nil),
		SimRequest{ID: "post", From: SimSource{Kind: "workload", Namespace: "foo", Name: "sleep"}, Host: "httpbin.foo", Port: 8000, Protocol: "http", Path: "/data", Method: "POST"},
		SimRequest{ID: "put", From: SimSource{Kind: "workload", Namespace: "foo", Name: "sleep"}, Host: "httpbin.foo", Port: 8000, Protocol: "http", Path: "/data", Method: "PUT"},
		// Plain text from legacy carries no principal: denied.
		get("legacy", "legacy", "sleep", "/info/x", nil),
	)
	want(t, res, "info", "delivered", 0)
	want(t, res, "ip", "denied", 403)
	want(t, res, "post", "delivered", 0)
	want(t, res, "put", "denied", 403)
	want(t, res, "legacy", "denied", 403)
}

// DENY is evaluated before ALLOW: a request matching both is denied.
func TestDenyBeforeAllow(t *testing.T) {
	res := simulate(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: foo}
spec:
  action: ALLOW
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-headers, namespace: foo}
spec:
  action: DENY
  rules:
  - to: [{operation: {methods: ["GET"]}}]
    when: [{key: "request.headers[x-token]", notValues: ["admin"]}]
`, nil,
		get("no-token", "foo", "sleep", "/get", nil),
		get("admin", "foo", "sleep", "/get", map[string]string{"x-token": "admin"}),
	)
	want(t, res, "no-token", "denied", 403)
	want(t, res, "admin", "delivered", 0)
}

// Mutual TLS migration: under STRICT, plain text from a pod without a sidecar is refused; from a
// sidecar (mTLS) it is delivered; under PERMISSIVE both are.
func TestStrictRefusesPlainText(t *testing.T) {
	strict := simulate(t, `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: foo}
spec: {mtls: {mode: STRICT}}
`, nil, get("legacy", "legacy", "sleep", "/ip", nil), get("mesh", "foo", "sleep", "/ip", nil))
	want(t, strict, "legacy", "refused", 0)
	want(t, strict, "mesh", "delivered", 0)
	permissive := simulate(t, "", nil, get("legacy", "legacy", "sleep", "/ip", nil))
	want(t, permissive, "legacy", "delivered", 0)
}

func signer(t *testing.T) (func(claims map[string]any) string, string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	return func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		obj, err := sig.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := obj.CompactSerialize()
		return s
	}, string(set)
}

const jwtPolicy = `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"]}}]
    when: [{key: "request.auth.claims[groups]", values: ["group1"]}]
`

// The JWT task: an invalid token is a 401 whatever the policy; with the policy requiring a
// principal, no token is a 403, a valid token from the right group a 200, another group a 403.
func TestJWT(t *testing.T) {
	sign, jwks := signer(t)
	other, _ := signer(t)
	exp := float64(time.Now().Add(time.Hour).Unix())
	claims := func(groups ...string) map[string]any {
		g := []any{}
		for _, x := range groups {
			g = append(g, x)
		}
		return map[string]any{"iss": "testing@secure.istio.io", "sub": "testing@secure.istio.io", "exp": exp, "groups": g}
	}
	bearer := func(tok string) map[string]string { return map[string]string{"authorization": "Bearer " + tok} }
	res := simulate(t, jwtPolicy, map[string]string{"testing@secure.istio.io": jwks},
		get("none", "foo", "sleep", "/headers", nil),
		get("group1", "foo", "sleep", "/headers", bearer(sign(claims("group1")))),
		get("group2", "foo", "sleep", "/headers", bearer(sign(claims("group2")))),
		get("forged", "foo", "sleep", "/headers", bearer(other(claims("group1")))),
		get("garbage", "foo", "sleep", "/headers", bearer("deadbeef")),
	)
	want(t, res, "none", "denied", 403)
	want(t, res, "group1", "delivered", 0)
	want(t, res, "group2", "denied", 403)
	want(t, res, "forged", "denied", 401)
	want(t, res, "garbage", "denied", 401)
	if j := res["group1"].Hops[1].JWT; j == nil || !j.OK {
		t.Errorf("want the inbound hop to report a verified JWT, got %+v", j)
	}
}

// A token whose issuer no RequestAuthentication names is present, not missing: Envoy's
// requires_any{provider, allow_missing} answers JwtUnknownIssuer, a 401 (Envoy's
// AllowMissingInOrListTest.WrongIssuer), before RBAC sees an anonymous request. With two
// issuers (Istio's OR{P1, P2, AND{OR{P1, allow_missing}, OR{P2, allow_missing}}}) the second
// issuer's token passes and an unknown one is still a 401.
func TestJWTUnknownIssuer(t *testing.T) {
	sign, jwks := signer(t)
	exp := float64(time.Now().Add(time.Hour).Unix())
	tok := func(iss string) map[string]string {
		return map[string]string{"authorization": "Bearer " + sign(map[string]any{"iss": iss, "sub": "x", "exp": exp, "groups": []any{"group1"}})}
	}
	res := simulate(t, jwtPolicy, map[string]string{"testing@secure.istio.io": jwks},
		get("unknown", "foo", "sleep", "/headers", tok("https://elsewhere.example")))
	want(t, res, "unknown", "denied", 401)
	if j := res["unknown"].Hops[1].JWT; j == nil || !strings.Contains(j.Reason, "Jwt issuer is not configured") {
		t.Errorf("want the inbound hop to say Jwt issuer is not configured, got %+v", j)
	}
	two := `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules:
  - issuer: first.example
    jwksUri: https://first.example/jwks.json
  - issuer: second.example
    jwksUri: https://second.example/jwks.json
`
	res = simulate(t, two, map[string]string{"first.example": jwks, "second.example": jwks},
		get("second", "foo", "sleep", "/headers", tok("second.example")),
		get("unknown", "foo", "sleep", "/headers", tok("third.example")),
		get("none", "foo", "sleep", "/headers", nil),
	)
	want(t, res, "second", "delivered", 0)
	want(t, res, "unknown", "denied", 401)
	want(t, res, "none", "delivered", 0)
}

// Without the issuer's JWKS in the input, the helper never fetches jwksUri: a request carrying a
// token is not evaluable, one without is still decided.
func TestJWKSNeverFetched(t *testing.T) {
	sign, _ := signer(t)
	start := time.Now()
	res := simulate(t, jwtPolicy, nil,
		get("token", "foo", "sleep", "/headers", map[string]string{"authorization": "Bearer " + sign(map[string]any{"iss": "testing@secure.istio.io", "sub": "x"})}),
		get("none", "foo", "sleep", "/headers", nil),
	)
	if res["token"].NotEvaluable == "" || !strings.Contains(res["token"].NotEvaluable, "no JWKS") {
		t.Errorf("want not evaluable for lack of JWKS, got %+v", res["token"])
	}
	want(t, res, "none", "denied", 403)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v: something waited on the network", d)
	}
}

// Routing: header, query, cookie and JWT-claim matches pick their route (upstream's simulation
// matches on the path only), weights, fault, mirror, timeout, retries and subsets are reported.
func TestRouting(t *testing.T) {
	res := simulate(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin-v2, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin, version: v2}}
  template:
    metadata: {labels: {app: httpbin, version: v2}}
    spec:
      serviceAccountName: httpbin
      containers: [{name: httpbin, image: httpbin, ports: [{containerPort: 80}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin.foo.svc.cluster.local
  trafficPolicy:
    loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 60s}}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: foo}
spec:
  hosts: [httpbin.foo.svc.cluster.local]
  http:
  - name: by-header
    match: [{headers: {end-user: {exact: jason}}}]
    fault: {delay: {fixedDelay: 2.5s, percentage: {value: 100}}}
    route: [{destination: {host: httpbin.foo.svc.cluster.local, subset: v2}}]
  - name: by-cookie
    match: [{headers: {cookie: {regex: "^(.*?;)?(user=beta)(;.*)?$"}}}]
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 1s, retryOn: 5xx}
    route: [{destination: {host: httpbin.foo.svc.cluster.local, subset: v2}}]
  - name: by-query
    match: [{queryParams: {canary: {exact: "1"}}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: httpbin.foo.svc.cluster.local, subset: v2}}]
  - name: split
    mirror: {host: httpbin.foo.svc.cluster.local, subset: v2}
    mirrorPercentage: {value: 10}
    route:
    - {destination: {host: httpbin.foo.svc.cluster.local, subset: v1}, weight: 90}
    - {destination: {host: httpbin.foo.svc.cluster.local, subset: v2}, weight: 10}
`, nil,
		get("header", "foo", "sleep", "/", map[string]string{"end-user": "jason"}),
		get("cookie", "foo", "sleep", "/", map[string]string{"cookie": "a=b;user=beta"}),
		get("query", "foo", "sleep", "/?canary=1", nil),
		get("other", "foo", "sleep", "/", map[string]string{"end-user": "mary"}),
	)
	route := func(id string) SimHop { return res[id].Hops[0] }
	if errs := lastErrors; len(errs) > 0 {
		t.Fatalf("config errors: %+v", errs)
	}
	if h := route("header"); h.Route != "by-header" || h.Subset != "v2" || h.Fault == nil || h.Fault.Delay == nil || h.Fault.Delay.FixedDelay != "2.5s" || h.Fault.Delay.Percent != 100 {
		t.Errorf("header: %+v", h)
	}
	if h := route("cookie"); h.Route != "by-cookie" || h.Timeout != "2s" || h.Retries == nil || h.Retries.Attempts != 3 || h.Retries.PerTryTimeout != "1s" {
		t.Errorf("cookie: %+v", h)
	}
	want(t, res, "query", "aborted", 503)
	if h := route("other"); h.Route != "split" || len(h.WeightedClusters) != 2 || h.WeightedClusters[0].Weight != 90 || len(h.Mirrors) != 1 || h.Mirrors[0].Percent != 10 || h.Subset != "v1" {
		t.Errorf("other: %+v", h)
	}
	if h := route("other"); len(h.HashPolicy) == 0 || h.HashPolicy[0].Cookie == nil || h.HashPolicy[0].Cookie.Name != "user" {
		t.Errorf("hash policy: %+v", h.HashPolicy)
	}
	if h := route("other"); *h.Endpoints != 2 {
		t.Errorf("v1 has 2 endpoints, got %d", *h.Endpoints)
	}
}

// JWT-claim routing (istio supports it at gateways only): the ingress gateway verifies the token
// and routes admins to v2; a token from another group and no token go to v1.
func TestClaimRoutingAtIngress(t *testing.T) {
	sign, jwks := signer(t)
	res := simulate(t, `
apiVersion: v1
kind: Namespace
metadata: {name: istio-ingress}
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingress, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http, port: 80, targetPort: 8080}]
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
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin-v2, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin, version: v2}}
  template:
    metadata: {labels: {app: httpbin, version: v2}}
    spec:
      serviceAccountName: httpbin
      containers: [{name: httpbin, image: httpbin, ports: [{containerPort: 80}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin.foo.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-ingress}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: "testing@secure.istio.io"
    fromHeaders: [{name: Authorization, prefix: "Bearer "}]
    fromCookies: [session]
    outputClaimToHeaders: [{header: x-jwt-group, claim: group}]
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
  hosts: [httpbin.example.com]
  gateways: [web]
  http:
  - name: admins
    match: [{headers: {"@request.auth.claims.groups": {exact: admins}}}]
    route: [{destination: {host: httpbin.foo.svc.cluster.local, subset: v2, port: {number: 8000}}}]
  - name: users-by-claim-header
    match: [{headers: {x-jwt-group: {exact: users}}}]
    route: [{destination: {host: httpbin.foo.svc.cluster.local, subset: v1, port: {number: 8000}}}]
  - name: everyone
    route: [{destination: {host: httpbin.foo.svc.cluster.local, subset: v1, port: {number: 8000}}}]
`, map[string]string{"testing@secure.istio.io": jwks},
		ingress("admin", "admins", sign),
		ingress("user", "users", sign),
		ingress("anonymous", "", sign),
		func() SimRequest {
			r := ingress("cookie", "", sign)
			r.Headers["cookie"] = "a=1; session=" + sign(map[string]any{"iss": "testing@secure.istio.io", "sub": "c", "group": "users"})
			return r
		}(),
	)
	if errs := lastErrors; len(errs) > 0 {
		t.Fatalf("config errors: %+v", errs)
	}
	for id, wantRoute := range map[string]string{
		"admin": "admins", "user": "everyone", "anonymous": "everyone",
		// A token from a cookie, its claim copied to a header that a later route matches.
		"cookie": "users-by-claim-header",
	} {
		r := res[id]
		if len(r.Hops) == 0 || r.Hops[0].Route != wantRoute || r.Outcome.Kind != "delivered" {
			b, _ := json.MarshalIndent(r, "", "  ")
			t.Errorf("%s: want route %s, delivered; got\n%s", id, wantRoute, b)
		}
	}
	if h := res["admin"].Hops[0]; h.Subset != "v2" || h.Proxy != "istio-ingress/istio-ingress" {
		t.Errorf("admin: %+v", h)
	}
}

func ingress(id, group string, sign func(map[string]any) string) SimRequest {
	headers := map[string]string{}
	if group != "" {
		headers["authorization"] = "Bearer " + sign(map[string]any{"iss": "testing@secure.istio.io", "sub": id, "groups": []any{group}})
	}
	return SimRequest{
		ID: id, From: SimSource{Kind: "gateway", Namespace: "istio-ingress", Name: "istio-ingress"},
		Host: "httpbin.example.com", Port: 80, Protocol: "http", Path: "/", Method: "GET", Headers: headers,
	}
}

// Egress: REGISTRY_ONLY without a ServiceEntry is a blackhole; with one and an egress gateway,
// the sidecar sends it to the gateway, which originates TLS.
func TestEgress(t *testing.T) {
	gateway := `
apiVersion: v1
kind: Namespace
metadata: {name: istio-egress}
---
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-egress}
spec:
  selector: {istio: egressgateway}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-egressgateway, namespace: istio-egress}
spec:
  selector: {matchLabels: {istio: egressgateway}}
  template:
    metadata:
      labels: {istio: egressgateway, sidecar.istio.io/inject: "true"}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      containers: [{name: istio-proxy, image: auto}]
`
	mesh := map[string]any{"outboundTrafficPolicy": map[string]any{"mode": "REGISTRY_ONLY"}}
	call := SimRequest{ID: "out", From: SimSource{Kind: "workload", Namespace: "foo", Name: "sleep"}, Host: "httpbin.org", Port: 80, Protocol: "http", Path: "/get", Method: "GET"}
	run := func(objects string) SimResult {
		in := SimInput{Version: protocolVersion, Objects: base + "---\n" + gateway + "---\n" + objects, MeshConfig: mesh, Requests: []SimRequest{call}}
		var out *SimOutput
		var err error
		if werr := test.Wrap(func(f test.Failer) { out, err = Simulate(f, in) }); werr != nil || err != nil {
			t.Fatal(werr, err)
		}
		return out.Results[0]
	}
	if r := run(""); r.Outcome.Kind != "blackhole" {
		t.Errorf("want blackhole without a ServiceEntry, got %+v", r)
	}
	r := run(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin-org, namespace: istio-egress}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: istio-egress}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: [httpbin.org]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin-org, namespace: istio-egress}
spec:
  hosts: [httpbin.org]
  gateways: [mesh, egress]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route: [{destination: {host: istio-egressgateway.istio-egress.svc.cluster.local, port: {number: 80}}}]
  - match: [{gateways: [egress], port: 8080}]
    route: [{destination: {host: httpbin.org, port: {number: 443}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: originate-tls, namespace: istio-egress}
spec:
  host: httpbin.org
  trafficPolicy:
    portLevelSettings: [{port: {number: 443}, tls: {mode: SIMPLE}}]
`)
	if r.Outcome.Kind != "delivered" || r.Egress == nil || r.Egress.Gateway != "istio-egress/istio-egressgateway" || !r.Egress.TLSOriginated || r.Outcome.Destination != "httpbin.org" {
		b, _ := json.MarshalIndent(r, "", "  ")
		t.Errorf("want via the egress gateway with TLS origination, got\n%s", b)
	}
}

// configErrors: what istiod's validation refuses is reported and left out.
func TestConfigErrors(t *testing.T) {
	in := SimInput{Version: protocolVersion, Objects: base + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: foo}
spec:
  hosts: [httpbin.foo.svc.cluster.local]
  http: [{route: [{destination: {host: httpbin.foo.svc.cluster.local}, weight: 50}, {destination: {host: httpbin.foo.svc.cluster.local, subset: v2}, weight: 20}], timeout: -1s}]
`}
	var out *SimOutput
	var err error
	if werr := test.Wrap(func(f test.Failer) { out, err = Simulate(f, in) }); werr != nil || err != nil {
		t.Fatal(werr, err)
	}
	if len(out.ConfigErrors) != 1 || out.ConfigErrors[0].Name != "broken" || out.ConfigErrors[0].Kind != "VirtualService" {
		t.Fatalf("want one error for VirtualService broken, got %+v", out.ConfigErrors)
	}
}

// The pre-split skips what cannot matter without converting it, and keeps a "---" inside a block
// scalar (indented) as content, not a separator.
func TestSplitDocuments(t *testing.T) {
	docs, err := splitDocuments(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: big}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: skipped}
data:
  a: |
    ---
    not a separator
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: kept}
--- # a comment after the separator
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "json"}}
`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range docs {
		var o object
		_ = json.Unmarshal(d, &o)
		names = append(names, o.Metadata.Name)
	}
	if strings.Join(names, ",") != "kept,json" {
		t.Errorf("want kept,json, got %v", names)
	}
	if _, err := splitDocuments("apiVersion: v1\nkind: Service\nmetadata: {name: [broken\n"); err == nil || !strings.Contains(err.Error(), "document 1") {
		t.Errorf("want an error naming document 1, got %v", err)
	}
}
