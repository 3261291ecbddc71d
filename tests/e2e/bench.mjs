// Browser benchmark (not a test), after a release build:
//   node tests/e2e/bench.mjs [steps] [presets]   (default: 12 steps, micro,small)
// BENCH_ONLY=cpu keeps the CPU backend's part, BENCH_ONLY=views the first part
// (BENCH_QUERY=&backend=cpu runs that on the CPU backend); NATIVE_JSONL=FILE (the native
// `cargo bench --bench pretrain` lines) adds the page/native ratio; the CPU backend's
// ?bench=1 times BENCH_PAGE_STEPS (else BENCH_STEPS, else 30) steps, as the native bench.
// Prints JSON lines: the wasm bundle (raw and gzipped); per preset the time from
// navigation to the first interactive control and to a built model, pretraining
// speed with the page's views, and animation-frame times while it trains; then the
// page's own `?bench=1` run (src/bench.rs on the browser's device: pretraining,
// sampling, one PPO iteration, our kernels vs burn). On a machine without a GPU
// the adapter is SwiftShader (software): those figures say nothing about a real GPU.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { here, launch, mainThread, serve, status, until, watchMainThread } from './lib.mjs';

const steps = Number(process.argv[2] ?? 12);
const presets = (process.argv[3] ?? 'micro,small').split(',');
// BENCH_ONLY=cpu: only the CPU backend's ?bench=1 (the wasm build's speed).
const only = process.env.BENCH_ONLY ?? '';
const dist = process.env.E2E_DIST ?? join(here, '..', '..', 'dist');
const wasm = (await readdir(dist)).find((f) => f.endsWith('.wasm'));
const bytes = await readFile(join(dist, wasm));
console.log(JSON.stringify({ bench: 'bundle', wasm_mb: +(bytes.length / 1e6).toFixed(2), wasm_gzip_mb: +(gzipSync(bytes, { level: 9 }).length / 1e6).toFixed(2) }));

const { server, base } = await serve();
const browser = await launch();
for (const preset of only === 'cpu' ? [] : presets) {
  const query = process.env.BENCH_QUERY ?? '';
  const page = await browser.newPage();
  await watchMainThread(page);
  const t0 = Date.now();
  await page.goto(`${base}?preset=${preset}&seed=1${query}`);
  // The first control a person can use: the language selector, mounted with the page.
  await page.getByTestId('lang').waitFor({ state: 'visible', timeout: 60_000 });
  const interactiveS = (Date.now() - t0) / 1000;
  const ready = await until('the model to be built', async () => { const s = await status(page); return s?.ready && s; }, 120_000);
  const loadS = (Date.now() - t0) / 1000;
  await page.getByTestId('pretrain-step').click(); // first step compiles the kernels
  await until('first step', async () => (await status(page)).step === 1, 300_000, 200);
  await mainThread(page); // from here on: the frames while it trains
  const t1 = Date.now();
  await page.getByTestId('pretrain-start').click();
  const s = await until(`${steps} steps`, async () => { const s = await status(page); return s.step > steps && s; }, 600_000, 250);
  const secs = (Date.now() - t1) / 1000;
  await page.getByTestId('pretrain-pause').click();
  const frames = await mainThread(page);
  console.log(JSON.stringify({ bench: 'browser-pretrain', preset, adapter: ready.adapter, backend: ready.backend,
    first_interactive_s: +interactiveS.toFixed(2), load_to_ready_s: +loadS.toFixed(1),
    steps: s.step - 1, steps_per_sec_with_views: +((s.step - 1) / secs).toFixed(3), train_tokens_per_sec: Math.round(s.metrics.tokens_per_sec),
    ...frames }));
  await page.close();
}
// The page's own benchmark (src/bench.rs in the browser): WebGPU on micro, then the
// CPU backend (flex in wasm, our CPU kernels) per preset, set beside the native
// flex figures of the same run when NATIVE_JSONL names them (scripts/bench.sh does).
const native = process.env.NATIVE_JSONL
  ? (await readFile(process.env.NATIVE_JSONL, 'utf8')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
    .filter((b) => b.device === 'flex' && b.bench === 'pretrain' && b.threads === 1 && b.cpu_kernels !== false)
  : [];
const runs = only === 'views' ? [] : [...(only === 'cpu' ? [] : [['micro', '']]), ...presets.map((p) => [p, '&backend=cpu'])];
for (const [preset, backend] of runs) {
  const page = await browser.newPage();
  const steps = backend ? `&bench_steps=${process.env.BENCH_PAGE_STEPS ?? process.env.BENCH_STEPS ?? 30}` : '';
  await page.goto(`${base}?preset=${preset}&seed=1&bench=1${backend}${steps}`);
  const s = await until('?bench=1 to finish', async () => { const s = await status(page); return s?.bench_done && s; }, 900_000, 1000);
  for (const b of s.bench) console.log(JSON.stringify({ ...b, device: `browser-${s.backend}` }));
  for (const c of s.kernel_checks) console.log(JSON.stringify({ bench: 'kernel-check', ...c }));
  const mine = s.bench.find((b) => b.bench === 'pretrain' && b.preset === preset);
  const theirs = native.find((b) => b.preset === preset);
  if (s.backend === 'cpu' && mine && theirs) {
    console.log(JSON.stringify({ bench: 'page-cpu-vs-native', preset, page_ms_per_step: +mine.ms_per_step.toFixed(1),
      native_ms_per_step: +theirs.ms_per_step.toFixed(1), ratio: +(mine.ms_per_step / theirs.ms_per_step).toFixed(2) }));
  }
  await page.close();
}
await browser.close();
server.close();
