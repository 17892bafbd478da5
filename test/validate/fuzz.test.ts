/**
 * Robustness: valid manifests mutated at random (seeded, so failures reproduce) - keys dropped,
 * duplicated, renamed, values retyped, files truncated. Every layer must cope: no exception, no
 * hang, every finding located, no rule crashing.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import type { FileInput } from "../../scripts/lib/validate/engine.ts";
import { FIXTURES, fileInput, filesUnder, pathScope, run } from "./helpers.ts";

/** mulberry32: a tiny deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function paths(v: Json, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function parentOf(root: Json, p: Array<string | number>): { parent: Json; key: string | number } | undefined {
  if (p.length === 0) return undefined;
  let cur: Json = root;
  for (const k of p.slice(0, -1)) cur = (cur as Record<string, Json>)[k as string] as Json;
  return { parent: cur, key: p[p.length - 1]! };
}

const RETYPES: Json[] = [
  null,
  0,
  -1,
  3.5,
  99999999,
  true,
  "",
  "x",
  "*",
  [],
  {},
  ["a"],
  { a: 1 },
  "1ms",
  "0s",
  "a/b/c",
];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const op = pick(["drop", "duplicate", "retype", "rename", "truncate", "retype", "drop"] as const);
  if (op === "truncate") return text.slice(0, Math.floor(rnd() * text.length));
  let docs: Json[];
  try {
    docs = parseAllDocuments(text).map((d) => d.toJS() as Json);
  } catch {
    return text; // already broken beyond structure: leave it as it is
  }
  const doc = docs[Math.floor(rnd() * docs.length)];
  const candidates = doc === undefined ? [] : paths(doc).filter((p) => p.length > 0);
  if (doc === undefined || candidates.length === 0) return text;
  const target = pick(candidates);
  const loc = parentOf(doc, target)!;
  const parent = loc.parent as Record<string | number, Json> & Json[];
  if (op === "drop") {
    if (Array.isArray(parent)) parent.splice(loc.key as number, 1);
    else delete parent[loc.key];
  } else if (op === "retype") {
    parent[loc.key] = structuredClone(pick(RETYPES));
  } else if (op === "rename" && !Array.isArray(parent)) {
    const value = parent[loc.key]!;
    delete parent[loc.key];
    parent[`${String(loc.key)}${pick(["s", "_", "X", ""])}x`] = value;
  } else if (op === "duplicate" && !Array.isArray(parent)) {
    // A duplicate key cannot be built through JS objects: write it into the text.
    const yamlText = docs.map((d) => stringify(d)).join("---\n");
    const key = String(loc.key);
    const line = yamlText.split("\n").findIndex((l) => l.trimStart().startsWith(`${key}:`));
    if (line >= 0) {
      const lines = yamlText.split("\n");
      lines.splice(line + 1, 0, `${lines[line]!.match(/^\s*/)![0]}${key}: duplicated`);
      return lines.join("\n");
    }
  }
  return docs.map((d) => stringify(d)).join("---\n");
}

describe("fuzz: mutated manifests", () => {
  it("never crash, hang or report an unlocated finding (seeded)", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20261122);
    const rnd = prng(seed);
    const originals = filesUnder(path.join(FIXTURES, "bookinfo")).map((f) => fileInput(f));
    const scopes = [];
    for (let i = 0; i < 80; i++) {
      const base = originals[i % originals.length]!;
      let text = base.text;
      const rounds = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < rounds; j++) text = mutate(text, rnd);
      const mutated: FileInput = { file: `mutant-${i}.yaml`, text, kind: "manifests" };
      // Each mutant sits among the other (valid) files, so cross-resource rules have context.
      scopes.push(pathScope([mutated, ...originals.filter((o) => o !== base)]));
    }
    const started = performance.now();
    const result = await Promise.race([
      run(scopes),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`seed ${seed}: validation hung`)), 90_000),
      ),
    ]);
    expect(performance.now() - started).toBeLessThan(90_000);
    for (const f of result.findings) {
      expect(f.file, `seed ${seed}`).toBeTruthy();
      expect(f.line, `seed ${seed}: ${JSON.stringify(f)}`).toBeGreaterThanOrEqual(1);
      expect(f.column, `seed ${seed}: ${JSON.stringify(f)}`).toBeGreaterThanOrEqual(1);
      expect(f.message, `seed ${seed}`).not.toMatch(/internal error/);
    }
    const mutantsWithFindings = new Set(
      result.findings.filter((f) => f.file.startsWith("mutant-")).map((f) => f.file),
    );
    // Most mutations break something the validator must notice.
    expect(mutantsWithFindings.size, `seed ${seed}`).toBeGreaterThan(30);
  }, 120_000);
});
