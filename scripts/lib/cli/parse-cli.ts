/** Flag parsing for every CLI: node's parseArgs, strict, with its errors turned into usage errors. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { HelpRequested, UsageError } from "./run-main.ts";

type Parsed<T extends NonNullable<ParseArgsConfig["options"]>> = ReturnType<
  typeof parseArgs<{ options: T; strict: true; allowPositionals: true }>
>;

const HELP_FLAG = { help: { type: "boolean", short: "h", default: false } } as const;

/**
 * `positionals: false` rejects any argument that is not a flag, as parseArgs does by default.
 * `--help`/`-h` is every CLI's: it throws HelpRequested (runMain prints `help`, exit 0), also when
 * other arguments are wrong, so asking for help never fails and never starts any work.
 */
export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(
  options: T,
  help: string,
  { argv = process.argv.slice(2), positionals = true }: { argv?: string[]; positionals?: boolean } = {},
): Parsed<T> {
  const before = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, ...HELP_FLAG },
      allowPositionals: positionals,
      strict: true,
    }) as unknown as Parsed<T>;
  } catch (e) {
    if (before.includes("--help") || before.includes("-h")) throw new HelpRequested(help);
    throw new UsageError(`${(e as Error).message}\n${help}`);
  }
  if ((parsed.values as { help?: boolean }).help) throw new HelpRequested(help);
  return parsed;
}
