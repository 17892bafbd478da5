import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";
import { PROJECT_ROOT } from "./world.ts";

const run = promisify(execFile);
const WORKFLOWS = path.join(PROJECT_ROOT, ".github/workflows");

interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string> | string;
  concurrency?: { group: string };
  jobs: Record<
    string,
    { permissions?: Record<string, string>; steps: Array<{ uses?: string; run?: string }> }
  >;
}

async function workflow(name: string): Promise<Workflow> {
  return parse(await readFile(path.join(WORKFLOWS, name), "utf8")) as Workflow;
}

describe(".github/workflows", () => {
  it("passes actionlint (pinned) without a single finding", async () => {
    const actionlint = await resolveTool("actionlint");
    const files = (await readdir(WORKFLOWS))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => path.join(WORKFLOWS, f));
    expect(files.length).toBeGreaterThanOrEqual(4);
    const result = await run(actionlint, ["-oneline", "-no-color", ...files], { cwd: PROJECT_ROOT }).then(
      ({ stdout }) => ({ code: 0, out: stdout }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: e.code ?? -1,
        out: `${e.stdout ?? ""}${e.stderr ?? ""}`,
      }),
    );
    expect(result.out.trim(), result.out).toBe("");
    expect(result.code).toBe(0);
  });

  it("pins every action to a commit, keeps permissions minimal and uses concurrency groups", async () => {
    for (const name of ["validate.yaml", "promote.yaml", "rollback.yaml", "tag.yaml"]) {
      const wf = await workflow(name);
      expect(wf.permissions, name).toEqual({ contents: "read" });
      expect(wf.concurrency?.group, name).toBeTruthy();
      for (const job of Object.values(wf.jobs)) {
        for (const step of job.steps) {
          if (step.uses) expect(step.uses, name).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        }
      }
    }
    expect((await workflow("validate.yaml")).jobs.validate!.permissions).toEqual({
      contents: "read",
      "security-events": "write",
      actions: "read",
    });
    expect((await workflow("tag.yaml")).jobs.tag!.permissions).toEqual({ contents: "write" });
    for (const name of ["promote.yaml", "rollback.yaml"]) {
      expect((await workflow(name)).jobs[name.replace(".yaml", "")]!.permissions).toEqual({
        contents: "write",
        "pull-requests": "write",
      });
    }
  });

  it("runs the commands the issue asks for", async () => {
    const text = (wf: Workflow) =>
      Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? s.uses ?? ""));
    const validate = text(await workflow("validate.yaml")).join("\n");
    for (const cmd of [
      "pnpm tools",
      "validate --format sarif",
      "upload-sarif@",
      "pnpm validate --format github",
      "pnpm render --check",
      "pnpm test",
    ]) {
      expect(validate).toContain(cmd);
    }
    const promoteWf = await workflow("promote.yaml");
    expect(Object.keys(promoteWf.on)).toEqual(["workflow_dispatch"]);
    expect(text(promoteWf).join("\n")).toContain('pnpm promote "$CLUSTER" --to "$CHAPTER"');
    expect(text(await workflow("rollback.yaml")).join("\n")).toContain(
      'pnpm rollback "$CLUSTER" --to "$TAG"',
    );
    const tagWf = await workflow("tag.yaml");
    expect(tagWf.on.push).toEqual({
      branches: ["main"],
      paths: ["clusters/*/cluster.yaml", "clusters/*/rendered/**"],
    });
    expect(text(tagWf).join("\n")).toContain('pnpm tag "$cluster"');
    // every cluster, not only the ones the push changed (a replaced pending run must not skip one)
    expect(text(tagWf).join("\n")).toContain("clusters/*/cluster.yaml");
    expect(text(tagWf).join("\n")).not.toContain("BEFORE");
  });

  it("exempts a rollback from the freshness check only when validate verified the restore", async () => {
    const raw = await readFile(path.join(WORKFLOWS, "validate.yaml"), "utf8");
    expect(raw).not.toContain("head_ref");
    const steps = (await workflow("validate.yaml")).jobs.validate!.steps as Array<{
      run?: string;
      if?: string;
      "continue-on-error"?: unknown;
    }>;
    const fresh = steps.find((s) => s.run?.includes("pnpm render --check"))!;
    expect(fresh["continue-on-error"]).toBeUndefined();
    expect(fresh.if).toBe("steps.annotations.outputs.restored != 'true'");
  });
});
