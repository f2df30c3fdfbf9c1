import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { routeById } from '../../../src/api/routes.js';

/**
 * Checks a response a handler really gave against docs/openapi.yaml: the documented status, its
 * content type, and the body against the response's schema (JSON Schema 2020-12, as OpenAPI 3.1
 * writes it). The route coverage of every handler test calls it on each response it records, so
 * the document is held to the traffic the tests produce, not only to the route table.
 */

type Json = Record<string, unknown>;

const document = parse(
  readFileSync(path.resolve(import.meta.dirname, '../../../docs/openapi.yaml'), 'utf8'),
) as Json;

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (instance: Ajv2020) => void)(ajv);
// The whole document is one schema resource, so `#/components/...` references resolve inside it.
ajv.addSchema({ ...document, $id: 'openapi' }, 'openapi');

function resolve(node: unknown): Json {
  let current = node as Json;
  for (let hops = 0; typeof current?.$ref === 'string' && hops < 10; hops++) {
    current = (current.$ref as string)
      .slice(2)
      .split('/')
      .reduce<unknown>((value, key) => (value as Json)[key.replaceAll('~1', '/')], document) as Json;
  }
  return current;
}

/** A JSON Pointer to the response schema of an operation, status and media type. */
function schemaPointer(operationId: string, status: number, mediaType: string): string | undefined {
  const route = routeById(operationId);
  const paths = document.paths as Record<string, Json>;
  const operation = paths[route.path]?.[route.method.toLowerCase()] as Json | undefined;
  const responses = (operation?.responses ?? {}) as Json;
  const response = responses[String(status)] as Json | undefined;
  if (!response) return undefined;
  const escapePointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');
  const base =
    typeof response.$ref === 'string'
      ? (response.$ref as string).slice(1)
      : `/paths/${escapePointer(route.path)}/${route.method.toLowerCase()}/responses/${status}`;
  const content = (resolve(response).content ?? {}) as Json;
  return content[mediaType] ? `${base}/content/${escapePointer(mediaType)}/schema` : undefined;
}

/** What is wrong with a response of `operationId`, or an empty list when it matches the document. */
export function openApiViolations(
  operationId: string,
  response: { readonly statusCode: number; readonly headers: Record<string, string>; readonly body: string },
): string[] {
  const contentType = (
    Object.entries(response.headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1] ?? ''
  )
    .split(';')[0]
    ?.trim() as string;
  const pointer = schemaPointer(operationId, response.statusCode, contentType);
  if (!pointer) {
    return [`${operationId}: ${response.statusCode} ${contentType} is not documented`];
  }
  const validate = ajv.getSchema(`openapi#${pointer}`);
  if (!validate) return [`${operationId}: no schema at ${pointer}`];
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return [`${operationId}: the body is not JSON`];
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map(
    (error) => `${operationId} ${response.statusCode}: ${error.instancePath || '/'} ${error.message}`,
  );
}
