'use strict';
/**
 * A coverage reporter (istanbul's report interface, which the v8 provider of vitest drives) that
 * prints one summary line per part of the repository: the product that AWS runs and the tooling
 * around it, so the tooling's numbers never blur the product's (docs/testing.md, "Coverage").
 * CommonJS because istanbul loads custom reporters with `require`.
 */
const path = require('node:path');
const { ReportBase } = require('istanbul-lib-report');

const METRICS = ['lines', 'branches', 'functions', 'statements'];

class PartsSummaryReport extends ReportBase {
  /** @param {{ parts: Record<string, string[]>, projectRoot: string }} options */
  constructor(options) {
    super({ summarizer: 'flat' });
    this.parts = Object.entries(options.parts);
    this.projectRoot = options.projectRoot;
    /** @type {Map<string, Record<string, { covered: number, total: number }>>} */
    this.totals = new Map(this.parts.map(([name]) => [name, emptyTotals()]));
  }

  onDetail(node) {
    const file = path.relative(this.projectRoot, node.getFileCoverage().path).split(path.sep).join('/');
    const part = this.parts.find(([, folders]) => folders.some((folder) => file.startsWith(`${folder}/`)));
    if (!part) return;
    const totals = this.totals.get(part[0]);
    const summary = node.getCoverageSummary();
    for (const metric of METRICS) {
      totals[metric].covered += summary[metric].covered;
      totals[metric].total += summary[metric].total;
    }
  }

  onEnd(_root, context) {
    const writer = context.writer.writeFile(null);
    writer.println('');
    writer.println('Coverage by part');
    for (const [name, folders] of this.parts) {
      const totals = this.totals.get(name);
      const figures = METRICS.map((metric) => `${metric} ${percent(totals[metric])}`).join(', ');
      writer.println(`  ${name} (${folders.join(', ')}): ${figures}`);
    }
    writer.close();
  }
}

function emptyTotals() {
  return Object.fromEntries(METRICS.map((metric) => [metric, { covered: 0, total: 0 }]));
}

function percent({ covered, total }) {
  if (total === 0) return '100 % (0/0)';
  return `${(Math.floor((covered / total) * 10_000) / 100).toFixed(2)} % (${covered}/${total})`;
}

module.exports = PartsSummaryReport;
