package main

// EnvoyFilter verdicts (SimInput.envoyFilters): for every EnvoyFilter, the proxies Istio attaches
// it to (push.EnvoyFilters: workloadSelector/targetRefs, its namespace, the root namespace) and,
// for each patch, whether it changes the configuration istiod generates for them. Each attached
// proxy's listeners, clusters or routes are generated twice, with the patch and without it, by
// Istio's own code both times: a patch that changes nothing matched nothing (or set what was
// already there). Istio's own pilot_envoy_filter_status metric is no help here: it is keyed by
// EnvoyFilter name and patch type, not by patch, and some operations never mark it applied.

import (
	"fmt"
	"sort"
	"strings"

	clusterpb "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerpb "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	networking "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/config/schema/gvk"
	xdsconfig "istio.io/istio/pkg/config/xds"
)

type SimEnvoyFilterPatch struct {
	// Index in spec.configPatches.
	Index   int    `json:"index"`
	ApplyTo string `json:"applyTo"`
	Context string `json:"context"`
	// Applied: the patch changed the generated configuration of at least one attached proxy.
	Applied   bool     `json:"applied"`
	AppliedTo []string `json:"appliedTo"`
	// Why the helper cannot judge this patch (it is then neither applied nor unapplied).
	NotEvaluated string `json:"notEvaluated,omitempty"`
	// For a patch that applied nowhere: what the attached proxies' generated configuration has
	// in the patch's context (listener ports and filter names, cluster or route names), one
	// line per proxy.
	Contains []string `json:"contains,omitempty"`
}

type SimEnvoyFilter struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Proxies ("<namespace>/<workload>") Istio attaches the filter to; empty: none.
	Proxies []string              `json:"proxies"`
	Patches []SimEnvoyFilterPatch `json:"patches"`
}

// efPatch is one configPatch as Istio's EnvoyFilter wrapper holds it (model.convertToEnvoyFilterWrapper):
// the key that finds it again among the wrappers push.EnvoyFilters hands out.
type efPatch struct {
	applyTo networking.EnvoyFilter_ApplyTo
	op      networking.EnvoyFilter_Patch_Operation
	match   *networking.EnvoyFilter_EnvoyConfigObjectMatch
	value   proto.Message
}

type efState struct {
	out      *SimEnvoyFilter
	patches  []efPatch
	assigned map[int]bool
	proxies  map[string]bool
}

