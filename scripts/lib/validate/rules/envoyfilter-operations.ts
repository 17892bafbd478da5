import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

const RELATIVE = new Set(["INSERT_BEFORE", "INSERT_AFTER", "REPLACE", "MERGE", "DELETE", "REMOVE"]);
const ROUTE_LEVEL = new Set(["ROUTE_CONFIGURATION", "HTTP_ROUTE"]);

export default defineRule({
  code: "envoyfilter/patch-operation",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0151", "IST0152", "IST0153", "IST0154", "IST0155"],
  title: "EnvoyFilter patch operations fit what they apply to",
  description:
    "REPLACE only works for HTTP_FILTER and NETWORK_FILTER (IST0152); ADD and REMOVE are ignored for ROUTE_CONFIGURATION and HTTP_ROUTE (IST0153, IST0154); a relative operation (INSERT_BEFORE/AFTER, REPLACE, MERGE, REMOVE) without `priority` may be applied before the filter it is relative to exists (IST0151 warning, IST0155 with proxyVersion).",
  hint: "use the operation the applyTo supports; set `priority` on EnvoyFilters with relative operations",
  check({ index }) {
    const out: Report[] = [];
    for (const ef of index.of("EnvoyFilter")) {
      const spec = asObj(ef.object.spec);
      asArray(spec.configPatches).forEach((cp, i) => {
        const c = asObj(cp);
        const applyTo = String(c.applyTo ?? "");
        const op = String(asObj(c.patch).operation ?? "");
        const path = ["spec", "configPatches", i, "patch", "operation"];
        if (op === "REPLACE" && applyTo !== "HTTP_FILTER" && applyTo !== "NETWORK_FILTER") {
          out.push({
            resource: ef,
            path,
            message: `${describe(ef)} configPatches[${i}] uses REPLACE on ${applyTo}; REPLACE is only valid for HTTP_FILTER and NETWORK_FILTER`,
            anchors: ["IST0152"],
          });
        } else if (op === "ADD" && ROUTE_LEVEL.has(applyTo)) {
          out.push({
            resource: ef,
            path,
            message: `${describe(ef)} configPatches[${i}] uses ADD on ${applyTo}, where it is ignored`,
            anchors: ["IST0153"],
          });
        } else if (op === "REMOVE" && ROUTE_LEVEL.has(applyTo)) {
          out.push({
            resource: ef,
            path,
            message: `${describe(ef)} configPatches[${i}] uses REMOVE on ${applyTo}, where it is ignored`,
            anchors: ["IST0154"],
          });
        } else if (RELATIVE.has(op) && spec.priority === undefined) {
          const pv = asObj(asObj(c.match).proxy).proxyVersion !== undefined;
          out.push({
            resource: ef,
            path,
            severity: "warning",
            message: `${describe(ef)} configPatches[${i}] uses the relative operation ${op} without a priority${pv ? " and with proxyVersion" : ""}: it may not be applied`,
            anchors: [pv ? "IST0155" : "IST0151"],
          });
        }
      });
    }
    return out;
  },
});
