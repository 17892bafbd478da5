/** vitest globalSetup: the pinned tools, once per run, before the first test (tools-setup.ts). */
import { ensureTools, toolsForTests } from "./tools-setup.ts";

export default async function setup(): Promise<void> {
  await ensureTools(toolsForTests(process.env), { build: process.env.ISTIO_GITOPS_TEST_BUILD !== "0" });
}
