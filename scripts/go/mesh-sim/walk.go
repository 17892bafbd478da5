package main

// Walking one request through the mesh: the source proxy (sidecar outbound, or a gateway's
// listener for a request from outside), then each proxy the chosen endpoint leads to (an egress
// gateway, the destination's inbound listener), until it is delivered, refused or stopped.
// Listener and filter-chain selection is Istio's own simulation (pilot/pkg/simulation); route
// selection, authn/authz and the upstream side are here (match.go, authz.go).

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	clusterpb "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointpb "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerpb "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultpb "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	jwtpb "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	rbachttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	rbacnet "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	tlspb "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	typepb "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/networking/util"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/pkg/xds/endpoints"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	hostpkg "istio.io/istio/pkg/config/host"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/test"
)

type proxyView struct {
	pod      *pod
	proxy    *model.Proxy
	sim      *simulation.Simulation
	clusters map[string]*clusterpb.Cluster
	routes   map[string]*route.RouteConfiguration
}

type simulator struct {
	t           test.Failer
	fds         *xds.FakeDiscoveryServer
	c           *cluster
	trustDomain string
	domain      string
	proxies     map[string]*proxyView
}

// timing prints how long each phase took on stderr when MESH_SIM_TIMING is set (for pnpm bench
// and for finding what a slow chapter spends its time on).
func timing(phase string, since time.Time) {
	if os.Getenv("MESH_SIM_TIMING") != "" {
		fmt.Fprintf(stderr, "mesh-sim: %s %dms\n", phase, time.Since(since).Milliseconds())
	}
}

func Simulate(t test.Failer, in SimInput) (*SimOutput, error) {
	start := time.Now()
	c, err := buildCluster(in)
	if err != nil {
		return nil, err
	}
	m := mesh.DefaultMeshConfig()
	if in.MeshConfig != nil {
		b, _ := json.Marshal(in.MeshConfig)
		if m, err = mesh.ApplyMeshConfigDefaults(string(b)); err != nil {
			return nil, fmt.Errorf("meshConfig is not a valid Istio MeshConfig: %v", err)
		}
	}
	domain := in.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	fds := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		Configs:           c.Configs,
		KubernetesObjects: c.Kube,
		MeshConfig:        m,
	})
	timing("xds", start)
	start = time.Now()
	s := &simulator{t: t, fds: fds, c: c, trustDomain: trustDomain(m), domain: domain, proxies: map[string]*proxyView{}}
	out := &SimOutput{Version: protocolVersion, Results: []SimResult{}, ConfigErrors: c.ConfigErrors}
	if out.ConfigErrors == nil {
		out.ConfigErrors = []SimConfigError{}
	}
	for _, req := range in.Requests {
		out.Results = append(out.Results, s.run(req))
	}
	timing(fmt.Sprintf("%d requests through %d proxies", len(in.Requests), len(s.proxies)), start)
	if in.EnvoyFilters {
		start = time.Now()
		out.EnvoyFilters = s.envoyFilters()
		timing(fmt.Sprintf("%d EnvoyFilters", len(out.EnvoyFilters)), start)
	}
	return out, nil
}

func trustDomain(m *meshconfig.MeshConfig) string {
	if m.GetTrustDomain() != "" {
		return m.GetTrustDomain()
	}
	return "cluster.local"
}

func (s *simulator) view(p *pod) *proxyView {
	if v := s.proxies[p.IP]; v != nil {
		return v
	}
	typ := model.SidecarProxy
	if p.Gateway {
		typ = model.Router
	}
	mp := s.fds.SetupProxy(&model.Proxy{
		Type:            typ,
		IPAddresses:     []string{p.IP},
		ID:              p.Name + "." + p.Namespace,
		ConfigNamespace: p.Namespace,
		Labels:          p.Labels,
		DNSDomain:       p.Namespace + ".svc." + s.domain,
		Metadata: &model.NodeMetadata{
			Namespace: p.Namespace, Labels: p.Labels, ServiceAccount: p.ServiceAccount,
			ClusterID: "Kubernetes", IstioVersion: "1.30.0", WorkloadName: p.Workload,
		},
	})
	// A nil *testing.T: the simulation only uses it to fail, and a failure here is a panic that
	// run() turns into a not-evaluable result.
	sim := simulation.NewSimulation(nil, s.fds, mp)
	v := &proxyView{pod: p, proxy: mp, sim: sim, clusters: map[string]*clusterpb.Cluster{}, routes: map[string]*route.RouteConfiguration{}}
	for _, c := range sim.Clusters {
		v.clusters[c.Name] = c
	}
	for _, r := range sim.Routes {
		v.routes[r.Name] = r
	}
	s.proxies[p.IP] = v
	return v
}

