/** Shared bits of the gitops CLIs: the `<cluster>` + flags shape, and the repository root from cwd. */
import type { ParseArgsConfig } from "node:util";
import { parseCli } from "../cli/parse-cli.ts";
import { UsageError } from "../cli/run-main.ts";
import { Git } from "./git.ts";

/**
 * The common shape of promote, rollback, tag and history: `<cluster>` plus flags. --help is
 * parseCli's (runMain prints the usage).
 */
export function parseClusterCli<T extends NonNullable<ParseArgsConfig["options"]>>(
  options: T,
  help: string,
  argv = process.argv.slice(2),
) {
  const { values, positionals } = parseCli(options, help, { argv });
  if (positionals.length !== 1) throw new UsageError(`name one cluster\n${help}`);
  return { cluster: positionals[0]!, values };
}

/** The root of the git work tree that holds the current directory. */
export async function repoRootFromCwd(cwd = process.cwd()): Promise<string> {
  const root = await new Git(cwd).try(["rev-parse", "--show-toplevel"]);
  if (!root) throw new UsageError(`${cwd} is not inside a git repository`);
  return root;
}

export function progress(line: string): void {
  console.error(line);
}
