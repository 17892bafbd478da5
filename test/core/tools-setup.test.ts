/**
 * The suite's global setup (test/helpers/tools-setup.ts): tools already there cost nothing; a
 * missing one is installed once with progress lines (here a real download of a release-like
 * archive from a loopback server), or, when building is off, one message says what to run.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOL_PINS } from "../../scripts/lib/tools/pins.ts";
import { platformKey } from "../../scripts/lib/tools/resolve.ts";
import { ensureTools, toolsForTests } from "../helpers/tools-setup.ts";

const run = promisify(execFile);

describe("ensureTools (the test suite's global setup)", () => {
  let tmp: string;
  let server: Server;
  let url: string;
  let sha256: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "tools-setup-test-"));
    const staging = path.join(tmp, "staging", platformKey());
    await mkdir(staging, { recursive: true });
    await writeFile(path.join(staging, "helm"), `#!/bin/sh\necho "${TOOL_PINS.helm.version}"\n`);
    await chmod(path.join(staging, "helm"), 0o755);
    await run("tar", ["-czf", path.join(tmp, "helm.tar.gz"), "-C", path.join(tmp, "staging"), platformKey()]);
    const archive = await readFile(path.join(tmp, "helm.tar.gz"));
    sha256 = createHash("sha256").update(archive).digest("hex");
    server = createServer((_req, res) => res.end(archive));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/helm.tar.gz`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(tmp, { recursive: true, force: true });
  });
  // No go and no tools on PATH, an empty tool cache of its own.
  const env = () => ({ PATH: "/nonexistent", HOME: tmp, ISTIO_GITOPS_TOOLS_DIR: path.join(tmp, "cache") });

  it("needs istioctl only under CI (its differential tests skip without it otherwise)", () => {
    expect(toolsForTests({})).not.toContain("istioctl");
    expect(toolsForTests({})).toEqual(
      expect.arrayContaining([
        "helm",
        "helmfile",
        "kubeconform",
        "actionlint",
        "kube-apiserver",
        "etcd",
        "mesh-sim",
      ]),
    );
    expect(toolsForTests({ CI: "true" })).toContain("istioctl");
  });

  it("without building, fails at once with one message naming the tools and the command", async () => {
    const err = (await ensureTools(["helm", "helmfile"], { env: env(), build: false, log: () => {} }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(`helm ${TOOL_PINS.helm.version}, helmfile ${TOOL_PINS.helmfile.version}`);
    expect(err.message).toContain("run `pnpm tools helm helmfile` first");
  });

  it("installs a missing tool once, with progress lines; the second call finds it and says nothing", async () => {
    const pins = { helm: { ...TOOL_PINS.helm, downloads: { [platformKey()]: { url, sha256 } } } };
    const lines: string[] = [];
    const got = await ensureTools(["helm"], { env: env(), pins, log: (l) => lines.push(l) });
    const bin = got.get("helm")!;
    expect(existsSync(bin)).toBe(true);
    expect(bin.startsWith(path.join(tmp, "cache"))).toBe(true);
    expect(lines[0]).toContain(`test setup: installing helm ${TOOL_PINS.helm.version} once`);
    expect(lines.at(-1)).toMatch(new RegExp(`helm ${TOOL_PINS.helm.version}: .*helm \\(\\d+\\.\\ds\\)$`));
    const again: string[] = [];
    expect((await ensureTools(["helm"], { env: env(), pins, log: (l) => again.push(l) })).get("helm")).toBe(
      bin,
    );
    expect(again).toEqual([]);
  });
});
