/**
 * The shared tail of every CLI: run the main function, print errors the way a person can act on,
 * and set the exit code (0 ok, 1 findings or refusal, 2 usage or internal error).
 */
import { FindingsError, formatFindingLine } from "../findings.ts";
import { ToolError } from "../tools/resolve.ts";
import { UnreachableError } from "../net/reachable.ts";

export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * `--help` or `-h` (parseCli throws it before any other work): runMain prints the usage on stdout
 * and exits 0, so no CLI needs its own help branch.
 */
export class HelpRequested extends Error {
  override name = "HelpRequested";
  constructor(readonly usage: string) {
    super("help requested");
  }
}

/** A refusal the user can fix (dirty tree, unknown tag, ...): exit 1 with the message alone. */
export class RefusalError extends Error {
  override name = "RefusalError";
}

export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (e: unknown) => {
      if (e instanceof HelpRequested) {
        console.log(e.usage);
        process.exitCode = 0;
      } else if (e instanceof FindingsError) {
        for (const f of e.findings) console.error(formatFindingLine(f));
        process.exitCode = 1;
      } else if (e instanceof RefusalError) {
        console.error(`refused: ${e.message}`);
        process.exitCode = 1;
      } else if (e instanceof UsageError) {
        console.error(`usage error: ${e.message}`);
        process.exitCode = 2;
      } else if (e instanceof UnreachableError) {
        console.error(e.message);
        process.exitCode = 2;
      } else if (e instanceof ToolError) {
        console.error(`${e.tool} ${e.version}: ${e.message}`);
        process.exitCode = 2;
      } else {
        console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
        process.exitCode = 2;
      }
    },
  );
}
