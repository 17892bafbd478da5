import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { actionOf, policyWorkloads, requestAuthsOf, rulesOf, usesRequestAuth } from "./authz-util.ts";

export default defineRule({
  code: "authz/request-auth-missing",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Policies on JWT identity apply to workloads that validate JWTs",
  description:
    "`requestPrincipals`, `notRequestPrincipals` and `when` conditions on `request.auth.*` are only ever set by a RequestAuthentication that applies to the same workload (its selector, its namespace, or the root namespace). Without one no request has a request principal: an ALLOW rule on it never matches (every request denied), a DENY rule on `notRequestPrincipals` always matches (every request denied). Checked for policies whose workloads are in the files.",
  hint: "add a RequestAuthentication selecting the same workloads (or in their namespace), or drop the JWT condition",
  check({ index }) {
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      if (!rulesOf(ap).some((r) => usesRequestAuth(r))) continue;
      const workloads = policyWorkloads(index, ap);
      if (!workloads?.length) continue;
      const uncovered = workloads.filter((w) => w.resource && requestAuthsOf(index, w).length === 0);
      if (uncovered.length === 0) continue;
      rulesOf(ap).forEach((rule, i) => {
        const u = usesRequestAuth(rule);
        if (!u) return;
        const effect =
          actionOf(ap) === "DENY"
            ? "its DENY rule on it matches and denies every request"
            : actionOf(ap) === "ALLOW"
              ? "this rule never matches"
              : "this rule never matches as written";
        out.push({
          resource: ap,
          path: ["spec", "rules", i, ...u.path],
          message: `${describe(ap)} rules[${i}] uses the request's JWT identity, but no RequestAuthentication applies to ${uncovered.map((w) => w.origin).join(", ")}: no request has one, so ${effect}`,
        });
      });
    }
    return out;
  },
});
