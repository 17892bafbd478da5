/** Shared bits of the gitops CLIs: flag parsing with usage errors, and the repository root from cwd. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../cli/run-main.ts";
import { Git } from "./git.ts";

export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(
  options: T,
  help: string,
  argv = process.argv.slice(2),
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${help}`);
  }
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
