import type { Tracer } from '@aws-lambda-powertools/tracer';
import { readGroup } from '../config/declarations.js';
import { lambda, powertools } from '../config/variables.js';

/**
 * X-Ray tracing through Powertools Tracer, kept out of the way: the Tracer is built only inside
 * Lambda with tracing on (`POWERTOOLS_TRACE_ENABLED` not `false`). Locally and in tests there is
 * none, and every helper below hands back what it was given: no segment, no wrapper, no cost per
 * call.
 *
 * Traced: the AWS SDK clients ({@link tracedClient}), the provider's HTTP calls (the Tracer records
 * `fetch` by itself) and the database calls, one subsegment per store method
 * ({@link tracedMethods}). Each subsegment carries the invocation's annotations ({@link annotate}):
 * the correlation id and, where there is one, the order id, so X-Ray can find every trace of an order.
 */

const { functionName } = readGroup(lambda, process.env);
const { traceEnabled, serviceName } = readGroup(powertools, process.env);

/**
 * Imported only when tracing: importing the X-Ray SDK that Tracer is built on installs an async
 * hook (cls-hooked) on the whole process, which makes every promise several times dearer whether
 * or not anything is traced (aws/aws-xray-sdk-node#420). docs/PERFORMANCE.md measures it.
 */
const tracer: Tracer | undefined =
  functionName !== undefined && traceEnabled
    ? new (await import('@aws-lambda-powertools/tracer')).Tracer({ serviceName })
    : undefined;
const annotations = new Map<string, string>();

/** Annotates every subsegment of this invocation from now on (the last value of a key wins). */
export function annotate(values: Readonly<Record<string, string | undefined>>): void {
  if (!tracer) return;
  for (const [key, value] of Object.entries(values)) if (value !== undefined) annotations.set(key, value);
}

/** Forgets the annotations of the previous invocation; call first in each invocation. */
export function clearAnnotations(): void {
  annotations.clear();
}

/** An AWS SDK v3 client whose calls are recorded as subsegments (the client itself when not tracing). */
export function tracedClient<T>(client: T): T {
  return tracer?.captureAWSv3Client(client) ?? client;
}

/** Runs `work` in a subsegment `name`, annotated, recording its error. */
export function traced<T>(name: string, work: () => T): T {
  const parent = tracer?.getSegment();
  if (!tracer || !parent) return work();
  const subsegment = parent.addNewSubsegment(name);
  for (const [key, value] of annotations) subsegment.addAnnotation(key, value);
  const end = (error?: unknown) => {
    if (error !== undefined) subsegment.addError(error as Error);
    subsegment.close();
    tracer.setSegment(parent);
  };
  // Current while `work` runs, so what it calls (fetch, SDK clients) nests under it.
  tracer.setSegment(subsegment);
  let result: T;
  try {
    result = work();
  } catch (error) {
    end(error);
    throw error;
  }
  if (!(result instanceof Promise)) {
    end();
    return result;
  }
  return result.then(
    (value) => {
      end();
      return value;
    },
    (error: unknown) => {
      end(error);
      throw error;
    },
  ) as T;
}

/**
 * The object with each of its methods traced as `<label>.<method>`: for the stores (one
 * subsegment per database call) and the payment gateway. Without tracing, the object itself.
 */
export function tracedMethods<T extends object>(target: T, label: string): T {
  if (!tracer) return target;
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => traced(`${label}.${property}`, () => value.apply(object, args));
    },
  });
}
