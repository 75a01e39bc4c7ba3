import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// @ts-expect-error plain CommonJS without types: node runs it before any loader
import { createBundler, describe as describeError } from './cli-bundle';

interface Bundler {
  freshBundle(): Promise<string>;
}

// A project of its own: entry, imports, a folder import that a new file can shadow.
let root: string;
let bundler: Bundler;
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
};
const run = async (file: string): Promise<string> => ((await import(file)) as { main(): string }).main();

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'cli-bundle-'));
  write('package.json', '{"name":"fixture","private":true}');
  write('src/main.ts', "import { a } from './a';\nimport { b } from './b';\nexport function main(): string { return `${a} ${b} ${__dirname}`; }\n");
  write('src/a.ts', "export const a: string = 'a1';\n");
  write('src/b/index.ts', "export const b = 'b-folder';\n");
  bundler = createBundler({ root, entry: path.join(root, 'src/main.ts'), cache: path.join(root, 'dist/bundle') }) as Bundler;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('the dmarc bundle', () => {
  it('is built once, reused while nothing changed, and names the source folder as __dirname', async () => {
    const file = await bundler.freshBundle();
    const latest = readFileSync(path.join(root, 'dist/bundle/latest.json'), 'utf8');
    expect(await run(file)).toBe(`a1 b-folder ${path.join(root, 'src')}`);
    expect(await bundler.freshBundle()).toBe(file);
    expect(readFileSync(path.join(root, 'dist/bundle/latest.json'), 'utf8')).toBe(latest);
  }, 30_000);

  it('is rebuilt when a source changes, even to the same size', async () => {
    const first = await bundler.freshBundle();
    write('src/a.ts', "export const a: string = 'a2';\n");
    const second = await bundler.freshBundle();
    expect(second).not.toBe(first);
    expect(await run(second)).toMatch(/^a2 /);
  }, 30_000);

  it('is rebuilt when a new file changes what an import resolves to', async () => {
    await bundler.freshBundle();
    write('src/b.ts', "export const b = 'b-file';\n");
    expect(await run(await bundler.freshBundle())).toMatch(/^a1 b-file /);
  }, 30_000);

  it('is refused with the place of a syntax error', async () => {
    write('src/a.ts', 'export const = ;\n');
    const err = await bundler.freshBundle().catch((e: unknown) => e);
    expect(describeError(err)).toMatch(/^src\/a\.ts:1: /);
  }, 30_000);
});
