/**
 * The JSON Schemas of chapter.yaml and cluster.yaml are what an editor shows while typing: every
 * field has a description, the top-level fields have examples, and every example is valid against
 * the schema it illustrates (an example that fails its own schema teaches the wrong thing).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";

const DIR = path.resolve(import.meta.dirname, "../../scripts/schemas");
const SCHEMAS = readdirSync(DIR).filter((f) => f.endsWith(".schema.json"));

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every field-like node: values of properties and definitions, object items and oneOf branches. */
function fields(node: Node, pointer: string, out: Array<{ pointer: string; node: Node }> = []) {
  for (const key of ["properties", "definitions"] as const) {
    const map = node[key];
    if (!isNode(map)) continue;
    for (const [name, child] of Object.entries(map)) {
      if (!isNode(child)) continue;
      const p = `${pointer}/${key}/${name}`;
      out.push({ pointer: p, node: child });
      fields(child, p, out);
    }
  }
  if (isNode(node.items)) {
    const items = node.items;
    if (items.properties || items.oneOf) out.push({ pointer: `${pointer}/items`, node: items });
    fields(items, `${pointer}/items`, out);
  }
  for (const key of ["oneOf", "anyOf"] as const) {
    const list = node[key];
    if (!Array.isArray(list)) continue;
    list.forEach((child, i) => {
      if (!isNode(child) || !(child.type || child.properties)) return;
      out.push({ pointer: `${pointer}/${key}/${i}`, node: child });
      fields(child, `${pointer}/${key}/${i}`, out);
    });
  }
  return out;
}

describe.each(SCHEMAS)("scripts/schemas/%s", (file) => {
  const schema = JSON.parse(readFileSync(path.join(DIR, file), "utf8")) as Node;
  const all = fields(schema, "#");

  it("describes every field", () => {
    expect(all.length).toBeGreaterThan(10);
    const missing = all
      .filter(({ node }) => typeof node.description !== "string" || node.description.length < 10)
      .map(({ pointer }) => pointer);
    expect(missing, `fields without a description in ${file}`).toEqual([]);
  });

  it("gives examples for the top-level fields, each valid against its own schema", () => {
    const top = Object.keys(schema.properties as Node);
    const props = schema.properties as Record<string, Node>;
    // A field reserved for later has nothing to show yet.
    const without = top.filter(
      (k) => !Array.isArray(props[k]!.examples) && !String(props[k]!.description).startsWith("Reserved"),
    );
    expect(without, `top-level fields without examples in ${file}`).toEqual([]);
    const ajv = new Ajv({ strict: false });
    ajv.addSchema(schema);
    let checked = 0;
    for (const { pointer, node } of all) {
      if (!Array.isArray(node.examples)) continue;
      const validate = ajv.getSchema(`${String(schema.$id)}${pointer}`);
      expect(validate, pointer).toBeDefined();
      for (const example of node.examples) {
        checked++;
        expect(
          validate!(example),
          `${pointer}: ${JSON.stringify(example)} ${ajv.errorsText(validate!.errors)}`,
        ).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(top.length);
  });
});
