import { RE2JS } from "re2js";
import type { YamlPath } from "../../yaml-source.ts";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, isObj } from "../resource.ts";

/** Every `regex:` string match in a VirtualService, with its path. */
function regexes(spec: Record<string, unknown>): Array<{ re: string; path: YamlPath }> {
  const out: Array<{ re: string; path: YamlPath }> = [];
  const sm = (v: unknown, path: YamlPath) => {
    if (isObj(v) && typeof v.regex === "string") out.push({ re: v.regex, path: [...path, "regex"] });
  };
  asArray(spec.http).forEach((r, i) => {
    const ro = asObj(r);
    asArray(ro.match).forEach((m, j) => {
      const mo = asObj(m);
      const base: YamlPath = ["spec", "http", i, "match", j];
      for (const k of ["uri", "scheme", "method", "authority"]) sm(mo[k], [...base, k]);
      for (const k of ["headers", "queryParams", "withoutHeaders"]) {
        for (const [name, v] of Object.entries(asObj(mo[k]))) sm(v, [...base, k, name]);
      }
    });
    asArray(asObj(ro.corsPolicy).allowOrigins).forEach((o, j) =>
      sm(o, ["spec", "http", i, "corsPolicy", "allowOrigins", j]),
    );
  });
  return out;
}

export function re2Error(re: string): string | undefined {
  try {
    RE2JS.compile(re);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export default defineRule({
  code: "vs/invalid-regex",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0106"],
  title: "Regex matches are valid RE2",
  description:
    "Envoy evaluates `regex` matches with Google RE2, which has no lookaround and no backreferences. A regex that RE2 rejects makes Envoy refuse the route configuration (NACK), so the whole listener keeps stale config.",
  hint: "rewrite the expression in RE2 syntax (no lookahead/lookbehind, no backreferences)",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const { re, path } of regexes(asObj(vs.object.spec))) {
        const err = re2Error(re);
        if (err)
          out.push({
            resource: vs,
            path,
            message: `${describe(vs)} has a regex RE2 rejects: ${JSON.stringify(re)}: ${err}`,
          });
      }
    }
    return out;
  },
});
