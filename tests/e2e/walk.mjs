// Browser benchmark (not a test), after a release build: the whole lesson as a
// learner walks it, with the page's defaults, timed per stage.
//   node tests/e2e/walk.mjs            (WALK_QUERY=&backend=cpu is the default)
// Pretraining runs (Start) until the held-out loss is at or below WALK_LOSS (0.58),
// or for N steps with WALK_STEPS=pretrain=N; then SFT to 200 steps, the persona
// ranks 10 prompts, the reward model trains 73 steps, PPO 130 iterations, and the
// blind evaluation is generated and its duels judged. WALK_STEPS="sft=200,
// prompts=10,rm=73,ppo=130" overrides the counts. Prints one JSON line per stage
// (seconds, where it ended, what the main thread let through: frame interval
// p50/p95/max and the longest task; for PPO its long tasks by the panel's busy
// label: rollout, watching, probing) and one for the whole walk.
import { launch, mainThread, openApp, pageWithErrors, serve, status, until, watchMainThread } from './lib.mjs';

const counts = Object.fromEntries([['sft', 200], ['prompts', 10], ['rm', 73], ['ppo', 130],
  ...(process.env.WALK_STEPS ?? '').split(',').filter(Boolean).map((kv) => { const [k, v] = kv.split('='); return [k, Number(v)]; })]);
const targetLoss = Number(process.env.WALK_LOSS ?? 0.58);
const query = `preset=micro&seed=1&lang=en${process.env.WALK_QUERY ?? '&backend=cpu'}`;

const { server, base } = await serve();
const browser = await launch();
const { page, errors } = await pageWithErrors(browser, { viewport: { width: 1280, height: 1000 } });
await watchMainThread(page);
// What PPO was doing when each long task ran: the PPO panel's busy label (rollout,
// watching, probing …) over time, and the long tasks' start and end.
await page.addInitScript(() => {
  window.__walk = { busy: [[0, '']], tasks: [] };
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__walk.tasks.push([e.startTime, e.startTime + e.duration]); })
    .observe({ type: 'longtask', buffered: true });
  new MutationObserver(() => {
    const label = document.querySelector('[data-testid=ppo-busy]')?.textContent ?? '';
    if (label !== window.__walk.busy.at(-1)[1]) window.__walk.busy.push([performance.now(), label]);
  }).observe(document, { subtree: true, childList: true, characterData: true });
});
const st = async () => {
  const s = await status(page);
  if (s?.error || errors.length) throw new Error(s?.error ?? errors.join('\n'));
  return s;
};

const walk0 = Date.now();
let t0 = walk0;
const stages = [];
const done = async (stage, fields) => {
  const secs = (Date.now() - t0) / 1000;
  const line = { bench: 'walk', stage, secs: +secs.toFixed(1), ...fields, ...(await mainThread(page)) };
  console.log(JSON.stringify(line));
  stages.push(line);
  t0 = Date.now();
};
// Start, wait for `what`, Pause: as a learner who watches the number they care about.
const runUntil = async (prefix, what, reached, ms) => {
  await page.getByTestId(`${prefix}-start`).click();
  const s = await until(what, async () => { const s = await st(); return reached(s) && s; }, ms, 250);
  await page.getByTestId(`${prefix}-pause`).click();
  await until(`${prefix} paused`, async () => !(await st()).running, 120_000, 100);
  return { ...(await st()), reached: s };
};

const ready = await openApp(page, base, query);
await done('load', { backend: ready.backend, adapter: ready.adapter });

let s = counts.pretrain
  ? await runUntil('pretrain', `${counts.pretrain} pretraining steps`, (s) => s.step >= counts.pretrain, 1_800_000)
  : await runUntil('pretrain', `held-out loss ≤ ${targetLoss}`, (s) => s.metrics.held_out_loss <= targetLoss, 1_800_000);
// The held-out loss when it was reached, and once paused (a step or more on, re-measured).
await done('pretrain', { steps: s.step, held_out_loss: +s.reached.metrics.held_out_loss.toFixed(3),
  held_out_loss_paused: +s.metrics.held_out_loss.toFixed(3) });