func (s *simulator) envoyFilters() []SimEnvoyFilter {
	states := map[string]*efState{}
	var keys []string
	for _, cfg := range s.c.Configs {
		if cfg.GroupVersionKind != gvk.EnvoyFilter {
			continue
		}
		spec, ok := cfg.Spec.(*networking.EnvoyFilter)
		if !ok {
			continue
		}
		key := cfg.Namespace + "/" + cfg.Name
		st := &efState{
			out:      &SimEnvoyFilter{Namespace: cfg.Namespace, Name: cfg.Name, Proxies: []string{}, Patches: []SimEnvoyFilterPatch{}},
			assigned: map[int]bool{},
			proxies:  map[string]bool{},
		}
		for i, cp := range spec.ConfigPatches {
			p := SimEnvoyFilterPatch{Index: i, ApplyTo: cp.ApplyTo.String(), Context: cp.GetMatch().GetContext().String(), AppliedTo: []string{}}
			ep := efPatch{applyTo: cp.ApplyTo, match: cp.Match}
			if ep.match == nil {
				ep.match = &networking.EnvoyFilter_EnvoyConfigObjectMatch{Context: networking.EnvoyFilter_ANY}
			}
			if cp.Patch == nil {
				p.NotEvaluated = "the patch has no `patch:`; istiod drops it"
			} else {
				ep.op = cp.Patch.Operation
				if v, err := xdsconfig.BuildXDSObjectFromStruct(cp.ApplyTo, cp.Patch.Value, false); err != nil {
					p.NotEvaluated = fmt.Sprintf("istiod cannot build its value and drops it: %v", err)
				} else {
					ep.value = v
				}
				// Istio turns these into ADD for the object kinds that have no order (convertToEnvoyFilterWrapper).
				if (ep.op == networking.EnvoyFilter_Patch_INSERT_AFTER || ep.op == networking.EnvoyFilter_Patch_INSERT_BEFORE ||
					ep.op == networking.EnvoyFilter_Patch_INSERT_FIRST) &&
					cp.ApplyTo != networking.EnvoyFilter_HTTP_FILTER && cp.ApplyTo != networking.EnvoyFilter_NETWORK_FILTER &&
					cp.ApplyTo != networking.EnvoyFilter_HTTP_ROUTE && cp.ApplyTo != networking.EnvoyFilter_LISTENER_FILTER {
					ep.op = networking.EnvoyFilter_Patch_ADD
				}
			}
			if p.NotEvaluated == "" {
				p.NotEvaluated = notEvaluable(cp)
			}
			st.out.Patches = append(st.out.Patches, p)
			st.patches = append(st.patches, ep)
		}
		states[key] = st
		keys = append(keys, key)
	}
	if len(states) == 0 {
		return []SimEnvoyFilter{}
	}
	sort.Strings(keys)

	// Which patch of which EnvoyFilter a wrapper is: found once, by value, and kept by pointer
	// (the push context's wrappers are shared by every proxy).
	index := map[*model.EnvoyFilterConfigPatchWrapper]int{}
	find := func(cp *model.EnvoyFilterConfigPatchWrapper) (*efState, int) {
		st := states[cp.Namespace+"/"+cp.Name]
		if st == nil {
			return nil, -1
		}
		if i, ok := index[cp]; ok {
			return st, i
		}
		for i, ep := range st.patches {
			if st.assigned[i] || ep.applyTo != cp.ApplyTo || ep.op != cp.Operation ||
				!proto.Equal(ep.match, cp.Match) || !sameValue(ep.value, cp.Value) {
				continue
			}
			st.assigned[i] = true
			index[cp] = i
			return st, i
		}
		return st, -1
	}

	push := s.fds.PushContext()
	seen := map[string]bool{}
	unapplied := map[*SimEnvoyFilterPatch][]string{}
	for _, p := range s.c.Pods {
		// One pod per workload: replicas get the same configuration.
		if (!p.Sidecar && !p.Gateway) || seen[p.id()] {
			continue
		}
		seen[p.id()] = true
		v := s.view(p)
		merged := push.EnvoyFilters(v.proxy)
		if merged == nil {
			continue
		}
		type attached struct {
			cp  *model.EnvoyFilterConfigPatchWrapper
			st  *efState
			idx int
		}
		var list []attached
		for _, cps := range merged.Patches {
			for _, cp := range cps {
				if st, i := find(cp); i >= 0 {
					list = append(list, attached{cp, st, i})
				}
			}
		}
		// Map order is random; the verdicts must not be.
		sort.Slice(list, func(a, b int) bool {
			ka, kb := list[a].st.out.Namespace+"/"+list[a].st.out.Name, list[b].st.out.Namespace+"/"+list[b].st.out.Name
			if ka != kb {
				return ka < kb
			}
			return list[a].idx < list[b].idx
		})
		for _, a := range list {
			if !a.st.proxies[p.id()] {
				a.st.proxies[p.id()] = true
				a.st.out.Proxies = append(a.st.out.Proxies, p.id())
			}
			patch := &a.st.out.Patches[a.idx]
			if patch.NotEvaluated != "" {
				continue
			}
			if s.patchChanges(v, a.cp) {
				patch.Applied = true
				patch.AppliedTo = append(patch.AppliedTo, p.id())
			} else {
				unapplied[patch] = append(unapplied[patch], describeGenerated(v, a.cp))
			}
		}
	}
	out := make([]SimEnvoyFilter, 0, len(keys))
	for _, k := range keys {
		st := states[k]
		for i := range st.out.Patches {
			p := &st.out.Patches[i]
			if p.Applied || p.NotEvaluated != "" {
				continue
			}
			if len(st.out.Proxies) > 0 && len(unapplied[p]) == 0 {
				// The filter is attached but this patch was not found among Istio's wrappers (it
				// did not convert it as this file expects): no verdict rather than a wrong one.
				p.NotEvaluated = "the helper could not find this patch among the ones Istio attached"
				continue
			}
			p.Contains = firstN(unapplied[p], 5, "proxies")
		}
		out = append(out, *st.out)
	}
	return out
}

// notEvaluable: patches whose effect is not in the listeners, clusters and routes generated here.
func notEvaluable(cp *networking.EnvoyFilter_EnvoyConfigObjectPatch) string {
	switch cp.ApplyTo {
	case networking.EnvoyFilter_BOOTSTRAP:
		return "BOOTSTRAP patches change the proxy's bootstrap, which the agent writes, not istiod's generated configuration"
	case networking.EnvoyFilter_EXTENSION_CONFIG:
		return "EXTENSION_CONFIG patches are served over ECDS, which the helper does not generate"
	}
	if cp.GetMatch().GetProxy() != nil {
		return "it matches on the proxy's version or metadata, which the helper's proxies do not carry as a real pod's would"
	}
	if cp.GetMatch().GetContext() == networking.EnvoyFilter_WAYPOINT {
		return "waypoint proxies (ambient) are not simulated"
	}
	return ""
}

