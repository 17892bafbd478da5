/**
 * The hostile corpus: bad inputs written by hand, each one a way a careless or malicious change
 * could make validation crash, hang or eat memory. YAML bombs, odd YAML, odd files in mesh/
 * (symlinks to /dev/zero, loops, FIFOs, huge files), CRDs with bad or expensive CEL rules, and
 * malformed chapter and cluster files. Every case must end, quickly, with a located finding or a
 * clear error (run-corpus.ts runs them, hostile.test.ts watches).
 */
import { execFileSync } from "node:child_process";
import { cp, mkdir, rm, symlink, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Finding } from "../../../scripts/lib/findings.ts";
import { loadRepo, readMeshFiles } from "../../../scripts/lib/model/repo.ts";
import { validateRepo } from "../../../scripts/lib/validate/index.ts";
import { collectPaths } from "../../../scripts/lib/validate/path-mode.ts";
import { pathScope, REPO_ROOT, run, testConfig } from "../helpers.ts";

export interface Outcome {
  findings: Finding[];
}

export interface Case {
  name: string;
  run(): Promise<Outcome>;
}

const GITOPS_FIXTURE = path.join(REPO_ROOT, "test/gitops/fixtures/repo");

const manifest = (name: string, text: string): Case => ({
  name: `manifest: ${name}`,
  run: async () => {
    const r = await run([
      pathScope([{ file: `${name.replace(/\W+/g, "-")}.yaml`, text, kind: "manifests" }]),
    ]);
    return { findings: r.findings };
  },
});

function billionLaughs(levels: number): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i++) {
    const name = String.fromCharCode(97 + i);
    const prev = String.fromCharCode(96 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
  }
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  ${lines.join("\n  ")}\n`;
}

function crd(rule: string, extra = ""): string {
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.fuzz.dev}
spec:
  group: fuzz.dev
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-validations:
                - rule: ${JSON.stringify(rule)}
                  message: fuzz rule${extra}
              properties:
                name: {type: string}
                items: {type: array, items: {type: string}}
---
apiVersion: fuzz.dev/v1
kind: Widget
metadata: {name: w, namespace: default}
spec:
  name: ${"a".repeat(40)}!
  items: [${Array.from({ length: 300 }, (_, i) => `"i${i}"`).join(", ")}]
`;
}

const celCase = (name: string, rule: string, extra?: string) => manifest(`CEL ${name}`, crd(rule, extra));

/** A temp copy of the gitops fixture repository, changed by `edit`, loaded (model and mesh files). */
function repoCase(name: string, tmp: string, edit: (dir: string) => Promise<void>, full = false): Case {
  return {
    name: `repo: ${name}`,
    run: async () => {
      const dir = path.join(tmp, name.replace(/\W+/g, "-"));
      await rm(dir, { recursive: true, force: true });
      await cp(GITOPS_FIXTURE, dir, { recursive: true });
      await edit(dir);
      if (full) {
        const r = await validateRepo(dir, { env: { ...process.env } });
        return { findings: r.findings };
      }
      const loaded = await loadRepo(dir);
      const findings = [...loaded.findings];
      if (loaded.model) {
        for (const f of (await readMeshFiles(dir, loaded.model.chapters)).values())
          findings.push(...f.findings);
      }
      return { findings };
    },
  };
}

const mkfifo = (p: string) => execFileSync("mkfifo", [p]);

