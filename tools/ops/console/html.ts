/**
 * HTML for the operator console (docs/console.md): escaped by construction. `html` is a tagged
 * template whose interpolations are escaped unless they are {@link Html} (another `html` result),
 * so a value from the API or the queue can never become markup.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char] as string);
}

type Part = Html | string | number | null | undefined | false | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0] ?? '';
  parts.forEach((part, i) => {
    out += render(part) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** "3 min", "2 h 5 min", "4 d": how long ago `iso` was. */
export function age(iso: string, now = Date.now()): string {
  const minutes = Math.max(0, Math.floor((now - Date.parse(iso)) / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d`;
}

export function cents(amount: number, currency = ''): string {
  return `${(amount / 100).toFixed(2)}${currency ? ` ${currency}` : ''}`;
}

/** The console's one stylesheet: readable, high contrast, visible focus, no framework. */
export const STYLESHEET = `
:root { font-family: system-ui, sans-serif; color: #111; background: #fff; line-height: 1.4; }
body { margin: 0 auto; max-width: 80rem; padding: 0 1rem 2rem; }
header { border-bottom: 2px solid #333; margin-bottom: 1rem; }
nav ul { display: flex; gap: 1.5rem; list-style: none; padding: 0; margin: .75rem 0; }
nav a[aria-current="page"] { font-weight: bold; text-decoration: none; border-bottom: 3px solid #0645ad; }
.attention { display: flex; flex-wrap: wrap; gap: 1rem; margin: .5rem 0 1rem; padding: .5rem .75rem; background: #f3f3f3; }
.attention .bad { color: #8a1111; font-weight: bold; }
a { color: #0645ad; }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f90; outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: bold; padding: .25rem 0; }
th, td { border-bottom: 1px solid #ccc; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
form.inline { display: inline; }
fieldset { border: 1px solid #bbb; margin: 0 0 1rem; }
.fields { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; }
label { display: flex; flex-direction: column; font-size: .9rem; }
button { font: inherit; padding: .3rem .8rem; cursor: pointer; }
button.danger { background: #8a1111; color: #fff; border: 1px solid #5a0b0b; }
.notice { padding: .5rem .75rem; background: #e6f4ea; border-left: 4px solid #1e7b34; }
.error { padding: .5rem .75rem; background: #fdecea; border-left: 4px solid #8a1111; }
.status-RESOLVED { color: #1e7b34; font-weight: bold; }
.status-FAILED { color: #8a1111; font-weight: bold; }
.off { color: #8a1111; font-weight: bold; }
progress { width: 20rem; height: 1.2rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: bold; }
`;

/**
 * The only script: on a task's page, polls the task and updates its progress bar and status line
 * (announced politely to screen readers); without script the page refreshes itself instead.
 */
export const SCRIPT = `
const task = document.querySelector('[data-task]');
if (task) {
  const bar = document.getElementById('task-progress');
  const status = document.getElementById('task-status');
  const poll = async () => {
    const response = await fetch(task.dataset.task, { headers: { accept: 'application/json' } });
    const state = await response.json();
    if (state.total !== null) { bar.max = state.total; bar.value = state.done; }
    status.textContent = state.summary;
    if (state.status === 'RUNNING') setTimeout(poll, 1000);
    else document.getElementById('task-done').hidden = false;
  };
  setTimeout(poll, 1000);
}
`;
