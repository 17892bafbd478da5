import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { actionOf, policyWorkloads, rulesOf, sameWorkload, usesRequestAuth } from "./authz-util.ts";

export default defineRule({
  code: "authz/jwt-not-required",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "Validated JWTs are also required somewhere",
  description:
    'A RequestAuthentication only validates: a request with a bad token is refused, a request without a token passes, with no identity. Unless an AuthorizationPolicy on the same workloads requires one (ALLOW on `requestPrincipals`, DENY on `notRequestPrincipals: ["*"]`, or `when` on `request.auth.*`), anonymous requests get through. Reported when none of the RequestAuthentication\'s workloads has such a policy; a RequestAuthentication whose claims are put to use (`outputClaimToHeaders`, claim-based routing in a VirtualService) is not reported.',
  hint: 'add an AuthorizationPolicy, e.g. DENY with `from: [{source: {notRequestPrincipals: ["*"]}}]`, on the same workloads',
  check({ index }) {
    const out: Report[] = [];
    if (index.of("RequestAuthentication").length === 0) return out;
    const claimRouting = index
      .allOf("VirtualService")
      .some((vs) => JSON.stringify(asObj(vs.object.spec).http ?? []).includes("request.auth.claims"));
    const requiring = index
      .allOf("AuthorizationPolicy")
      .filter((ap) => actionOf(ap) !== "AUDIT" && rulesOf(ap).some((r) => usesRequestAuth(r)));
    for (const ra of index.of("RequestAuthentication")) {
      const rules = asArray(asObj(ra.object.spec).jwtRules).map(asObj);
      if (rules.length === 0) continue;
      if (rules.some((r) => asArray(r.outputClaimToHeaders).length) || claimRouting) continue;
      const workloads = policyWorkloads(index, ra);
      if (!workloads?.length) continue;
      const required = workloads.some((w) =>
        requiring.some((ap) => (policyWorkloads(index, ap) ?? []).some((x) => sameWorkload(x, w))),
      );
      if (required) continue;
      out.push({
        resource: ra,
        path: ["spec", "jwtRules"],
        message: `${describe(ra)} validates tokens for ${workloads.map((w) => w.origin).join(", ")}, but no AuthorizationPolicy on them requires one: requests without a token pass`,
      });
    }
    return out;
  },
});
