import { COMPENSATION_STATUSES } from '../../../src/db/compensations.js';
import { COMPENSATION_STEPS } from '../../../src/saga/steps.js';
import type { Attention, CompensationFilter, CompensationItem } from '../bulk.js';
import { describeFilter } from '../bulk.js';
import type { OperatorLogEntry } from '../operator-log.js';
import type { SwitchView } from '../switches.js';
import { age, cents, Html, html } from './html.js';

/** What every page needs besides its content. */
export interface PageContext {
  readonly target: string;
  readonly csrf: string;
  /** Undefined when it could not be read: the page says so rather than failing. */
  readonly attention: Attention | undefined;
  readonly notice?: string;
  readonly error?: string;
}

type Section = 'compensations' | 'order' | 'switches';

export function layout(context: PageContext, section: Section, title: string, body: Html): string {
  const link = (href: string, name: Section, label: string) =>
    html`<li><a href="${href}"${name === section ? new Html(' aria-current="page"') : ''}>${label}</a></li>`;
  return `<!doctype html>${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · checkout ops · ${context.target}</title>
<link rel="stylesheet" href="/console.css">
<script src="/console.js" defer></script>
</head>
<body>
<header>
<nav aria-label="Console"><ul>
${link('/compensations', 'compensations', 'Failed compensations')}
${link('/orders', 'order', 'Order')}
${link('/switches', 'switches', 'Switches')}
<li>${context.target}</li>
</ul></nav>
${attentionBar(context.attention)}
</header>
<main>
<h1>${title}</h1>
${context.notice ? html`<p class="notice" role="status">${context.notice}</p>` : ''}
${context.error ? html`<p class="error" role="alert">${context.error}</p>` : ''}
${body}
</main>
</body>
</html>`}`;
}

function attentionBar(attention: Attention | undefined): Html {
  if (!attention) {
    return html`<section class="attention" aria-label="Needs attention"><span class="bad">Could not read what needs attention.</span></section>`;
  }
  const oldest = attention.oldestUnresolved;
  return html`<section class="attention" aria-label="Needs attention">
<span${attention.dlqDepth > 0 ? new Html(' class="bad"') : ''}>DLQ: ${attention.dlqDepth} message(s)</span>
<span${attention.unresolvedCount > 0 ? new Html(' class="bad"') : ''}>Unresolved compensations: ${attention.unresolvedCount >= 100 ? '100 or more' : attention.unresolvedCount}${oldest ? html`, oldest <a href="/orders/${oldest.orderId}">${oldest.orderId}</a> (${age(oldest.createdAt)} old)` : ''}</span>
<span${attention.switchesOff.length > 0 ? new Html(' class="bad"') : ''}>Switches off: ${attention.switchesOff.length > 0 ? html`<a href="/switches">${attention.switchesOff.join(', ')}</a>` : 'none'}</span>
</section>`;
}

const hidden = (name: string, value: string) => html`<input type="hidden" name="${name}" value="${value}">`;

function filterFields(filter: CompensationFilter): Html {
  const option = (value: string, current: string | undefined, label = value) =>
    html`<option value="${value}"${value === (current ?? '') ? new Html(' selected') : ''}>${label}</option>`;
  return html`<div class="fields">
<label>Status<select name="status">${option('', filter.status, 'any')}${option('UNRESOLVED', filter.status?.toUpperCase(), 'unresolved')}${COMPENSATION_STATUSES.map((status) => option(status, filter.status?.toUpperCase()))}</select></label>
<label>Step left<select name="step">${option('', filter.step, 'any')}${COMPENSATION_STEPS.map((step) => option(step, filter.step?.toUpperCase()))}</select></label>
<label>Error contains<input name="error" value="${filter.error ?? ''}" maxlength="200"></label>
<label>Older than (minutes)<input name="olderThanMinutes" type="number" min="0" value="${filter.olderThanMinutes ?? ''}"></label>
<label>Customer<input name="customerId" value="${filter.customerId ?? ''}"></label>
</div>`;
}

export function compensationsPage(
  context: PageContext,
  filter: CompensationFilter,
  items: readonly CompensationItem[],
): string {
  const query = new URLSearchParams(
    Object.entries(filter).filter(([, value]) => value) as [string, string][],
  );
  const rows = items.map(
    (item) => html`<tr>
<td><a href="/orders/${item.orderId}">${item.orderId}</a></td>
<td>${item.customerId}</td>
<td class="status-${item.status}">${item.status}</td>
<td>${item.steps.join(', ')}</td>
<td>${item.lastError ?? ''}</td>
<td>${item.attempts}</td>
<td>${age(item.createdAt)}</td>
<td>${item.status === 'FAILED' ? 'yes' : 'no'}</td>
<td>${owedSummary(item.owed)}</td>
<td>${
      item.status === 'RESOLVED'
        ? 'resolved'
        : html`<form class="inline" method="post" action="/compensations/retry">${hidden('csrf', context.csrf)}${hidden('compensationId', item.compensationId)}${hidden('returnTo', `/compensations?${query}`)}<button type="submit" aria-label="Retry compensation of order ${item.orderId}">Retry</button></form>`
    }</td>
