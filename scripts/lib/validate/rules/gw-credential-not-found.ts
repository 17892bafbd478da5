import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { gatewayWorkloads } from "../istio.ts";

export default defineRule({
  code: "gw/credential-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0101"],
  title: "Gateway credentials live in the gateway workload's namespace",
  description:
    "`tls.credentialName` names a Secret that the gateway pods read from their own namespace (not the Gateway's). It must exist there, as a Secret or as the `secretName` of a cert-manager Certificate. Secrets are never committed, so in repo mode a Certificate is expected; in path mode the check runs only when the files contain a Secret or a Certificate.",
  hint: "create a cert-manager Certificate with that secretName in the gateway pods' namespace (e.g. istio-ingress)",
  check({ index }) {
    if (!index.knows("Secret", "Certificate")) return [];
    const available = new Set<string>();
    for (const s of index.allOf("Secret")) available.add(`${s.ns}/${s.name}`);
    for (const c of index.allOf("Certificate")) {
      const sn = asObj(c.object.spec).secretName;
      if (typeof sn === "string") available.add(`${c.ns}/${sn}`);
    }
    const out: Report[] = [];
    for (const gw of index.of("Gateway")) {
      const namespaces = [...new Set(gatewayWorkloads(index, gw).map((w) => w.ns))];
      if (namespaces.length === 0) continue;
      asArray(asObj(gw.object.spec).servers).forEach((s, i) => {
        const tls = asObj(asObj(s).tls);
        const names = [tls.credentialName, ...asArray(tls.credentialNames)].filter(
          (n): n is string => typeof n === "string" && !n.includes("://"),
        );
        for (const name of names) {
          const missing = namespaces.filter((ns) => !available.has(`${ns}/${name}`));
          if (missing.length === 0) continue;
          out.push({
            resource: gw,
            path: [
              "spec",
              "servers",
              i,
              "tls",
              tls.credentialName === name ? "credentialName" : "credentialNames",
            ],
            message: `${describe(gw)} uses credential '${name}', but no Secret or Certificate provides it in the gateway pods' namespace ${missing.join(", ")}`,
          });
        }
      });
    }
    return out;
  },
});
