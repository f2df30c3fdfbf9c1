import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Stack traces of a bundled function that point at the TypeScript sources, as
 * `--enable-source-maps` makes them, with the source map read the first time a stack is formatted
 * instead of when the bundle loads: Node's flag parses the whole map at every cold start, about
 * 10 ms of INIT for the checkout function, paid even by containers that never format a stack
 * (docs/adr/0028-source-maps-read-when-a-stack-is-formatted.md).
 *
 * `moduleUrl` is the calling module's `import.meta.url`: in a Lambda bundle, the bundle itself,
 * with its map beside it (`index.mjs.map`). Anywhere without that file (the sources run by tsx or
 * the test runner) this does nothing. Frames of other files keep V8's own text; a frame the map
 * has no entry for, or a map that cannot be read, leaves the frame as V8 wrote it.
 */
export function sourceMappedStackTraces(moduleUrl: string): void {
  if (!moduleUrl.startsWith('file:')) return;
  const mapFile = `${fileURLToPath(moduleUrl)}.map`;
  if (!existsSync(mapFile)) return;

  let map: SourceMap | null | undefined;
  const sourceMap = (): SourceMap | null => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')));
      } catch {
        map = null;
      }
    }
    return map;
  };
  const mapUrl = `${moduleUrl}.map`;

  const frame = (site: NodeJS.CallSite): string => {
    const text = String(site);
    const file = site.getFileName();
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (file !== moduleUrl || line === null || column === null) return text;
    try {
      const entry = sourceMap()?.findEntry(line - 1, column - 1);
      if (!entry || !('originalSource' in entry)) return text;
      const source = new URL(entry.originalSource, mapUrl).href;
      return text.replace(
        `${file}:${line}:${column}`,
        `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`,
      );
    } catch {
      return text;
    }
  };

  Error.prepareStackTrace = (error: unknown, sites: NodeJS.CallSite[]) => {
    let header: string;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = 'Error';
    }
    return header + sites.map((site) => `\n    at ${frame(site)}`).join('');
  };
}
