import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../../lib/constructs/checkout-function.js';
import { type SynthesizedCheckout, synthesizeCheckout } from './support/checkout-app.js';
import { resourcesOfType } from './support/template-queries.js';

const RUNBOOKS = path.join(PROJECT_ROOT, 'docs/runbooks');
const runbooks = readdirSync(RUNBOOKS)
  .filter((file) => file.endsWith('.md'))
  .map((file) => ({ file, text: readFileSync(path.join(RUNBOOKS, file), 'utf8') }));
const index = runbooks.find((runbook) => runbook.file === 'README.md')?.text ?? '';

describe('runbooks', () => {
  let checkout: SynthesizedCheckout;
  beforeAll(() => {
    checkout = synthesizeCheckout({
      stage: 'prod',
      bundle: false,
      context: { paymentProviderUrl: 'https://pay.example.com' },
    });
  });

  test('every alarm of the app is in the runbook index, by its construct id', () => {
    const stackName = checkout.stateless.stackName;
    const alarms = [checkout.statefulTemplate, checkout.statelessTemplate].flatMap((template) =>
      resourcesOfType(template, 'AWS::CloudWatch::Alarm'),
    );
    expect(alarms.length).toBeGreaterThan(10);

    const ids = alarms.map((alarm) => {
      const name = String(alarm.Properties.AlarmName);
      expect(name.startsWith(`${stackName}-`), name).toBe(true);
      // <stack>-<Id>, or <stack>-<function>-<ErrorRate|Throttles|NewVersionErrors> written
      // <function>/<kind> in the index.
      return name.slice(stackName.length + 1).replace(/-(ErrorRate|Throttles|NewVersionErrors)$/, '/$1');
    });
    const missing = ids.filter((id) => !index.includes(`\`${id}\``));
    expect(missing).toEqual([]);
  });

  test('every runbook the index names exists, and every alarm row points at one', () => {
    const linked = [...index.matchAll(/\]\(([\w-]+\.md)\)/g)].map((match) => match[1]);
    expect(linked.length).toBeGreaterThan(0);
    for (const file of linked) expect(runbooks.map((r) => r.file)).toContain(file);
  });

  test('the runbook of every alarm that stops a rollout links the rollback runbook', () => {
    const { monitoring } = checkout.stateless;
    const rollbackAlarmRunbooks = [
      'api-errors-and-latency.md',
      'stuck-orders.md',
      'lambda-errors-and-throttles.md',
    ];
    expect(
      monitoring.api5xxRateAlarm && monitoring.apiLatencyAlarm && monitoring.sagaFailuresAlarm,
    ).toBeTruthy();

    for (const file of rollbackAlarmRunbooks) {
      const runbook = runbooks.find((r) => r.file === file);
      expect(runbook?.text, file).toContain('(deploy-rollback.md)');
    }
    expect(index).toContain('[deploy-rollback.md](deploy-rollback.md)');
  });

  test('the npm scripts the runbooks tell you to run exist', () => {
    const scripts = Object.keys(
      (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: object })
        .scripts,
    );
    const used = runbooks.flatMap(({ text }) =>
      [...text.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1] as string),
    );
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((script) => !scripts.includes(script))).toEqual([]);
  });
});