</tr>`,
  );
  return layout(
    context,
    'compensations',
    'Failed compensations',
    html`<form method="get" action="/compensations" aria-label="Filter compensations">
<fieldset><legend>Filter</legend>${filterFields(filter)}
<p><button type="submit">Apply filter</button>
<button type="submit" formaction="/compensations/retry-matching">Retry all matching…</button></p></fieldset>
</form>
<form method="get" action="/dlq/redrive" aria-label="Redrive the DLQ">
<fieldset><legend>Dead-letter queue</legend><div class="fields">
<label>Messages per second<input name="rate" type="number" min="1" max="500" value="1" required></label>
<button type="submit">Redrive DLQ…</button></div></fieldset>
</form>
<table>
<caption>${items.length >= 100 ? 'The first 100' : items.length} compensation(s), unresolved first (${describeFilter(filter)})</caption>
<thead><tr><th scope="col">Order</th><th scope="col">Customer</th><th scope="col">Status</th><th scope="col">Steps left</th><th scope="col">Last error</th><th scope="col">Attempts</th><th scope="col">Age</th><th scope="col">In DLQ</th><th scope="col">Customer is owed</th><th scope="col">Action</th></tr></thead>
<tbody>${rows}</tbody>
</table>`,
  );
}

function owedSummary(owed: CompensationItem['owed']): string {
  const parts = [
    ...owed.reservedItems.map((item) => `${item.quantity} × ${item.sku} reserved`),
    ...(owed.storeCreditCents > 0 ? [`${cents(owed.storeCreditCents)} store credit`] : []),
    ...(owed.card.status !== 'NONE'
      ? [`card ${owed.card.status.toLowerCase()} ${cents(owed.card.amountCents)}`]
      : []),
  ];
  return parts.length > 0 ? parts.join('; ') : 'nothing';
}

/** The count confirmation of a bulk action: what it will touch, then one button. */
export function confirmPage(
  context: PageContext,
  confirm: {
    readonly title: string;
    readonly summary: string;
    readonly action: string;
    readonly fields: Readonly<Record<string, string>>;
    readonly items: readonly string[];
    readonly rateLabel: string;
    readonly rate: string;
    readonly button: string;
  },
): string {
  return layout(
    context,
    'compensations',
    confirm.title,
    html`<p>${confirm.summary}</p>
${confirm.items.length > 0 ? html`<ul>${confirm.items.map((item) => html`<li>${item}</li>`)}</ul>` : ''}
<form method="post" action="${confirm.action}">
${hidden('csrf', context.csrf)}${Object.entries(confirm.fields).map(([name, value]) => hidden(name, value))}
<div class="fields">
<label>${confirm.rateLabel}<input name="rate" type="number" min="1" value="${confirm.rate}" required></label>
<label>Reason (recorded in the operator log)<input name="reason" maxlength="500"></label>
<button type="submit" class="danger">${confirm.button}</button>
</div>
</form>
<p><a href="/compensations">Cancel</a></p>`,
  );
}

export interface TaskView {
  readonly id: string;
  readonly title: string;
  readonly status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  readonly done: number;
  readonly total: number | null;
  readonly summary: string;
}

export function taskPage(context: PageContext, task: TaskView): string {
  const running = task.status === 'RUNNING';
  return layout(
    context,
    'compensations',
    task.title,
    html`<div data-task="/tasks/${task.id}.json">
${running ? html`<noscript><meta http-equiv="refresh" content="1"></noscript>` : ''}
<label>Progress <progress id="task-progress" ${task.total === null ? '' : new Html(`max="${task.total}" value="${task.done}"`)}>${task.done}</progress></label>
<p id="task-status" role="status" aria-live="polite">${task.summary}</p>
<p id="task-done"${running ? new Html(' hidden') : ''}><a href="/compensations">Back to the failed compensations</a></p>
</div>`,
  );
}

/** `GET /v1/admin/orders/{orderId}` as the API returns it. */
export interface AdminOrder {
  readonly orderId: string;
  readonly status: string;
  readonly customerId: string;
  readonly currency: string;
  readonly totalCents: number;
  readonly storeCreditCents: number;
  readonly chargeCents: number;
  readonly cancellationReason?: string | null;
  readonly payment: { status: string };
  readonly saga: { status: string };
  readonly owed: CompensationItem['owed'];
  readonly compensation: {
    compensationId: string;
    status: string;
    attempts: number;
    steps: string[];
    lastError: string | null;
    providerState: unknown;
  } | null;
  readonly events: readonly { type: string; at: string; detail: Record<string, unknown> }[];
}

export function orderLookupPage(context: PageContext): string {
  return layout(
    context,
    'order',
    'Order',
    html`<form method="get" action="/orders"><div class="fields">
