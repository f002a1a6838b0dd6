/**
 * No Docker engine runs here, so the images cannot be built in CI; this checks what can be checked
 * without one: each Dockerfile is multi-stage, every base image is pinned to an exact version (distroless,
 * which publishes no version tags, to its Node major and Debian release; pin its digest at release), the
 * final stage runs as a numeric non-root user with an exec-form entrypoint whose script exists, and
 * nothing is fetched with curl/wget or ADD from a URL. hadolint runs too when installed
 * (e2e/kube/install-binaries.sh puts it beside the Kubernetes binaries).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { kubeBinary } from '../e2e/kube/binaries.ts';

const DIR = new URL('./', import.meta.url);
const ROOT = new URL('../', import.meta.url);

interface Instruction {
  op: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l);
      assert.ok(m, `cannot parse "${l}"`);
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

/** Problems of one Dockerfile; empty when it follows the rules above. */
export function dockerfileProblems(text: string, exists: (path: string) => boolean): string[] {
  const problems: string[] = [];
  const ins = parseDockerfile(text);
  const froms = ins.filter((i) => i.op === 'FROM');
  if (froms.length < 2) problems.push('not multi-stage: a build stage and a runtime stage are expected');
  const stages = new Set<string>();
  for (const f of froms) {
    const [image, as, name] = f.args.split(/\s+/);
    if (stages.has(image!)) continue;
    if (as?.toUpperCase() === 'AS' && name) stages.add(name);
    const pinned =
      /@sha256:[0-9a-f]{64}$/.test(image!) ||
      /:[^:@/]*\d+\.\d+\.\d+[^:@/]*$/.test(image!) ||
      /distroless\/[a-z]+\d+-debian\d+(:nonroot)?$/.test(image!);
    if (!pinned) problems.push(`base image "${image}" is not pinned to an exact version`);
  }
  const last = ins.slice(ins.lastIndexOf(froms.at(-1)!));
  const user = last.filter((i) => i.op === 'USER').at(-1)?.args;
  if (!user) problems.push('the final stage sets no USER');
  else if (!/^[1-9]\d*(:[1-9]\d*)?$/.test(user))
    problems.push(`USER "${user}" must be a numeric non-root uid`);
  const entry = last.filter((i) => i.op === 'ENTRYPOINT').at(-1)?.args;
  if (!entry?.startsWith('[')) problems.push('the final stage needs an exec-form ENTRYPOINT');
  const argv = [
    ...JSON.parse(entry?.startsWith('[') ? entry : '[]'),
    ...JSON.parse(last.find((i) => i.op === 'CMD')?.args ?? '[]'),
  ];
  const script = argv.find((a: string) => a.endsWith('.ts'));
  if (!script) problems.push('the entrypoint runs no TypeScript entry file');
  else if (!exists(script)) problems.push(`the entry file ${script} does not exist`);
  for (const i of ins) {
    if (i.op === 'ADD' && /https?:\/\//.test(i.args)) problems.push('ADD from a URL');
    if (i.op === 'RUN' && /\b(curl|wget)\b/.test(i.args)) problems.push('RUN downloads with curl/wget');
  }
  return problems;
}

const dockerfiles = readdirSync(DIR).filter((f) => f.endsWith('.Dockerfile'));

test('there is a Dockerfile for the proxy, the control plane and both runners', () => {
  assert.deepEqual(dockerfiles.sort(), [
    'control-plane.Dockerfile',
    'proxy.Dockerfile',
    'runner-node.Dockerfile',
    'runner-python.Dockerfile',
  ]);
});

for (const file of dockerfiles) {
  test(`${file}: multi-stage, pinned, non-root`, () => {
    const text = readFileSync(new URL(file, DIR), 'utf8');
    assert.deepEqual(
      dockerfileProblems(text, (p) => existsSync(new URL(p, ROOT))),
      [],
    );
  });
}

test('the checks catch a single-stage, unpinned, root image', () => {
  const bad = 'FROM node:latest\nRUN curl -sL https://x | sh\nUSER root\nENTRYPOINT node main.ts\n';
  assert.deepEqual(
    dockerfileProblems(bad, () => false),
    [
      'not multi-stage: a build stage and a runtime stage are expected',
      'base image "node:latest" is not pinned to an exact version',
      'USER "root" must be a numeric non-root uid',
      'the final stage needs an exec-form ENTRYPOINT',
      'the entrypoint runs no TypeScript entry file',
      'RUN downloads with curl/wget',
    ],
  );
  assert.deepEqual(
    dockerfileProblems('FROM a:1.2.3 AS b\nFROM b\nUSER 0\nENTRYPOINT ["node", "x.ts"]\n', () => false),
    ['USER "0" must be a numeric non-root uid', 'the entry file x.ts does not exist'],
  );
});

const hadolint = kubeBinary('hadolint');
test('hadolint finds nothing', {
  skip: existsSync(hadolint) ? false : 'hadolint not installed (e2e/kube/install-binaries.sh)',
}, async () => {
  const run = promisify(execFile);
  const files = dockerfiles.map((f) => new URL(f, DIR).pathname);
  await run(hadolint, ['--failure-threshold', 'warning', ...files]).catch((err: { stdout?: string }) =>
    assert.fail(`hadolint:\n${err.stdout}`),
  );
});