await page.getByTestId('tab-sft').click();
s = await runUntil('sft', `${counts.sft} SFT steps`, (s) => s.metrics.sft_step >= counts.sft, 1_800_000);
await done('sft', { steps: s.metrics.sft_step, sft_loss: +s.metrics.sft_loss.toFixed(3) });

await page.getByTestId('tab-rank').click();
await page.getByTestId('rank-sample').click();
for (let n = 0; n < counts.prompts; n++) {
  await until('answers to rank', async () => (await st()).metrics.rank_answers >= 2 && (await page.getByTestId('rank-submit').isEnabled()), 300_000, 100);
  await page.getByTestId('rank-persona').click();
  await page.getByTestId('rank-submit').click();
  await until(`ranking ${n + 1} saved`, async () => (await st()).metrics.labelled_prompts === n + 1, 60_000, 100);
}
s = await st();
await done('rank', { prompts: s.metrics.labelled_prompts, pairs: s.metrics.labelled_pairs, answers_per_prompt: s.metrics.rank_answers });

await page.getByTestId('tab-reward').click();
s = await runUntil('rm', `${counts.rm} reward-model steps`, (s) => s.metrics.rm_step >= counts.rm, 1_800_000);
await done('reward', { steps: s.metrics.rm_step, held_out_accuracy: s.metrics.rm_held_out_accuracy });

await page.getByTestId('tab-ppo').click();
await page.evaluate(() => { window.__walk.tasks = []; }); // PPO's own long tasks only
s = await runUntil('ppo', `${counts.ppo} PPO iterations`, (s) => s.metrics.ppo_iteration >= counts.ppo, 3_600_000);
// Long tasks over 200 ms while PPO ran, by the busy label shown when each ended.
const byLabel = await page.evaluate(() => {
  const { busy, tasks } = window.__walk;
  const at = (t) => busy.filter(([s]) => s <= t).at(-1)[1] || 'between iterations';
  const out = {};
  for (const [start, end] of tasks.filter(([s, e]) => e - s > 200)) out[at(end)] = (out[at(end)] ?? 0) + 1;
  window.__walk.tasks = [];
  return out;
});
await done('ppo', { long_tasks_by_busy_label: byLabel, iterations: s.metrics.ppo_iteration, score_first_third: +s.metrics.ppo_score_first_third.toFixed(3),
  score_last_third: +s.metrics.ppo_score_last_third.toFixed(3), kl: +s.metrics.ppo_kl.toFixed(3) });

await page.getByTestId('tab-evaluate').click();
await page.getByTestId('eval-run').click();
s = await until('the duels and the alignment tax', async () => { const s = await st(); return s.metrics.eval_duels > 0 && s.metrics.tax_ppo !== undefined && s; }, 1_800_000, 250);
const duels = s.metrics.eval_duels;
await done('evaluate-generate', { duels });
await page.getByTestId('eval-duel').focus();
for (let n = 0; n < duels; n++) {
  await page.keyboard.press(['a', 'b', 't'][n % 3]);
  await until(`duel ${n + 1} judged`, async () => (await st()).metrics.eval_judged === n + 1, 30_000, 50);
}
s = await st();
await done('evaluate-judge', { judged: s.metrics.eval_judged, persona_win_rate: s.metrics.eval_persona_win_rate, rm_win_rate: s.metrics.eval_rm_win_rate });

const worst = (k) => Math.max(...stages.filter((x) => x.stage !== 'load').map((x) => x[k]));
console.log(JSON.stringify({ bench: 'walk-total', query, minutes: +((Date.now() - walk0) / 60000).toFixed(2),
  training_minutes: +(stages.filter((x) => x.stage !== 'load').reduce((a, x) => a + x.secs, 0) / 60).toFixed(2),
  worst_frame_p95_ms: worst('frame_p95_ms'), longest_task_ms: worst('longest_task_ms') }));
await browser.close();
server.close();