func (s *simulator) findWorkload(ns, name string) *pod {
	for _, p := range s.c.Pods {
		if p.Namespace == ns && p.Workload == name {
			return p
		}
	}
	return nil
}

func (s *simulator) spiffe(p *pod) string {
	return fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", s.trustDomain, p.Namespace, p.ServiceAccount)
}

// service finds the Service a client's DNS would resolve host to from namespace fromNS.
func (s *simulator) service(host, fromNS string) *corev1.Service {
	h := strings.TrimSuffix(host, ".")
	for _, cand := range []string{h + "." + fromNS + ".svc." + s.domain, h + ".svc." + s.domain, h} {
		for _, svc := range s.c.Services {
			if svc.Name+"."+svc.Namespace+".svc."+s.domain == cand {
				return svc
			}
		}
	}
	return nil
}

// resolve is the address a client connects to: the Service's ClusterIP, or for hosts the
// cluster does not know (ServiceEntry hosts, the internet) an address outside it, which
// sidecars catch on the port's wildcard listener.
func (s *simulator) resolve(host, fromNS string, src *pod) string {
	if svc := s.service(host, fromNS); svc != nil && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != "None" {
		return svc.Spec.ClusterIP
	}
	// A ServiceEntry with addresses, or one DNS proxying auto-allocates a VIP for: the sidecar's
	// DNS proxy answers with that address, and the sidecar has a listener on it.
	if src != nil && src.Sidecar {
		v := s.view(src)
		if svc := s.fds.PushContext().ServiceForHostname(v.proxy, hostpkg.Name(strings.TrimSuffix(host, "."))); svc != nil {
			if addr := svc.GetAddressForProxy(v.proxy); addr != "" && addr != "0.0.0.0" && !strings.Contains(addr, "/") {
				return addr
			}
		}
	}
	return "203.0.113.10"
}

// direct is a call from a pod without a sidecar: kube-proxy picks a pod of the Service, and the
// connection arrives at that pod as the client made it (plain text, or the client's own TLS).
func (s *simulator) direct(src *pod, call simulation.Call, st *state) (*pod, simulation.Call, string) {
	svc := s.service(st.req.Host, src.Namespace)
	if svc == nil {
		return nil, call, fmt.Sprintf("%s has no sidecar and %s is not a Service: the request leaves unmanaged", src.id(), st.req.Host)
	}
	pods := s.c.podsOf(svc)
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) != st.req.Port || len(pods) == 0 {
			continue
		}
		sort.Slice(pods, func(i, j int) bool { return pods[i].IP < pods[j].IP })
		dst := pods[0]
		call.Address, call.Port, call.CallMode = dst.IP, int(targetPort(sp, dst)), simulation.CallModeInbound
		if dst.Gateway {
			call.CallMode = simulation.CallModeGateway
		}
		return dst, call, ""
	}
	return nil, call, fmt.Sprintf("%s has no sidecar and Service %s/%s has no ready pod on port %d", src.id(), svc.Namespace, svc.Name, st.req.Port)
}

