/**
 * Interrupt safety for promote and rollback: Ctrl-C, SIGTERM or a closed terminal while a change is
 * in progress must leave the clone and origin exactly as they were.
 *
 * The rules, and why:
 *  - A signal only records itself and starts the undo; it never exits in the middle of a write.
 *    Writes (every git command of the command's Git, the file writes) go through `write()`: the undo
 *    waits until the writes in flight have finished (a half-written `.rendered.new-*` folder or a
 *    held index.lock would defeat it), and a write that has not started yet never starts.
 *  - Reads (rendering, validation) are not waited for: they change nothing in the tree.
 *  - The main flow, once interrupted, stops at its next write (that promise never settles), so the
 *    undo has a single owner and nothing races it.
 *  - Undo steps are registered before the write they undo and are each idempotent and tolerant of
 *    "not done yet" (deleting a branch that was never created fails quietly).
 * The CLIs run through `node scripts/launch.mjs` (package.json), so the process that owns the undo
 * is the one that receives the signal: tsx's parent would kill it about 60 ms after relaying one.
 */
import type { Log } from "./workspace.ts";

export type Undo = () => Promise<void>;

const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** The exit code a shell reports for a process ended by the signal (128 + number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : signal === "SIGHUP" ? 129 : 143;
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

export class ChangeGuard {
  private signal: NodeJS.Signals | undefined;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private readonly undos: Array<{ what: string; run: Undo }> = [];
  private readonly handler = (signal: NodeJS.Signals) => this.onSignal(signal);
  private finished = false;

  constructor(
    private readonly log: Log,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {
    for (const s of SIGNALS) process.on(s, this.handler);
  }

  get interrupted(): boolean {
    return this.signal !== undefined;
  }

  /** Registers an undo step; steps run newest first. Register before the write it undoes. */
  onUndo(what: string, run: Undo): void {
    this.undos.push({ what, run });
  }

  /**
   * Runs a write. Once a signal has arrived it is not started, and one in flight is finished and
   * its result swallowed: in both cases the returned promise never settles (the undo takes over).
   */
  async write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.signal) return never<T>();
    this.inFlight++;
    let result: T | undefined;
    let error: unknown;
    let failed = false;
    try {
      result = await fn();
    } catch (e) {
      failed = true;
      error = e;
    } finally {
      this.inFlight--;
    }
    if (this.signal) {
      if (this.inFlight === 0) this.drained?.();
      return never<T>();
    }
    if (failed) throw error;
    return result as T;
  }

  /** The command is done (or failed on its own): signals get their default meaning again. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const s of SIGNALS) process.off(s, this.handler);
  }

  private onSignal(signal: NodeJS.Signals): void {
    // A repeated Ctrl-C (the terminal and a relaying parent both send one) must not start a
    // second undo or fall back to the default action halfway through the first.
    if (this.signal) return;
    this.signal = signal;
    this.log(`${signal}: undoing the change in progress ...`);
    void (async () => {
      if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      for (const step of [...this.undos].reverse()) {
        try {
          await step.run();
        } catch (e) {
          this.log(`warning: could not ${step.what} while undoing: ${(e as Error).message}`);
        }
      }
      this.log(`${signal}: undone; nothing was changed`);
      this.exit(signalExitCode(signal));
    })();
  }
}
