import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "gw/tls-settings",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0106"],
  title: "HTTPS and TLS servers have TLS settings with a certificate",
  description:
    "A Gateway server on protocol HTTPS or TLS needs `tls` with a mode; except for PASSTHROUGH and AUTO_PASSTHROUGH it also needs a certificate (`credentialName`, `credentialNames` or file paths). Istio rejects the server otherwise.",
  hint: "add `tls: { mode: SIMPLE, credentialName: <secret> }`, or PASSTHROUGH to forward TLS untouched",
  check({ index }) {
    const out: Report[] = [];
    for (const gw of index.of("Gateway")) {
      asArray(asObj(gw.object.spec).servers).forEach((s, i) => {
        const so = asObj(s);
        const protocol = String(asObj(so.port).protocol ?? "").toUpperCase();
        if (protocol !== "HTTPS" && protocol !== "TLS") return;
        const tls = asObj(so.tls);
        if (!so.tls) {
          out.push({
            resource: gw,
            path: ["spec", "servers", i, "port", "protocol"],
            message: `${describe(gw)} server ${i} is ${protocol} but has no tls settings`,
          });
          return;
        }
        const mode = String(tls.mode ?? "SIMPLE");
        if (mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH" || mode === "ISTIO_MUTUAL") return;
        const hasCert =
          tls.credentialName ||
          asArray(tls.credentialNames).length ||
          tls.serverCertificate ||
          asArray(tls.tlsCertificates).length;
        if (!hasCert)
          out.push({
            resource: gw,
            path: ["spec", "servers", i, "tls"],
            message: `${describe(gw)} server ${i} terminates TLS (${mode}) without a certificate (credentialName or serverCertificate)`,
          });
      });
    }
    return out;
  },
});
