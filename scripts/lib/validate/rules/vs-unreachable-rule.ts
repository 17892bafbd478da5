import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

/**
 * A canonical form of one match clause, for comparing matches. The clause's own `name` (a label
 * for stats) is ignored; `name` deeper down (a header or query parameter called `name`) is not.
 */
export function matchKey(m: unknown): string {
  if (m && typeof m === "object" && !Array.isArray(m)) {
    const { name: _name, ...rest } = m as Record<string, unknown>;
    return JSON.stringify(sortDeep(rest));
  }
  return JSON.stringify(sortDeep(m));
}

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, sortDeep(x)]),
    );
  }
  return v;
}

export default defineRule({
  code: "vs/unreachable-rule",
  layer: "semantic",
  severity: "warning",
  // istioctl reports a route whose every clause repeats an earlier one twice: the route (IST0130)
  // and each clause (IST0131); here it is one finding with both codes.
  anchors: ["IST0130", "IST0131"],
  title: "No http route is shadowed by an earlier catch-all or identical match",
  description:
    "Istio evaluates http routes in order and uses the first match. A route that comes after a route without `match` (a catch-all), or whose every match clause already appears in one earlier route, is never used.",
  hint: "move the more specific route before the general one, or remove it",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      const http = asArray(asObj(vs.object.spec).http).map(asObj);
      const seen: Array<Set<string>> = [];
      let catchAll = -1;
      http.forEach((r, i) => {
        const matches = asArray(r.match);
        if (catchAll >= 0) {
          out.push({
            resource: vs,
            path: ["spec", "http", i],
            message: `${describe(vs)} http[${i}] is unreachable: http[${catchAll}] before it matches every request`,
            anchors: ["IST0130"],
          });
          return;
        }
        if (matches.length === 0) {
          catchAll = i;
          return;
        }
        const keys = new Set(matches.map(matchKey));
        const previous = seen.findIndex((s) => [...keys].every((k) => s.has(k)));
        if (previous >= 0) {
          out.push({
            resource: vs,
            path: ["spec", "http", i, "match"],
            message: `${describe(vs)} http[${i}] is unreachable: http[${previous}] has the same match`,
          });
        }
        seen.push(keys);
      });
    }
    return out;
  },
});
