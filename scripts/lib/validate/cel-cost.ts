/**
 * The Kubernetes CEL cost model, approximated, so that no rule runs for minutes: the API server
 * refuses a CRD whose rules could cost too much, and aborts an evaluation that does.
 *
 * Limits (k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation and
 * k8s.io/apiserver/pkg/apis/cel/config.go):
 *  - StaticEstimatedCostLimit 10,000,000: the estimated cost of one rule expression;
 *  - StaticEstimatedCRDCostLimit 100,000,000: the sum over a CRD version's rules of the estimate
 *    times the number of times the rule may run (the product of maxItems/maxProperties above it);
 *  - PerCallLimit 1,000,000: the actual cost of one evaluation;
 *  - RuntimeCELCostBudget 10,000,000: the actual cost of all rules of one object.
 * Sizes the schema does not bound come from the largest request (3 MiB): a list of strings
 * without maxItems may hold about a million of them.
 *
 * The estimate walks the parsed expression (cel-js's AST): comprehensions (all, exists,
 * exists_one, map, filter) multiply their body's cost by the iterated collection's size, string
 * functions cost a tenth of the string's length (cel-go's traversal factor), `in` on a list its
 * size, everything else 1. The same walk over the actual value (sizes taken from the object, not
 * the schema) gives the runtime cost before the rule runs, so an over-budget evaluation is refused
 * without being started. It is an approximation of cel-go's: close for the shapes CRD rules use.
 */
import { asObj, isObj, type Obj } from "./resource.ts";

export const COST_LIMITS = {
  perExpression: 10_000_000,
  perCrd: 100_000_000,
  perCall: 1_000_000,
  perObject: 10_000_000,
} as const;

export const MAX_REQUEST_BYTES = 3 * 1024 * 1024;

/** What the estimate knows of a value: its schema (static), or the value itself (runtime). */
export type Shape =
  { kind: "schema"; schema: Obj | undefined; card?: number } | { kind: "value"; value: unknown };

export interface CelAst {
  op: string;
  args: unknown;
}

const isAst = (v: unknown): v is CelAst => isObj(v) && typeof v.op === "string";

const COMPREHENSIONS = new Set(["all", "exists", "exists_one", "map", "filter"]);
const STRING_FUNCTIONS = new Set([
  "matches",
  "contains",
  "startsWith",
  "endsWith",
  "split",
  "lowerAscii",
  "upperAscii",
  "replace",
  "indexOf",
  "lastIndexOf",
  "trim",
  "substring",
  "re2Matches",
  "find",
  "findAll",
]);

function minSerializedSize(schema: Obj | undefined): number {
  switch (schema?.type) {
    case "string":
      return 2; // ""
    case "boolean":
      return 4; // true
    case "integer":
    case "number":
      return 1;
    default:
      return 2; // {} or []
  }
}

/** How many elements a list or map may have. */
export function cardinality(shape: Shape): number {
  if (shape.kind === "value") {
    const v = shape.value;
    if (Array.isArray(v)) return v.length;
    if (isObj(v)) return Object.keys(v).length;
    if (typeof v === "string") return v.length;
    return 1;
  }
  if (shape.card !== undefined) return shape.card;
  const s = shape.schema;
  if (!s) return 1;
  if (s.type === "array" || s.items !== undefined) {
    if (typeof s.maxItems === "number") return s.maxItems;
    return Math.floor((MAX_REQUEST_BYTES - 2) / (minSerializedSize(asObj(s.items)) + 1));
  }
  if (s.type === "object" || s.properties !== undefined || s.additionalProperties !== undefined) {
    if (typeof s.maxProperties === "number") return s.maxProperties;
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) {
      // A map: keys are strings of at least "" plus a value.
      const value = minSerializedSize(isObj(s.additionalProperties) ? s.additionalProperties : undefined);
      return Math.floor((MAX_REQUEST_BYTES - 2) / (2 + 1 + value + 1));
    }
    return Object.keys(asObj(s.properties)).length || 1;
  }
  return 1;
}

/** The longest a string may be, in characters. */
export function stringLength(shape: Shape): number {
  if (shape.kind === "value") return typeof shape.value === "string" ? shape.value.length : 0;
  const s = shape.schema;
  if (!s || s.type !== "string") return 0;
  if (typeof s.maxLength === "number") return s.maxLength;
  if (s.enum && Array.isArray(s.enum)) return Math.max(0, ...s.enum.map((e) => String(e).length));
  return MAX_REQUEST_BYTES - 2;
}

function field(shape: Shape, name: string): Shape {
  if (shape.kind === "value")
    return { kind: "value", value: isObj(shape.value) ? shape.value[name] : undefined };
  const s = shape.schema;
  if (!s) return { kind: "schema", schema: undefined };
  const props = asObj(s.properties);
  if (isObj(props[name])) return { kind: "schema", schema: props[name] };
  if (isObj(s.additionalProperties)) return { kind: "schema", schema: s.additionalProperties };
  return { kind: "schema", schema: undefined };
}

