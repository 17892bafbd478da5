package main

// Envoy's matchers, as Envoy evaluates them, for the subset Istio generates: string, header,
// query parameter, path, metadata (JWT claims), and route matches. Upstream's simulation matches
// routes on the path only; with these, header/cookie/query/claim routes pick the right route.
// A matcher this file does not know is an errUnsupported, so the request is reported as not
// evaluable instead of silently matching or not.

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

type errUnsupported struct{ what string }

func (e errUnsupported) Error() string { return "not evaluable offline: " + e.what }

func unsupported(format string, args ...any) error {
	return errUnsupported{fmt.Sprintf(format, args...)}
}

func isUnsupported(err error) bool {
	var u errUnsupported
	return errors.As(err, &u)
}

// request is what every matcher reads: headers (lower-case names, Envoy's pseudo-headers
// included), the dynamic metadata the filters before set, and the connection's facts.
type request struct {
	Headers  map[string]string
	Path     string // with the query string, as :path
	Metadata map[string]map[string]any
	// The mTLS peer's SPIFFE ID ("" when the connection is not mTLS).
	PeerPrincipal string
	SourceIP      string
	DestPort      int
	SNI           string
	// Set when a verified JWT provider has clear_route_cache: only then does Envoy pick the route
	// again with what jwt_authn added (claims, claim headers); otherwise the route was already
	// chosen before it ran.
	ClearRouteCache bool
}

func (r *request) pathOnly() string {
	if i := strings.IndexAny(r.Path, "?#"); i >= 0 {
		return r.Path[:i]
	}
	return r.Path
}

func (r *request) query() url.Values {
	if i := strings.Index(r.Path, "?"); i >= 0 {
		q, _ := url.ParseQuery(r.Path[i+1:])
		return q
	}
	return url.Values{}
}

var regexCache = map[string]*regexp.Regexp{}

// fullMatch: Envoy's safe_regex matches the whole value (RE2; Go's regexp is RE2 too).
func fullMatch(re, s string) (bool, error) {
	r, ok := regexCache[re]
	if !ok {
		var err error
		r, err = regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return false, unsupported("regex %q: %v", re, err)
		}
		regexCache[re] = r
	}
	return r.MatchString(s), nil
}

func matchString(m *matcher.StringMatcher, s string) (bool, error) {
	if m == nil {
		return true, nil
	}
	v := s
	fold := m.GetIgnoreCase()
	if fold {
		v = strings.ToLower(s)
	}
	low := func(p string) string {
		if fold {
			return strings.ToLower(p)
		}
		return p
	}
	switch p := m.MatchPattern.(type) {
	case *matcher.StringMatcher_Exact:
		return v == low(p.Exact), nil
	case *matcher.StringMatcher_Prefix:
		return strings.HasPrefix(v, low(p.Prefix)), nil
	case *matcher.StringMatcher_Suffix:
		return strings.HasSuffix(v, low(p.Suffix)), nil
	case *matcher.StringMatcher_Contains:
		return strings.Contains(v, low(p.Contains)), nil
	case *matcher.StringMatcher_SafeRegex:
		return fullMatch(p.SafeRegex.GetRegex(), s)
	}
	return false, unsupported("string matcher %T", m.MatchPattern)
}

func matchHeader(h *route.HeaderMatcher, r *request) (bool, error) {
	v, present := r.Headers[strings.ToLower(h.GetName())]
	if !present && h.GetTreatMissingHeaderAsEmpty() {
		v, present = "", true
	}
	var ok bool
	var err error
	switch s := h.HeaderMatchSpecifier.(type) {
	case nil:
		ok = present
	case *route.HeaderMatcher_PresentMatch:
		ok = present == s.PresentMatch
		// present_match with invert flips presence, and a missing header is then a match.
		if h.GetInvertMatch() {
			return !ok, nil
		}
		return ok, nil
	case *route.HeaderMatcher_StringMatch:
		if !present {
			return h.GetInvertMatch(), nil
		}
		ok, err = matchString(s.StringMatch, v)
	case *route.HeaderMatcher_ExactMatch:
		ok = present && v == s.ExactMatch
	case *route.HeaderMatcher_PrefixMatch:
		ok = present && strings.HasPrefix(v, s.PrefixMatch)
	case *route.HeaderMatcher_SuffixMatch:
		ok = present && strings.HasSuffix(v, s.SuffixMatch)
	case *route.HeaderMatcher_ContainsMatch:
		ok = present && strings.Contains(v, s.ContainsMatch)
	case *route.HeaderMatcher_SafeRegexMatch:
		if present {
			ok, err = fullMatch(s.SafeRegexMatch.GetRegex(), v)
		}
	default:
		return false, unsupported("header matcher %T on %q", s, h.GetName())
	}
	if err != nil {
		return false, err
	}
	if !present {
		// A missing header never matches a value matcher; invert makes that a match.
		return h.GetInvertMatch(), nil
	}
	return ok != h.GetInvertMatch(), nil
}

