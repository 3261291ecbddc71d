// Shared by the e2e test and the browser bench: serve dist/ on 127.0.0.1, launch
// Debian's Chromium headless with WebGPU (SwiftShader where there is no GPU).
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { execSync } from 'node:child_process';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
const dist = process.env.E2E_DIST ?? join(here, '..', '..', 'dist');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Serves dist/ on a free port of 127.0.0.1; resolves to { server, base }. */
export async function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dist, path.endsWith('/') ? join(path, 'index.html') : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, base: `http://127.0.0.1:${server.address().port}/` };
}

export function launch() {
  const executablePath = process.env.CHROMIUM ?? execSync('command -v chromium || command -v chromium-browser').toString().trim();
  return chromium.launch({
    executablePath, headless: true,
    args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something truthy; throws after `timeoutMs`. */
export async function until(what, fn, timeoutMs, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

export const status = (page) => page.evaluate(() => (typeof window.rlhfStatus === 'function' ? window.rlhfStatus() : null));

/** A new page in `browser` and the list its console errors and uncaught
 *  exceptions are collected in (each test asserts the list is empty at its end). */
export async function pageWithErrors(browser, options) {
  const page = await browser.newPage(options);
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return { page, errors };
}

/** Opens the app and waits until the model is built; returns the status. */
export async function openApp(page, base, query) {
  await page.goto(`${base}?${query}`);
  return until('the model to be built', async () => { const s = await status(page); return s?.ready && s; }, 120_000);
}

/** Where the engine runs: its worker (the page's only one until a bench starts),
 *  or the page itself with `engine=page`. Storage is written there. */
export async function engineScope(page) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const [worker] = page.workers();
    if (worker) return worker;
    await sleep(100);
  }
  return page;
}

/** Records, from the next navigation on, what the page's main thread lets through:
 *  animation-frame intervals and long tasks (the browser's > 50 ms ones). */
/** `buffered`: count the long tasks since the page opened, not only from now on. */
function startWatching(buffered) {
  window.__mt = { frames: [], tasks: [] };
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__mt.tasks.push(e.duration); }).observe({ type: 'longtask', buffered });
  let last = performance.now();
  const tick = (t) => { window.__mt.frames.push(t - last); last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}

export async function watchMainThread(page) {
  await page.addInitScript(startWatching, true);
}

/** [`watchMainThread`] on the page as it is now (no reload). */
export async function watchMainThreadNow(page) {
  await page.evaluate(startWatching, false);
}

/** What [`watchMainThread`] saw since the last call (then forgets it): frame
 *  interval p50/p95/max, the longest task and how many ran over 200 ms. */
export async function mainThread(page) {
  const { frames, tasks } = await page.evaluate(() => { const m = window.__mt; window.__mt = { frames: [], tasks: [] }; return m; });
  const q = (xs, p) => { const v = [...xs].sort((a, b) => a - b); return v.length ? +v[Math.min(v.length - 1, Math.floor(p * v.length))].toFixed(1) : 0; };
  return { frame_p50_ms: q(frames, 0.5), frame_p95_ms: q(frames, 0.95), frame_max_ms: q(frames, 1), longest_task_ms: q(tasks, 1), tasks_over_200ms: tasks.filter((d) => d > 200).length };
}
