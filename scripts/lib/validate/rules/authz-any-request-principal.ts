import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe } from "../resource.ts";
import { actionOf, policyWorkloads, requestAuthsOf, rulesOf } from "./authz-util.ts";

export default defineRule({
  code: "authz/any-request-principal",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: '`requestPrincipals: ["*"]` is not used where several issuers are accepted',
  description:
    '`requestPrincipals: ["*"]` means any non-empty request principal: any valid token from any issuer a RequestAuthentication on the workload accepts (istio/istio#22540). Where the workloads accept tokens of more than one issuer, an ALLOW rule with it admits them all, which is rarely what a rule about one audience meant. Name the issuer: `requestPrincipals: ["<issuer>/*"]`.',
  hint: 'write `requestPrincipals: ["<issuer>/*"]` for the issuer you mean',
  check({ index }) {
    const out: Report[] = [];
    if (index.allOf("RequestAuthentication").length < 1) return out;
    for (const ap of index.of("AuthorizationPolicy")) {
      if (actionOf(ap) !== "ALLOW") continue;
      const wildcard = rulesOf(ap).some((r) =>
        asArray(r.from).some((f) => asArray(asObj(asObj(f).source).requestPrincipals).includes("*")),
      );
      if (!wildcard) continue;
      const workloads = policyWorkloads(index, ap) ?? [];
      const issuers = new Set(
        workloads.flatMap((w) =>
          requestAuthsOf(index, w).flatMap((ra) =>
            asArray(asObj(ra.object.spec).jwtRules).flatMap((r) => asString(asObj(r).issuer) ?? []),
          ),
        ),
      );
      if (issuers.size < 2) continue;
      rulesOf(ap).forEach((rule, i) => {
        asArray(rule.from).forEach((f, j) => {
          const rp = asArray(asObj(asObj(f).source).requestPrincipals);
          const k = rp.indexOf("*");
          if (k < 0) return;
          out.push({
            resource: ap,
            path: ["spec", "rules", i, "from", j, "source", "requestPrincipals", k],
            message: `${describe(ap)} allows requestPrincipals '*': a token of any of the issuers ${[...issuers].sort().join(", ")} passes`,
          });
        });
      });
    }
    return out;
  },
});
