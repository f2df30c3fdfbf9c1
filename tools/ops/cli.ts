import path from 'node:path';
import { parseArgs } from 'node:util';
import { type CompensationFilter, MAX_REDRIVE_RATE } from './bulk.js';
import {
  type CommandResult,
  listCompensations,
  peekDeadLetters,
  redriveDeadLetters,
  redriveExecution,
  retryCompensation,
  retryMatchingCommand,
  showOrder,
} from './commands.js';
import { serveConsole } from './console/server.js';
import { OpsError } from './errors.js';
import { changeSwitch, isSwitchName, listSwitches, showOperatorLog } from './switch-commands.js';
import { asOpsError, localTarget, type OpsTarget, stageTarget } from './target.js';

export const USAGE = `usage: npm run ops -- <command> [--stage <name>] [--json]

  compensations [filters] [--limit N]     compensations, unresolved first; filters: --status S
                                          (or UNRESOLVED), --step S, --error TEXT,
                                          --older-than MINUTES, --customer ID
  retry <compensationId>                  queue one compensation again
  retry-matching [filters] [--expect N] [--rate R] [--reason "..."]
                                          retry every FAILED compensation the filters match: without
                                          --expect it only counts them; with it, R a second (default 5)
  redrive [--rate N]                      move the compensation DLQ back to its queue, N messages a
                                          second at most, with progress
  console [--port P]                      the web console on 127.0.0.1 (docs/console.md)
  dlq peek [--max N]                      read the DLQ's messages without deleting them
  order <orderId>                         an order's status, saga, compensation and timeline
  redrive-execution <orderId>             Step Functions RedriveExecution of a failed saga (AWS only)
  switch list                             the kill switches: on or off, who changed them, when, why
  switch checkout|worker|jobs off|on [--reason "..."]
                                          stop or resume new checkouts, the compensation worker,
                                          or the sweeper and outbox relay (docs/runbooks/kill-switches.md)
  log [--limit N]                         the operator log: switch changes, redrives, bulk retries

Against the local stack (npm start; LOCAL_DATA_DIR finds it) unless --stage names a deployed
stage, whose stacks are found with CloudFormation using the default AWS credentials and region.`;

/** Where the CLI writes: stdout for results, stderr for errors (and progress with --json). */
export interface OpsIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: OpsIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs one `ops` command and returns the process exit code: 0 done, 1 failed, 2 usage. Errors are
 * one line on stderr, never a stack trace.
 */
export async function runOps(argv: readonly string[], io: OpsIo = consoleIo): Promise<number> {
  let target: OpsTarget | undefined;
  let json = false;
  try {
    const { values, positionals } = parseOptions(argv);
    json = values.json === true;
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const [command, ...rest] = positionals;
    const run = commandOf(command, rest, values);
    target = values.stage
      ? await stageTarget(values.stage)
      : await localTarget(path.resolve(process.env.LOCAL_DATA_DIR ?? '.local-data'));
    const progress = json ? () => {} : io.out;
    const result = await run(target, progress).catch((error: unknown) => {
      throw asOpsError(error, (target as OpsTarget).name);
    });
    if (json) io.out(JSON.stringify(result.json, null, 2));
    else for (const line of result.lines) io.out(line);
    return 0;
  } catch (error) {
    const failure = error instanceof OpsError ? error : asOpsError(error, 'ops');
    if (json) io.err(JSON.stringify({ error: failure.message }));
    else io.err(`ops: ${failure.message}`);
    return failure.exitCode;
  } finally {
    target?.close();
  }
}

type Options = ReturnType<typeof parseOptions>['values'];
type Run = (target: OpsTarget, progress: (line: string) => void) => Promise<CommandResult>;

