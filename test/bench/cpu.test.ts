import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, expect, test, vi } from 'vitest';
import { startCpuMeter } from '../../bench/lib/cpu.js';

/**
 * bench/lib/cpu.ts against real processes: a "stack" Node process whose Node child (a function
 * container) burns CPU, read from /proc by the meter the bench uses.
 */

let stack: ChildProcessWithoutNullStreams | undefined;
afterEach(() => {
  stack?.kill('SIGKILL');
});

/** Everything `process` wrote to stdout so far, kept as it comes. */
function outputOf(process: ChildProcessWithoutNullStreams): () => string {
  let output = '';
  process.stdout.on('data', (chunk) => {
    output += String(chunk);
  });
  return () => output;
}

test.runIf(process.platform === 'linux')(
  "a Node child of the stack counts as a function container, whatever its main thread's name",
  async () => {
    // The child burns 200 ms of its own CPU once told to, then stays alive (an ended process's
    // times are gone from /proc) until killed.
    const child = `
      process.stdin.once('data', () => {
        const start = process.cpuUsage();
        while (process.cpuUsage(start).user < 200_000);
        console.log('burnt');
      });`;
    stack = spawn(process.execPath, [
      '-e',
      `const c = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(child)}], { stdio: ['pipe', 'pipe', 'inherit'] });
       c.stdout.pipe(process.stdout);
       process.stdin.pipe(c.stdin);
       console.log('child ' + c.pid);`,
    ]);
    const output = outputOf(stack);
    await vi.waitFor(() => expect(output()).toMatch(/^child \d+/m), { timeout: 30_000 });

    const meter = await startCpuMeter({ pid: stack.pid });
    stack.stdin.write('go\n');
    await vi.waitFor(() => expect(output()).toMatch(/^burnt/m), { timeout: 30_000 });
    const use = await meter.stop();
    stack.kill('SIGKILL');
    await once(stack, 'exit');

    expect(use?.functions).toBeGreaterThan(0);
    expect(use?.otherChildren).toBe(0);
    expect(use?.postgres).toBe(0);
  },
);
