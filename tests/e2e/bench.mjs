// Browser benchmark (not a test): pretraining speed of each preset in headless
// Chromium's WebGPU, plus load time and bundle size. Run after a release build:
//   node tests/e2e/bench.mjs [steps] [presets]   (default: 12 steps, micro,small)
// Prints one JSON line per preset. On a machine without a GPU the adapter is
// SwiftShader (software), so these figures say nothing about a real GPU.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { here, launch, openApp, serve, status, until } from './lib.mjs';

const steps = Number(process.argv[2] ?? 12);
const presets = (process.argv[3] ?? 'micro,small').split(',');
const dist = process.env.E2E_DIST ?? join(here, '..', '..', 'dist');
const wasm = (await readdir(dist)).find((f) => f.endsWith('.wasm'));
const bytes = await readFile(join(dist, wasm));
console.log(JSON.stringify({ bench: 'bundle', wasm_mb: +(bytes.length / 1e6).toFixed(2), wasm_gzip_mb: +(gzipSync(bytes, { level: 9 }).length / 1e6).toFixed(2) }));

const { server, base } = await serve();
const browser = await launch();
for (const preset of presets) {
  const page = await browser.newPage();
  const t0 = Date.now();
  const ready = await openApp(page, base, `preset=${preset}&seed=1`);
  const loadS = (Date.now() - t0) / 1000;
  await page.getByTestId('pretrain-step').click(); // first step compiles the kernels
  await until('first step', async () => (await status(page)).step === 1, 300_000, 200);
  const t1 = Date.now();
  await page.getByTestId('pretrain-start').click();
  const s = await until(`${steps} steps`, async () => { const s = await status(page); return s.step > steps && s; }, 600_000, 250);
  const secs = (Date.now() - t1) / 1000;
  await page.getByTestId('pretrain-pause').click();
  console.log(JSON.stringify({ bench: 'browser-pretrain', preset, adapter: ready.adapter, backend: ready.backend, load_to_ready_s: +loadS.toFixed(1),
    steps: s.step - 1, steps_per_sec_with_views: +((s.step - 1) / secs).toFixed(3), train_tokens_per_sec: Math.round(s.metrics.tokens_per_sec) }));
  await page.close();
}
await browser.close();
server.close();
