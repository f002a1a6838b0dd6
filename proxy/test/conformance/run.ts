/**
 * Runs the `@modelcontextprotocol/conformance` server suite against our fixture server twice per
 * protocol revision — directly, and through a proxy in sidecar mode — and compares the outcomes check by
 * check. `npm run conformance` writes `results.json` and the table in this folder's README.
 *
 * The suite cannot send an `Authorization` header, so the proxy runs in the test harness with
 * `defaultBearer` (a test-only listener that fills in a valid token); everything else is the real proxy.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpUpstream } from '../../src/upstream/http-upstream.ts';
import { startConformanceServer } from '../fixtures/conformance-server.ts';
import { startHarness } from '../helpers/harness.ts';

/** The protocol revisions the suite offers server scenarios for. */
export const REVISIONS = ['2025-11-25', '2026-07-28'] as const;

/** One scenario's outcome: the status of each of its checks, by check id. */
export interface ScenarioOutcome {
  passed: boolean;
  checks: Record<string, string>;
}
export type SuiteOutcome = Record<string, ScenarioOutcome>;

export interface ConformanceResults {
  suite: string;
  revisions: Record<string, { direct: SuiteOutcome; proxied: SuiteOutcome }>;
}

const cli = fileURLToPath(import.meta.resolve('@modelcontextprotocol/conformance/dist/index.js'));

async function runSuite(url: string, revision: string): Promise<SuiteOutcome> {
  const out = await mkdtemp(join(tmpdir(), 'tessera-conformance-'));
  try {
    await new Promise<void>((resolve, reject) => {
      // The exit code is the number of failures, which is a result here, not an error.
      const child = spawn(
        process.execPath,
        [
          cli,
          'server',
          '--url',
          url,
          '--suite',
          'all',
          '--spec-version',
          revision,
          '--timeout',
          '60000',
          '-o',
          out,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-4000);
      });
      child.once('error', reject);
      child.once('exit', (_code, signal) =>
        signal ? reject(new Error(`conformance CLI killed by ${signal}: ${err}`)) : resolve(),
      );
    });
    const outcome: SuiteOutcome = {};
    for (const dir of (await readdir(out)).sort()) {
      const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
      const checks = JSON.parse(await readFile(join(out, dir, 'checks.json'), 'utf8')) as {
        id: string;
        status: string;
      }[];
      const statuses: Record<string, string> = {};
      for (const c of checks) statuses[c.id] = c.status;
      outcome[scenario] = { passed: !checks.some((c) => c.status === 'FAILURE'), checks: statuses };
    }
    if (Object.keys(outcome).length === 0)
      throw new Error(`the conformance CLI produced no results for ${url}`);
    return outcome;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Runs every revision directly and through the proxy, each against a fresh fixture. */
export async function runConformance(): Promise<ConformanceResults> {
  const suite = JSON.parse(
    await readFile(
      new URL('../../../node_modules/@modelcontextprotocol/conformance/package.json', import.meta.url),
      'utf8',
    ),
  ) as { version: string };
  const results: ConformanceResults = { suite: suite.version, revisions: {} };
  for (const revision of REVISIONS) {
    const direct = await startConformanceServer();
    const proxiedFixture = await startConformanceServer();
    const proxy = await startHarness({
      upstream: createHttpUpstream({ url: new URL(proxiedFixture.url), log: () => {} }),
      defaultBearer: true,
      maxBodyBytes: 4 * 1024 * 1024,
    });
    try {
      // The suite checks DNS-rebinding protection with loopback origins, so it must address the proxy
      // as localhost, as it does the fixture.
      const [d, p] = [
        await runSuite(direct.url.replace('127.0.0.1', 'localhost'), revision),
        await runSuite(`${proxy.url.replace('127.0.0.1', 'localhost')}/mcp`, revision),
      ];
      results.revisions[revision] = { direct: d, proxied: p };
    } finally {
      await proxy.close();
      await proxiedFixture.close();
      await direct.close();
    }
  }
  return results;
}

/** The README table: one row per scenario and revision. */
export function markdownTable(results: ConformanceResults): string {
  const mark = (o: ScenarioOutcome | undefined) => (o === undefined ? '—' : o.passed ? 'pass' : 'FAIL');
  const lines = [
    `Suite \`@modelcontextprotocol/conformance@${results.suite}\`, server scenarios, fixture \`proxy/test/fixtures/conformance-server.ts\`.`,
    '',
    '| revision | scenario | direct | through the proxy |',
    '|---|---|---|---|',
  ];
  for (const [revision, { direct, proxied }] of Object.entries(results.revisions)) {
    for (const scenario of [...new Set([...Object.keys(direct), ...Object.keys(proxied)])].sort())
      lines.push(`| ${revision} | ${scenario} | ${mark(direct[scenario])} | ${mark(proxied[scenario])} |`);
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.main) {
  const results = await runConformance();
  const here = new URL('./', import.meta.url);
  await writeFile(new URL('results.json', here), `${JSON.stringify(results, null, 2)}\n`);
  const readme = new URL('README.md', here);
  const text = await readFile(readme, 'utf8');
  const start = text.indexOf('<!-- results:start -->');
  const end = text.indexOf('<!-- results:end -->');
  if (start < 0 || end < start) throw new Error('README.md lacks the results markers');
  await writeFile(
    readme,
    `${text.slice(0, start)}<!-- results:start -->\n${markdownTable(results)}${text.slice(end)}`,
  );
  process.stdout.write(markdownTable(results));
}