// patchChanges generates the part of the proxy's configuration the patch applies to without it
// and compares that with what was generated with it. The patch is taken out the way Istio itself
// leaves out a patch for a proxy: its proxy match fails (model.proxyMatch), restored afterwards.
func (s *simulator) patchChanges(v *proxyView, cp *model.EnvoyFilterConfigPatchWrapper) bool {
	savedMatch, savedNoMatch := cp.Match, cp.ProxyVersionNoMatch
	m := proto.Clone(savedMatch).(*networking.EnvoyFilter_EnvoyConfigObjectMatch)
	m.Proxy = &networking.EnvoyFilter_ProxyMatch{}
	cp.Match, cp.ProxyVersionNoMatch = m, true
	defer func() { cp.Match, cp.ProxyVersionNoMatch = savedMatch, savedNoMatch }()
	gen := s.fds.ConfigGenTest
	switch cp.ApplyTo {
	case networking.EnvoyFilter_CLUSTER:
		return !sameByName(v.sim.Clusters, gen.Clusters(v.proxy), func(c *clusterpb.Cluster) string { return c.Name })
	case networking.EnvoyFilter_ROUTE_CONFIGURATION, networking.EnvoyFilter_VIRTUAL_HOST, networking.EnvoyFilter_HTTP_ROUTE:
		// A sidecar's inbound routes are inline in its listeners, the rest come over RDS.
		return !sameByName(v.sim.Routes, gen.RoutesFromListeners(v.proxy, v.sim.Listeners), func(r *route.RouteConfiguration) string { return r.Name }) ||
			!sameByName(v.sim.Listeners, gen.Listeners(v.proxy), func(l *listenerpb.Listener) string { return l.Name })
	default:
		return !sameByName(v.sim.Listeners, gen.Listeners(v.proxy), func(l *listenerpb.Listener) string { return l.Name })
	}
}

