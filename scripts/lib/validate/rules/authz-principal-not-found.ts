import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "authz/principal-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA0106"],
  title: "AuthorizationPolicy principals name existing service accounts",
  description:
    "A principal `cluster.local/ns/<namespace>/sa/<name>` (or `serviceAccounts: [<ns>/<name>]`) must be a ServiceAccount that exists, or the rule never matches: an ALLOW policy then denies the caller. Wildcard principals are not checked. Service accounts in namespaces of upstream charts (not rendered) are assumed to exist. In path mode checked only when the files contain ServiceAccounts.",
  hint: "fix the namespace or service account name (a pod without serviceAccountName runs as `default`)",
  check({ index }) {
    if (!index.knows("ServiceAccount")) return [];
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      asArray(asObj(ap.object.spec).rules).forEach((rule, i) => {
        asArray(asObj(rule).from).forEach((f, j) => {
          const src = asObj(asObj(f).source);
          for (const field of ["principals", "notPrincipals", "serviceAccounts", "notServiceAccounts"]) {
            asArray(src[field]).forEach((p, k) => {
              if (typeof p !== "string" || p.includes("*")) return;
              const m = field.endsWith("rincipals")
                ? /^[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p)
                : /^([^/]+)\/([^/]+)$/.exec(p);
              if (!m) return;
              const [, ns = "", sa = ""] = m;
              if (index.hasServiceAccount(ns, sa)) return;
              out.push({
                resource: ap,
                path: ["spec", "rules", i, "from", j, "source", field, k],
                message: `${describe(ap)} refers to service account ${ns}/${sa} (${p}), which does not exist`,
              });
            });
          }
        });
      });
    }
    return out;
  },
});
