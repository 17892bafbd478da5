import { isIP } from "node:net";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, type Resource } from "../resource.ts";

/** Istio's webhook configurations, as istioctl's externalcontrolplane analyzer picks them. */
function istioWebhookConfig(r: Resource): boolean {
  if (r.kind === "ValidatingWebhookConfiguration")
    return r.name === "istiod-default-validator" || r.name.startsWith("istio-validator");
  return r.kind === "MutatingWebhookConfiguration" && r.name.startsWith("istio-sidecar-injector");
}

export default defineRule({
  code: "istio/webhook-address",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0163", "IST0164"],
  title: "Istio's webhooks name a reachable address: a Service, or a URL with a host name",
  description:
    "Istio's injection and validation webhooks (`istio-sidecar-injector*`, `istio-validator*`, `istiod-default-validator`) call istiod through `clientConfig.service` or, when the control plane is elsewhere (a remote cluster of a primary-remote mesh, an external istiod), through `clientConfig.url`. A webhook with neither, or with a URL that is not `https://` with a host (what the API server accepts), injects or validates nothing: the API server cannot call it (IST0163). A URL whose host is an IP address works only while that address stays the control plane's and its certificate names the IP; istioctl notes it (IST0164, an info). The istiod chart's remote profile renders a Service-based webhook when `global.remotePilotAddress` is an IP, and a URL when it is a host name or `istiodRemote.injectionURL` is set.",
  hint: "point the webhook at istiod's Service, or give `istiodRemote.injectionURL` / `global.remotePilotAddress` a DNS name of the control plane's gateway",
  check({ index }) {
    const out: Report[] = [];
    for (const kind of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
      for (const cfg of index.of(kind)) {
        if (!istioWebhookConfig(cfg)) continue;
        asArray(cfg.object.webhooks).forEach((h, i) => {
          const hook = asObj(h);
          const name = asString(hook.name) ?? `#${i}`;
          const client = asObj(hook.clientConfig);
          const url = asString(client.url);
          const path = ["webhooks", i, "clientConfig"];
          if (url === undefined) {
            if (Object.keys(asObj(client.service)).length === 0)
              out.push({
                resource: cfg,
                path,
                anchors: ["IST0163"],
                message: `${describe(cfg)}: webhook ${name} has neither a service nor a url, so the API server cannot call it`,
              });
            return;
          }
          // The API server takes only https URLs with a host (and no query or fragment).
          let parsed: URL | undefined;
          try {
            parsed = new URL(url);
          } catch {
            parsed = undefined;
          }
          if (!parsed || parsed.protocol !== "https:" || !parsed.hostname || parsed.search || parsed.hash) {
            out.push({
              resource: cfg,
              path: [...path, "url"],
              anchors: ["IST0163"],
              message: `${describe(cfg)}: webhook ${name} has url '${url}', which is not an https:// URL with a host (and no query or fragment): the API server refuses it`,
            });
            return;
          }
          const host = parsed.hostname.replace(/^\[|\]$/g, "");
          if (isIP(host))
            out.push({
              resource: cfg,
              path: [...path, "url"],
              severity: "info",
              anchors: ["IST0164"],
              message: `${describe(cfg)}: webhook ${name} calls the control plane at the IP address ${host}, not a host name`,
            });
        });
      }
    }
    return out;
  },
});
