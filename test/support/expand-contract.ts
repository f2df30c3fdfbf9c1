/**
 * The expand/contract rule for migrations (docs/deploy.md, "Migrations that do not break the
 * running release"): a deploy migrates the schema before the new code takes traffic, and the
 * previous release keeps serving during the rollout (and after a rollback), so a migration must
 * not drop or rename what that release uses. Removing something is a separate, later contract
 * step, marked in the migration with a comment naming what it removes:
 *
 *   -- contract: column orders.legacy_status (unused since release 2026-11-30)
 *
 * This module finds the destructive statements of a migration that no such marker names.
 */

/** Migrations before this number were released before the rule (0005 replaced a function signature). */
export const EXPAND_CONTRACT_SINCE = 7;

export type SchemaObjectKind = 'table' | 'view' | 'column' | 'function';

/** A statement that removes or renames something a running release may use. */
export interface DestructiveChange {
  readonly kind: SchemaObjectKind;
  /** `orders`, `orders.status` or `place_order(uuid, text)` as written in the migration. */
  readonly object: string;
  readonly action: 'drop' | 'rename';
}

export interface ExpandContractViolation extends DestructiveChange {
  readonly file: string;
}

const CONTRACT_MARKER = /^\s*--\s*contract:(.*)$/gim;

/** Every drop or rename of a table, view, column or function signature in a migration's SQL. */
export function destructiveChanges(sql: string): DestructiveChange[] {
  const changes: DestructiveChange[] = [];
  for (const statement of statements(sql)) {
    let match = /^drop (table|view|materialized view) (?:if exists )?(.+?)(?: cascade| restrict)?$/.exec(
      statement,
    );
    if (match) {
      const kind = match[1] === 'table' ? 'table' : 'view';
      for (const object of splitTopLevel(match[2] as string)) changes.push({ kind, object, action: 'drop' });
      continue;
    }
    match = /^drop (?:function|procedure) (?:if exists )?(.+?)(?: cascade| restrict)?$/.exec(statement);
    if (match) {
      for (const object of splitTopLevel(match[1] as string)) {
        changes.push({ kind: 'function', object, action: 'drop' });
      }
      continue;
    }
    match = /^alter (?:function|procedure) (.+?\)) (rename to|set schema) /.exec(statement);
    if (match) {
      changes.push({ kind: 'function', object: match[1] as string, action: 'rename' });
      continue;
    }
    match = /^alter table (?:if exists )?(?:only )?([\w.]+) (.+)$/.exec(statement);
    if (match) changes.push(...alterTableChanges(match[1] as string, match[2] as string));
  }
  return changes;
}

function alterTableChanges(table: string, actions: string): DestructiveChange[] {
  const changes: DestructiveChange[] = [];
  for (const action of splitTopLevel(actions)) {
    if (/^(rename to|set schema) /.test(action)) {
      changes.push({ kind: 'table', object: table, action: 'rename' });
      continue;
    }
    const rename = /^rename (?:column )?(\w+) to /.exec(action);
    if (rename && rename[1] !== 'constraint') {
      changes.push({ kind: 'column', object: `${table}.${rename[1]}`, action: 'rename' });
      continue;
    }
    const drop = /^drop (?:column )?(?:if exists )?(\w+)/.exec(action);
    if (drop && !['constraint', 'default', 'not', 'identity', 'expression'].includes(drop[1] as string)) {
      changes.push({ kind: 'column', object: `${table}.${drop[1]}`, action: 'drop' });
    }
  }
  return changes;
}

/**
 * The destructive changes of one migration that no `-- contract:` marker of the same file names
 * (a function by its name, a column as `table.column`, a table or view by its name).
 */
export function expandContractViolations(migration: {
  readonly version: number;
  readonly file: string;
  readonly sql: string;
}): ExpandContractViolation[] {
  if (migration.version < EXPAND_CONTRACT_SINCE) return [];
  const markers = [...migration.sql.matchAll(CONTRACT_MARKER)].map((m) => (m[1] as string).toLowerCase());
  return destructiveChanges(migration.sql)
    .filter((change) => !markers.some((marker) => names(marker, change)))
    .map((change) => ({ ...change, file: migration.file }));
}

/** A human-readable line per violation, saying how to fix it. */
export function describeViolation(violation: ExpandContractViolation): string {
  return (
    `${violation.file}: ${violation.action}s ${violation.kind} ${violation.object}, which the release still ` +
    `running may use. Expand first (add the new ${violation.kind} alongside the old one), and remove the old one ` +
    `in a later migration marked "-- contract: ${violation.kind} ${violation.object}" once no running release uses it.`
  );
}

function names(marker: string, change: DestructiveChange): boolean {
  const name = change.kind === 'function' ? (change.object.split('(')[0] as string).trim() : change.object;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w.])${escaped}($|[^\\w])`).test(marker);
}

/** The statements of a SQL script, lowercased and on one line, without comments, strings and bodies. */
function statements(sql: string): string[] {
  const code = sql
    .replace(/\$(\w*)\$[\s\S]*?\$\1\$/g, "''")
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/"(\w+)"/g, '$1');
  return code
    .split(';')
    .map((statement) => statement.replace(/\s+/g, ' ').trim().toLowerCase())
    .filter((statement) => statement !== '');
}

/** Splits on the commas outside parentheses: `a(x, y), b` → `a(x, y)`, `b`. */
function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of list) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  if (current.trim() !== '') parts.push(current.trim());
  return parts;
}
