import { defineRule, type Report } from "../rule.ts";
import { asObj, asString, asStringMap, describe, type Resource } from "../resource.ts";

export const workloadGroupServiceAccount = defineRule({
  code: "workloadgroup/service-account-not-found",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1701"],
  title: "WorkloadGroup templates name a ServiceAccount that exists",
  description:
    "`template.serviceAccount` of a WorkloadGroup is the identity its VMs get (their certificates and the principals policies see); it must be a ServiceAccount in the WorkloadGroup's namespace. In path mode checked only when the files contain ServiceAccounts.",
  hint: "create the ServiceAccount in the WorkloadGroup's namespace, or fix its name",
  check({ index }) {
    if (!index.knows("ServiceAccount")) return [];
    const out: Report[] = [];
    for (const wg of index.of("WorkloadGroup")) {
      const sa = asString(asObj(asObj(wg.object.spec).template).serviceAccount);
      if (!sa || index.hasServiceAccount(wg.ns, sa)) continue;
      out.push({
        resource: wg,
        path: ["spec", "template", "serviceAccount"],
        message: `${describe(wg)} runs its workloads as service account ${wg.ns}/${sa}, which does not exist`,
      });
    }
    return out;
  },
});

export const workloadGroupDuplicateLabels = defineRule({
  code: "workloadgroup/duplicate-labels",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1702"],
  title: "WorkloadGroups of one namespace have distinct labels",
  description:
    "Two WorkloadGroups in one namespace with the same `metadata.labels` of their template make their WorkloadEntries indistinguishable to every selector: Services, DestinationRule subsets and policies select both groups' VMs together.",
  hint: "give each WorkloadGroup's template its own labels (e.g. app and version)",
  check({ index }) {
    const out: Report[] = [];
    const seen = new Map<string, Resource>();
    for (const wg of index.allOf("WorkloadGroup")) {
      const labels = asStringMap(asObj(asObj(asObj(wg.object.spec).metadata)).labels);
      if (Object.keys(labels).length === 0) continue;
      const key = `${wg.ns}|${JSON.stringify(Object.entries(labels).sort())}`;
      const first = seen.get(key);
      if (!first) {
        seen.set(key, wg);
        continue;
      }
      if (wg.peer) continue;
      out.push({
        resource: wg,
        path: ["spec", "metadata", "labels"],
        message: `${describe(wg)} has the same labels as ${describe(first)}`,
      });
    }
    return out;
  },
});