<label>Order id<input name="orderId" required pattern="[0-9a-fA-F-]{36}" size="40"></label>
<button type="submit">Show order</button></div></form>`,
  );
}

export function orderPage(
  context: PageContext,
  order: AdminOrder,
  saga: { readonly consoleUrl?: string; readonly redrivable: boolean },
): string {
  const compensation = order.compensation;
  return layout(
    context,
    'order',
    `Order ${order.orderId}`,
    html`<dl>
<dt>Status</dt><dd class="status-${order.status}">${order.status}${order.cancellationReason ? ` (${order.cancellationReason})` : ''}</dd>
<dt>Customer</dt><dd>${order.customerId}</dd>
<dt>Amounts</dt><dd>total ${cents(order.totalCents, order.currency)}, store credit ${cents(order.storeCreditCents, order.currency)}, card ${cents(order.chargeCents, order.currency)}</dd>
<dt>Payment</dt><dd>${order.payment.status}</dd>
<dt>Saga</dt><dd>${order.saga.status}${saga.consoleUrl ? html` · <a href="${saga.consoleUrl}">execution in the Step Functions console</a>` : ''}</dd>
<dt>Customer is owed</dt><dd>${owedSummary(order.owed)}</dd>
<dt>Compensation</dt><dd>${
      compensation
        ? html`<span class="status-${compensation.status}">${compensation.status}</span> after ${compensation.attempts} attempt(s); steps ${compensation.steps.join(', ')}${compensation.lastError ? html`; last error: ${compensation.lastError}` : ''}${compensation.providerState ? html`; the provider reports ${JSON.stringify(compensation.providerState)}` : ''}`
        : 'none'
    }</dd>
</dl>
${
  compensation && compensation.status !== 'RESOLVED'
    ? html`<form method="post" action="/compensations/retry">${hidden('csrf', context.csrf)}${hidden('compensationId', compensation.compensationId)}${hidden('returnTo', `/orders/${order.orderId}`)}<button type="submit">Retry compensation</button></form>`
    : ''
}
${
  saga.redrivable
    ? html`<form method="post" action="/orders/${order.orderId}/redrive-execution">${hidden('csrf', context.csrf)}<button type="submit">Redrive execution</button></form>`
    : ''
}
<table><caption>Timeline</caption>
<thead><tr><th scope="col">At</th><th scope="col">Event</th><th scope="col">Detail</th></tr></thead>
<tbody>${order.events.map((event) => html`<tr><td>${event.at}</td><td>${event.type}</td><td>${Object.keys(event.detail).length > 0 ? JSON.stringify(event.detail) : ''}</td></tr>`)}</tbody>
</table>`,
  );
}

export function switchesPage(
  context: PageContext,
  switches: readonly SwitchView[],
  log: readonly OperatorLogEntry[],
): string {
  const rows = switches.map((view) => {
    const next = view.state === 'on' ? 'off' : 'on';
    return html`<tr>
<th scope="row">${view.name}</th>
<td class="${view.state === 'on' ? '' : 'off'}">${view.state}${view.unrecorded ? ' (not recorded)' : ''}</td>
<td>${view.effect}</td>
<td>${view.changedBy ?? 'never changed'}</td>
<td>${view.changedAt ?? ''}</td>
<td>${view.reason ?? ''}</td>
<td><form method="post" action="/switches">${hidden('csrf', context.csrf)}${hidden('name', view.name)}${hidden('value', next)}
<label>Reason<input name="reason" maxlength="500"></label>
<button type="submit"${next === 'off' ? new Html(' class="danger"') : ''}>Turn ${view.name} ${next}</button></form></td>
</tr>`;
  });
  return layout(
    context,
    'switches',
    'Switches',
    html`<table><caption>Kill switches</caption>
<thead><tr><th scope="col">Switch</th><th scope="col">State</th><th scope="col">Controls</th><th scope="col">Changed by</th><th scope="col">When</th><th scope="col">Why</th><th scope="col">Change</th></tr></thead>
<tbody>${rows}</tbody></table>
<table><caption>Operator log (newest first)</caption>
<thead><tr><th scope="col">At</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Detail</th><th scope="col">Why</th></tr></thead>
<tbody>${log.map(
      (entry) =>
        html`<tr><td>${entry.at}</td><td>${entry.by}</td><td>${entry.action}</td><td>${Object.entries(
          entry.detail,
        )
          .map(([key, value]) => `${key}=${value}`)
          .join(' ')}</td><td>${entry.reason}</td></tr>`,
    )}</tbody></table>`,
  );
}

export function errorPage(context: PageContext, section: Section, message: string): string {
  return layout(
    { ...context, error: message },
    section,
    'Something went wrong',
    html`<p><a href="/compensations">Back to the failed compensations</a></p>`,
  );
}
