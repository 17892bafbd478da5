import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe } from "../resource.ts";
import { argoModel, type ArgoApp } from "./argocd-model.ts";
import { sources } from "./argocd-util.ts";

const NETWORK_LABEL = "topology.istio.io/network";
const CONTROL_PLANE_ANNOTATION = "topology.istio.io/controlPlaneClusters";

interface Setter {
  app: ArgoApp;
  /** A Namespace object is applied in its Application's sync; managedNamespaceMetadata before it. */
  via: "Namespace object" | "managedNamespaceMetadata";
}

function charts(a: ArgoApp): string[] {
  return sources(a.app).map(({ source }) => String(source.chart ?? ""));
}

/** `profile` in the Application's inline Helm values (valueFiles are not visible to a rule). */
function inlineProfile(a: ArgoApp): string | undefined {
  for (const { source } of sources(a.app)) {
    const helm = asObj(source.helm);
    const p = asObj(helm.valuesObject).profile;
    if (typeof p === "string") return p;
    if (typeof helm.values === "string") {
      const m = /^profile:\s*["']?([\w-]+)/m.exec(helm.values);
      if (m) return m[1];
    }
  }
  return undefined;
}

/**
 * istiod installed with the `remote` profile: the chart's values say so, or what it renders does
 * (the sidecar injector webhook without an istiod Deployment: injection and xDS come from the
 * primary).
 */
function isRemoteIstiod(a: ArgoApp): boolean {
  const c = charts(a);
  if (c.includes("istiod-remote")) return true;
  if (!c.includes("istiod")) return false;
  if (inlineProfile(a) === "remote") return true;
  const webhook = a.objects.some(
    (r) => r.kind === "MutatingWebhookConfiguration" && r.group === "admissionregistration.k8s.io",
  );
  const deployment = a.objects.some((r) => r.kind === "Deployment" && /^istiod(-|$)/.test(r.name));
  return webhook && !deployment;
}

export default defineRule({
  code: "argocd/namespace-metadata-order",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title:
    "A remote cluster's istio-system carries its topology label and annotation before istiod and the east-west gateway",
  description:
    "In a primary-remote mesh, Istio reads the remote's `istio-system` Namespace: the label `topology.istio.io/network` (the remote's network, for the east-west gateway and its endpoints) and the annotation `topology.istio.io/controlPlaneClusters` (which primary controls it). Istio's install guides (istio.io, setup/install/multicluster/primary-remote and primary-remote_multi-network) create and annotate (and label) the namespace before installing istiod's `remote` profile and the east-west gateway, because the primary's istiod acts on the annotation when the remote secret is attached: only then does it take the remote's leadership lock, patch the certificates of the remote's webhooks and write its ConfigMaps. Metadata that arrives after the attachment can leave the remote unmanaged: no CA bundle in its injector webhook, so no pod gets a sidecar. With Argo CD the metadata must therefore be applied before the istiod Application (values `profile: remote`, or objects with the sidecar injector webhook and no istiod Deployment) and any `gateway` chart Application in the same namespace syncs: either by a Namespace object in an Application of an earlier sync wave (or in the same Application, which applies Namespaces first), or by `spec.syncPolicy.managedNamespaceMetadata` with `CreateNamespace=true` (applied at the start of that Application's sync) of the same Application or one in an earlier wave. Applications in the same wave sync concurrently, so the same wave counts only for the Application itself. The annotation is required; the label when anything sets it.",
  hint: "set the label and annotation with managedNamespaceMetadata (and CreateNamespace=true) on the istiod Application or an earlier one (istio-base), instead of a Namespace object synced in a later wave",
  check({ index }) {
    const model = argoModel(index);
    const out: Report[] = [];
    const remotes = model.apps.filter(isRemoteIstiod);
    for (const istiod of remotes) {
      const ns = istiod.namespace || "istio-system";
      const setters = new Map<string, Setter[]>([
        [NETWORK_LABEL, []],
        [CONTROL_PLANE_ANNOTATION, []],
      ]);
      const add = (key: string, s: Setter) => setters.get(key)?.push(s);
      for (const a of model.apps) {
        for (const r of a.objects) {
          if (r.kind !== "Namespace" || r.group !== "" || r.name !== ns) continue;
          const md = asObj(r.object.metadata);
          if (NETWORK_LABEL in asStringMap(md.labels))
            add(NETWORK_LABEL, { app: a, via: "Namespace object" });
          if (CONTROL_PLANE_ANNOTATION in asStringMap(md.annotations))
            add(CONTROL_PLANE_ANNOTATION, { app: a, via: "Namespace object" });
        }
        const mnm = asObj(asObj(asObj(a.app.object.spec).syncPolicy).managedNamespaceMetadata);
        if (a.namespace !== ns || !a.syncOptions.includes("CreateNamespace=true")) continue;
        if (NETWORK_LABEL in asStringMap(mnm.labels))
          add(NETWORK_LABEL, { app: a, via: "managedNamespaceMetadata" });
        if (CONTROL_PLANE_ANNOTATION in asStringMap(mnm.annotations))
          add(CONTROL_PLANE_ANNOTATION, { app: a, via: "managedNamespaceMetadata" });
      }
      const targets = [
        { app: istiod, what: "istiod's remote profile" },
        ...model.apps
          .filter((a) => a !== istiod && a.namespace === ns && charts(a).includes("gateway"))
          .map((app) => ({ app, what: "a gateway (the east-west gateway)" })),
      ];
      for (const t of targets) {
        const late: string[] = [];
        for (const [key, list] of setters) {
          const kind = key === NETWORK_LABEL ? "label" : "annotation";
          if (key === NETWORK_LABEL && list.length === 0) continue;
          if (list.some((s) => s.app === t.app || s.app.wave < t.app.wave)) continue;
          const where = list.length
            ? `only from ${list.map((s) => `the ${s.via} of Application ${s.app.name} (wave ${s.app.wave})`).join(", ")}`
            : "from nothing";
          late.push(`the ${kind} ${key} ${where}`);
        }
        if (late.length === 0) continue;
        out.push({
          resource: t.app.app,
          path: ["metadata", "annotations"],
          message: `${describe(t.app.app)} (wave ${t.app.wave}) installs ${t.what} into ${ns}, but the Namespace gets ${late.join(", and ")}, not before it syncs`,
        });
      }
    }
    return out;
  },
});