func (s *simulator) run(req SimRequest) (res SimResult) {
	res = SimResult{ID: req.ID, Hops: []SimHop{}}
	defer func() {
		if r := recover(); r != nil {
			res.NotEvaluable = fmt.Sprintf("the simulation failed on this request: %v", r)
			if res.Outcome.Kind == "" {
				res.Outcome.Kind = "no-route"
			}
			fmt.Fprintf(stderr, "mesh-sim: request %s: %v\n%s", req.ID, r, debug.Stack())
		}
	}()
	src := s.findWorkload(req.From.Namespace, req.From.Name)
	if src == nil {
		var known []string
		for _, p := range s.c.Pods {
			if p.Namespace == req.From.Namespace && !slices.Contains(known, p.Workload) {
				known = append(known, p.Workload)
			}
		}
		hint := "none"
		if len(known) > 0 {
			hint = strings.Join(known, ", ")
		}
		res.Outcome = Outcome{Kind: "no-route", Detail: fmt.Sprintf("no workload %s/%s in the render or the chapter's clients (workloads in %s: %s)", req.From.Namespace, req.From.Name, req.From.Namespace, hint)}
		res.NotEvaluable = res.Outcome.Detail
		return res
	}
	path := req.Path
	if path == "" {
		path = "/"
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	headers := map[string]string{}
	for k, v := range req.Headers {
		headers[strings.ToLower(k)] = v
	}
	headers[":authority"] = req.Host
	headers[":method"] = method
	headers[":path"] = path
	headers[":scheme"] = "http"

	call := simulation.Call{Address: s.resolve(req.Host, src.Namespace, src), Port: req.Port, Path: path, HostHeader: req.Host, Headers: httpHeaders(headers)}
	switch req.Protocol {
	case "tcp":
		call.Protocol, call.TLS = simulation.TCP, simulation.Plaintext
	case "https":
		call.Protocol, call.TLS, call.Sni = simulation.HTTP, simulation.TLS, req.Host
	default:
		call.Protocol, call.TLS = simulation.HTTP, simulation.Plaintext
	}
	if req.From.Kind == "gateway" {
		if !src.Gateway {
			res.Outcome = Outcome{Kind: "no-route", Detail: fmt.Sprintf("%s is not a gateway deployment", src.id())}
			res.NotEvaluable = res.Outcome.Detail
			return res
		}
		call.CallMode = simulation.CallModeGateway
		call.Address = src.IP
		call.Port = s.gatewayTargetPort(src, req.Port)
	} else if src.Sidecar && !src.Gateway {
		call.CallMode = simulation.CallModeOutbound
	}
	if req.Protocol == "https" && call.CallMode == simulation.CallModeGateway {
		call.Alpn = "http/1.1"
	}

	st := &state{req: req, headers: headers, peer: "", sourceIP: "203.0.113.7", result: &res, clientTLS: req.Protocol == "https"}
	if req.From.Kind != "gateway" {
		st.sourceIP = src.IP
	}
	cur := src
	direction := "outbound"
	if call.CallMode == "" {
		dst, dcall, why := s.direct(src, call, st)
		if dst == nil {
			res.Outcome = Outcome{Kind: "passthrough", Destination: req.Host, Detail: why}
			return res
		}
		if !dst.Sidecar {
			res.Outcome = Outcome{Kind: "delivered", Destination: dst.id(), Detail: "neither side has a sidecar"}
			return res
		}
		cur, call, direction = dst, dcall, "inbound"
		if dst.Gateway {
			direction = "outbound"
		}
	}
	for i := 0; i < 6; i++ {
		next, nextCall, done := s.hop(cur, call, direction, st)
		if done {
			return res
		}
		cur, call = next, nextCall
		direction = "inbound"
		if cur.Gateway {
			direction = "outbound"
		}
	}
	res.Outcome = Outcome{Kind: "no-route", Detail: "the request loops through more than six proxies"}
	return res
}

// state is what travels with the request from hop to hop.
type state struct {
	req       SimRequest
	headers   map[string]string
	peer      string // SPIFFE ID of the previous proxy when the connection is mTLS
	sourceIP  string
	clientTLS bool
	result    *SimResult
	egressGW  *pod
}

func httpHeaders(h map[string]string) http.Header {
	out := http.Header{}
	for k, v := range h {
		if !strings.HasPrefix(k, ":") {
			out.Set(k, v)
		}
	}
	return out
}

func (s *simulator) gatewayTargetPort(gw *pod, port int) int {
	for _, svc := range s.c.servicesFor(gw) {
		for _, sp := range svc.Spec.Ports {
			if int(sp.Port) == port {
				return int(targetPort(sp, gw))
			}
		}
	}
	return port
}

func simError(err error) string {
	switch {
	case errors.Is(err, simulation.ErrNoListener):
		return "no listener matched"
	case errors.Is(err, simulation.ErrNoFilterChain):
		return "no filter chain matched (e.g. plain text into a listener that requires mTLS)"
	case errors.Is(err, simulation.ErrMTLSError):
		return "the filter chain requires mTLS and the connection is not mTLS"
	case errors.Is(err, simulation.ErrTLSError):
		return "the filter chain requires TLS and the connection is plain text"
	}
	return err.Error()
}

// hop runs the request through one proxy. It returns the next proxy and the call into it, or done
// when the walk ended (the outcome is then set).
func (s *simulator) hop(p *pod, call simulation.Call, direction string, st *state) (*pod, simulation.Call, bool) {
	v := s.view(p)
	h := SimHop{Proxy: p.id(), Direction: direction}
	res := st.result
	finish := func(o Outcome) (*pod, simulation.Call, bool) {
		res.Hops = append(res.Hops, h)
		res.Outcome = o
		return nil, simulation.Call{}, true
	}
	var fc *listenerpb.FilterChain
	call.CustomListenerValidations = []simulation.CustomFilterChainValidation{func(c *listenerpb.FilterChain) error {
		fc = c
		return nil
	}}
	r := v.sim.Run(call)
	h.Listener, h.FilterChain, h.RouteConfig, h.VirtualHost = r.ListenerMatched, r.FilterChainMatched, r.RouteConfigMatched, r.VirtualHostMatched
	if r.Error != nil && !errors.Is(r.Error, simulation.ErrNoRoute) && !errors.Is(r.Error, simulation.ErrTLSRedirect) {
		h.Error = simError(r.Error)
		kind := "refused"
		status := 0
		if errors.Is(r.Error, simulation.ErrNoVirtualHost) {
			kind, status = "no-route", 404
		}
		return finish(Outcome{Kind: kind, Status: status, Detail: fmt.Sprintf("%s: %s", p.id(), h.Error)})
	}
	rq := &request{
		Headers: st.headers, Path: st.headers[":path"], Metadata: map[string]map[string]any{},
		SourceIP: st.sourceIP, DestPort: call.Port, SNI: call.Sni,
	}
	if call.TLS == simulation.MTLS {
		rq.PeerPrincipal = st.peer
	}
	var clusterName string
	var rt *route.Route
	if hcm := xdstest.ExtractHTTPConnectionManager(s.t, fc); fc != nil && hcm != nil {
		// The request as the route was first chosen, before jwt_authn added claims and headers.
		before := &request{Headers: map[string]string{}, Path: rq.Path, Metadata: map[string]map[string]any{}}
		for k, v := range rq.Headers {
			before.Headers[k] = v
		}
		for _, f := range hcm.GetHttpFilters() {
			switch f.GetName() {
			case jwtFilter:
				cfg := &jwtpb.JwtAuthentication{}
				if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
					panic(err)
				}
				out, err := evalJWT(cfg, rq, s.c.UnverifiableIssuers)
				if err != nil {
					res.NotEvaluable = err.Error()
					return finish(Outcome{Kind: "no-route", Detail: err.Error()})
				}
				if out.notEvaluable != "" {
					res.NotEvaluable = out.notEvaluable
					h.JWT = &Verdict{OK: false, Reason: out.notEvaluable}
					return finish(Outcome{Kind: "denied", Detail: out.notEvaluable})
				}
				h.JWT = out.verdict
				if !out.verdict.OK {
					return finish(Outcome{Kind: "denied", Status: out.verdict.Status, Detail: fmt.Sprintf("%s: %s", p.id(), out.verdict.Reason)})
				}
				stripTokens(cfg, st.headers)
			case "envoy.filters.http.rbac":
				cfg := &rbachttp.RBAC{}
				if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
					panic(err)
				}
				verdict, custom, err := evalRBAC(cfg, rq)
				if err != nil || custom != "" {
					msg := custom
					if err != nil {
						msg = err.Error()
					}
					res.NotEvaluable = msg
					return finish(Outcome{Kind: "denied", Detail: msg})
				}
				if verdict != nil && (h.RBAC == nil || !verdict.Allowed || h.RBAC.Policy == "") {
					h.RBAC = verdict
				}
				if verdict != nil && !verdict.Allowed {
					return finish(Outcome{Kind: "denied", Status: 403, Detail: fmt.Sprintf("%s: RBAC: access denied (%s)", p.id(), verdict.Policy)})
				}
			}
		}
		rc := hcm.GetRouteConfig()
		if rc == nil {
			rc = v.routes[hcm.GetRds().GetRouteConfigName()]
		}
		var vh *route.VirtualHost
		for _, x := range rc.GetVirtualHosts() {
			if x.GetName() == r.VirtualHostMatched {
				vh = x
			}
		}
		if vh == nil {
			h.Error = "no virtual host matched"
			return finish(Outcome{Kind: "no-route", Status: 404, Detail: fmt.Sprintf("%s: no virtual host for %s", p.id(), call.HostHeader)})
		}
		if vh.GetRequireTls() == route.VirtualHost_ALL && call.TLS == simulation.Plaintext {
			h.Error = "TLS required: 301 redirect to https"
			return finish(Outcome{Kind: "no-route", Status: 301, Detail: fmt.Sprintf("%s: %s", p.id(), h.Error)})
		}
		routeReq := rq
		if !rq.ClearRouteCache {
			routeReq = before
		}
		var err error
		rt, err = firstRoute(vh, routeReq)
		if err != nil {
			res.NotEvaluable = err.Error()
			return finish(Outcome{Kind: "no-route", Detail: err.Error()})
		}
		if rt == nil {
			h.Error = "no route matched"
			return finish(Outcome{Kind: "no-route", Status: 404, Detail: fmt.Sprintf("%s: no route of virtual host %s matches", p.id(), vh.GetName())})
		}
		h.Route = rt.GetName()
		describeRoute(&h, rt)
		switch a := rt.GetAction().(type) {
		case *route.Route_DirectResponse:
			status := int(a.DirectResponse.GetStatus())
			kind := "no-route"
			if vh.GetName() == "block_all" {
				kind = "blackhole"
			}
			return finish(Outcome{Kind: kind, Status: status, Detail: fmt.Sprintf("%s: direct response %d", p.id(), status)})
		case *route.Route_Redirect:
			return finish(Outcome{Kind: "no-route", Status: 301, Detail: fmt.Sprintf("%s: redirect", p.id())})
		case *route.Route_Route:
			clusterName = followedCluster(a.Route)
		}
		if f := h.Fault; f != nil && f.Abort != nil && f.Abort.Percent >= 100 {
			return finish(Outcome{Kind: "aborted", Status: int(f.Abort.HTTPStatus), Detail: fmt.Sprintf("%s: fault injection aborts every matching request", p.id())})
		}
	} else if fc != nil {
		for _, f := range fc.GetFilters() {
			if f.GetName() == "envoy.filters.network.rbac" {
				cfg := &rbacnet.RBAC{}
				if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
					panic(err)
				}
				verdict, custom, err := evalRBAC(&rbachttp.RBAC{Rules: cfg.GetRules(), ShadowRules: cfg.GetShadowRules(), ShadowRulesStatPrefix: cfg.GetShadowRulesStatPrefix()}, rq)
				if err != nil || custom != "" {
					res.NotEvaluable = fmt.Sprint(err, custom)
					return finish(Outcome{Kind: "denied", Detail: res.NotEvaluable})
				}
				if verdict != nil {
					h.RBAC = verdict
					if !verdict.Allowed {
						return finish(Outcome{Kind: "denied", Detail: fmt.Sprintf("%s: RBAC: connection closed (%s)", p.id(), verdict.Policy)})
					}
				}
			}
		}
		clusterName = r.ClusterMatched
	}
	h.Cluster = clusterName
	return s.upstream(v, h, clusterName, call, st)
}