/** The iteration variable of a comprehension over the collection: list elements, map keys. */
function element(shape: Shape): Shape {
  if (shape.kind === "value") {
    const v = shape.value;
    if (Array.isArray(v)) {
      // The largest element stands for all of them (the cost of the body is per element).
      let biggest: unknown = undefined;
      let size = -1;
      for (const e of v) {
        const n =
          typeof e === "string"
            ? e.length
            : Array.isArray(e)
              ? e.length
              : isObj(e)
                ? Object.keys(e).length
                : 0;
        if (n > size) [biggest, size] = [e, n];
      }
      return { kind: "value", value: biggest };
    }
    if (isObj(v)) {
      const keys = Object.keys(v);
      return { kind: "value", value: keys.reduce((a, b) => (b.length > a.length ? b : a), "") };
    }
    return { kind: "value", value: undefined };
  }
  const s = shape.schema;
  if (!s) return { kind: "schema", schema: undefined };
  if (s.type === "array" || s.items !== undefined)
    return { kind: "schema", schema: isObj(s.items) ? s.items : undefined };
  // Map keys count as short strings: the API server's estimate does not size them by the request
  // either (Istio's CRDs, which it installs, iterate over 4096 × 128 keys with matches()).
  return { kind: "schema", schema: { type: "string", maxLength: 1 } };
}

type Vars = ReadonlyMap<string, Shape>;

function shapeOf(node: unknown, vars: Vars): Shape {
  if (!isAst(node)) return { kind: "schema", schema: undefined };
  if (node.op === "id" && typeof node.args === "string")
    return vars.get(node.args) ?? { kind: "schema", schema: undefined };
  if (node.op === "." || node.op === "?.") {
    const [recv, name] = node.args as [unknown, unknown];
    return typeof name === "string"
      ? field(shapeOf(recv, vars), name)
      : { kind: "schema", schema: undefined };
  }
  if (node.op === "[]" || node.op === "[?]") {
    const [recv, index] = node.args as [unknown, unknown];
    const base = shapeOf(recv, vars);
    if (isAst(index) && index.op === "value" && typeof index.args === "string")
      return field(base, index.args);
    return element(base);
  }
  if (node.op === "value") return { kind: "value", value: node.args };
  if (node.op === "rcall") {
    const [name, recv] = node.args as [string, unknown];
    // map() and filter() keep the size of what they iterate; the elements' shape is unknown.
    if (name === "map" || name === "filter")
      return { kind: "schema", schema: undefined, card: cardinality(shapeOf(recv, vars)) };
  }
  return { kind: "schema", schema: undefined };
}

/** cel-go's factors: a string traversal costs 0.1 per character, a regex 0.25 per character of it. */
const traversal = (chars: number) => Math.ceil(chars * 0.1);
const regexFactor = (chars: number) => Math.max(1, Math.ceil(chars * 0.25));

/** The estimated cost of an expression with the given variables (`self`, iteration variables). */
export function estimateCost(node: unknown, vars: Vars): number {
  if (Array.isArray(node)) return node.reduce((sum: number, n) => sum + estimateCost(n, vars), 0);
  if (!isAst(node)) return 0;
  const args = node.args;
  switch (node.op) {
    case "value":
      return 0;
    case "id":
      return 1;
    case "rcall": {
      const [name, recv, list] = args as [string, unknown, unknown[]];
      if (
        COMPREHENSIONS.has(name) &&
        Array.isArray(list) &&
        isAst(list[0]) &&
        typeof list[0].args === "string"
      ) {
        const iterable = shapeOf(recv, vars);
        const inner = new Map(vars).set(list[0].args, element(iterable));
        const body = list.slice(1).reduce((sum: number, n) => sum + estimateCost(n, inner), 0);
        return estimateCost(recv, vars) + cardinality(iterable) * (body + 1);
      }
      const base = estimateCost(recv, vars) + estimateCost(list, vars) + 1;
      if (STRING_FUNCTIONS.has(name)) {
        const len = stringLength(shapeOf(recv, vars));
        const pattern = Array.isArray(list) ? stringLength(shapeOf(list[0], vars)) : 0;
        return (
          base + traversal(len) * (name === "matches" || name === "re2Matches" ? regexFactor(pattern) : 1)
        );
      }
      return base;
    }
    case "call": {
      const [name, list] = args as [string, unknown[]];
      const base = estimateCost(list, vars) + 1;
      if ((name === "matches" || name === "re2Matches") && Array.isArray(list))
        return (
          base +
          traversal(stringLength(shapeOf(list[0], vars))) * regexFactor(stringLength(shapeOf(list[1], vars)))
        );
      return base;
    }
    case "in": {
      const [a, b] = args as [unknown, unknown];
      return estimateCost(a, vars) + estimateCost(b, vars) + cardinality(shapeOf(b, vars));
    }
    case "==":
    case "!=":
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const [a, b] = args as [unknown, unknown];
      // Comparing strings stops at the shorter one (a comparison with "" is cheap).
      const len = Math.min(stringLength(shapeOf(a, vars)), stringLength(shapeOf(b, vars)));
      return estimateCost(a, vars) + estimateCost(b, vars) + Math.max(1, traversal(len));
    }
    default: {
      // Operators, literals, member access: 1 plus their operands.
      const children = Array.isArray(args) ? args.flat() : [args];
      return 1 + children.reduce((sum: number, n) => sum + estimateCost(n, vars), 0);
    }
  }
}

/** Saturating multiplication: the estimates of nested unbounded loops overflow doubles' precision quickly. */
export function times(a: number, b: number): number {
  const r = a * b;
  return Number.isFinite(r) ? Math.min(r, Number.MAX_SAFE_INTEGER) : Number.MAX_SAFE_INTEGER;
}

/**
 * How often a rule on the elements of a list or map may run: the product of the bounds above it,
 * but never more than elements of its minimum size fit in one request (the API server's
 * maxCardinality), which is what bounds nested lists without maxItems.
 */
export function elementRuns(parentRuns: number, collection: Obj, element: unknown): number {
  const fit = Math.floor(MAX_REQUEST_BYTES / (minSerializedSize(isObj(element) ? element : undefined) + 1));
  return Math.min(times(parentRuns, cardinality({ kind: "schema", schema: collection })), fit);
}
