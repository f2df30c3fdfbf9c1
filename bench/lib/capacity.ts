import type { CostResult } from '../scenarios/cost.js';
import { type CostBreakdown, type Prices, standardCost } from './cost.js';
import { postgresCpuPerCheckout } from './database-cost.js';
import { round } from './stats.js';

/** bench/capacity-inputs.json: AWS's quotas and the instance prices, dated, with their sources. */
export interface CapacityInputs {
  readonly date: string;
  readonly sources: Readonly<Record<string, string>>;
  readonly regions: readonly {
    readonly name: string;
    readonly startExecutionPerSecond: number;
    readonly startExecutionBucket: number;
    readonly stateTransitionsPerSecond: number;
  }[];
  readonly lambdaConcurrency: number;
  readonly apiGatewayRequestsPerSecond: number;
  /** The share of the database's CPU a sustained rate may use (headroom for bursts and failover). */
  readonly databaseCpuTarget: number;
  /** Assumed latency of one payment provider call in AWS (the local simulator's is about 1 ms). */
  readonly providerCallMs: number;
  readonly providerCallsPerCheckout: number;
  readonly rdsProxyPerVcpuHour: number;
  readonly instances: readonly {
    readonly class: string;
    readonly vcpu: number;
    readonly multiAzPerHour: number;
  }[];
}

export interface Limit {
  readonly name: string;
  readonly checkoutsPerSecond: number;
}

export interface CapacityRow {
  readonly instanceClass: string;
  readonly vcpu: number;
  readonly databaseLimit: number;
  /** Per region class: the sustained rate and the limit that binds it. */
  readonly regions: readonly {
    readonly region: string;
    readonly sustained: number;
    readonly binding: string;
  }[];
  /** The instance and its proxy per million checkouts, at the sustained rate of the first region class. */
  readonly databaseDollarsPerMillion: number;
}

export interface CapacityModel {
  readonly databaseCpuMsPerCheckout: number;
  /** Which measurement the database figure is: every PostgreSQL process, or the application's backends. */
  readonly databaseCpuSource: string;
  /** Seconds of Lambda time per checkout in AWS: measured billed duration plus the provider's assumed latency. */
  readonly lambdaSecondsPerCheckout: number;
  /** Limits that do not depend on the instance, per region class. */
  readonly serviceLimits: readonly { readonly region: string; readonly limits: readonly Limit[] }[];
  readonly rows: readonly CapacityRow[];
  /** The services' bill per million checkouts, provider wait included in Lambda's duration. */
  readonly services: CostBreakdown;
}

/**
 * The capacity of one deployment from one run's measured costs per checkout (docs/capacity.md):
 * what the database carries per instance class at the target CPU, what each AWS quota carries,
 * which binds first, and the bill per million checkouts. Pure: the inputs are the run's cost
 * scenario, the quotas and the prices.
 */
