import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe } from "../resource.ts";
import { GWAPI } from "./gwapi-util.ts";

export default defineRule({
  code: "gwapi/grant-namespace-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA1601"],
  title: "ReferenceGrants allow references from namespaces that exist",
  description:
    "A ReferenceGrant's `from[].namespace` names the namespace whose routes (or Gateways) may refer into this one; a namespace that does not exist grants nothing, so the references it was meant for stay refused. In path mode checked only when the files contain Namespaces.",
  hint: "fix the namespace name",
  check({ index }) {
    if (!index.knows("Namespace")) return [];
    const out: Report[] = [];
    for (const g of index.of("ReferenceGrant")) {
      if (g.group !== GWAPI) continue;
      asArray(asObj(g.object.spec).from).forEach((f, i) => {
        const ns = asString(asObj(f).namespace);
        if (!ns || index.hasNamespace(ns)) return;
        out.push({
          resource: g,
          path: ["spec", "from", i, "namespace"],
          message: `${describe(g)} allows references from namespace ${ns}, which does not exist`,
        });
      });
    }
    return out;
  },
});