// stripTokens: Envoy removes a verified JWT from the request unless the provider says forward,
// which is Istio's forwardOriginalToken (default false). A later proxy then sees no token.
func stripTokens(cfg *jwtpb.JwtAuthentication, headers map[string]string) {
	for _, p := range cfg.GetProviders() {
		if p.GetForward() {
			continue
		}
		if len(p.GetFromHeaders()) == 0 {
			delete(headers, "authorization")
		}
		for _, hd := range p.GetFromHeaders() {
			delete(headers, strings.ToLower(hd.GetName()))
		}
	}
}

// followedCluster is the cluster the walk continues to: the route's cluster, or for a weighted
// route the heaviest one (the first of equals), the way most requests go.
func followedCluster(a *route.RouteAction) string {
	if c := a.GetCluster(); c != "" {
		return c
	}
	best, bestW := "", uint32(0)
	for _, wc := range a.GetWeightedClusters().GetClusters() {
		if w := wc.GetWeight().GetValue(); best == "" || w > bestW {
			best, bestW = wc.GetName(), w
		}
	}
	return best
}

func duration(d *durationpb.Duration) string {
	if d == nil {
		return ""
	}
	return d.AsDuration().String()
}

func percent(p *typepb.FractionalPercent) float64 {
	if p == nil {
		return 100
	}
	n := float64(p.GetNumerator())
	switch p.GetDenominator() {
	case typepb.FractionalPercent_TEN_THOUSAND:
		return n / 100
	case typepb.FractionalPercent_MILLION:
		return n / 10000
	}
	return n
}

