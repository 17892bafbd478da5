import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

/** Source fields Istio can evaluate on a plain TCP connection (peer identity, namespace, IPs). */
const TCP_SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "namespaces",
  "notNamespaces",
  "ipBlocks",
  "notIpBlocks",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
  "serviceAccounts",
  "notServiceAccounts",
];

export default defineRule({
  code: "authz/deny-http-only",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0133"],
  title: "A DENY rule on HTTP attributes names its ports",
  description:
    "On a plain TCP connection the sidecar cannot see methods, paths, hosts or request principals. A DENY rule made only of such HTTP attributes therefore matches every incoming TCP connection to the selected workloads on a port that does not speak HTTP, and denies it. Naming the HTTP ports in `to.operation.ports` limits the rule to them.",
  hint: 'add `ports: ["<http port>"]` to the rule\'s `to.operation` (a rule without `to` can instead name principals, namespaces or ipBlocks in `from.source`)',
  check({ index }) {
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      const spec = asObj(ap.object.spec);
      if (spec.action !== "DENY") continue;
      asArray(spec.rules).forEach((r, i) => {
        const rule = asObj(r);
        const from = asArray(rule.from);
        const to = asArray(rule.to);
        // An empty list is no list (protobuf cannot tell them apart), as Istio sees it.
        const set = (v: unknown) => asArray(v).length > 0;
        const tcpInFrom = from.some((f) => TCP_SOURCE_FIELDS.some((k) => set(asObj(asObj(f).source)[k])));
        const tcpInTo = to.some((t) => {
          const op = asObj(asObj(t).operation);
          return set(op.ports) || set(op.notPorts);
        });
        // Istio's own condition (pkg/config/validation): `to` without ports, or `from` alone without TCP fields.
        if ((from.length > 0 && to.length === 0 && !tcpInFrom) || (to.length > 0 && !tcpInTo)) {
          out.push({
            resource: ap,
            path: ["spec", "rules", i],
            message: `${describe(ap)} rules[${i}] denies on HTTP attributes only, so it also denies every incoming plain TCP connection to the selected workloads`,
          });
        }
      });
    }
    return out;
  },
});
