/** Progress lines on stderr, so stdout stays clean for whoever pipes the bench. */
export interface Progress {
  /** A step begins or ends: one line. */
  step(message: string): void;
  /** A counter inside a long step; printed at most every `intervalMs`. */
  tick(label: string, done: number, total: number): void;
  /** A status line inside a long wait; printed at most every `intervalMs`. */
  note(message: string): void;
}

export function createProgress(options: { quiet?: boolean; intervalMs?: number } = {}): Progress {
  const started = performance.now();
  const intervalMs = options.intervalMs ?? 2000;
  let lastTick = 0;
  let lastNote = 0;
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s`;
  const write = (line: string) => {
    if (!options.quiet) process.stderr.write(`[bench ${elapsed()}] ${line}\n`);
  };
  return {
    step: write,
    tick(label, done, total) {
      const now = performance.now();
      if (done < total && now - lastTick < intervalMs) return;
      lastTick = now;
      write(`  ${label}: ${done}/${total}`);
    },
    note(message) {
      const now = performance.now();
      if (now - lastNote < intervalMs) return;
      lastNote = now;
      write(`  ${message}`);
    },
  };
}