func describeRoute(h *SimHop, rt *route.Route) {
	if a := rt.GetRoute(); a != nil {
		for _, wc := range a.GetWeightedClusters().GetClusters() {
			h.WeightedClusters = append(h.WeightedClusters, WeightedCluster{Cluster: wc.GetName(), Weight: wc.GetWeight().GetValue()})
		}
		h.Timeout = "0s"
		if a.GetTimeout() != nil {
			h.Timeout = duration(a.GetTimeout())
		}
		if rp := a.GetRetryPolicy(); rp != nil && rp.GetNumRetries().GetValue() > 0 {
			h.Retries = &Retries{Attempts: rp.GetNumRetries().GetValue(), PerTryTimeout: duration(rp.GetPerTryTimeout()), RetryOn: rp.GetRetryOn()}
		}
		for _, m := range a.GetRequestMirrorPolicies() {
			h.Mirrors = append(h.Mirrors, Mirror{Cluster: m.GetCluster(), Percent: percent(m.GetRuntimeFraction().GetDefaultValue())})
		}
		for _, hp := range a.GetHashPolicy() {
			switch x := hp.GetPolicySpecifier().(type) {
			case *route.RouteAction_HashPolicy_Cookie_:
				h.HashPolicy = append(h.HashPolicy, HashPolicy{Cookie: &HashCookie{Name: x.Cookie.GetName(), TTL: duration(x.Cookie.GetTtl()), Path: x.Cookie.GetPath()}})
			case *route.RouteAction_HashPolicy_Header_:
				h.HashPolicy = append(h.HashPolicy, HashPolicy{Header: x.Header.GetHeaderName()})
			case *route.RouteAction_HashPolicy_QueryParameter_:
				h.HashPolicy = append(h.HashPolicy, HashPolicy{QueryParameter: x.QueryParameter.GetName()})
			case *route.RouteAction_HashPolicy_ConnectionProperties_:
				h.HashPolicy = append(h.HashPolicy, HashPolicy{SourceIP: x.ConnectionProperties.GetSourceIp()})
			}
		}
	}
	if any := rt.GetTypedPerFilterConfig()["envoy.filters.http.fault"]; any != nil {
		f := &faultpb.HTTPFault{}
		if err := any.UnmarshalTo(f); err == nil {
			out := &Fault{}
			if d := f.GetDelay(); d != nil {
				out.Delay = &FaultDelay{FixedDelay: duration(d.GetFixedDelay()), Percent: percent(d.GetPercentage())}
			}
			if a := f.GetAbort(); a != nil {
				out.Abort = &FaultAbort{HTTPStatus: a.GetHttpStatus(), GrpcStatus: a.GetGrpcStatus(), Percent: percent(a.GetPercentage())}
			}
			h.Fault = out
		}
	}
}

