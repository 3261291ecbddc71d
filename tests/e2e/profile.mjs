// Where the page's main thread spends its time (not a test), after a release build:
//   node tests/e2e/profile.mjs [seconds] [bench-entries]   (default: 240 s, stop after 1)
// Runs `?bench=1` on micro under Chromium's sampling profiler (DevTools protocol)
// until the page has reported that many bench entries (1 = load, tokenizer, model
// and the pretraining bench), then prints how much of the wall time the main
// thread — all our wasm, burn's and cubecl's included — was busy, and the
// functions with the most self time. Names need a build without wasm-opt
// (`data-wasm-opt="0"`); otherwise they read wasm-function[N]. PROFILE_QUERY adds
// to the page's URL (`&backend=cpu` profiles the CPU backend's wasm).
import { launch, serve, sleep, status } from './lib.mjs';

const secs = Number(process.argv[2] ?? 240);
const upto = Number(process.argv[3] ?? 1);
const { server, base } = await serve();
const browser = await launch();
const page = await browser.newPage();
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 2000 });
await cdp.send('Profiler.start');
const t0 = Date.now();
await page.goto(`${base}?preset=micro&seed=1&bench=1${process.env.PROFILE_QUERY ?? ''}`);
while ((Date.now() - t0) / 1000 < secs) {
  await sleep(2000);
  const s = await status(page);
  if (s?.error || (s?.bench?.length ?? 0) >= upto) break;
}
const { profile } = await cdp.send('Profiler.stop');
const wall = (Date.now() - t0) / 1000;
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
profile.samples.forEach((id, i) => {
  const f = byId.get(id).callFrame;
  const name = f.functionName || `(${f.url.split('/').pop() || 'anonymous'})`;
  self.set(name, (self.get(name) ?? 0) + profile.timeDeltas[i] / 1e6);
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = self.get('(idle)') ?? 0;
console.log(JSON.stringify({ bench: 'main-thread', wall_s: +wall.toFixed(1), sampled_s: +total.toFixed(1), busy_s: +(total - idle).toFixed(1), busy_share: +((total - idle) / total).toFixed(3) }));
for (const [name, s] of [...self].filter(([n]) => n !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${s.toFixed(2).padStart(7)} s  ${name.slice(0, 140)}`);
}
await browser.close();
server.close();
