/** Flag parsing for every CLI: node's parseArgs, strict, with its errors turned into usage errors. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./run-main.ts";

type Parsed<T extends NonNullable<ParseArgsConfig["options"]>> = ReturnType<
  typeof parseArgs<{ options: T; strict: true; allowPositionals: true }>
>;

/** `positionals: false` rejects any argument that is not a flag, as parseArgs does by default. */
export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(
  options: T,
  help: string,
  { argv = process.argv.slice(2), positionals = true }: { argv?: string[]; positionals?: boolean } = {},
): Parsed<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true }) as Parsed<T>;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${help}`);
  }
}
