/**
 * The CEL layer: the `x-kubernetes-validations` rules of CRDs, which kubeconform ignores,
 * evaluated with @marcbachmann/cel-js plus the Kubernetes extension functions the rules use.
 * Rules come from the JSON schemas at local schema locations (they keep the CEL rules) and from
 * CRD YAML files (VALIDATE_CRD_DIR, or CRDs among the validated resources).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { Environment } from "@marcbachmann/cel-js";
import { RE2JS } from "re2js";
import { parseAllDocuments } from "yaml";
import { COST_LIMITS, elementRuns, estimateCost, times, type Shape } from "./cel-cost.ts";
import type { YamlPath } from "../yaml-source.ts";
import { asArray, asObj, isObj, type Obj, type Resource } from "./resource.ts";

class CelURL {
  constructor(readonly url: URL) {}
}

function parseUrl(s: string): URL {
  // Kubernetes' url() accepts absolute URIs and absolute paths.
  if (s.startsWith("/")) return new URL(s, "http://placeholder.invalid");
  return new URL(s);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
function isIP(s: string): boolean {
  if (IPV4.test(s)) return true;
  if (!s.includes(":")) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * RE2, as Kubernetes evaluates `matches`: linear time, so `'^(a+)+$'` against a long string of
 * a's cannot backtrack for minutes the way a JavaScript RegExp does. Patterns are compiled once.
 */
const re2Cache = new Map<string, RE2JS>();
function re2Matches(s: string, pattern: string): boolean {
  let re = re2Cache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (re2Cache.size < 1000) re2Cache.set(pattern, re);
  }
  return re.matcher(s).find();
}

/**
 * cel-js's own `matches` uses RegExp and cannot be replaced (its overload is built in), so rules
 * call the RE2 one under another name: `.matches(` and `matches(` outside string literals.
 */
