import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe } from "../resource.ts";
import { backendRefs, GWAPI, routes } from "./gwapi-util.ts";

export default defineRule({
  code: "gwapi/backend-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA1402"],
  title: "Gateway API route backends are Services that exist, and may be referenced",
  description:
    "A `backendRefs` entry of kind Service (the default) must name a Service in its namespace (the route's, unless `namespace` says otherwise); requests to a missing one get a 500. A backend in another namespace needs a ReferenceGrant there that allows the route's kind from the route's namespace to Services; without one the reference is refused (ResolvedRefs false). Namespaces whose content is not rendered are not checked; in path mode checked only when the files contain Services.",
  hint: "fix the Service name or namespace; for another namespace, add a ReferenceGrant in it",
  check({ index }) {
    if (!index.knows("Service")) return [];
    const out: Report[] = [];
    const grants = index.allOf("ReferenceGrant").filter((g) => g.group === GWAPI);
    for (const route of routes(index)) {
      for (const b of backendRefs(route)) {
        if (b.group !== "" || b.kind !== "Service" || index.isOpaque(b.ns)) continue;
        if (!index.service(`${b.name}.${b.ns}.svc.${index.platform.clusterDomain}`)) {
          out.push({
            resource: route,
            path: [...b.path, "name"],
            message: `${describe(route)} sends to Service ${b.ns}/${b.name}, which does not exist`,
          });
          continue;
        }
        if (b.ns === route.ns) continue;
        const granted = grants.some((g) => {
          if (g.ns !== b.ns) return false;
          const spec = asObj(g.object.spec);
          const from = asArray(spec.from).some((f) => {
            const o = asObj(f);
            return (
              asString(o.group) === GWAPI &&
              asString(o.kind) === route.kind &&
              asString(o.namespace) === route.ns
            );
          });
          const to = asArray(spec.to).some((t) => {
            const o = asObj(t);
            return (
              (asString(o.group) ?? "") === "" &&
              asString(o.kind) === "Service" &&
              (o.name === undefined || o.name === b.name)
            );
          });
          return from && to;
        });
        if (granted) continue;
        out.push({
          resource: route,
          path: [...b.path, "namespace"],
          message: `${describe(route)} sends to Service ${b.ns}/${b.name} in another namespace, but no ReferenceGrant in ${b.ns} allows ${route.kind} from ${route.ns}`,
        });
      }
    }
    return out;
  },
});
