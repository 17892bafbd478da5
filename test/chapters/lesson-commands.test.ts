/**
 * What a newcomer types from the lessons, checked over all of them without rendering anything:
 * local ports of `kubectl port-forward` mean one thing across the workshop (Argo CD and the portal
 * never share one), every http://localhost:PORT a lesson opens is forwarded (or is `pnpm dev`'s
 * portal), chapter 00 says how to log in to Argo CD, and a chapter.yaml snippet names its file.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const lessons = readdirSync(path.join(ROOT, "chapters"), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
  .map((dir) => ({ dir, text: readFileSync(path.join(ROOT, "chapters", dir, "README.md"), "utf8") }));
/** `pnpm dev` serves the portal on DEV_BASE_PORT, 8080 by default (scripts/dev.ts). */
const DEV_PORTAL_PORT = 8080;

interface Forward {
  dir: string;
  target: string;
  local: number;
}

function forwards(dir: string, text: string): Forward[] {
  return [...text.matchAll(/kubectl\s+-n\s+(\S+)\s+port-forward\s+(\S+)\s+(\d+):(\d+)/g)].map((m) => ({
    dir,
    target: `${m[1]}/${m[2]}`,
    local: Number(m[3]),
  }));
}

describe("the lessons' commands", () => {
  const all = lessons.flatMap(({ dir, text }) => forwards(dir, text));

  it("forward each local port to one service across all lessons", () => {
    expect(all.length).toBeGreaterThan(5);
    const byPort = new Map<number, Set<string>>();
    for (const f of all) byPort.set(f.local, (byPort.get(f.local) ?? new Set()).add(f.target));
    for (const [port, targets] of byPort)
      expect([...targets], `local port ${port} is used for ${[...targets].join(" and ")}`).toHaveLength(1);
  });

  it("keep Argo CD off the portal's port (the one pnpm dev uses too)", () => {
    const argocd = all.filter((f) => f.target.startsWith("argocd/"));
    const portal = all.filter((f) => f.target.endsWith("svc/frontend-portal"));
    expect(argocd.length).toBeGreaterThan(0);
    expect(portal.length).toBeGreaterThan(0);
    for (const p of portal) expect(p.local, p.dir).toBe(DEV_PORTAL_PORT);
    for (const a of argocd) expect(a.local, a.dir).not.toBe(DEV_PORTAL_PORT);
  });

  it("open only forwarded local ports (or pnpm dev's portal)", () => {
    const forwarded = new Set([...all.map((f) => f.local), DEV_PORTAL_PORT]);
    for (const { dir, text } of lessons)
      for (const m of text.matchAll(/https?:\/\/localhost:(\d+)/g))
        expect(forwarded.has(Number(m[1])), `${dir}: ${m[0]} is not port-forwarded in any lesson`).toBe(true);
  });

  it("chapter 00 shows how to get Argo CD's admin password", () => {
    const text = lessons.find((l) => l.dir.startsWith("00-"))!.text;
    expect(text).toMatch(
      /kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='\{\.data\.password\}' \| base64 -d/,
    );
    expect(text).toMatch(/as `admin`/);
  });

  it("chapter 10's blue/green snippet says which file it edits, and that file exists", () => {
    const text = lessons.find((l) => l.dir.startsWith("10-"))!.text;
    const block = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .find((b) => b.includes("cut over to green"));
    expect(block).toBeDefined();
    const named = /^# (chapters\/\S+\/chapter\.yaml)$/m.exec(block!)?.[1];
    expect(named, "the snippet's first line names the file").toBe(
      "chapters/10-traffic-splitting-advanced/chapter.yaml",
    );
    expect(existsSync(path.join(ROOT, named!))).toBe(true);
  });
});
