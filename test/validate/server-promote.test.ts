/**
 * `pnpm promote`'s validation step with the server layer, on this repository: the chapter the
 * cluster is at is applied to a real kube-apiserver first, then the target chapter on top. The
 * same call promote makes (validateStep with promotionServerOptions), real helm, real server.
 */
import { describe, expect, it } from "vitest";
import { validateStep } from "../../scripts/lib/gitops/validate-step.ts";
import { loadRepoOrThrow } from "../../scripts/lib/model/repo.ts";
import { promotionServerOptions } from "../../scripts/lib/validate/server-step.ts";
import { REPO_ROOT } from "./helpers.ts";

describe("promote's step with the server layer", () => {
  it("is on when the binaries are built or GITOPS_SERVER_LAYER=1, off with =0", async () => {
    expect(await promotionServerOptions("03-x", { ...process.env, GITOPS_SERVER_LAYER: "0" })).toEqual({});
    const on = await promotionServerOptions("03-x", { ...process.env, GITOPS_SERVER_LAYER: "1" });
    expect(on.server?.promotionFrom).toBe("03-x");
    // Nowhere to be found (no PATH, an empty tool cache): off, rather than a build of minutes.
    const none = { PATH: "/nonexistent", HOME: "/nonexistent", ISTIO_GITOPS_TOOLS_DIR: "/nonexistent" };
    expect(await promotionServerOptions("03-x", none)).toEqual({});
  });

  it("applies the current chapter, dry-runs the next on top, and finds nothing on main", async () => {
    const model = await loadRepoOrThrow(REPO_ROOT);
    const primary = model.clusters.find((c) => c.name === "primary")!;
    const at = model.chapters.findIndex((c) => c.dir === primary.chapter);
    const [from, to] = [model.chapters[at]!, model.chapters[at + 1]!];
    const outcome = await validateStep(REPO_ROOT, {
      clusters: ["primary"],
      chapter: to.dir,
      ...(await promotionServerOptions(from.dir, { ...process.env, GITOPS_SERVER_LAYER: "1" })),
    });
    expect(outcome.mode).toBe("validate");
    expect(
      outcome.errors,
      outcome.findings.map((f) => `${f.file}:${f.line} ${f.rule} ${f.message}`).join("\n"),
    ).toBe(0);
    expect(outcome.notes.join("\n")).toContain(
      `server layer: chapter ${from.dir} applied to a private kube-apiserver`,
    );
    // The server answered: its warnings on the Applications come back as infos.
    expect(outcome.findings.some((f) => f.rule === "server/warning")).toBe(true);
  }, 240_000);
});