// sameValue compares two patch values. proto.Equal compares an Any by its bytes, and a Struct
// inside one (a TypedStruct's config) marshals its map in random order: two builds of the same
// value differ. protojson unpacks the Any and writes maps sorted.
func sameValue(a, b proto.Message) bool {
	if proto.Equal(a, b) {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	ja, errA := protojson.Marshal(a)
	jb, errB := protojson.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func sameByName[T proto.Message](a, b []T, name func(T) string) bool {
	if len(a) != len(b) {
		return false
	}
	byName := make(map[string]T, len(b))
	for _, x := range b {
		byName[name(x)] = x
	}
	for _, x := range a {
		y, ok := byName[name(x)]
		if !ok || !sameValue(x, y) {
			return false
		}
	}
	return true
}

// listenerContext is the patch context Istio generates a listener in.
func listenerContext(v *proxyView, l *listenerpb.Listener) networking.EnvoyFilter_PatchContext {
	if v.pod.Gateway {
		return networking.EnvoyFilter_GATEWAY
	}
	if l.Name == model.VirtualInboundListenerName {
		return networking.EnvoyFilter_SIDECAR_INBOUND
	}
	return networking.EnvoyFilter_SIDECAR_OUTBOUND
}

func proxyKind(v *proxyView) string {
	if v.pod.Gateway {
		return "gateway"
	}
	return "sidecar"
}

// describeGenerated says what the proxy's generated configuration has where the patch looks: the
// detail of a finding, so the reader sees the ports and names it could have matched.
func describeGenerated(v *proxyView, cp *model.EnvoyFilterConfigPatchWrapper) string {
	ctx := cp.Match.GetContext()
	who := fmt.Sprintf("%s (%s)", v.pod.id(), proxyKind(v))
	switch cp.ApplyTo {
	case networking.EnvoyFilter_CLUSTER:
		var names []string
		want := cp.Match.GetCluster().GetService()
		for _, c := range v.sim.Clusters {
			if want == "" || strings.Contains(c.Name, strings.SplitN(want, ".", 2)[0]) {
				names = append(names, c.Name)
			}
		}
		sort.Strings(names)
		if want != "" && len(names) == 0 {
			return fmt.Sprintf("%s: no cluster for a service like %s among its %d clusters", who, want, len(v.sim.Clusters))
		}
		return fmt.Sprintf("%s: clusters %s", who, strings.Join(firstN(names, 8, ""), ", "))
	case networking.EnvoyFilter_ROUTE_CONFIGURATION, networking.EnvoyFilter_VIRTUAL_HOST, networking.EnvoyFilter_HTTP_ROUTE:
		var rcs, vhosts []string
		for _, r := range v.sim.Routes {
			rcs = append(rcs, r.Name)
			for _, vh := range r.VirtualHosts {
				vhosts = append(vhosts, vh.Name)
			}
		}
		sort.Strings(rcs)
		sort.Strings(vhosts)
		return fmt.Sprintf("%s: route configurations %s; virtual hosts %s", who,
			orNone(firstN(rcs, 8, "")), orNone(firstN(dedupe(vhosts), 8, "")))
	}
	ports := map[uint32]bool{}
	var names, lfilters, nfilters, hfilters []string
	for _, l := range v.sim.Listeners {
		lc := listenerContext(v, l)
		if ctx != networking.EnvoyFilter_ANY && lc != ctx {
			continue
		}
		names = append(names, l.Name)
		for _, f := range l.ListenerFilters {
			lfilters = append(lfilters, f.Name)
		}
		if lc == networking.EnvoyFilter_SIDECAR_INBOUND {
			for _, fc := range l.FilterChains {
				if p := fc.GetFilterChainMatch().GetDestinationPort().GetValue(); p != 0 {
					ports[p] = true
				}
			}
		} else if p := l.GetAddress().GetSocketAddress().GetPortValue(); p != 0 {
			ports[p] = true
		}
		chains := l.FilterChains
		if l.DefaultFilterChain != nil {
			chains = append(append([]*listenerpb.FilterChain{}, chains...), l.DefaultFilterChain)
		}
		for _, fc := range chains {
			for _, f := range fc.Filters {
				nfilters = append(nfilters, f.Name)
				if f.Name != "envoy.filters.network.http_connection_manager" || f.GetTypedConfig() == nil {
					continue
				}
				h := &hcm.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(h) == nil {
					for _, hf := range h.HttpFilters {
						hfilters = append(hfilters, hf.Name)
					}
				}
			}
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("%s: no %s listener (a %s's listeners are %s)", who, ctx, proxyKind(v), contextsOf(v))
	}
	var ps []int
	for p := range ports {
		ps = append(ps, int(p))
	}
	sort.Ints(ps)
	var portList []string
	for _, p := range ps {
		portList = append(portList, fmt.Sprint(p))
	}
	where := ctx.String()
	if ctx == networking.EnvoyFilter_ANY {
		where = "all"
	}
	portWord := "listener ports"
	if ctx == networking.EnvoyFilter_SIDECAR_INBOUND {
		portWord = "inbound ports"
	}
	parts := []string{fmt.Sprintf("%s %s", portWord, orNone(firstN(portList, 12, "")))}
	if cp.ApplyTo == networking.EnvoyFilter_LISTENER || cp.Match.GetListener().GetName() != "" {
		sort.Strings(names)
		parts = append(parts, "listeners "+orNone(firstN(dedupe(names), 8, "")))
	}
	if cp.ApplyTo == networking.EnvoyFilter_LISTENER_FILTER {
		parts = append(parts, "listener filters "+orNone(firstN(dedupe(lfilters), 12, "")))
	}
	parts = append(parts, "network filters "+orNone(firstN(dedupe(nfilters), 12, "")))
	if cp.ApplyTo == networking.EnvoyFilter_HTTP_FILTER || cp.Match.GetListener().GetFilterChain().GetFilter().GetSubFilter() != nil {
		parts = append(parts, "http filters "+orNone(firstN(dedupe(hfilters), 16, "")))
	}
	return fmt.Sprintf("%s, %s listeners: %s", who, where, strings.Join(parts, "; "))
}

func contextsOf(v *proxyView) string {
	if v.pod.Gateway {
		return "GATEWAY"
	}
	return "SIDECAR_INBOUND and SIDECAR_OUTBOUND"
}

// dedupe keeps the first of each name, sorted.
func dedupe(xs []string) []string {
	set := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !set[x] {
			set[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// firstN keeps n items and says how many it left out ("and 12 more", "and 2 more proxies").
func firstN(xs []string, n int, noun string) []string {
	if len(xs) <= n {
		return xs
	}
	return append(append([]string{}, xs[:n]...), strings.TrimSpace(fmt.Sprintf("and %d more %s", len(xs)-n, noun)))
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}
