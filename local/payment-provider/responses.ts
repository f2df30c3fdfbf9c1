import type * as z from '../../src/runtime/schema.js';

/** A framework-free HTTP answer of the simulated provider. */
export interface ApiResponse {
  status: number;
  contentType: 'application/json' | 'application/problem+json';
  body: unknown;
}

/** RFC 9457 problem body, as the rest of the service answers (docs/openapi.yaml). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: Array<{ field: string; message: string }>;
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function json(status: number, body: unknown): ApiResponse {
  return { status, contentType: 'application/json', body };
}

export function problem(
  status: number,
  code: string,
  detail: string,
  errors?: Problem['errors'],
): ApiResponse {
  const body: Problem = {
    type: `urn:simulated-payment-provider:problem:${code.toLowerCase().replaceAll('_', '-')}`,
    title: titles[status] ?? 'Error',
    status,
    detail,
    code,
    ...(errors ? { errors } : {}),
  };
  return { status, contentType: 'application/problem+json', body };
}

/** 400 with one entry per invalid field; never echoes internals. */
export function validationProblem(error: z.core.$ZodError, what: string): ApiResponse {
  const errors = error.issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
  return problem(400, 'VALIDATION_FAILED', `${what} is invalid`, errors);
}
