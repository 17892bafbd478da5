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
    "On a TCP connection the sidecar cannot see methods, paths, hosts or request principals. A DENY rule made only of such HTTP attributes therefore matches every TCP connection under the policy's selector and denies it (databases, Redis, any non-HTTP port). Naming the HTTP ports in `to.operation.ports` limits the rule to them.",
  hint: 'add `ports: ["<http port>"]` to the rule\'s `to.operation`, or a TCP attribute (principals, namespaces, ipBlocks) to its `from.source`',
  check({ index }) {
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      const spec = asObj(ap.object.spec);
      if (spec.action !== "DENY") continue;
      asArray(spec.rules).forEach((r, i) => {
        const rule = asObj(r);
        const from = asArray(rule.from);
        const to = asArray(rule.to);
        const tcpInFrom = from.some((f) => TCP_SOURCE_FIELDS.some((k) => asObj(asObj(f).source)[k] != null));
        const tcpInTo = to.some((t) => {
          const op = asObj(asObj(t).operation);
          return op.ports != null || op.notPorts != null;
        });
        // Istio's own condition (pkg/config/validation): `to` without ports, or `from` alone without TCP fields.
        if ((from.length > 0 && to.length === 0 && !tcpInFrom) || (to.length > 0 && !tcpInTo)) {
          out.push({
            resource: ap,
            path: ["spec", "rules", i],
            message: `${describe(ap)} rules[${i}] denies on HTTP attributes only, so it also denies every TCP connection to the selected workloads`,
          });
        }
      });
    }
    return out;
  },
});