func matchQuery(q *route.QueryParameterMatcher, values url.Values) (bool, error) {
	vs, present := values[q.GetName()]
	switch s := q.QueryParameterMatchSpecifier.(type) {
	case nil:
		return present, nil
	case *route.QueryParameterMatcher_PresentMatch:
		return present == s.PresentMatch, nil
	case *route.QueryParameterMatcher_StringMatch:
		if !present {
			return false, nil
		}
		return matchString(s.StringMatch, vs[0])
	}
	return false, unsupported("query parameter matcher %T", q.QueryParameterMatchSpecifier)
}

// lookupMetadata walks a metadata matcher's path (filter, then keys) in the request's metadata.
func lookupMetadata(m *matcher.MetadataMatcher, r *request) (any, bool) {
	var cur any = r.Metadata[m.GetFilter()]
	if r.Metadata[m.GetFilter()] == nil {
		return nil, false
	}
	for _, seg := range m.GetPath() {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = obj[seg.GetKey()]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func matchMetadata(m *matcher.MetadataMatcher, r *request) (bool, error) {
	v, ok := lookupMetadata(m, r)
	res := false
	var err error
	if ok {
		res, err = matchValue(m.GetValue(), v)
	} else if _, isPresent := m.GetValue().GetMatchPattern().(*matcher.ValueMatcher_PresentMatch); isPresent {
		res = !m.GetValue().GetPresentMatch()
	}
	if err != nil {
		return false, err
	}
	return res != m.GetInvert(), nil
}

func matchValue(m *matcher.ValueMatcher, v any) (bool, error) {
	switch p := m.GetMatchPattern().(type) {
	case *matcher.ValueMatcher_NullMatch_:
		return v == nil, nil
	case *matcher.ValueMatcher_PresentMatch:
		return p.PresentMatch, nil
	case *matcher.ValueMatcher_BoolMatch:
		b, ok := v.(bool)
		return ok && b == p.BoolMatch, nil
	case *matcher.ValueMatcher_StringMatch:
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		return matchString(p.StringMatch, s)
	case *matcher.ValueMatcher_DoubleMatch:
		f, ok := v.(float64)
		if !ok {
			return false, nil
		}
		switch d := p.DoubleMatch.GetMatchPattern().(type) {
		case *matcher.DoubleMatcher_Exact:
			return f == d.Exact, nil
		case *matcher.DoubleMatcher_Range:
			return f >= d.Range.GetStart() && f < d.Range.GetEnd(), nil
		}
	case *matcher.ValueMatcher_ListMatch:
		list, ok := v.([]any)
		if !ok {
			return false, nil
		}
		for _, item := range list {
			if ok, err := matchValue(p.ListMatch.GetOneOf(), item); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *matcher.ValueMatcher_OrMatch:
		for _, vm := range p.OrMatch.GetValueMatchers() {
			if ok, err := matchValue(vm, v); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	return false, unsupported("value matcher %T", m.GetMatchPattern())
}

// matchRoute is Envoy's route match: path, then every header, query parameter and dynamic
// metadata matcher must hold.
func matchRoute(m *route.RouteMatch, r *request) (bool, error) {
	path := r.pathOnly()
	cmpPath := path
	caseSensitive := m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()
	low := func(s string) string {
		if caseSensitive {
			return s
		}
		return strings.ToLower(s)
	}
	cmpPath = low(cmpPath)
	switch p := m.GetPathSpecifier().(type) {
	case *route.RouteMatch_Prefix:
		if !strings.HasPrefix(cmpPath, low(p.Prefix)) {
			return false, nil
		}
	case *route.RouteMatch_Path:
		if cmpPath != low(p.Path) {
			return false, nil
		}
	case *route.RouteMatch_PathSeparatedPrefix:
		pre := low(p.PathSeparatedPrefix)
		if !(cmpPath == pre || strings.HasPrefix(cmpPath, pre+"/")) {
			return false, nil
		}
	case *route.RouteMatch_SafeRegex:
		ok, err := fullMatch(p.SafeRegex.GetRegex(), path)
		if err != nil || !ok {
			return false, err
		}
	default:
		return false, unsupported("route path matcher %T", p)
	}
	for _, h := range m.GetHeaders() {
		if ok, err := matchHeader(h, r); err != nil || !ok {
			return false, err
		}
	}
	q := r.query()
	for _, qp := range m.GetQueryParameters() {
		if ok, err := matchQuery(qp, q); err != nil || !ok {
			return false, err
		}
	}
	for _, md := range m.GetDynamicMetadata() {
		if ok, err := matchMetadata(md, r); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// firstRoute is Envoy's route selection within a virtual host: the first route that matches.
func firstRoute(vh *route.VirtualHost, r *request) (*route.Route, error) {
	for _, rt := range vh.GetRoutes() {
		ok, err := matchRoute(rt.GetMatch(), r)
		if err != nil {
			return nil, err
		}
		if ok {
			return rt, nil
		}
	}
	return nil, nil
}
