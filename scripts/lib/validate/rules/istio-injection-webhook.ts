import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, asStringMap, describe, type Obj, type Resource } from "../resource.ts";
import { labelSelectorMatches } from "./k8s-image-auto-without-injection.ts";

const REV = "istio.io/rev";

/** The revisions a webhook configuration serves: its label and the selectors' istio.io/rev values. */
function revisions(cfg: Resource, hooks: Obj[]): string[] {
  const out = new Set<string>();
  const own = asStringMap(asObj(cfg.object.metadata).labels)[REV];
  if (own !== undefined) out.add(own);
  for (const h of hooks)
    for (const sel of [asObj(h.namespaceSelector), asObj(h.objectSelector)]) {
      const v = asStringMap(sel.matchLabels)[REV];
      if (v !== undefined) out.add(v);
      for (const e of asArray(sel.matchExpressions).map(asObj))
        if (e.key === REV) for (const x of asArray(e.values)) if (typeof x === "string") out.add(x);
    }
  return [...out];
}

export default defineRule({
  code: "istio/injection-webhook",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0139"],
  title: "Istio's injection webhooks do not overlap and reach their Service",
  description:
    "As istioctl checks Istio's MutatingWebhookConfigurations (those with an `istio.io` webhook or a revision): for every combination of the injection labels a namespace and a pod can carry (`istio-injection`, `sidecar.istio.io/inject`, `istio.io/rev` with each revision), at most one webhook may match, or pods are injected twice (two revisions, or a revision tag beside the default); and each webhook's `clientConfig.service` must be a Service that exists, or no pod is injected. The default revision's webhook of a tagged install (`istio.io/rev: default` without `istio.io/tag`) is left out, as istioctl does. Services in namespaces whose content is not rendered are assumed to exist; in path mode the Service check runs when the files contain Services.",
  hint: "keep one webhook per label combination (remove the old revision's, or its tag), and point clientConfig.service at istiod's Service",
  check({ index }) {
    const out: Report[] = [];
    const configs = index.allOf("MutatingWebhookConfiguration").flatMap((cfg) => {
      const labels = asStringMap(asObj(cfg.object.metadata).labels);
      if (labels["istio.io/tag"] === undefined && labels[REV] === "default") return [];
      const hooks = asArray(cfg.object.webhooks).map(asObj);
      const revs = revisions(cfg, hooks);
      if (revs.length === 0 && !hooks.some((h) => (asString(h.name) ?? "").endsWith("istio.io"))) return [];
      return [{ cfg, hooks, revs }];
    });
    if (configs.length === 0) return out;
    const revs = [...new Set(configs.flatMap((c) => c.revs))];
    const withRevs = (base: Array<Record<string, string>>) => [
      ...base,
      ...revs.flatMap((r) => base.map((b) => ({ ...b, [REV]: r }))),
    ];
    const nsSets = withRevs([{}, { "istio-injection": "enabled" }, { "istio-injection": "disabled" }]);
    const podSets = withRevs([
      {},
      { "sidecar.istio.io/inject": "true" },
      { "sidecar.istio.io/inject": "false" },
    ]);
    const reported = new Set<string>();
    for (const nl of nsSets)
      for (const pl of podSets) {
        const matches = configs.flatMap(({ cfg, hooks }) =>
          hooks
            .map((h, i) => ({ cfg, h, i }))
            .filter(
              ({ h }) =>
                labelSelectorMatches(h.namespaceSelector, nl) && labelSelectorMatches(h.objectSelector, pl),
            ),
        );
        if (matches.length < 2) continue;
        for (const m of matches) {
          const key = `${m.cfg.id}/${m.i}`;
          if (m.cfg.peer || reported.has(key)) continue;
          reported.add(key);
          const others = matches.filter((o) => o !== m).map((o) => `${o.cfg.name}/${String(o.h.name)}`);
          out.push({
            resource: m.cfg,
            path: ["webhooks", m.i, "name"],
            message: `${describe(m.cfg)} webhook '${String(m.h.name)}' overlaps with ${others.join(", ")} (namespace labels ${JSON.stringify(nl)}, pod labels ${JSON.stringify(pl)}): pods would be injected twice`,
          });
        }
      }
    if (!index.knows("Service")) return out;
    for (const { cfg, hooks } of configs) {
      if (cfg.peer) continue;
      hooks.forEach((h, i) => {
        const svc = asObj(asObj(h.clientConfig).service);
        const name = asString(svc.name);
        const ns = asString(svc.namespace);
        if (!name || !ns || index.isOpaque(ns)) return;
        if (index.service(`${name}.${ns}.svc.${index.platform.clusterDomain}`)) return;
        out.push({
          resource: cfg,
          path: ["webhooks", i, "clientConfig", "service", "name"],
          message: `${describe(cfg)} webhook '${String(h.name)}' calls Service ${ns}/${name}, which does not exist: no pod is injected`,
        });
      });
    }
    return out;
  },
});