export function capacityModel(cost: CostResult, inputs: CapacityInputs, prices: Prices): CapacityModel {
  const database = cost.happy.database;
  const measured = postgresCpuPerCheckout(database);
  if (measured === undefined || measured <= 0) {
    throw new Error(
      "the run has no PostgreSQL CPU per checkout: run it on the bench's own stack (npm run bench:cost)",
    );
  }
  const usage = cost.happy.usage;
  const providerSeconds = (inputs.providerCallsPerCheckout * inputs.providerCallMs) / 1000;
  const lambdaSecondsPerCheckout = usage.lambdaBilledMs / 1000 + providerSeconds;
  const serviceLimits = inputs.regions.map((region) => ({
    region: region.name,
    limits: [
      { name: 'StartExecution quota', checkoutsPerSecond: region.startExecutionPerSecond / usage.executions },
      {
        name: 'state-transition quota',
        checkoutsPerSecond: region.stateTransitionsPerSecond / usage.stateTransitions,
      },
      { name: 'Lambda concurrency', checkoutsPerSecond: inputs.lambdaConcurrency / lambdaSecondsPerCheckout },
      {
        name: 'API Gateway account rate',
        checkoutsPerSecond: inputs.apiGatewayRequestsPerSecond / usage.apiRequests,
      },
    ].map((limit) => ({ ...limit, checkoutsPerSecond: round(limit.checkoutsPerSecond, 0) })),
  }));
  const rows = inputs.instances.map((instance) => {
    const databaseLimit = (instance.vcpu * inputs.databaseCpuTarget * 1000) / measured;
    const hourly = instance.multiAzPerHour + instance.vcpu * inputs.rdsProxyPerVcpuHour;
    const regions = serviceLimits.map(({ region, limits }) => {
      const all = [{ name: 'database CPU', checkoutsPerSecond: databaseLimit }, ...limits];
      const binding = all.reduce((low, limit) =>
        limit.checkoutsPerSecond < low.checkoutsPerSecond ? limit : low,
      );
      return { region, sustained: round(binding.checkoutsPerSecond, 0), binding: binding.name };
    });
    const sustained = regions[0]?.sustained ?? databaseLimit;
    return {
      instanceClass: instance.class,
      vcpu: instance.vcpu,
      databaseLimit: round(databaseLimit, 0),
      regions,
      databaseDollarsPerMillion: round((hourly / (sustained * 3600)) * 1_000_000, 2),
    };
  });
  const withProviderWait = {
    ...usage,
    lambdaGbSeconds: usage.lambdaGbSeconds + providerSeconds * (cost.memoryMb / 1024),
  };
  return {
    databaseCpuMsPerCheckout: measured,
    databaseCpuSource: database?.processes
      ? "every PostgreSQL process but the bench's own backends, scheduler time, steady state"
      : database?.cpu.allPostgresMs !== undefined
        ? "every PostgreSQL process but the bench's own backends"
        : "the application role's backends",
    lambdaSecondsPerCheckout: round(lambdaSecondsPerCheckout, 4),
    serviceLimits,
    rows,
    services: standardCost(withProviderWait, prices),
  };
}

