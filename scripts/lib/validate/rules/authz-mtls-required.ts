import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { effectiveMtls } from "../istio.ts";
import { policyWorkloads, rulesOf } from "./authz-util.ts";

const PEER_FIELDS = [
  "principals",
  "notPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
];

export default defineRule({
  code: "authz/mtls-required",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA0105"],
  title: "Policies on peer identity apply to workloads that accept mTLS",
  description:
    "`principals`, `namespaces` and `serviceAccounts` come from the client's mTLS certificate. On a workload whose PeerAuthentication mode is DISABLE no connection carries one: an ALLOW rule on them never matches, a DENY rule on `notPrincipals`/`notNamespaces` always does.",
  hint: "enable mTLS (PERMISSIVE or STRICT) for the workload, or match on something else",
  check({ index }) {
    const out: Report[] = [];
    // Without a PeerAuthentication that says DISABLE somewhere, no workload has mTLS disabled.
    if (
      !index
        .allOf("PeerAuthentication")
        .some((pa) => JSON.stringify(pa.object.spec ?? {}).includes("DISABLE"))
    )
      return out;
    for (const ap of index.of("AuthorizationPolicy")) {
      const peerFields = rulesOf(ap).some((r) =>
        asArray(r.from).some((f) => PEER_FIELDS.some((k) => asArray(asObj(asObj(f).source)[k]).length > 0)),
      );
      if (!peerFields) continue;
      const disabled = (policyWorkloads(index, ap) ?? []).filter(
        (w) => effectiveMtls(index, w).mode === "DISABLE",
      );
      if (disabled.length === 0) continue;
      rulesOf(ap).forEach((rule, i) => {
        asArray(rule.from).forEach((f, j) => {
          const src = asObj(asObj(f).source);
          const field = PEER_FIELDS.find((k) => asArray(src[k]).length > 0);
          if (!field) return;
          out.push({
            resource: ap,
            path: ["spec", "rules", i, "from", j, "source", field],
            message: `${describe(ap)} matches on ${field}, but mTLS is disabled for ${disabled.map((w) => w.origin).join(", ")}: no connection carries a peer identity`,
          });
        });
      });
    }
    return out;
  },
});
