import type { LatencySummary } from './stats.js';

/** One latency series of the chart. */
export interface ChartSeries {
  readonly label: string;
  readonly summary: LatencySummary;
  /** `[percentile, ms]` pairs, as `distribution()` makes them. */
  readonly distribution: readonly [number, number][];
}

const WIDTH = 960;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];
const BAR_PERCENTILES = [
  ['p50', '#9ecae1'],
  ['p95', '#4292c6'],
  ['p99', '#08519c'],
] as const;

/**
 * A self-contained SVG (no script, no external font) of the latency distributions: grouped bars of
 * p50/p95/p99 per series on top, percentile curves below with the x axis in "nines" (50, 90, 99,
 * 99.9), the way HdrHistogram plots them, so the tail is as wide as the median. A dashed line
 * marks `targetMs` on both.
 */
export function latencyChart(series: readonly ChartSeries[], options: { title: string; targetMs?: number }) {
  const parts: string[] = [];
  const barsTop = 60;
  const barsHeight = 230;
  const curvesTop = barsTop + barsHeight + 110;
  const curvesHeight = 260;
  // Room for the legend: one entry per series and one for the target, three to a row.
  const height = curvesTop + curvesHeight + 50 + Math.ceil((series.length + 1) / 3) * 20;
  const left = 70;
  const plotWidth = WIDTH - left - 30;

  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(options.title)}</text>`,
  );

  // Top: grouped bars.
  const barMax = niceCeil(Math.max(options.targetMs ?? 0, ...series.map((s) => s.summary.p99)));
  const yBar = (ms: number) => barsTop + barsHeight - (ms / barMax) * barsHeight;
  parts.push(...yAxis(left, plotWidth, barsTop, barsHeight, barMax, yBar));
  const group = plotWidth / Math.max(1, series.length);
  const barWidth = Math.min(28, (group - 16) / BAR_PERCENTILES.length);
  series.forEach((s, i) => {
    const x0 = left + i * group + (group - barWidth * BAR_PERCENTILES.length) / 2;
    BAR_PERCENTILES.forEach(([key, color], j) => {
      const value = s.summary[key];
      const x = x0 + j * barWidth;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${yBar(value).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(barsTop + barsHeight - yBar(value)).toFixed(1)}" fill="${color}"><title>${escapeXml(`${s.label} ${key}: ${value} ms`)}</title></rect>`,
        `<text x="${(x + barWidth / 2 - 1).toFixed(1)}" y="${(yBar(value) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${Math.round(value)}</text>`,
      );
    });
    parts.push(...wrapLabel(s.label, left + i * group + group / 2, barsTop + barsHeight + 16));
  });
  BAR_PERCENTILES.forEach(([key, color], j) => {
    const x = left + plotWidth - 150 + j * 50;
    parts.push(
      `<rect x="${x}" y="${barsTop - 22}" width="12" height="12" fill="${color}"/>`,
      `<text x="${x + 16}" y="${barsTop - 12}">${key}</text>`,
    );
  });
  if (options.targetMs) {
    parts.push(
      targetLine(
        left,
        plotWidth,
        yBar(options.targetMs),
        options.targetMs,
        left + plotWidth - 280,
        barsTop - 12,
      ),
    );
  }
  parts.push(`<text x="${left}" y="${barsTop - 12}" font-weight="bold">p50 / p95 / p99 (ms)</text>`);

  // Bottom: percentile curves.
  const curveMax = niceCeil(
    Math.max(
      options.targetMs ?? 0,
      ...series.flatMap((s) => s.distribution.filter(([p]) => p < 100).map(([, ms]) => ms)),
    ),
  );
  const maxNines = 3;
  const xOf = (p: number) => left + (Math.min(maxNines, -Math.log10(1 - p / 100)) / maxNines) * plotWidth;
  const yCurve = (ms: number) => curvesTop + curvesHeight - (ms / curveMax) * curvesHeight;
  parts.push(
    `<text x="${left}" y="${curvesTop - 12}" font-weight="bold">Latency by percentile (ms); x axis in nines</text>`,
    ...yAxis(left, plotWidth, curvesTop, curvesHeight, curveMax, yCurve),
  );
  for (const p of [0, 50, 90, 99, 99.9]) {
    const x = xOf(p);
    parts.push(
      `<line x1="${x.toFixed(1)}" y1="${curvesTop}" x2="${x.toFixed(1)}" y2="${curvesTop + curvesHeight}" stroke="#eeeeee"/>`,
      `<text x="${x.toFixed(1)}" y="${curvesTop + curvesHeight + 16}" text-anchor="middle">p${p}</text>`,
    );
  }
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    const points = s.distribution
      .filter(([p, ms]) => p < 100 && Number.isFinite(ms))
      .map(([p, ms]) => `${xOf(p).toFixed(1)},${yCurve(ms).toFixed(1)}`);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const lx = left + (i % 3) * (plotWidth / 3);
    const ly = curvesTop + curvesHeight + 40 + Math.floor(i / 3) * 20;
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${lx + 26}" y="${ly}">${escapeXml(s.label)}</text>`,
    );
  });
  if (options.targetMs) {
    const slot = series.length;
    const legendX = left + (slot % 3) * (plotWidth / 3);
    const legendY = curvesTop + curvesHeight + 40 + Math.floor(slot / 3) * 20;
    parts.push(targetLine(left, plotWidth, yCurve(options.targetMs), options.targetMs, legendX, legendY));
  }

  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function yAxis(
  left: number,
  width: number,
  top: number,
  height: number,
  max: number,
  y: (ms: number) => number,
) {
  const lines = [
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + height}" stroke="#333333"/>`,
    `<line x1="${left}" y1="${top + height}" x2="${left + width}" y2="${top + height}" stroke="#333333"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const value = (max / 5) * i;
    lines.push(
      `<line x1="${left}" y1="${y(value).toFixed(1)}" x2="${left + width}" y2="${y(value).toFixed(1)}" stroke="#eeeeee"/>`,
      `<text x="${left - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${formatMs(value)}</text>`,
    );
  }
  return lines;
}

/** The dashed target line across a panel, and its legend entry at (legendX, legendY). */
function targetLine(left: number, width: number, y: number, ms: number, legendX: number, legendY: number) {
  return [
    `<line x1="${left}" y1="${y.toFixed(1)}" x2="${left + width}" y2="${y.toFixed(1)}" stroke="#d62728" stroke-dasharray="6 4"/>`,
    `<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 20}" y2="${legendY - 4}" stroke="#d62728" stroke-dasharray="6 4"/>`,
    `<text x="${legendX + 26}" y="${legendY}" fill="#d62728">target ${ms} ms</text>`,
  ].join('\n');
}

/** Puts each comma-separated part of a label on its own line under its bar group. */
function wrapLabel(label: string, x: number, y: number): string[] {
  return label
    .split(', ')
    .map(
      (line, i) =>
        `<text x="${x.toFixed(1)}" y="${y + i * 14}" text-anchor="middle">${escapeXml(line)}</text>`,
    );
}

/** A round axis maximum at or above `value` (1, 1.5, 2, 3, 4, 5, 6 or 8 times a power of ten). */
function niceCeil(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 3, 4, 5, 6, 8, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function formatMs(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(value % 1000 === 0 ? 0 : 1)} s` : `${Math.round(value)}`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
