import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";
import { annotationOptions, argoModel } from "./argocd-model.ts";

/** Options Argo CD reads only from the sync operation (the Application's syncOptions), never from a resource (controller/sync.go). */
const APPLICATION_ONLY = [
  "CreateNamespace=",
  "ApplyOutOfSyncOnly=",
  "PrunePropagationPolicy=",
  "FailOnSharedResource=",
  "RespectIgnoreDifferences=",
  "ClientSideApplyMigration=",
];

const ANNOTATION = ["metadata", "annotations", "argocd.argoproj.io/sync-options"];

export default defineRule({
  code: "argocd/sync-option-conflict",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Sync options are set where Argo CD reads them, and not against each other",
  description:
    "Combinations Argo CD 3 documents (docs/user-guide/sync-options.md) or implements (controller/sync.go, gitops-engine/pkg/sync/sync_context.go) that silently do not do what they say. (1) `CreateNamespace`, `ApplyOutOfSyncOnly`, `PrunePropagationPolicy`, `FailOnSharedResource`, `RespectIgnoreDifferences` and `ClientSideApplyMigration` are read only from the Application's `syncPolicy.syncOptions`; in a resource's `argocd.argoproj.io/sync-options` annotation they do nothing. (2) `Force=true` is a per-resource annotation (the docs' example is `Force=true,Replace=true`); in an Application's syncOptions it does nothing, since the controller takes force from the sync operation's strategy, not from syncOptions. (3) `managedNamespaceMetadata` without `CreateNamespace=true`: \"otherwise nothing will happen\"; `CreateNamespace=true` without `spec.destination.namespace` (only the destination namespace is created); and `managedNamespaceMetadata` in an Application that also renders its destination Namespace: the manifest \"will take precedence and overwrite whatever values that have been set in managedNamespaceMetadata\" (warning). (4) `Replace=true` with `ServerSideApply=true` on the same object (both in the Application, both in one annotation, or Replace in the Application and ServerSideApply in the annotation): \"Replace=true takes precedence over ServerSideApply=true\", so server-side apply is never used (warning). (5) `Replace=true` on a Job without `Force=true`: a Job's pod template is immutable, so `kubectl replace` of a changed Job fails; the documented way to re-create Jobs is `Force=true,Replace=true` (warning). Unknown option strings are argocd/sync-option.",
  hint: "move the option to where Argo CD reads it (Application syncOptions or the resource annotation), add the option it needs beside it, or remove the one that loses",
  check({ index }) {
    const model = argoModel(index);
    const out: Report[] = [];
    for (const a of model.apps) {
      const appOpts = a.syncOptions;
      const sp = ["spec", "syncPolicy", "syncOptions"];
      const forceAt = appOpts.indexOf("Force=true");
      if (forceAt >= 0)
        out.push({
          resource: a.app,
          path: [...sp, forceAt],
          message: `${describe(a.app)} sets Force=true in syncPolicy.syncOptions, where Argo CD does not read it (force comes from the sync operation's strategy); set it in the argocd.argoproj.io/sync-options annotation of the objects, with Replace=true`,
        });
      const mnm = asObj(a.app.object.spec).syncPolicy;
      if (asObj(mnm).managedNamespaceMetadata !== undefined && !appOpts.includes("CreateNamespace=true"))
        out.push({
          resource: a.app,
          path: ["spec", "syncPolicy", "managedNamespaceMetadata"],
          message: `${describe(a.app)} sets managedNamespaceMetadata without CreateNamespace=true: Argo CD applies the labels and annotations only to a namespace it manages through CreateNamespace, so nothing happens`,
        });
      const cnAt = appOpts.indexOf("CreateNamespace=true");
      if (cnAt >= 0 && !a.namespace)
        out.push({
          resource: a.app,
          path: [...sp, cnAt],
          message: `${describe(a.app)} sets CreateNamespace=true without spec.destination.namespace: Argo CD creates only the destination namespace, so nothing is created`,
        });
      const ownNs = a.objects.find((r) => r.kind === "Namespace" && r.group === "" && r.name === a.namespace);
      if (asObj(mnm).managedNamespaceMetadata !== undefined && ownNs)
        out.push({
          resource: a.app,
          path: ["spec", "syncPolicy", "managedNamespaceMetadata"],
          severity: "warning",
          message: `${describe(a.app)} sets managedNamespaceMetadata but also renders ${describe(ownNs)}: the manifest takes precedence and overwrites the labels and annotations of managedNamespaceMetadata`,
        });
      const appReplace = appOpts.includes("Replace=true");
      if (appReplace && appOpts.includes("ServerSideApply=true"))
        out.push({
          resource: a.app,
          path: [...sp, appOpts.indexOf("ServerSideApply=true")],
          severity: "warning",
          message: `${describe(a.app)} sets both Replace=true and ServerSideApply=true: Replace takes precedence, so no object is applied server-side`,
        });
      for (const r of a.objects) {
        const opts = annotationOptions(r);
        // `Replace=false` is declared in gitops-engine but read nowhere: it does not undo the Application's Replace.
        const replace = opts.includes("Replace=true") || appReplace;
        if (r.kind === "Job" && r.group === "batch" && replace && !opts.includes("Force=true"))
          out.push({
            resource: r,
            path: opts.includes("Replace=true") ? ANNOTATION : ["metadata"],
            severity: "warning",
            message: `${describe(r)} is synced with Replace=true${opts.includes("Replace=true") ? "" : ` (from Application ${a.name})`} but without Force=true: a Job's template is immutable, so replacing a changed Job fails; use Force=true,Replace=true to re-create it`,
          });
        if (opts.includes("ServerSideApply=true") && replace)
          out.push({
            resource: r,
            path: ANNOTATION,
            severity: "warning",
            message: `${describe(r)} asks for ServerSideApply=true but is synced with Replace=true${opts.includes("Replace=true") ? "" : ` (from Application ${a.name})`}, which takes precedence: it is never applied server-side`,
          });
      }
    }
    // Application-only options in a resource annotation: any resource, owned or not.
    for (const r of index.local) {
      for (const o of annotationOptions(r)) {
        if (!APPLICATION_ONLY.some((p) => o.startsWith(p))) continue;
        out.push({
          resource: r,
          path: ANNOTATION,
          message: `${describe(r)} has ${o} in its argocd.argoproj.io/sync-options annotation, where it does nothing: Argo CD reads it only from an Application's syncPolicy.syncOptions`,
        });
      }
    }
    return out;
  },
});
