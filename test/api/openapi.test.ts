import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { PROBLEM_CODES } from '../../src/api/problems.js';
import { API_ROUTES, type ApiRoute, takesJsonBody } from '../../src/api/routes.js';
import { openApiViolations } from './support/openapi-responses.js';

/**
 * docs/openapi.yaml against the route table (src/api/routes.ts), which the handler tests check
 * against the handlers (every declared status and code produced, none undeclared): so the
 * document, the table and the handlers agree.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCUMENT_PATH = path.join(ROOT, 'docs/openapi.yaml');

type Json = Record<string, unknown>;

async function loadDocument(): Promise<Json> {
  return parse(await readFile(DOCUMENT_PATH, 'utf8')) as Json;
}

/** Follows a local `$ref` (`#/components/...`). */
function resolve(document: Json, node: unknown): Json {
  let current = node as Json;
  for (let hops = 0; typeof current?.$ref === 'string' && hops < 10; hops++) {
    const ref = current.$ref as string;
    if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .reduce<unknown>(
        (value, key) => (value as Json | undefined)?.[key.replaceAll('~1', '/').replaceAll('~0', '~')],
        document,
      ) as Json;
    if (current === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return current;
}

function operationOf(document: Json, route: ApiRoute): Json | undefined {
  const paths = document.paths as Record<string, Json>;
  return paths[route.path]?.[route.method.toLowerCase()] as Json | undefined;
}

/** Every `$ref` string anywhere in the document. */
function refsIn(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refsIn(item, found);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else refsIn(value, found);
    }
  }
  return found;
}

const SECURITY: Record<ApiRoute['auth'], unknown[]> = {
  customer: [{ customerJwt: [] }],
  admin: [{ adminSigV4: [] }],
  none: [],
};

describe('docs/openapi.yaml', () => {
  test('is an OpenAPI 3.1 document', async () => {
    const document = await loadDocument();
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
  });

  test('describes exactly the routes of the route table', async () => {
    const document = await loadDocument();
    const documented: string[] = [];
    for (const [route, item] of Object.entries(document.paths as Record<string, Json>)) {
      for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
        if (item[method]) documented.push(`${method.toUpperCase()} ${route}`);
      }
    }
    expect(documented.sort()).toEqual(API_ROUTES.map((route) => `${route.method} ${route.path}`).sort());
  });

  test.each(
    API_ROUTES.map((route) => [route.operationId, route] as const),
  )('%s: operation id, security and every status and problem code match the route table', async (_, route) => {
    const document = await loadDocument();
    const operation = operationOf(document, route) as Json;

    expect(operation.operationId).toBe(route.operationId);
    expect(operation.security).toEqual(SECURITY[route.auth]);

    // A status both a handler and the gateway answer with documents the codes of both.
    const expected: Record<string, readonly string[]> = { ...route.responses };
    for (const [status, codes] of Object.entries(route.gatewayResponses)) {
      expected[status] = [...new Set([...(expected[status] ?? []), ...codes])];
    }
    const responses = operation.responses as Record<string, unknown>;
    expect(Object.keys(responses).map(Number).sort()).toEqual(Object.keys(expected).map(Number).sort());
    for (const [status, codes] of Object.entries(expected)) {
      const response = resolve(document, responses[status]);
      const content = (response.content ?? {}) as Json;
      if (codes.length === 0) {
        expect(response['x-problem-codes'], `${status} is not a problem`).toBeUndefined();
        expect(Object.keys(content), `${status} content`).toEqual(['application/json']);
      } else {
        expect([...(response['x-problem-codes'] as string[])].sort(), `${status} codes`).toEqual(
          [...codes].sort(),
        );
        expect(Object.keys(content), `${status} content`).toEqual(['application/problem+json']);
        expect(resolve(document, (content['application/problem+json'] as Json).schema)).toBe(
          resolve(document, { $ref: '#/components/schemas/Problem' }),
        );
      }
    }
  });

  test('the request bodies are documented for the routes that take one', async () => {
    const document = await loadDocument();
    for (const route of API_ROUTES) {
      const operation = operationOf(document, route) as Json;
      const takesBody = takesJsonBody(route);
      expect(Boolean(operation.requestBody), route.operationId).toBe(takesBody);
    }
  });

  test('the problem code enum is the service catalogue of codes', async () => {
    const document = await loadDocument();
    const problemCode = resolve(document, { $ref: '#/components/schemas/ProblemCode' });
    expect([...(problemCode.enum as string[])].sort()).toEqual([...PROBLEM_CODES].sort());
  });

  test('every $ref resolves and every security scheme used is defined', async () => {
    const document = await loadDocument();
    for (const ref of refsIn(document)) expect(() => resolve(document, { $ref: ref }), ref).not.toThrow();
    const schemes = Object.keys((document.components as Json).securitySchemes as Json);
    expect(schemes.sort()).toEqual(['adminSigV4', 'customerJwt']);
  });

  test('every handler the route table names is exported by its module', async () => {
    for (const route of API_ROUTES) {
      const module = (await import(pathToFileURL(path.join(ROOT, route.entry)).href)) as Record<
        string,
        unknown
      >;
      expect(typeof module[route.handler], `${route.entry}#${route.handler}`).toBe('function');
    }
  });

  test('the response check every handler test runs (support/coverage.ts) refuses what the document does not say', () => {
    const compensation = {
      compensationId: 'c',
      orderId: '00000000-0000-4000-8000-000000000000',
      status: 'FAILED',
      steps: ['REVERSE_PAYMENT'],
      attempts: 5,
      lastError: null,
      cancellationReason: null,
      correlationId: null,
      providerState: null,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      resolvedAt: null,
      customerId: 'alice',
      owed: { reservedItems: [], storeCreditCents: 0, card: { status: 'NONE', amountCents: 0 } },
    };
    const listing = (item: object) => ({
      statusCode: 200,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ items: [item] }),
    });
    const { providerState: _, ...withoutProviderState } = compensation;

    expect(openApiViolations('listCompensations', listing(compensation))).toEqual([]);
    expect(openApiViolations('listCompensations', listing(withoutProviderState))).toEqual([
      "listCompensations 200: /items/0 must have required property 'providerState'",
    ]);
    expect(openApiViolations('listCompensations', { ...listing(compensation), statusCode: 418 })).toEqual([
      'listCompensations: 418 application/json is not documented',
    ]);
  });

  test('validates against the OpenAPI 3.1 schema', async () => {
    const instance = new Validator();
    const result = await instance.validate(await loadDocument());
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(instance.version).toBe('3.1');
  });
});
