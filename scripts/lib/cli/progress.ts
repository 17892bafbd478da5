/**
 * Progress of long steps on stderr: a step says what it does once it has run for two seconds, and
 * how far it is every two seconds after that; a shown step says when it is done. Shorter steps say
 * nothing, so a warm run prints no progress at all. Lines, not carriage returns: the same output
 * reads well in a terminal and in a CI log. The CLI enables it only when stderr is a terminal or
 * --progress is given; it never writes to stdout, where json/sarif/junit go.
 */

export interface ProgressStep {
  /** `done` of `total` (or one more when omitted). */
  tick(done?: number): void;
  end(): void;
}

export interface Progress {
  start(what: string, total?: number): ProgressStep;
}

export const NO_PROGRESS: Progress = { start: () => ({ tick() {}, end() {} }) };

export interface ProgressOptions {
  write?: (line: string) => void;
  /** A step is shown once it has run this long (VALIDATE_PROGRESS_AFTER_MS overrides; 0: always). */
  afterMs?: number;
  everyMs?: number;
}

export function stderrProgress(o: ProgressOptions = {}): Progress {
  const write = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const afterMs = o.afterMs ?? 2000;
  const everyMs = o.everyMs ?? 2000;
  return {
    start(what, total) {
      const t0 = performance.now();
      let done = 0;
      let shown = false;
      let last = -1;
      const secs = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
      const show = () => {
        if (shown && done === last) return;
        shown = true;
        last = done;
        write(`progress: ${what}${total !== undefined ? `: ${done}/${total}` : ""} (${secs()})`);
      };
      let interval: NodeJS.Timeout | undefined;
      const begin = () => {
        show();
        interval = setInterval(show, everyMs);
        interval.unref();
      };
      // 0 shows the step at once (a step finished within one tick would never see a timer fire).
      const first = afterMs > 0 ? setTimeout(begin, afterMs) : undefined;
      first?.unref();
      if (!first) begin();
      return {
        tick(n) {
          done = n ?? done + 1;
        },
        end() {
          clearTimeout(first);
          if (interval) clearInterval(interval);
          if (shown) write(`progress: ${what}: done in ${secs()}`);
        },
      };
    },
  };
}