/** The model as the Markdown docs/capacity.md carries between its table markers. */
export function capacityMarkdown(
  model: CapacityModel,
  run: {
    readonly label: string;
    readonly cost: CostResult;
    readonly inputs: CapacityInputs;
    readonly prices: Prices;
  },
): string[] {
  const { cost, inputs, prices } = run;
  const db = cost.happy.database;
  const usage = cost.happy.usage;
  const machine = db?.machine;
  return [
    `Generated by \`npm run capacity\` from ${run.label}` +
      (machine
        ? ` (load average ${machine.loadAverageBefore} → ${machine.loadAverageAfter}: ${machine.quiet ? 'a quiet machine' : '**a loaded machine, so the CPU figure is an upper bound**'})`
        : '') +
      `; quotas and instance prices of ${inputs.date} (bench/capacity-inputs.json), service prices of ${prices.date} (bench/prices.json).`,
    '',
    '**Measured inputs, per settled happy card checkout**',
    '',
    '| input | value |',
    '|---|---:|',
    `| PostgreSQL CPU (${model.databaseCpuSource}) | ${model.databaseCpuMsPerCheckout} ms |`,
    ...(db ? [`| database round trips (top-level statements) | ${db.roundTripsPerCheckout} |`] : []),
    ...(db?.reference.backendCpuUs
      ? [
          `| single-statement reference (\`select 1\`, backend CPU per round trip, same run) | ${db.reference.backendCpuUs} µs |`,
        ]
      : []),
    `| Step Functions executions / state transitions | ${usage.executions} / ${usage.stateTransitions} |`,
    `| Lambda invocations / billed duration (local) | ${usage.lambdaInvocations} / ${usage.lambdaBilledMs} ms |`,
    `| Lambda time in AWS (billed + ${inputs.providerCallsPerCheckout} provider calls × ${inputs.providerCallMs} ms assumed) | ${round(model.lambdaSecondsPerCheckout * 1000, 1)} ms |`,
    `| API requests / DynamoDB writes, reads / SQS requests / events | ${usage.apiRequests} / ${usage.dynamodbWrites}, ${usage.dynamodbReads} / ${usage.sqsRequests} / ${usage.events} |`,
    '',
    "**The handlers' own CPU per happy checkout** (measured inside each container around the handler; billed duration as the local runtime timed it, waits on the stand-ins included)",
    '',
    '| function | invocations | handler CPU (ms) | billed duration (ms) |',
    '|---|---:|---:|---:|',
    ...Object.entries(usage.lambda)
      .sort(([, a], [, b]) => (b.cpuMs ?? 0) - (a.cpuMs ?? 0))
      .map(
        ([name, fn]) =>
          `| ${name} | ${fn.invocations} | ${fn.cpuMs === undefined ? 'n/a' : round(fn.cpuMs, 2)} | ${fn.billedMs} |`,
      ),
    `| **per checkout** | ${usage.lambdaInvocations} | **${usage.handlerCpuMs ?? 'n/a'}** | ${usage.lambdaBilledMs} |`,
    ...(cost.happy.containerCpuMs
      ? [
          '',
          `The containers' whole CPU in the same window was ${cost.happy.containerCpuMs} ms per checkout: the rest is the local runtime (IPC, serialisation), which Lambda does not bill.`,
        ]
      : []),
    '',
    `**Sustained checkouts/s per database instance class** (database at ${inputs.databaseCpuTarget * 100} % CPU; every other limit at its default quota)`,
    '',
    `| instance (Multi-AZ) | vCPU | database alone | ${inputs.regions.map((r) => `${r.name}: sustained, binding limit`).join(' | ')} | instance + proxy per million checkouts, at the sustained rate of ${inputs.regions[0]?.name} |`,
    `|---|---:|---:|${inputs.regions.map(() => '---').join('|')}|---:|`,
    ...model.rows.map(
      (row) =>
        `| ${row.instanceClass} | ${row.vcpu} | ${row.databaseLimit} | ${row.regions
          .map((r) => `${r.sustained} (${r.binding})`)
          .join(' | ')} | $${row.databaseDollarsPerMillion} |`,
    ),
    '',
    '**The other limits, checkouts/s at the default quotas**',
    '',
    `| limit | ${model.serviceLimits.map((r) => r.region).join(' | ')} |`,
    `|---|${model.serviceLimits.map(() => '---:').join('|')}|`,
    ...(model.serviceLimits[0]?.limits ?? []).map(
      (limit, i) =>
        `| ${limit.name} | ${model.serviceLimits.map((r) => r.limits[i]?.checkoutsPerSecond ?? '–').join(' | ')} |`,
    ),
    '',
    '**Cost per million happy card checkouts by component** (services at list price; the database at its sustained rate in the first region class)',
    '',
    '| component | quantity per checkout | $ per million checkouts |',
    '|---|---:|---:|',
    ...model.services.lines.map(
      (line) => `| ${line.item} | ${line.quantity} | $${line.dollarsPerMillionCheckouts} |`,
    ),
    `| **services** | | **$${model.services.totalPerMillionCheckouts}** |`,
    ...model.rows
      .slice(0, 1)
      .map(
        (row) =>
          `| ${row.instanceClass} Multi-AZ + RDS Proxy at ${row.regions[0]?.sustained} checkouts/s | | $${row.databaseDollarsPerMillion} |`,
      ),
  ];
}

export const TABLE_START = '<!-- capacity-table:start (npm run capacity writes this section) -->';
export const TABLE_END = '<!-- capacity-table:end -->';

/** `document` with the section between the table markers replaced by `table`. */
export function replaceTable(document: string, table: readonly string[]): string {
  const start = document.indexOf(TABLE_START);
  const end = document.indexOf(TABLE_END);
  if (start === -1 || end < start) throw new Error('the document has no capacity table markers');
  return `${document.slice(0, start + TABLE_START.length)}\n${table.join('\n')}\n${document.slice(end)}`;
}