// upstreamTLS reads the TLS a proxy uses towards a cluster: an explicit transport socket
// (DestinationRule tls), or auto mTLS's match on the endpoint's tlsMode label.
func upstreamTLS(c *clusterpb.Cluster, ep *endpointpb.LbEndpoint) (mode, sni string) {
	ts := c.GetTransportSocket()
	if ts == nil {
		for _, m := range c.GetTransportSocketMatches() {
			want := m.GetMatch().GetFields()
			have := ep.GetMetadata().GetFilterMetadata()["envoy.transport_socket_match"].GetFields()
			ok := true
			for k, v := range want {
				if have[k].GetStringValue() != v.GetStringValue() {
					ok = false
				}
			}
			if ok {
				ts = m.GetTransportSocket()
				break
			}
		}
	}
	if ts == nil || ts.GetName() != "envoy.transport_sockets.tls" {
		return "DISABLE", ""
	}
	ctx := &tlspb.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(ctx); err != nil {
		return "DISABLE", ""
	}
	common := ctx.GetCommonTlsContext()
	certs := common.GetTlsCertificateSdsSecretConfigs()
	if len(certs) > 0 && certs[0].GetName() == "default" {
		return "ISTIO_MUTUAL", ctx.GetSni()
	}
	if len(certs) > 0 || len(common.GetTlsCertificates()) > 0 {
		return "MUTUAL", ctx.GetSni()
	}
	return "SIMPLE", ctx.GetSni()
}

