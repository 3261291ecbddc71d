// Quick look (not part of the test run): opens the release build with ?bench=1 on
// micro and prints what the page measured and our kernels' check, plus any
// console errors. node tests/e2e/kcheck.mjs; KCHECK_BENCH=rollout times only a
// rollout's generation (all prompts together beside prompt by prompt).
// KCHECK_TIMEOUT_MS (else 15 min): past it, what was measured so far is printed.
import { launch, serve, status, until } from './lib.mjs';

const { server, base } = await serve();
const browser = await launch();
const page = await browser.newPage();
const errors = [];
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`); });
page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
await page.goto(`${base}?preset=micro&seed=1&bench=${process.env.KCHECK_BENCH ?? '1'}`);
let s;
try {
  s = await until('?bench=1', async () => { const s = await status(page); return (s?.bench_done || s?.error) && s; }, Number(process.env.KCHECK_TIMEOUT_MS ?? 900_000), 1000);
} catch (e) {
  // Out of time: what the worker measured so far is still worth printing.
  console.log(`not done: ${e.message}`);
  s = await status(page);
}
try {
  console.log(JSON.stringify({ backend: s.backend, adapter: s.adapter, error: s.error, done: s.bench_done }));
  for (const b of s.bench) console.log(JSON.stringify(b));
  for (const c of s.kernel_checks) console.log(JSON.stringify(c));
} finally {
  for (const e of errors.slice(0, 20)) console.log(e);
  await browser.close();
  server.close();
}
