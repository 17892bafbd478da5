import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const FIXTURES = path.join(REPO_ROOT, "test/fixtures");

/** Copies a fixture folder to a fresh temp dir; returns its path and a cleanup function. */
export async function tempCopy(fixture: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${path.basename(fixture)}-`));
  await cp(path.join(FIXTURES, fixture), dir, { recursive: true });
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