export function withRe2Matches(rule: string): string {
  let out = "";
  let i = 0;
  while (i < rule.length) {
    const c = rule[i]!;
    if (c === '"' || c === "'") {
      // A string literal (raw, triple-quoted or not): copied as it is.
      const triple = rule.startsWith(c.repeat(3), i);
      const quote = triple ? c.repeat(3) : c;
      let j = i + quote.length;
      while (j < rule.length && !rule.startsWith(quote, j)) j += rule[j] === "\\" ? 2 : 1;
      out += rule.slice(i, j + quote.length);
      i = j + quote.length;
      continue;
    }
    const m = /^matches\s*\(/.exec(rule.slice(i, i + 20));
    if (m && !/[\w]/.test(rule[i - 1] ?? "")) {
      out += "re2Matches(";
      i += m[0].length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

function makeEnvironment(): Environment {
  return new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
    .registerFunction("string.re2Matches(string): bool", (s: string, p: string) => re2Matches(s, p))
    .registerFunction("re2Matches(string, string): bool", (s: string, p: string) => re2Matches(s, p))
    .registerType("URL", CelURL)
    .registerFunction("url(string): URL", (s: string) => new CelURL(parseUrl(s)))
    .registerFunction("isURL(string): bool", (s: string) => {
      try {
        parseUrl(s);
        return true;
      } catch {
        return false;
      }
    })
    .registerFunction("URL.getScheme(): string", (u: CelURL) => u.url.protocol.replace(/:$/, ""))
    .registerFunction("URL.getHost(): string", (u: CelURL) => u.url.host)
    .registerFunction("URL.getHostname(): string", (u: CelURL) => u.url.hostname.replace(/^\[|\]$/g, ""))
    .registerFunction("URL.getPort(): string", (u: CelURL) => u.url.port)
    .registerFunction("URL.getEscapedPath(): string", (u: CelURL) => u.url.pathname)
    .registerFunction("URL.getQuery(): map", (u: CelURL) => {
      const out: Record<string, string[]> = {};
      for (const [k, v] of u.url.searchParams) (out[k] ??= []).push(v);
      return out;
    })
    .registerFunction("isIP(string): bool", (s: string) => isIP(s))
    .registerFunction("isCIDR(string): bool", (s: string) => {
      const [ip, bits, ...rest] = s.split("/");
      return rest.length === 0 && ip !== undefined && isIP(ip) && bits !== undefined && /^\d+$/.test(bits);
    });
}

export interface CelRule {
  rule: string;
  message: string;
  fn: (ctx: Record<string, unknown>) => unknown;
  /** The parsed expression, for the cost estimate. */
  ast: unknown;
  /** Results for scalar `self` values: most rules check durations and ports that repeat a lot. */
  memo: Map<unknown, { ok: unknown } | { error: string }>;
  /** The static estimate at the schema node the rule is on (set per node). */
  staticCost?: number;
}

/** Schema nodes that lead to rules, pruned: only branches with rules are kept. */
export interface CelNode {
  rules: CelRule[];
  props: Map<string, CelNode>;
  items?: CelNode;
  additional?: CelNode;
  /** `integer` / `number` typed values become CEL int / double. */
  type?: string;
}

export interface CelProblem {
  path: YamlPath;
  message: string;
  rule: string;
  /** `cel/cost` for a rule over the cost limits; `cel/rule` otherwise. */
  code?: "cel/rule" | "cel/cost";
}

/** Wall-clock budget of one object's rules, besides the cost limits: nothing runs for minutes. */
export const OBJECT_TIME_BUDGET_MS = 5_000;

const fmt = (n: number) =>
  n >= Number.MAX_SAFE_INTEGER ? "unbounded" : Math.round(n).toLocaleString("en-US");

export class CelValidator {
  private readonly env = makeEnvironment();
  private readonly compiled = new Map<string, CelRule | null>();
  /** GVK -> rule tree (null: no rules). */
  private readonly trees = new Map<string, CelNode | null>();
  /** GVK -> the CRD version's openAPIV3Schema, turned into a tree when a resource of it shows up. */
  private readonly crdSchemas = new Map<string, unknown>();
  /** Rules that did not parse: skipped. */
  readonly skipped = new Set<string>();
  /** Rules that parse but do not type-check against `self: dyn` (unknown function, or dyn limits). */
  readonly unchecked = new Set<string>();
  /** GVK -> the estimated total cost of the version's rules (each times how often it may run). */
  private readonly totals = new Map<string, number>();

  /**
   * `loadAll` parses CRD files (the validator passes js-yaml's when it is installed: Istio's CRDs
   * are most of a megabyte, and the `yaml` package takes about a second for them).
   */
  constructor(
    private readonly schemaLocations: string[],
    private readonly kubernetesVersion: string,
    crdDirs: string[] = [],
    private readonly loadAll?: ((text: string) => unknown[]) | null,
  ) {
    for (const dir of crdDirs) for (const file of yamlFiles(dir)) this.addCrdText(readFileSync(file, "utf8"));
  }

  private compile(rule: string, message: string): CelRule | null {
    const key = `${rule}\u0000${message}`;
    if (this.compiled.has(key)) return this.compiled.get(key)!;
    let out: CelRule | null = null;
    if (!/\boldSelf\b/.test(rule)) {
      try {
        const source = withRe2Matches(rule);
        const parsed = this.env.parse(source);
        // Parsing alone accepts calls of functions the environment lacks; the type check notices
        // (and also trips on some dyn-heavy rules, which still evaluate: runtime overload errors
        // are never reported as findings).
        if (!this.env.check(source).valid) this.unchecked.add(rule);
        out = { rule, message, fn: (ctx) => parsed(ctx), ast: parsed.ast, memo: new Map() };
      } catch {
        this.skipped.add(rule);
      }
    }
    this.compiled.set(key, out);
    return out;
  }

  /**
   * Builds the pruned rule tree of an OpenAPI / JSON schema node. `total` collects each rule's
   * estimated cost times `runs`, how often it may run (the sizes of the lists and maps above it).
   */
  tree(schema: unknown, total: { cost: number } = { cost: 0 }, runs = 1): CelNode | undefined {
    if (!isObj(schema)) return undefined;
    const node: CelNode = { rules: [], props: new Map() };
    if (typeof schema.type === "string") node.type = schema.type;
    else if (Array.isArray(schema.type))
      node.type = (schema.type as unknown[]).find((t) => t !== "null") as string | undefined;
    for (const v of asArray(schema["x-kubernetes-validations"])) {
      const o = asObj(v);
      if (typeof o.rule !== "string") continue;
      const c = this.compile(o.rule, typeof o.message === "string" ? o.message : `failed rule: ${o.rule}`);
      if (!c) continue;
      const staticCost = ruleCost(c, schema);
      total.cost = Math.min(Number.MAX_SAFE_INTEGER, total.cost + times(staticCost, runs));
      node.rules.push({ ...c, staticCost });
    }
    for (const [k, v] of Object.entries(asObj(schema.properties))) {
      const child = this.tree(v, total, runs);
      if (child) node.props.set(k, child);
    }
    const items = this.tree(
      Array.isArray(schema.items) ? undefined : schema.items,
      total,
      elementRuns(runs, schema, schema.items),
    );
    if (items) node.items = items;
    const additional = this.tree(
      schema.additionalProperties,
      total,
      elementRuns(runs, schema, schema.additionalProperties),
    );
    if (additional) node.additional = additional;
    for (const key of ["allOf", "anyOf", "oneOf"]) {
      for (const sub of asArray(schema[key])) {
        const t = this.tree(sub, total, runs);
        if (t) mergeInto(node, t);
      }
    }
    const useful = node.rules.length || node.props.size || node.items || node.additional;
    return useful ? node : undefined;
  }

  /** Registers the rules of CustomResourceDefinition objects (a CRD YAML file, or validated CRDs). */
  addCrdText(text: string): void {
    if (this.loadAll) {
      try {
        for (const doc of this.loadAll(text)) this.addCrd(doc);
        return;
      } catch {
        // Fall through to the `yaml` package, which copes with more.
      }
    }
    for (const doc of parseAllDocuments(text)) {
      if (!("toJS" in doc)) continue;
      try {
        this.addCrd(doc.toJS({ maxAliasCount: 100 }));
      } catch {
        // A broken CRD file is not this layer's problem; the YAML layer reports validated files.
      }
    }
  }

  addCrd(crd: unknown): void {
    if (!isObj(crd) || crd.kind !== "CustomResourceDefinition") return;
    const spec = asObj(crd.spec);
    const group = String(spec.group ?? "");
    const kind = String(asObj(spec.names).kind ?? "");
    for (const v of asArray(spec.versions)) {
      const vo = asObj(v);
      const key = `${group}/${String(vo.name)}/${kind}`;
      this.crdSchemas.set(key, asObj(asObj(vo.schema).openAPIV3Schema));
      this.trees.delete(key);
    }
  }

  private treeFor(r: Resource): CelNode | null {
    const version = r.apiVersion.split("/").pop() ?? "";
    const key = `${r.group}/${version}/${r.kind}`;
    if (this.trees.has(key)) return this.trees.get(key)!;
    let tree: CelNode | null = null;
    if (this.crdSchemas.has(key)) {
      const total = { cost: 0 };
      tree = this.tree(this.crdSchemas.get(key), total) ?? null;
      this.totals.set(key, total.cost);
      this.trees.set(key, tree);
      return tree;
    }
    // Built-in kinds carry no CEL rules in their schemas; only custom resources are looked up.
    if (r.group.includes(".") && !r.group.endsWith(".k8s.io")) {
      for (const loc of this.schemaLocations) {
        const file = fillTemplate(loc, r, this.kubernetesVersion);
        if (!file || !existsSync(file)) continue;
        try {
          const total = { cost: 0 };
          tree = this.tree(JSON.parse(readFileSync(file, "utf8")), total) ?? null;
          this.totals.set(key, total.cost);
        } catch {
          tree = null;
        }
        break;
      }
    }
    this.trees.set(key, tree);
    return tree;
  }

  validate(r: Resource): CelProblem[] {
    const tree = this.treeFor(r);
    if (!tree) return [];
    const out: CelProblem[] = [];
    const version = r.apiVersion.split("/").pop() ?? "";
    const total = this.totals.get(`${r.group}/${version}/${r.kind}`) ?? 0;
    if (total > COST_LIMITS.perCrd) {
      out.push({
        path: [],
        rule: "(all rules of the CRD)",
        code: "cel/cost",
        message: `the estimated cost of the CRD's rules is ${fmt(total)}, over the API server's limit of ${fmt(COST_LIMITS.perCrd)} for a CRD (StaticEstimatedCRDCostLimit): the API server refuses the CRD`,
      });
    }
    walk(tree, r.object, [], out, {
      spent: 0,
      deadline: performance.now() + OBJECT_TIME_BUDGET_MS,
      reported: new Set(),
      stopped: false,
    });
    return out;
  }

  /**
   * For a CRD among the validated files: its rules over the static limits, at the rule's own
   * position (`x-kubernetes-validations[j].rule`), the way the API server refuses the CRD.
   */
  crdCostProblems(crd: unknown): CelProblem[] {
    if (!isObj(crd) || crd.kind !== "CustomResourceDefinition") return [];
    const out: CelProblem[] = [];
    asArray(asObj(crd.spec).versions).forEach((v, i) => {
      const base = ["spec", "versions", i, "schema", "openAPIV3Schema"];
      let total = 0;
      const visit = (schema: unknown, path: Array<string | number>, runs: number) => {
        if (!isObj(schema)) return;
        asArray(schema["x-kubernetes-validations"]).forEach((rv, j) => {
          const o = asObj(rv);
          if (typeof o.rule !== "string") return;
          const c = this.compile(o.rule, "");
          if (!c) return;
          const cost = ruleCost(c, schema);
          total = Math.min(Number.MAX_SAFE_INTEGER, total + times(cost, runs));
          if (cost > COST_LIMITS.perExpression)
            out.push({
              path: [...path, "x-kubernetes-validations", j, "rule"],
              rule: o.rule,
              code: "cel/cost",
              message: `the estimated cost of this rule is ${fmt(cost)}, over the API server's limit of ${fmt(COST_LIMITS.perExpression)} per rule (StaticEstimatedCostLimit): the API server refuses the CRD; bound the lists and strings it walks with maxItems / maxLength / maxProperties`,
            });
        });
        for (const [k, child] of Object.entries(asObj(schema.properties)))
          visit(child, [...path, "properties", k], runs);
        if (isObj(schema.items))
          visit(schema.items, [...path, "items"], elementRuns(runs, schema, schema.items));
        if (isObj(schema.additionalProperties))
          visit(
            schema.additionalProperties,
            [...path, "additionalProperties"],
            elementRuns(runs, schema, schema.additionalProperties),
          );
        for (const key of ["allOf", "anyOf", "oneOf"])
          asArray(schema[key]).forEach((sub, n) => visit(sub, [...path, key, n], runs));
      };
      visit(asObj(asObj(asObj(v).schema).openAPIV3Schema), base, 1);
      if (total > COST_LIMITS.perCrd)
        out.push({
          path: base,
          rule: "(all rules of this version)",
          code: "cel/cost",
          message: `the estimated total cost of this version's rules (each times how often it may run) is ${fmt(total)}, over the API server's limit of ${fmt(COST_LIMITS.perCrd)} (StaticEstimatedCRDCostLimit): the API server refuses the CRD; add maxItems / maxLength / maxProperties`,
        });
    });
    return out;
  }
}

/** A rule's static estimate with `self` of the schema node it is on. */
function ruleCost(rule: CelRule, schema: Obj): number {
  try {
    return estimateCost(rule.ast, new Map([["self", { kind: "schema", schema } as Shape]]));
  } catch {
    return 0; // an AST shape the estimate does not know: no refusal on a guess
  }
}

interface Budget {
  /** Runtime cost spent on this object so far. */
  spent: number;
  deadline: number;
  /** Rules already reported as over a limit for this object (once each, not once per list item). */
  reported: Set<string>;
  /** Set once the object's budget is gone: no further rule runs. */
  stopped: boolean;
}

function mergeInto(a: CelNode, b: CelNode): void {
  a.rules.push(...b.rules);
  for (const [k, v] of b.props) {
    const existing = a.props.get(k);
    if (existing) mergeInto(existing, v);
    else a.props.set(k, v);
  }
  if (b.items) {
    if (a.items) mergeInto(a.items, b.items);
    else a.items = b.items;
  }
  if (b.additional) {
    if (a.additional) mergeInto(a.additional, b.additional);
    else a.additional = b.additional;
  }
}

function walk(
  node: CelNode,
  value: unknown,
  path: Array<string | number>,
  out: CelProblem[],
  budget: Budget,
): void {
  if (value === null || value === undefined || budget.stopped) return;
  if (node.rules.length) {
    const self = toCel(value, node);
    const scalar = typeof self !== "object" || self === null;
    for (const rule of node.rules) {
      if (budget.stopped) return;
      const over = (message: string) => {
        if (budget.reported.has(rule.rule)) return;
        budget.reported.add(rule.rule);
        out.push({ path: [...path], rule: rule.rule, code: "cel/cost", message });
      };
      if ((rule.staticCost ?? 0) > COST_LIMITS.perExpression) {
        over(
          `not evaluated: the rule's estimated cost is ${fmt(rule.staticCost!)}, over the API server's limit of ${fmt(COST_LIMITS.perExpression)} per rule (StaticEstimatedCostLimit), so the API server refuses its CRD`,
        );
        continue;
      }
      let result = scalar ? rule.memo.get(self) : undefined;
      if (!result) {
        // The cost of this evaluation, from the actual sizes, before running it.
        let cost = 0;
        try {
          cost = estimateCost(rule.ast, new Map([["self", { kind: "value", value } as Shape]]));
        } catch {
          cost = 0;
        }
        if (cost > COST_LIMITS.perCall) {
          over(
            `not evaluated: on this value the rule costs ${fmt(cost)}, over the API server's limit of ${fmt(COST_LIMITS.perCall)} per evaluation (PerCallLimit); the API server would refuse the object`,
          );
          continue;
        }
        budget.spent += cost;
        if (budget.spent > COST_LIMITS.perObject || performance.now() > budget.deadline) {
          budget.stopped = true;
          out.push({
            path: [],
            rule: rule.rule,
            code: "cel/cost",
            message:
              budget.spent > COST_LIMITS.perObject
                ? `the object's rules cost more than the API server's budget of ${fmt(COST_LIMITS.perObject)} per object (RuntimeCELCostBudget); the API server would refuse it; the remaining rules were not evaluated`
                : `the object's rules took more than ${OBJECT_TIME_BUDGET_MS} ms; the remaining rules were not evaluated`,
          });
          return;
        }
        try {
          result = { ok: rule.fn({ self }) };
        } catch (e) {
          result = { error: firstLine((e as Error).message) };
        }
        if (scalar && rule.memo.size < 10_000) rule.memo.set(self, result);
      }
      if ("error" in result && /no matching overload/.test(result.error)) {
        // A gap of the environment (or a type the schema layer reports anyway), not the object's fault.
        continue;
      }
      if ("error" in result) {
        const message = `${rule.message} (the rule could not be evaluated: ${result.error})`;
        out.push({ path: [...path], rule: rule.rule, message });
      } else if (result.ok !== true) out.push({ path: [...path], rule: rule.rule, message: rule.message });
    }
  }
  if (Array.isArray(value)) {
    if (node.items) value.forEach((v, i) => walk(node.items!, v, [...path, i], out, budget));
    return;
  }
  if (!isObj(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const child = node.props.get(k) ?? node.additional;
    if (child) walk(child, v, [...path, k], out, budget);
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

/** JSON value -> CEL value: integers become int (BigInt) unless the schema says number. */
export function toCel(value: unknown, node?: CelNode): unknown {
  if (typeof value === "number") {
    if (node?.type === "number") return value;
    return Number.isInteger(value) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => toCel(v, node?.items));
  if (isObj(value)) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === null || v === undefined) continue;
      out[k] = toCel(v, node?.props.get(k) ?? node?.additional);
    }
    return out;
  }
  return value;
}

/** Fills a kubeconform schema-location template for a resource; undefined for remote locations. */
export function fillTemplate(
  loc: string,
  r: { group: string; kind: string; apiVersion: string },
  k8sVersion: string,
): string | undefined {
  if (loc === "default" || /^https?:\/\//.test(loc)) return undefined;
  const version = r.apiVersion.split("/").pop() ?? "";
  const kind = r.kind.toLowerCase();
  const groupFirst = r.group.split(".")[0] ?? "";
  const filled = loc
    .replace(/\{\{\s*\.NormalizedKubernetesVersion\s*\}\}/g, `v${k8sVersion}`)
    .replace(/\{\{\s*\.StrictSuffix\s*\}\}/g, "-strict")
    .replace(/\{\{\s*\.ResourceKind\s*\}\}/g, kind)
    .replace(/\{\{\s*\.KindSuffix\s*\}\}/g, r.group ? `-${groupFirst}-${version}` : `-${version}`)
    .replace(/\{\{\s*\.ResourceAPIVersion\s*\}\}/g, version)
    .replace(/\{\{\s*\.Group\s*\}\}/g, r.group);
  return filled.endsWith(".json")
    ? filled
    : `${filled}/${kind}${r.group ? `-${groupFirst}` : ""}-${version}.json`;
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}
