package main

// An evaluator of the Envoy jwt_authn and RBAC filter config Istio generates. Nothing in Istio
// evaluates these offline; this follows Envoy's documented semantics for the fields Istio uses,
// and anything else is reported as not evaluable rather than guessed.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	jwtpb "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	rbachttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	"github.com/go-jose/go-jose/v4"
)

const jwtFilter = "envoy.filters.http.jwt_authn"

var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.HS256, jose.HS384, jose.HS512,
}

type jwtOutcome struct {
	verdict *Verdict
	// notEvaluable is set when a token's issuer had no JWKS in the input.
	notEvaluable string
}

// tokensFor returns the tokens a provider extracts, from its headers and query parameters, or
// Envoy's defaults (Authorization: Bearer, then ?access_token=).
func tokensFor(p *jwtpb.JwtProvider, r *request) []string {
	var out []string
	headers := p.GetFromHeaders()
	params := p.GetFromParams()
	if len(headers) == 0 && len(params) == 0 && len(p.GetFromCookies()) == 0 {
		headers = []*jwtpb.JwtHeader{{Name: "authorization", ValuePrefix: "Bearer "}}
		params = []string{"access_token"}
	}
	for _, h := range headers {
		v, ok := r.Headers[strings.ToLower(h.GetName())]
		if !ok {
			continue
		}
		if pre := h.GetValuePrefix(); pre != "" {
			i := strings.Index(v, pre)
			if i < 0 {
				continue
			}
			v = v[i+len(pre):]
		}
		out = append(out, strings.TrimSpace(v))
	}
	q := r.query()
	for _, name := range params {
		if v := q.Get(name); v != "" {
			out = append(out, v)
		}
	}
	if cookies := p.GetFromCookies(); len(cookies) > 0 {
		for _, part := range strings.Split(r.Headers["cookie"], ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			for _, name := range cookies {
				if k == name {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

type tokenStatus int

const (
	// tokenMissing: a provider found no token where it looks (a failure when it is required).
	tokenMissing tokenStatus = iota
	tokenOK
	tokenInvalid
	tokenUnknownIssuer
	// tokenAnonymous: a requirement passed without a token (allow_missing): Envoy's Status::Ok,
	// so an AND of {provider, allow_missing} ORs passes when every token is missing.
	tokenAnonymous
)

// verify checks one provider against the request: signature (against the provider's inline JWKS),
// issuer, audiences, exp/nbf. On success the payload is what Envoy puts in dynamic metadata.
func verify(p *jwtpb.JwtProvider, r *request, unverifiable map[string]bool) (tokenStatus, map[string]any, string, string) {
	tokens := tokensFor(p, r)
	if len(tokens) == 0 {
		return tokenMissing, nil, "", ""
	}
	tok := tokens[0]
	jws, err := jose.ParseSigned(tok, jwtAlgorithms)
	if err != nil {
		return tokenInvalid, nil, "Jwt is not in the form of Header.Payload.Signature", ""
	}
	var claims map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		return tokenInvalid, nil, "Jwt payload is not valid JSON", ""
	}
	iss, _ := claims["iss"].(string)
	if p.GetIssuer() != "" && iss != p.GetIssuer() {
		return tokenUnknownIssuer, nil, fmt.Sprintf("Jwt issuer is not configured (iss %q)", iss), ""
	}
	if unverifiable[p.GetIssuer()] {
		return tokenInvalid, nil, "", fmt.Sprintf("no JWKS given for issuer %q (its jwksUri is never fetched offline)", p.GetIssuer())
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(p.GetLocalJwks().GetInlineString()), &set); err != nil {
		return tokenInvalid, nil, "", fmt.Sprintf("the JWKS of issuer %q is not valid JSON: %v", p.GetIssuer(), err)
	}
	verified := false
	for _, k := range set.Keys {
		if _, err := jws.Verify(k.Key); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return tokenInvalid, nil, "Jwt verification fails", ""
	}
	now := float64(time.Now().Unix())
	if exp, ok := claims["exp"].(float64); ok && now > exp {
		return tokenInvalid, nil, "Jwt is expired", ""
	}
	if nbf, ok := claims["nbf"].(float64); ok && now < nbf {
		return tokenInvalid, nil, "Jwt not yet valid", ""
	}
	if auds := p.GetAudiences(); len(auds) > 0 {
		var have []string
		switch a := claims["aud"].(type) {
		case string:
			have = []string{a}
		case []any:
			for _, x := range a {
				if s, ok := x.(string); ok {
					have = append(have, s)
				}
			}
		}
		ok := false
		for _, want := range auds {
			for _, h := range have {
				if h == want {
					ok = true
				}
			}
		}
		if !ok {
			return tokenInvalid, nil, "Audiences in Jwt are not allowed", ""
		}
	}
	// Envoy's normalize_payload_in_metadata: space-delimited claims (scope) become lists.
	for _, name := range p.GetNormalizePayloadInMetadata().GetSpaceDelimitedClaims() {
		if s, ok := claims[name].(string); ok {
			parts := []any{}
			for _, f := range strings.Fields(s) {
				parts = append(parts, f)
			}
			claims[name] = parts
		}
	}
	return tokenOK, claims, "", ""
}

// evalJWT applies a jwt_authn filter config: the first rule whose match fits the request names the
// requirement. Istio generates requires_any(provider..., allow_missing): a missing token passes
// with no identity, an invalid one is a 401.
func evalJWT(cfg *jwtpb.JwtAuthentication, r *request, unverifiable map[string]bool) (jwtOutcome, error) {
	var req *jwtpb.JwtRequirement
rules:
	for _, rule := range cfg.GetRules() {
		ok, err := matchRoute(rule.GetMatch(), r)
		if err != nil {
			return jwtOutcome{}, err
		}
		if ok {
			switch t := rule.GetRequirementType().(type) {
			case *jwtpb.RequirementRule_Requires:
				req = t.Requires
			case *jwtpb.RequirementRule_RequirementName:
				req = cfg.GetRequirementMap()[t.RequirementName]
			}
			break rules
		}
	}
	if req == nil {
		return jwtOutcome{verdict: &Verdict{OK: true, Reason: "no JWT requirement for this request"}}, nil
	}
	st, reason, notEval, err := evalRequirement(req, cfg, r, unverifiable)
	if err != nil {
		return jwtOutcome{}, err
	}
	if notEval != "" {
		return jwtOutcome{notEvaluable: notEval}, nil
	}
	switch st {
	case tokenOK:
		return jwtOutcome{verdict: &Verdict{OK: true}}, nil
	case tokenAnonymous:
		return jwtOutcome{verdict: &Verdict{OK: true, Reason: "no JWT (allowed; no request principal)"}}, nil
	case tokenMissing:
		reason = "Jwt is missing"
	}
	return jwtOutcome{verdict: &Verdict{OK: false, Status: 401, Reason: reason}}, nil
}

func evalRequirement(req *jwtpb.JwtRequirement, cfg *jwtpb.JwtAuthentication, r *request, unverifiable map[string]bool) (tokenStatus, string, string, error) {
	switch t := req.GetRequiresType().(type) {
	case *jwtpb.JwtRequirement_ProviderName:
		p := cfg.GetProviders()[t.ProviderName]
		if p == nil {
			return tokenInvalid, "", "", unsupported("jwt provider %q not in the filter config", t.ProviderName)
		}
		st, claims, reason, notEval := verify(p, r, unverifiable)
		if st == tokenOK {
			r.ClearRouteCache = r.ClearRouteCache || p.GetClearRouteCache()
			// Istio's outputClaimToHeaders: the verified claim becomes a request header, which
			// routes after this filter (and later proxies) can match.
			for _, ch := range p.GetClaimToHeaders() {
				switch v := claims[ch.GetClaimName()].(type) {
				case string:
					r.Headers[strings.ToLower(ch.GetHeaderName())] = v
				case float64, bool:
					r.Headers[strings.ToLower(ch.GetHeaderName())] = fmt.Sprint(v)
				}
			}
			key := p.GetPayloadInMetadata()
			if key == "" {
				key = "payload"
			}
			if r.Metadata[jwtFilter] == nil {
				r.Metadata[jwtFilter] = map[string]any{}
			}
			r.Metadata[jwtFilter][key] = claims
		}
		return st, reason, notEval, nil
	case *jwtpb.JwtRequirement_AllowMissing:
		return tokenAnonymous, "", "", nil
	case *jwtpb.JwtRequirement_AllowMissingOrFailed:
		return tokenAnonymous, "", "", nil
	case *jwtpb.JwtRequirement_RequiresAny:
		// OK when any alternative is OK. allow_missing accepts only a missing token: a present
		// one whose issuer no provider names is Envoy's JwtUnknownIssuer, a 401 like an invalid
		// one (Envoy's AllowMissingInOrListTest.WrongIssuer), not an anonymous request.
		anyPresent := false
		lastReason := ""
		allowMissing := false
		anonymous := false
		for _, sub := range t.RequiresAny.GetRequirements() {
			if _, ok := sub.GetRequiresType().(*jwtpb.JwtRequirement_AllowMissing); ok {
				allowMissing = true
				continue
			}
			st, reason, notEval, err := evalRequirement(sub, cfg, r, unverifiable)
			if err != nil || notEval != "" {
				return st, reason, notEval, err
			}
			switch st {
			case tokenOK:
				return tokenOK, "", "", nil
			case tokenAnonymous:
				// An alternative that passed without a token (an AND of allow_missing ORs); a
				// later alternative may still verify one.
				anonymous = true
			case tokenInvalid:
				anyPresent = true
				lastReason = reason
			case tokenUnknownIssuer:
				// Present, but not this provider's: a more specific failure of another
				// alternative (a bad signature) is the one reported.
				anyPresent = true
				if lastReason == "" {
					lastReason = reason
				}
			}
		}
		if anonymous || (!anyPresent && allowMissing) {
			return tokenAnonymous, "", "", nil
		}
		if lastReason == "" {
			lastReason = "Jwt is missing"
		}
		return tokenInvalid, lastReason, "", nil
	case *jwtpb.JwtRequirement_RequiresAll:
		// Every alternative must pass; ones that passed without a token (allow_missing) count.
		verified := false
		for _, sub := range t.RequiresAll.GetRequirements() {
			st, reason, notEval, err := evalRequirement(sub, cfg, r, unverifiable)
			if err != nil || notEval != "" || (st != tokenOK && st != tokenAnonymous) {
				if st == tokenMissing {
					reason = "Jwt is missing"
				}
				return tokenInvalid, reason, notEval, err
			}
			verified = verified || st == tokenOK
		}
		if !verified {
			return tokenAnonymous, "", "", nil
		}
		return tokenOK, "", "", nil
	}
	return tokenInvalid, "", "", unsupported("jwt requirement %T", req.GetRequiresType())
}

func matchCIDR(c *core.CidrRange, ip string) bool {
	pfx, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", c.GetAddressPrefix(), c.GetPrefixLen().GetValue()))
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(ip)
	return err == nil && pfx.Contains(addr)
}

func matchPermission(p *rbacpb.Permission, r *request) (bool, error) {
	switch rule := p.GetRule().(type) {
	case *rbacpb.Permission_Any:
		return rule.Any, nil
	case *rbacpb.Permission_AndRules:
		for _, sub := range rule.AndRules.GetRules() {
			if ok, err := matchPermission(sub, r); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case *rbacpb.Permission_OrRules:
		for _, sub := range rule.OrRules.GetRules() {
			if ok, err := matchPermission(sub, r); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *rbacpb.Permission_NotRule:
		ok, err := matchPermission(rule.NotRule, r)
		return !ok, err
	case *rbacpb.Permission_Header:
		return matchHeader(rule.Header, r)
	case *rbacpb.Permission_UrlPath:
		return matchString(rule.UrlPath.GetPath(), r.pathOnly())
	case *rbacpb.Permission_DestinationPort:
		return int(rule.DestinationPort) == r.DestPort, nil
	case *rbacpb.Permission_DestinationPortRange:
		return int32(r.DestPort) >= rule.DestinationPortRange.GetStart() && int32(r.DestPort) < rule.DestinationPortRange.GetEnd(), nil
	case *rbacpb.Permission_Metadata:
		return matchMetadata(rule.Metadata, r)
	case *rbacpb.Permission_RequestedServerName:
		return matchString(rule.RequestedServerName, r.SNI)
	}
	return false, unsupported("RBAC permission %T", p.GetRule())
}

func matchPrincipal(p *rbacpb.Principal, r *request) (bool, error) {
	switch id := p.GetIdentifier().(type) {
	case *rbacpb.Principal_Any:
		return id.Any, nil
	case *rbacpb.Principal_AndIds:
		for _, sub := range id.AndIds.GetIds() {
			if ok, err := matchPrincipal(sub, r); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case *rbacpb.Principal_OrIds:
		for _, sub := range id.OrIds.GetIds() {
			if ok, err := matchPrincipal(sub, r); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *rbacpb.Principal_NotId:
		ok, err := matchPrincipal(id.NotId, r)
		return !ok, err
	case *rbacpb.Principal_Authenticated_:
		if r.PeerPrincipal == "" {
			return false, nil
		}
		if id.Authenticated.GetPrincipalName() == nil {
			return true, nil
		}
		return matchString(id.Authenticated.GetPrincipalName(), r.PeerPrincipal)
	case *rbacpb.Principal_FilterState:
		// Istio's peer identity: the SPIFFE ID of the mTLS peer, absent on plain text.
		if id.FilterState.GetKey() != "io.istio.peer_principal" {
			return false, unsupported("RBAC filter_state key %q", id.FilterState.GetKey())
		}
		if r.PeerPrincipal == "" {
			return false, nil
		}
		return matchString(id.FilterState.GetStringMatch(), r.PeerPrincipal)
	case *rbacpb.Principal_Header:
		return matchHeader(id.Header, r)
	case *rbacpb.Principal_UrlPath:
		return matchString(id.UrlPath.GetPath(), r.pathOnly())
	case *rbacpb.Principal_Metadata:
		return matchMetadata(id.Metadata, r)
	case *rbacpb.Principal_DirectRemoteIp:
		return matchCIDR(id.DirectRemoteIp, r.SourceIP), nil
	case *rbacpb.Principal_RemoteIp:
		return matchCIDR(id.RemoteIp, r.SourceIP), nil
	case *rbacpb.Principal_SourceIp:
		return matchCIDR(id.SourceIp, r.SourceIP), nil
	}
	return false, unsupported("RBAC principal %T", p.GetIdentifier())
}

// matchPolicy: a policy matches when any permission and any principal match.
func matchPolicy(p *rbacpb.Policy, r *request) (bool, error) {
	if p.GetCondition() != nil || p.GetCheckedCondition() != nil {
		return false, unsupported("RBAC CEL condition")
	}
	perm := false
	for _, x := range p.GetPermissions() {
		ok, err := matchPermission(x, r)
		if err != nil {
			return false, err
		}
		if ok {
			perm = true
			break
		}
	}
	if !perm {
		return false, nil
	}
	for _, x := range p.GetPrincipals() {
		ok, err := matchPrincipal(x, r)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// evalRBAC applies one RBAC filter. Istio puts each AuthorizationPolicy action in its own filter:
// CUSTOM (shadow rules in front of ext_authz), then DENY, then ALLOW, each as Envoy runs them in
// the filter chain order; the caller stops at the first denial.
func evalRBAC(cfg *rbachttp.RBAC, r *request) (*RBACVerdict, string, error) {
	if shadow := cfg.GetShadowRules(); shadow != nil && strings.HasPrefix(cfg.GetShadowRulesStatPrefix(), "istio_ext_authz") {
		for _, name := range sortedPolicies(shadow) {
			ok, err := matchPolicy(shadow.GetPolicies()[name], r)
			if err != nil {
				return nil, "", err
			}
			if ok {
				return nil, fmt.Sprintf("CUSTOM authorization policy %s sends this request to an external authorizer", name), nil
			}
		}
	}
	rules := cfg.GetRules()
	if rules == nil {
		return nil, "", nil
	}
	matched := ""
	for _, name := range sortedPolicies(rules) {
		ok, err := matchPolicy(rules.GetPolicies()[name], r)
		if err != nil {
			return nil, "", err
		}
		if ok {
			matched = name
			break
		}
	}
	switch rules.GetAction() {
	case rbacpb.RBAC_ALLOW:
		if matched == "" {
			return &RBACVerdict{Allowed: false, Status: 403, Policy: "no ALLOW policy matched"}, "", nil
		}
		return &RBACVerdict{Allowed: true, Policy: matched}, "", nil
	case rbacpb.RBAC_DENY:
		if matched != "" {
			return &RBACVerdict{Allowed: false, Status: 403, Policy: matched}, "", nil
		}
		return &RBACVerdict{Allowed: true}, "", nil
	}
	return nil, "", nil
}

func sortedPolicies(r *rbacpb.RBAC) []string {
	names := make([]string, 0, len(r.GetPolicies()))
	for n := range r.GetPolicies() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
