/**
 * The schema library of every function: zod's functional `zod/mini` API, which tree-shakes, so a
 * bundle carries only the checks it uses (the method-chaining `zod` API ships all of zod in every
 * bundle). Import it as `import * as z from '…/runtime/schema.js'`, never from `zod/mini` directly: `zod/mini` loads no locale, and
 * without English messages every issue would read "Invalid input" instead of what the API answers
 * (docs/openapi.yaml).
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