export function corpus(tmp: string): Case[] {
  const big = "x".repeat(1024 * 1024);
  return [
    // --- YAML bombs and odd YAML ---------------------------------------------------------------
    manifest("billion laughs", billionLaughs(9)),
    manifest(
      "99 aliases to one large string",
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: wide}\ndata:\n  s: &s "${big}"\n  l: [${Array(99).fill("*s").join(", ")}]\n`,
    ),
    manifest(
      "alias to an undefined anchor",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: *nothing\n",
    ),
    manifest(
      "self-referencing anchor",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: x, self: *m}\n",
    ),
    manifest(
      "merge-key bomb",
      `base: &b {${Array.from({ length: 50 }, (_, i) => `k${i}: v`).join(", ")}}\n${Array.from({ length: 200 }, (_, i) => `m${i}: {<<: *b}`).join("\n")}\n`,
    ),
    manifest("5000 nested flow sequences", `${"[".repeat(5000)}${"]".repeat(5000)}\n`),
    manifest(
      "2000 nested block mappings",
      Array.from({ length: 2000 }, (_, i) => `${" ".repeat(i)}k:`).join("\n") + " v\n",
    ),
    manifest("20000 empty documents and one bad one", `${"---\n".repeat(20000)}apiVersion: v1\nkind: [\n`),
    manifest(
      "binary garbage",
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString("latin1"),
    ),
    manifest("NUL bytes", "apiVersion: v1\u0000\nkind: ConfigMap\u0000\n"),
    manifest(
      "a one-megabyte key",
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k}\ndata: {${big}: v}\n`,
    ),
    manifest(
      "duplicate keys everywhere",
      "apiVersion: v1\napiVersion: v2\nkind: ConfigMap\nkind: Secret\nmetadata: {name: a, name: b}\n",
    ),
    manifest("tabs as indentation", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tab\n"),
    manifest(
      "unknown and binary tags",
      "apiVersion: !!binary AAAA\nkind: !custom ConfigMap\nmetadata: {name: !!int x}\n",
    ),
    manifest(
      "numbers out of range",
      `apiVersion: v1\nkind: Service\nmetadata: {name: n}\nspec: {ports: [{port: 1e400}, {port: .nan}, {port: -.inf}, {port: 0x1p3}]}\n`,
    ),
    manifest("a document that is a scalar", "just a string\n---\n42\n---\n[1, 2]\n"),
    manifest("unterminated quotes", "apiVersion: \"v1\nkind: ConfigMap\nmetadata: {name: 'x}\n"),
    manifest(
      "over the size limit",
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata: {x: "${"y".repeat(9 * 1024 * 1024)}"}\n`,
    ),
    // --- CEL ----------------------------------------------------------------------------------
    celCase("syntax error", "self.name ==== 'x'"),
    celCase("unknown function", "self.name.frobnicate() == 1"),
    celCase("backtracking regex", "self.name.matches('^(a+)+$')"),
    celCase("invalid regex", "self.name.matches('(')"),
    celCase(
      "nested all over an unbounded list",
      "self.items.all(x, self.items.all(y, self.items.all(z, x + y + z != '')))",
    ),
    celCase("a huge string literal", `self.name != '${"z".repeat(200_000)}' && false`),
    celCase("2000 nested parentheses", `${"(".repeat(2000)}self.name == ''${")".repeat(2000)}`),
    celCase("division by zero", "1 / 0 == 1"),
    celCase("wrong type", "self.name + 1 == 2"),
    // --- chapter and cluster files ------------------------------------------------------------
    repoCase("cluster.yaml is a list", tmp, (d) =>
      writeFile(path.join(d, "clusters/primary/cluster.yaml"), "- a\n- b\n"),
    ),
    repoCase("cluster.yaml pins a number", tmp, (d) =>
      writeFile(path.join(d, "clusters/primary/cluster.yaml"), "name: primary\nchapter: 42\n"),
    ),
    repoCase("cluster.yaml is binary", tmp, (d) =>
      writeFile(path.join(d, "clusters/primary/cluster.yaml"), Buffer.from([0, 159, 146, 150, 255, 0, 1])),
    ),
    repoCase("cluster.yaml is a FIFO", tmp, async (d) => {
      await rm(path.join(d, "clusters/primary/cluster.yaml"));
      mkfifo(path.join(d, "clusters/primary/cluster.yaml"));
    }),
    repoCase("cluster.yaml links to /dev/zero", tmp, async (d) => {
      await rm(path.join(d, "clusters/primary/cluster.yaml"));
      await symlink("/dev/zero", path.join(d, "clusters/primary/cluster.yaml"));
    }),
    repoCase("chapter.yaml is a symlink loop", tmp, async (d) => {
      const f = path.join(d, "chapters/01-mtls/chapter.yaml");
      await rm(f);
      await symlink(f, f);
    }),
    repoCase("chapter.yaml has the wrong shapes", tmp, (d) =>
      writeFile(
        path.join(d, "chapters/01-mtls/chapter.yaml"),
        "id: one\ntitle: [x]\nmesh: {add: 7}\nreleases: {}\n",
      ),
    ),
    repoCase("chapter.yaml adds a path outside mesh/", tmp, (d) =>
      writeFile(
        path.join(d, "chapters/01-mtls/chapter.yaml"),
        "id: 1\ntitle: T\nsummary: S\nmesh:\n  add:\n    - ../../../../etc/passwd\n",
      ),
    ),
    repoCase("a mesh file is a FIFO", tmp, async (d) => {
      const f = path.join(d, "mesh/security/peer-authentication.yaml");
      await rm(f);
      mkfifo(f);
    }),
    repoCase("a mesh file links to /dev/zero", tmp, async (d) => {
      const f = path.join(d, "mesh/security/peer-authentication.yaml");
      await rm(f);
      await symlink("/dev/zero", f);
    }),
    repoCase("a mesh file is 9 MiB", tmp, (d) =>
      truncate(path.join(d, "mesh/security/peer-authentication.yaml"), 9 * 1024 * 1024),
    ),
    {
      // Path mode: a FIFO or a device named on the command line is a usage error, not a hang.
      name: "path mode: a FIFO and /dev/zero named on the command line",
      run: async () => {
        const fifo = path.join(tmp, "named.fifo.yaml");
        await rm(fifo, { force: true });
        mkfifo(fifo);
        for (const p of [fifo, "/dev/zero"]) {
          try {
            await collectPaths([p], testConfig(), tmp);
          } catch (e) {
            if (p === "/dev/zero") throw e;
            continue;
          }
          throw new Error(`${p} was read`);
        }
        return { findings: [] };
      },
    },
    // Repo mode reads every YAML file under mesh/, referenced or not.
    repoCase(
      "repo mode with odd files in mesh/",
      tmp,
      async (d) => {
        const odd = path.join(d, "mesh/odd");
        await mkdir(odd);
        await symlink("/dev/zero", path.join(odd, "zero.yaml"));
        await symlink(path.join(odd, "loop.yaml"), path.join(odd, "loop.yaml"));
        mkfifo(path.join(odd, "fifo.yaml"));
        await writeFile(path.join(odd, "huge.yaml"), "");
        await truncate(path.join(odd, "huge.yaml"), 9 * 1024 * 1024);
        await symlink(path.join(odd, "nowhere"), path.join(odd, "dangling.yaml"));
      },
      true,
    ),
  ];
}