function parseOptions(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        stage: { type: 'string' },
        json: { type: 'boolean' },
        status: { type: 'string' },
        limit: { type: 'string' },
        max: { type: 'string' },
        reason: { type: 'string' },
        step: { type: 'string' },
        error: { type: 'string' },
        'older-than': { type: 'string' },
        customer: { type: 'string' },
        expect: { type: 'string' },
        rate: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new OpsError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`, 2);
  }
}

/** The compensation filters of the command line, named as the admin API names them. */
function filterOf(options: Options): CompensationFilter {
  return {
    ...(options.status ? { status: options.status } : {}),
    ...(options.step ? { step: options.step } : {}),
    ...(options.error ? { error: options.error } : {}),
    ...(options['older-than'] ? { olderThanMinutes: options['older-than'] } : {}),
    ...(options.customer ? { customerId: options.customer } : {}),
  };
}

function integerOption(name: string, value: string, min: number, max: number): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new OpsError(`${name} must be an integer from ${min} to ${max}, not ${value}`, 2);
  }
  return number;
}

function commandOf(command: string | undefined, args: readonly string[], options: Options): Run {
  const expect = (count: number, what: string) => {
    if (args.length !== count) throw new OpsError(`${command} takes ${what}\n${USAGE}`, 2);
  };
  switch (command) {
    case 'compensations':
      expect(
        0,
        'no arguments (filter with --status S, --step S, --error TEXT, --older-than MIN, --customer ID)',
      );
      return (target) =>
        listCompensations(target, {
          ...filterOf(options),
          ...(options.limit ? { limit: options.limit } : {}),
        });
    case 'retry':
      expect(1, 'one compensation id');
      return (target) => retryCompensation(target, args[0] as string);
    case 'retry-matching': {
      expect(0, 'filters only (--status is always FAILED)');
      const expected =
        options.expect === undefined ? undefined : integerOption('--expect', options.expect, 0, 100);
      const ratePerSecond = integerOption('--rate', options.rate ?? '5', 1, 50);
      const reason = options.reason ?? '';
      return (target, progress) =>
        retryMatchingCommand(
          target,
          {
            filter: filterOf(options),
            ...(expected === undefined ? {} : { expected }),
            ratePerSecond,
            reason,
          },
          progress,
        );
    }
    case 'redrive': {
      expect(0, 'no arguments (--rate N)');
      const ratePerSecond =
        options.rate === undefined ? undefined : integerOption('--rate', options.rate, 1, MAX_REDRIVE_RATE);
      return (target, progress) =>
        redriveDeadLetters(target, progress, {
          ...(ratePerSecond ? { ratePerSecond } : {}),
          reason: options.reason ?? '',
        });
    }
    case 'dlq': {
      if (args.length !== 1 || args[0] !== 'peek')
        throw new OpsError(`dlq has one subcommand: peek\n${USAGE}`, 2);
      const max = Number(options.max ?? '10');
      if (!Number.isInteger(max) || max < 1 || max > 100) {
        throw new OpsError(`--max must be an integer from 1 to 100, not ${options.max}`, 2);
      }
      return (target) => peekDeadLetters(target, { max });
    }
    case 'order':
      expect(1, 'one order id');
      return (target) => showOrder(target, args[0] as string);
    case 'redrive-execution':
      expect(1, 'one order id');
      return (target) => redriveExecution(target, args[0] as string);
    case 'console': {
      expect(0, 'no arguments (--port P)');
      const port = options.port === undefined ? 8787 : integerOption('--port', options.port, 0, 65535);
      return (target, progress) => serveConsole(target, { port, out: progress });
    }
    case 'switch': {
      const [name, value] = args;
      if (args.length === 1 && name === 'list') return (target) => listSwitches(target);
      if (args.length !== 2 || !name || !isSwitchName(name) || (value !== 'on' && value !== 'off')) {
        throw new OpsError(`switch takes list, or checkout|worker|jobs and on|off\n${USAGE}`, 2);
      }
      const reason = options.reason ?? '';
      if (reason.length > 500) throw new OpsError('--reason is at most 500 characters', 2);
      return (target, progress) => changeSwitch(target, { name, value, reason }, progress);
    }
    case 'log': {
      expect(0, 'no arguments (--limit N)');
      const limit = Number(options.limit ?? '20');
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        throw new OpsError(`--limit must be an integer from 1 to 100, not ${options.limit}`, 2);
      }
      return (target) => showOperatorLog(target, limit);
    }
    case undefined:
      throw new OpsError(`a command is needed\n${USAGE}`, 2);
    default:
      throw new OpsError(`unknown command ${command}\n${USAGE}`, 2);
  }
}
