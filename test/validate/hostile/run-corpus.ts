/**
 * Runs the hostile corpus in its own process (so that the watching test can kill it should a case
 * hang the event loop), one JSON line per case start and end:
 *   {"case": name, "start": true}
 *   {"case": name, "ms": 12, "findings": [...]}    or    {"case": name, "ms": 12, "error": ..., "kind": ...}
 * Usage: node --import tsx test/validate/hostile/run-corpus.ts <temp dir> [case name filter]
 */
import { FindingsError } from "../../../scripts/lib/findings.ts";
import { RefusalError, UsageError } from "../../../scripts/lib/cli/run-main.ts";
import { corpus } from "./corpus.ts";

const [tmp, only] = process.argv.slice(2);
if (!tmp) throw new Error("usage: run-corpus.ts <temp dir> [filter]");

for (const c of corpus(tmp)) {
  if (only && !c.name.includes(only)) continue;
  console.log(JSON.stringify({ case: c.name, start: true }));
  const started = performance.now();
  try {
    let findings;
    try {
      ({ findings } = await c.run());
    } catch (e) {
      // Findings thrown (the repository does not load) are findings like any other.
      if (!(e instanceof FindingsError)) throw e;
      findings = e.findings;
    }
    const ms = Math.round(performance.now() - started);
    console.log(
      JSON.stringify({
        case: c.name,
        ms,
        findings: findings.map((f) => ({
          rule: f.rule,
          file: f.file,
          line: f.line,
          column: f.column,
          message: f.message.slice(0, 300),
        })),
      }),
    );
  } catch (e) {
    const ms = Math.round(performance.now() - started);
    // A clear error: one the CLIs turn into a message a person can act on (findings, a refusal,
    // a usage error); anything else (TypeError, RangeError, ELOOP...) is a crash.
    const clear = e instanceof FindingsError || e instanceof RefusalError || e instanceof UsageError;
    console.log(
      JSON.stringify({
        case: c.name,
        ms,
        error: (e as Error).message?.slice(0, 500) ?? String(e),
        kind: clear ? "clear" : "crash",
        stack: clear ? undefined : (e as Error).stack?.split("\n").slice(0, 6).join("\n"),
      }),
    );
  }
}
console.log(JSON.stringify({ done: true }));