func (s *simulator) loadAssignment(v *proxyView, c *clusterpb.Cluster) *endpointpb.ClusterLoadAssignment {
	if c.GetType() == clusterpb.Cluster_EDS {
		b := endpoints.NewEndpointBuilder(c.GetName(), v.proxy, s.fds.PushContext())
		return b.BuildClusterLoadAssignment(s.fds.Discovery.Env.EndpointIndex)
	}
	return c.GetLoadAssignment()
}

func (s *simulator) upstream(v *proxyView, h SimHop, clusterName string, call simulation.Call, st *state) (*pod, simulation.Call, bool) {
	res := st.result
	finish := func(o Outcome) (*pod, simulation.Call, bool) {
		res.Hops = append(res.Hops, h)
		res.Outcome = o
		return nil, simulation.Call{}, true
	}
	p := v.pod
	switch clusterName {
	case "":
		return finish(Outcome{Kind: "no-route", Status: 404, Detail: fmt.Sprintf("%s: no cluster", p.id())})
	case util.BlackHoleCluster:
		return finish(Outcome{Kind: "blackhole", Status: 502, Detail: fmt.Sprintf("%s: BlackHoleCluster (outboundTrafficPolicy REGISTRY_ONLY and no ServiceEntry for %s)", p.id(), st.req.Host)})
	case util.PassthroughCluster:
		return finish(Outcome{Kind: "passthrough", Destination: st.req.Host, Detail: fmt.Sprintf("%s: PassthroughCluster (outboundTrafficPolicy ALLOW_ANY, unmanaged)", p.id())})
	case util.InboundPassthroughCluster:
		return finish(Outcome{Kind: "delivered", Destination: p.id(), Detail: "inbound passthrough (no Service port for it)"})
	}
	dir, subset, hostname, _ := model.ParseSubsetKey(clusterName)
	h.Subset = subset
	if dir == model.TrafficDirectionInbound {
		return finish(Outcome{Kind: "delivered", Destination: p.id()})
	}
	c := v.clusters[clusterName]
	if c == nil {
		h.Error = "the route's cluster is not in the proxy's clusters"
		return finish(Outcome{Kind: "no-route", Status: 503, Detail: fmt.Sprintf("%s: cluster %s not found (503)", p.id(), clusterName)})
	}
	cla := s.loadAssignment(v, c)
	var eps []*endpointpb.LbEndpoint
	for _, l := range cla.GetEndpoints() {
		for _, ep := range l.GetLbEndpoints() {
			if hs := ep.GetHealthStatus(); hs == 0 || hs == 1 { // UNKNOWN or HEALTHY
				eps = append(eps, ep)
			}
		}
	}
	n := len(eps)
	h.Endpoints = &n
	if n == 0 {
		h.UpstreamTLS, _ = upstreamTLS(c, nil)
		return finish(Outcome{Kind: "no-route", Status: 503, Detail: fmt.Sprintf("%s: no healthy endpoints for %s (503)", p.id(), clusterName)})
	}
	// The first endpoint in address order, so traces are stable run to run.
	sort.SliceStable(eps, func(i, j int) bool {
		return eps[i].GetEndpoint().GetAddress().GetSocketAddress().GetAddress() < eps[j].GetEndpoint().GetAddress().GetSocketAddress().GetAddress()
	})
	ep := eps[0]
	mode, sni := upstreamTLS(c, ep)
	h.UpstreamTLS = mode
	addr := ep.GetEndpoint().GetAddress().GetSocketAddress()
	next := s.c.PodsByIP[addr.GetAddress()]
	if st.egressGW != nil && next == nil {
		res.Egress = &Egress{Gateway: st.egressGW.id(), Host: string(hostname), TLSOriginated: mode == "SIMPLE" || mode == "MUTUAL"}
	}
	if next == nil {
		return finish(Outcome{Kind: "delivered", Destination: string(hostname), Detail: fmt.Sprintf("%s: to %s:%d outside the mesh", p.id(), addr.GetAddress(), addr.GetPortValue())})
	}
	res.Hops = append(res.Hops, h)
	nc := simulation.Call{
		Address: next.IP, Port: int(addr.GetPortValue()), Path: call.Path, HostHeader: call.HostHeader,
		Headers: httpHeaders(st.headers), Protocol: call.Protocol,
	}
	// What the connection into the next proxy is: mTLS when the upstream TLS is Istio's, the
	// client's own TLS passed through, or plain text.
	passthroughTLS := st.clientTLS && h.Route == ""
	if h.Route != "" {
		st.clientTLS = false
	}
	switch mode {
	case "ISTIO_MUTUAL":
		nc.TLS, nc.Sni = simulation.MTLS, sni
		if passthroughTLS {
			nc.Protocol = simulation.TCP
		}
	case "SIMPLE", "MUTUAL":
		nc.TLS, nc.Sni = simulation.TLS, sni
	default:
		nc.TLS = simulation.Plaintext
		if passthroughTLS {
			nc.TLS, nc.Sni = simulation.TLS, call.Sni
		}
	}
	st.peer = s.spiffe(p)
	st.sourceIP = p.IP
	if !next.Sidecar {
		res.Outcome = Outcome{Kind: "delivered", Destination: next.id(), Detail: "the destination has no sidecar"}
		if nc.TLS == simulation.MTLS {
			res.Outcome = Outcome{Kind: "refused", Destination: next.id(), Detail: "mTLS to a pod without a sidecar"}
		}
		return nil, nc, true
	}
	if next.Gateway {
		nc.CallMode = simulation.CallModeGateway
		if isEgress(next) {
			st.egressGW = next
		}
	} else {
		nc.CallMode = simulation.CallModeInbound
	}
	return next, nc, false
}

func isEgress(p *pod) bool {
	return p.Labels["istio"] == "egressgateway" || strings.Contains(p.Workload, "egress")
}
