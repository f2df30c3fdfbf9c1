import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Stack traces of a bundled function that point at the TypeScript sources, as
 * `--enable-source-maps` makes them, with each source map read the first time a stack needs it
 * instead of when its bundle loads: Node's flag reads the whole map at every cold start, about
 * 11 ms of INIT for the checkout function, paid even by containers that never format a stack
 * (docs/adr/0028-source-maps-read-when-a-stack-is-formatted.md).
 *
 * `moduleUrl` is the calling module's `import.meta.url`: in a Lambda bundle, the bundle itself,
 * with its map beside it (`index.mjs.map`). Anywhere without that file (the sources run
 * unbundled) this does nothing. Once installed, a frame of any file with a map beside it is
 * mapped, as the flag maps them; every other frame, a frame the map has no entry for, and one
 * whose map cannot be read keep V8's own text.
 */
export function sourceMappedStackTraces(moduleUrl: string): void {
  if (!moduleUrl.startsWith('file:') || !existsSync(`${fileURLToPath(moduleUrl)}.map`)) return;

  const maps = new Map<string, SourceMap | null>();
  const sourceMapOf = (fileUrl: string): SourceMap | null => {
    let map = maps.get(fileUrl);
    if (map === undefined) {
      try {
        const mapFile = `${fileURLToPath(fileUrl)}.map`;
        map = existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : null;
      } catch {
        map = null;
      }
      maps.set(fileUrl, map);
    }
    return map;
  };

  const frame = (site: NodeJS.CallSite): string => {
    const text = String(site);
    const file = site.getFileName();
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (!file?.startsWith('file:') || line === null || column === null) return text;
    try {
      const entry = sourceMapOf(file)?.findEntry(line - 1, column - 1);
      if (!entry || !('originalSource' in entry)) return text;
      const source = new URL(entry.originalSource, `${file}.map`).href;
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
