/**
 * The shared CLI parser owns --help (issue 16): every CLI built on parseCli answers --help and -h
 * with its usage (HelpRequested, printed by runMain with exit 0), even next to a wrong flag, and
 * without a help branch of its own; after `--` it is an ordinary argument.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parseCli } from "../../scripts/lib/cli/parse-cli.ts";
import { HelpRequested, UsageError } from "../../scripts/lib/cli/run-main.ts";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const USAGE = "usage: x [--n N]";
const options = { n: { type: "string" } } as const;
const parse = (argv: string[]) => () => parseCli(options, USAGE, { argv });

describe("parseCli and --help", () => {
  it("throws HelpRequested with the usage for --help and -h, also beside a wrong flag", () => {
    for (const argv of [["--help"], ["-h"], ["--n", "1", "--help"], ["--bogus", "--help"]]) {
      const e = (() => {
        try {
          parse(argv)();
        } catch (err) {
          return err;
        }
      })();
      expect(e, argv.join(" ")).toBeInstanceOf(HelpRequested);
      expect((e as HelpRequested).usage).toBe(USAGE);
    }
  });

  it("parses normally otherwise: a wrong flag is a usage error, `--` ends the flags", () => {
    expect(parse(["--n", "3"])().values.n).toBe("3");
    expect(parse(["--bogus"])).toThrow(UsageError);
    expect(parse(["--", "--help"])().positionals).toEqual(["--help"]);
  });

  it("a CLI prints the usage on stdout and exits 0 through runMain (pnpm tools -h --bogus)", async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      [
        path.join(ROOT, "node_modules/tsx/dist/cli.mjs"),
        path.join(ROOT, "scripts/tools.ts"),
        "-h",
        "--bogus",
      ],
      { cwd: ROOT },
    );
    expect(stdout).toMatch(/^usage: pnpm tools/);
    expect(stderr).toBe("");
  });
});
