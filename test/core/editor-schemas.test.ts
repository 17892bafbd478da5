/**
 * Editor schemas: .vscode/settings.json maps every mesh file (several kinds per file) to the YAML
 * extension's per-kind `kubernetes` schema, and chapter.yaml / cluster.yaml to their JSON Schemas.
 * Each glob must match real files, every mesh file must be covered, the local schemas must exist,
 * and the settings file must be of the form the formatter and the validator leave alone.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

function filesUnder(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** The glob subset yaml-language-server's settings use here: `**` spans folders, `*` does not. */
function globRegExp(glob: string): RegExp {
  const body = glob
    .split("**/")
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*"))
    .join("(?:.*/)?");
  return new RegExp(`^${body}$`);
}

describe(".vscode/settings.json", () => {
  const settings = JSON.parse(readFileSync(path.join(ROOT, ".vscode/settings.json"), "utf8")) as {
    "yaml.schemas": Record<string, string[]>;
  };
  const schemas = settings["yaml.schemas"];
  const candidates = [...filesUnder("mesh"), ...filesUnder("chapters"), ...filesUnder("clusters")];

  it("maps every mesh file to the per-kind kubernetes schema", () => {
    const globs = (schemas["kubernetes"] ?? []).map(globRegExp);
    const mesh = filesUnder("mesh").filter((f) => f.endsWith(".yaml"));
    expect(mesh.length).toBeGreaterThan(10);
    for (const f of mesh)
      expect(
        globs.some((g) => g.test(f)),
        f,
      ).toBe(true);
  });

  it("maps every chapter.yaml and cluster.yaml to its JSON Schema, which exists", () => {
    for (const [schema, kind] of [
      ["./scripts/schemas/chapter.schema.json", "chapter.yaml"],
      ["./scripts/schemas/cluster.schema.json", "cluster.yaml"],
    ] as const) {
      expect(existsSync(path.join(ROOT, schema)), schema).toBe(true);
      const globs = (schemas[schema] ?? []).map(globRegExp);
      const files = candidates.filter((f) => path.basename(f) === kind);
      expect(files.length).toBeGreaterThan(1);
      for (const f of files)
        expect(
          globs.some((g) => g.test(f)),
          f,
        ).toBe(true);
    }
  });

  it("has no glob that matches nothing (a stale path)", () => {
    for (const [schema, globs] of Object.entries(schemas))
      for (const glob of globs) {
        if (glob.startsWith("clusters/*/rendered/")) continue; // rendered output, present after `pnpm render`
        expect(
          candidates.some((f) => globRegExp(glob).test(f)),
          `${schema}: ${glob}`,
        ).toBe(true);
      }
  });
});
