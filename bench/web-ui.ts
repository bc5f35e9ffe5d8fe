/**
 * The web UI's size and speed: the gzipped size of every file under web/ (JavaScript separately,
 * the budget is 100 KB), and the time to interactive of the first page in Debian's Chromium
 * against the local stack: from navigation start until the page has rendered its data and its
 * event handlers are live (the UI sets `data-ready` on <body> then). Fresh browser context per
 * sample (cold cache), the first page as an anonymous visitor would see it.
 *
 *   npm run bench -- --only web-ui        # only this module, on its own local stack
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { fmt, fmtMs } from './stats';

export const WEB_DIR = resolve(__dirname, '../web');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const JS_BUDGET_BYTES = 100 * 1024;
export const TTI_BUDGET_MS = 1000;

export interface WebUiMeasurement {
  files: { path: string; bytes: number; gzipBytes: number }[];
  jsGzipBytes: number;
  totalGzipBytes: number;
  /** Time to interactive of `/`, one per sample, in order (the first is the coldest). */
  ttiMs: number[];
}

export function bundleSizes(dir = WEB_DIR): WebUiMeasurement['files'] {
  return readdirSync(dir)
    .sort()
    .map((path) => {
      const bytes = readFileSync(join(dir, path));
      return { path, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
    });
}

export async function measureWebUi(url: string, samples = 5): Promise<WebUiMeasurement> {
  const files = bundleSizes();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const ttiMs: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${url}/?poll=600000`);
      await page.waitForSelector('body[data-ready="1"]');
      ttiMs.push(Number(await page.getAttribute('body', 'data-ready-at')));
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const sum = (list: typeof files) => list.reduce((total, f) => total + f.gzipBytes, 0);
  return { files, jsGzipBytes: sum(files.filter((f) => extname(f.path) === '.js')), totalGzipBytes: sum(files), ttiMs };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** Progress lines for the console. */
export function summariseWebUi(m: WebUiMeasurement): string[] {
  return [
    `web UI bundle: JavaScript ${fmt(m.jsGzipBytes / 1024, 1)} KiB gzipped (budget ${JS_BUDGET_BYTES / 1024} KiB), all files ${fmt(m.totalGzipBytes / 1024, 1)} KiB gzipped`,
    `web UI time to interactive of /: median ${fmtMs(median(m.ttiMs))}, first (cold) ${fmtMs(m.ttiMs[0] ?? Number.NaN)}, max ${fmtMs(Math.max(...m.ttiMs))} over ${m.ttiMs.length} fresh browser contexts (budget ${TTI_BUDGET_MS} ms)`,
  ];
}

/** The BENCHMARKS.md section. */
export function renderWebUiSection(m: WebUiMeasurement): string {
  return [
    '## Web UI',
    '',
    'Every file under `web/` as served (no build step), gzipped at level 9; time to interactive of `/` in Debian\'s',
    'Chromium (headless) against the local stack: from navigation start until the first page has rendered its data',
    'and its handlers are live, each sample in a fresh browser context.',
    '',
    '| File | Bytes | Gzipped |',
    '|---|---:|---:|',
    ...m.files.map((f) => `| ${f.path} | ${f.bytes} | ${f.gzipBytes} |`),
    '',
    ...summariseWebUi(m).map((line) => `- ${line}`),
    '',
  ].join('\n');
}
