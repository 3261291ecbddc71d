// End-to-end test: serves the release build (dist/) on 127.0.0.1, opens it in
// headless Chromium with WebGPU (SwiftShader on a machine without a GPU) and drives
// the Pretrain panel like a person would. Fails on any console error.
// Screenshots go to tests/e2e/screenshots/ (git-ignored).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineScope, here, launch, mainThread, openApp, pageWithErrors, serve, sleep, status as statusOf, until, watchMainThread, watchMainThreadNow } from './lib.mjs';

const shots = join(here, 'screenshots');

const results = [];
async function test(name, fn) {
  // E2E_ONLY=text runs only the tests whose name contains it (for a quick look at a
  // self-contained one; the full walk depends on the order).
  if (process.env.E2E_ONLY && !name.includes(process.env.E2E_ONLY)) return;
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
/** A safetensors file with no tensors and `meta` in its header (to test refusals). */
function safetensors(meta) {
  const header = Buffer.from(JSON.stringify({ __metadata__: meta }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header]);
}
const { server, base } = await serve();
const browser = await launch();
await mkdir(shots, { recursive: true });
const { page, errors: consoleErrors } = await pageWithErrors(browser, { viewport: { width: 1280, height: 1000 } });
const status = () => statusOf(page);
// preset=micro, and each later stage made small enough for a software GPU: the
// native tests carry the quality claims; these prove the page works.
const APP = 'preset=micro&seed=1&lang=en&rm_lr=0.003&rm_heldout=2&ppo_rollout=4&ppo_epochs=1&ppo_tokens=12&ppo_lr=0.001&beta=0.05&ptx=0&watch_every=2&eval_prompts=4&overopt_every=0';

let initial;
await test('page loads on WebGPU with preset=micro and exposes rlhfStatus()', async () => {
  const t0 = Date.now();
  const s = await openApp(page, base, APP);
  console.log(`     ready after ${((Date.now() - t0) / 1000).toFixed(1)} s on ${s.adapter}`);
  assert(s.backend === 'webgpu', `backend is ${s.backend}, adapter ${s.adapter}, error ${s.error}`);
  assert(s.stage === 'pretrain' && s.preset === 'micro' && s.seed === 1, JSON.stringify(s));
  assert((await page.getByTestId('backend').innerText()).includes('WebGPU'), 'the backend badge does not say WebGPU');
  initial = s.metrics.initial_held_out_loss;
  assert(initial > 5.5 && initial < 7, `untrained held-out loss ${initial} is not near ln(512) = 6.24`);
  await page.screenshot({ path: join(shots, '01-ready.png'), fullPage: true });
});

await test('Step runs exactly one training step', async () => {
  await page.getByTestId('pretrain-step').click();
  await until('step 1', async () => (await status()).step === 1, 60_000, 200);
  assert((await page.getByTestId('pretrain-step-count').innerText()).includes('1'), 'step counter not updated');
});

await test('Start trains until the held-out loss has clearly fallen; the page stays responsive', async () => {
  // Record animation-frame gaps and main-thread long tasks while training runs.
  await page.evaluate(() => {
    window.__frames = []; window.__long = [];
    let last = performance.now();
    const tick = (t) => { window.__frames.push(t - last); last = t; if (!window.__stop) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration))).observe({ type: 'longtask', buffered: false });
  });
  const t0 = Date.now();
  await page.getByTestId('pretrain-start').click();
  let worstRoundTrip = 0;
  const s = await until('held-out loss to fall by 1.5 nats', async () => {
    // A round trip through the page's event loop: what a click would wait for.
    const c0 = Date.now();
    await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
    worstRoundTrip = Math.max(worstRoundTrip, Date.now() - c0);
    const s = await status();
    assert(!s.error, `training error: ${s.error}`);
    return s.metrics.held_out_loss < initial - 1.5 && s;
  }, 420_000, 1000);
  const secs = (Date.now() - t0) / 1000;
  const { frames, long } = await page.evaluate(() => { window.__stop = true; return { frames: window.__frames, long: window.__long }; });
  const q = (xs, p) => { const v = [...xs].sort((a, b) => a - b); return v.length ? v[Math.min(v.length - 1, Math.floor(p * v.length))] : 0; };
  console.log(`     held-out ${initial.toFixed(3)} -> ${s.metrics.held_out_loss.toFixed(3)} at step ${s.step} in ${secs.toFixed(0)} s ` +
              `(${(s.step / secs).toFixed(2)} steps/s incl. evaluation and samples, ${s.metrics.tokens_per_sec.toFixed(0)} training tokens/s)`);
  console.log(`     frames: p50 ${q(frames, 0.5).toFixed(0)} ms, p95 ${q(frames, 0.95).toFixed(0)} ms, max ${q(frames, 1).toFixed(0)} ms; ` +
              `long tasks: ${long.length}, p95 ${q(long, 0.95).toFixed(0)} ms, max ${q(long, 1).toFixed(0)} ms; worst event-loop round trip ${worstRoundTrip} ms`);
  // Measured 33 ms on SwiftShader once the constructors stopped re-running on every call.
  assert(worstRoundTrip < 1500, `the page did not answer for ${worstRoundTrip} ms while training`);
  assert(s.running, 'not running');
  await page.getByTestId('pretrain-pause').click();
  await until('pause', async () => !(await status()).running, 30_000, 200);
  const stepAtPause = (await status()).step;
  await sleep(1500);
  assert((await status()).step === stepAtPause, 'training went on after Pause');
  await page.screenshot({ path: join(shots, '02-trained.png'), fullPage: true });
});

await test('the loss chart, samples, next-token table and attention heatmap are drawn', async () => {
  const lines = await page.locator('[data-testid=loss-chart] polyline').count();
  assert(lines === 2, `loss chart has ${lines} lines, expected train and held-out`);
  const pts = await page.locator('[data-testid=loss-chart] polyline').first().getAttribute('points');
  assert(pts.split(' ').length > 10, 'train loss line has too few points');
  const cells = await page.locator('[data-testid=attention-heatmap] rect').count();
  const expected = Number(await page.getByTestId('attention-heatmap').getAttribute('data-cells'));
  assert(cells > 16 && cells === expected, `heatmap has ${cells} cells, expected ${expected}`);
  const heads = await page.locator('[data-testid=attention-head] option').count();
  assert(heads >= 2, `only ${heads} heads selectable`);
  await page.getByTestId('attention-head').selectOption('1');
  await page.getByTestId('attention-layer').selectOption('1');
  assert((await page.locator('[data-testid=next-token-table] tr').count()) === 10, 'next-token table is not 10 rows');
  assert((await page.locator('[data-testid=samples] li').count()) >= 1, 'no samples');
  await page.getByTestId('tokenizer-merges').locator('summary').click();
});

await test('typing a prompt updates the next-token probabilities', async () => {
  const before = await page.getByTestId('next-token-table').innerText();
  await page.getByTestId('prompt-input').fill('The owl lives in');
  await until('the table to change', async () => (await page.getByTestId('next-token-table').innerText()) !== before, 60_000, 300);
  await page.screenshot({ path: join(shots, '03-prompt.png'), fullPage: true });
});

await test('SFT: trains on answer tokens only, and the same prompts are answered before and after', async () => {
  await page.getByTestId('tab-sft').click();
  assert(await page.getByTestId('panel-sft').isVisible(), 'the SFT panel is not shown');
  const counted = await page.locator('[data-testid=sft-mask] .tok.counted').count();
  const all = await page.locator('[data-testid=sft-mask] .tok').count();
  assert(counted > 0 && counted < all, `loss mask shows ${counted} counted of ${all} tokens`);
  // Add a demonstration of one's own (an empty one is refused); it is trained on and kept.
  await page.getByTestId('sft-demos').locator('summary').click();
  const demos = await page.locator('[data-testid=sft-demo]').count();
  await page.getByTestId('sft-add-demo').click();
  assert(await page.getByTestId('sft-demo-error').isVisible(), 'an empty demonstration was not refused');
  await page.getByTestId('sft-new-prompt').fill('What does the owl say at night?');
  await page.getByTestId('sft-new-answer').fill('The owl says hoo.');
  await page.getByTestId('sft-add-demo').click();
  await until('the new demonstration', async () => (await page.locator('[data-testid=sft-demo]').count()) === demos + 1, 5_000, 100);
  const added = await page.locator('[data-testid=sft-demo]').last().locator('input').first().inputValue();
  assert(added === 'Q: What does the owl say at night?', `the prompt was not put in the template: ${added}`);
  await page.getByTestId('sft-step').click();
  await until('one SFT step', async () => (await status()).metrics.sft_step === 1, 120_000, 300);
  const t0 = Date.now();
  await page.getByTestId('sft-start').click();
  const s = await until('10 SFT steps', async () => { const s = await status(); assert(!s.error, s.error); return s.metrics.sft_step >= 10 && s; }, 300_000, 500);
  await page.getByTestId('sft-pause').click();
  await until('SFT paused', async () => !(await status()).running, 60_000, 200);
  console.log(`     10 SFT steps in ${((Date.now() - t0) / 1000).toFixed(0)} s, loss ${s.metrics.sft_loss.toFixed(3)}, token accuracy ${(s.metrics.sft_token_accuracy * 100).toFixed(0)}%`);
  await until('the before/after table', async () => (await page.locator('[data-testid=sft-compare] tbody tr').count()) === 3, 120_000, 500);
  const pts = await page.locator('[data-testid=sft-chart] polyline').first().getAttribute('points');
  assert(pts.split(' ').length >= 10, 'the SFT loss line has too few points');
  await page.screenshot({ path: join(shots, '06-sft.png'), fullPage: true });
});

const ranked = async () => (await status()).metrics;
// The focused rank control: an answer's id, or the test id of a button.
const focused = () => page.evaluate(() => document.activeElement?.dataset?.answer ?? document.activeElement?.dataset?.testid);
await test('Rank: two prompts ranked by keyboard only, one by the persona; pairs counted by who labelled them', async () => {
  await page.getByTestId('tab-rank').click();
  await page.getByTestId('rank-k').selectOption('4');
  const sampleAndWait = async () => {
    await until('answers', async () => { const m = await ranked(); return m.rank_answers >= 2 && (await page.getByTestId('rank-submit').isEnabled()); }, 180_000, 300);
  };
  await page.getByTestId('rank-sample').click();
  for (let round = 0; round < 2; round++) {
    await sampleAndWait();
    const n = await page.getByTestId('rank-item').count();
    // Keyboard only: focus the first answer, move it down, put the last at place 1, tie one.
    const first = page.getByTestId('rank-item').first();
    const id = await first.getAttribute('data-answer');
    await first.focus();
    await page.keyboard.press('ArrowDown');
    await until('the answer moved', async () => (await page.locator(`[data-testid=rank-item][data-answer="${id}"]`).getAttribute('data-place')) === '2', 5_000, 100);
    // Focus moves in the frame after the re-render, so wait for it rather than read it at once.
    await until(`focus to follow the moved answer ${id}`, async () => (await focused()) === id, 5_000, 100);
    const last = page.getByTestId('rank-item').last();
    const lastId = await last.getAttribute('data-answer');
    await last.focus();
    await page.keyboard.press('1');
    await until('placed first', async () => (await page.locator(`[data-testid=rank-item][data-answer="${lastId}"]`).getAttribute('data-place')) === '1', 5_000, 100);
    // Every key that re-ranks moves focus to its answer in the next animation frame:
    // wait for that before focusing anything else, or the late move steals it back.
    await until(`focus to follow the placed answer ${lastId}`, async () => (await focused()) === lastId, 5_000, 100);
    const tied = page.getByTestId('rank-item').last();
    const tiedId = await tied.getAttribute('data-answer');
    await tied.focus();
    await page.keyboard.press('=');
    await until(`focus to stay on the tied answer ${tiedId}`, async () => (await focused()) === tiedId, 5_000, 100);
    const pairsText = await page.getByTestId('rank-pairs').innerText();
    assert(pairsText.includes(`${n * (n - 1) / 2} possible`), pairsText);
    if (round === 0) await page.screenshot({ path: join(shots, '07-rank.png'), fullPage: true });
    // Save by keyboard too: Tab to the button is long; the button takes Enter.
    await page.getByTestId('rank-submit').focus();
    await until('focus on the save button', async () => (await focused()) === 'rank-submit', 5_000, 100);
    await page.keyboard.press('Enter');
    await until(`ranking ${round + 1} saved`, async () => (await ranked()).labelled_prompts === round + 1, 180_000, 300);
  }
  await sampleAndWait();
  await page.getByTestId('rank-persona').click();
  assert((await page.getByTestId('rank-labeler').innerText()).includes('persona'), 'the persona did not rank');
  await page.getByTestId('rank-submit').click();
  const m = await until('three rankings', async () => { const m = await ranked(); return m.labelled_prompts === 3 && m; }, 180_000, 300);
  assert(m.human_pairs > 0 && m.labelled_pairs === m.human_pairs + m.persona_pairs, JSON.stringify(m));
  assert((await page.getByTestId('rank-counter').innerText()).startsWith('3 prompts'), await page.getByTestId('rank-counter').innerText());
});

await test('Rank: an answer dragged by its handle moves there (pointer events: mouse and touch); Re-sample draws new answers', async () => {
  await until('answers', async () => (await ranked()).rank_answers >= 2 && (await page.getByTestId('rank-submit').isEnabled()), 180_000, 300);
  const items = page.getByTestId('rank-item');
  const lastId = await items.last().getAttribute('data-answer');
  const from = await items.last().getByTestId('rank-handle').boundingBox();
  const to = await items.first().boundingBox();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 8 });
  await page.mouse.up();
  await until('the dragged answer at place 1', async () => (await page.locator(`[data-testid=rank-item][data-answer="${lastId}"]`).getAttribute('data-place')) === '1', 5_000, 100);
  const before = (await ranked()).labelled_prompts;
  await page.getByTestId('rank-resample').click();
  await until('re-sampled answers', async () => (await page.getByTestId('rank-submit').isEnabled()) && (await ranked()).rank_answers >= 2, 180_000, 300);
  assert((await ranked()).labelled_prompts === before, 're-sampling saved something');
});

await test('Reward model: trains on the labels, fits them better than chance, scores them beside the ranking and scores a typed answer', async () => {
  await page.getByTestId('tab-reward').click();
  assert(await page.getByTestId('panel-reward').isVisible(), 'the reward-model panel is not shown');
  const t0 = Date.now();
  await page.getByTestId('rm-start').click();
  const m = await until('10 reward-model steps', async () => { const s = await status(); assert(!s.error, s.error); return s.metrics.rm_step >= 10 && s.metrics.rm_labelled_accuracy !== undefined && s.metrics; }, 300_000, 500);
  await page.getByTestId('rm-pause').click();
  await until('RM paused', async () => !(await status()).running, 60_000, 200);
  const s = (await status()).metrics;
  console.log(`     ${s.rm_step} RM steps in ${((Date.now() - t0) / 1000).toFixed(0)} s: loss ${s.rm_loss.toFixed(3)}, accuracy on your labels ${(s.rm_labelled_accuracy * 100).toFixed(0)}%, ` +
              (s.rm_held_out_accuracy === undefined ? `no held-out pairs (${s.rm_held_out_pairs}: the persona tied every answer)`
                : `held-out vs persona ${(s.rm_held_out_accuracy * 100).toFixed(0)}% [${(s.rm_held_out_low * 100).toFixed(0)}, ${(s.rm_held_out_high * 100).toFixed(0)}] on ${s.rm_held_out_pairs} pairs`));
  assert(s.rm_labelled_accuracy > 0.5, `the reward model orders only ${s.rm_labelled_accuracy} of the labelled pairs right`);
  assert((await page.locator('[data-testid=rm-scored]').count()) >= 2, 'the labelled prompts are not scored');
  assert((await page.locator('[data-testid=rm-histogram] rect').count()) >= 1, 'no reward histogram');
  assert((await page.locator('[data-testid=rm-chart] polyline').count()) >= 2, 'no RM loss/accuracy lines');
  await page.getByTestId('rm-probe').click();
  assert(await page.getByTestId('rm-probe-error').isVisible(), 'an empty answer was not refused');
  await page.getByTestId('rm-probe-answer').fill('A: The fox eats berries.');
  await page.getByTestId('rm-probe').click();
  await until('a typed answer scored', async () => (await status()).metrics.rm_probe_score !== undefined, 60_000, 300);
  assert((await page.getByTestId('rm-probe-score').innerText()).startsWith('r = '), 'the score is not shown');
  // Exported from the GPU: a safetensors file with the reward model's tensors.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-reward_model').click()]);
  const file = await readFile(await download.path());
  const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString());
  assert(header['head.weight']?.shape.join() === '1,96' && file.length > 1_000_000, JSON.stringify(header).slice(0, 200));
  if (process.env.E2E_EXPORT_DIR) {
    const dir = join(process.env.E2E_EXPORT_DIR, 'reward_model_webgpu');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.safetensors'), file);
    await writeFile(join(dir, 'page_probe.json'), JSON.stringify({ prompt: await page.getByTestId('rm-probe-prompt').inputValue(), answer: 'A: The fox eats berries.', reward: (await status()).metrics.rm_probe_score }));
  }
  await page.screenshot({ path: join(shots, '09-reward.png'), fullPage: true });
});

await test('PPO: iterations update the policy, KL is charted and drawn per token, watched prompts are answered', async () => {
  await page.getByTestId('tab-ppo').click();
  assert(await page.getByTestId('panel-ppo').isVisible(), 'the PPO panel is not shown');
  const t0 = Date.now();
  await page.getByTestId('ppo-start').click();
  const s = await until('6 PPO iterations', async () => { const s = await status(); assert(!s.error, s.error); return s.metrics.ppo_iteration >= 6 && s.metrics; }, 420_000, 500);
  await page.getByTestId('ppo-pause').click();
  await until('PPO paused', async () => !(await status()).running, 120_000, 300);
  const m = (await status()).metrics;
  console.log(`     ${m.ppo_iteration} PPO iterations in ${((Date.now() - t0) / 1000).toFixed(0)} s: score ${m.ppo_first_score.toFixed(3)} -> ${m.ppo_score.toFixed(3)}, ` +
              `first third ${m.ppo_score_first_third.toFixed(3)} -> last third ${m.ppo_score_last_third.toFixed(3)}, KL ${m.ppo_kl.toFixed(3)}, entropy ${m.ppo_entropy.toFixed(3)}`);
  // Whether the score rises in 7 iterations of a model pretrained for 20 steps is a
  // coin flip (measured natively at this size: 4 of 6 seeds); the CPU walk below
  // checks the rise with a longer run. Here: the policy moved away from SFT.
  assert(m.ppo_kl > 0, `the policy did not move from SFT: KL ${m.ppo_kl}`);
  for (const c of ['scores', 'kl', 'entropy', 'policy', 'value']) {
    const pts = await page.locator(`[data-testid=ppo-chart-${c}] polyline`).first().getAttribute('points');
    assert(pts && pts.split(' ').length >= 6, `chart ${c} has too few points`);
  }
  const tokens = await page.locator('[data-testid=ppo-kl-token]').count();
  assert(tokens > 0 && tokens === m.ppo_kl_tokens, `KL heatmap has ${tokens} tokens, status says ${m.ppo_kl_tokens}`);
  assert((await page.locator('[data-testid=ppo-kl-token]').first().getAttribute('title')).includes('log π_ref'), 'no per-token hover');
  assert(m.ppo_watched === 3, `watched prompts answered: ${m.ppo_watched}`);
  assert((await page.locator('[data-testid=ppo-attention-heatmap] rect').count()) > 4, 'no attention heatmap on the PPO panel');
  await page.screenshot({ path: join(shots, '10-ppo.png'), fullPage: true });
});

await test('look inside: our WGSL kernels ran on WebGPU and equal burn\'s computation', async () => {
  // Ranking, samples and PPO ran before this: generation used sample.wgsl, the PPO
  // rollouts token_stats.wgsl.
  const m0 = (await status()).metrics;
  assert(m0.kernel_sample_total > 0, `sample.wgsl never dispatched: ${JSON.stringify(m0)}`);
  assert(m0.kernel_token_stats_total > 0, `token_stats.wgsl never dispatched: ${JSON.stringify(m0)}`);
  assert(m0.kernel_attention_total > 0, `attention.wgsl never dispatched: ${JSON.stringify(m0)}`);
  await page.getByTestId('panel-inside').locator('summary').first().click();
  assert((await page.getByTestId('inside-kernel').count()) === 3, 'the look-inside view does not list all three kernels');
  assert((await page.getByTestId('inside-source').first().textContent()).includes('@compute'), 'no WGSL source shown');
  await page.getByTestId('inside-check').click();
  const s = await until('the kernel check', async () => { const s = await status(); assert(!s.error, s.error); return s.kernel_checks.length === 6 && s; }, 300_000, 500);
  for (const c of s.kernel_checks) {
    const us = (t) => (t == null ? '—' : `${t.toFixed(1)} µs`);
    console.log(`     ${c.kernel}: agreement ${(100 * c.agreement).toFixed(1)} %, max |error| ${c.max_abs_error.toExponential(2)}, inside top-k ${c.within_top_k}, WGSL ${c.on_gpu}, GPU time ours ${us(c.gpu_us)} / burn ${us(c.burn_gpu_us)}`);
    assert(c.gpu_us == null || c.gpu_us > 0, `${c.kernel}: a GPU time of ${c.gpu_us} µs`);
    assert(c.on_gpu, `${c.kernel} did not run our WGSL`);
    assert(c.within_top_k, `${c.kernel} drew a token outside the top-k`);
    // The same RNG on both sides: only a near-tie rounded differently by the GPU's log may differ.
    assert(c.agreement >= 0.97, `${c.kernel} agrees with the reference on ${c.agreement} of rows`);
    if (c.kernel === 'token_stats') assert(c.max_abs_error < 1e-3, `token_stats is ${c.max_abs_error} away from burn's log-softmax`);
    if (c.kernel === 'attention') assert(c.max_abs_error < 1e-4, `attention is ${c.max_abs_error} away from the model's burn ops`);
  }
  assert((await page.locator('[data-testid=inside-check-row]').count()) === 6, 'the check results are not shown');
  await page.getByTestId('panel-inside').screenshot({ path: join(shots, '14-look-inside.png') });
});

await test('PPO: one click starts the reward-hacking comparison (β = 0 beside)', async () => {
  await watchMainThreadNow(page); // a measurement, printed: the page's thread while two PPO runs train on WebGPU
  await page.getByTestId('ppo-hacking').click();
  const m = await until('both runs iterate', async () => { const s = await status(); assert(!s.error, s.error); return s.metrics.ppo_iteration >= 3 && s.metrics.ppo_beside_iteration >= 3 && s.metrics; }, 420_000, 500);
  console.log(`     main thread while both runs trained: ${JSON.stringify(await mainThread(page))}`);
  await page.getByTestId('ppo-pause').click();
  await until('PPO paused', async () => !(await status()).running, 120_000, 300);
  assert((await page.locator('[data-testid=ppo-chart-kl] polyline').count()) === 2, 'the KL chart does not show both runs');
  // Same start, same prompts: the runs agree until the first update with a KL price differs.
  assert(m.ppo_beside_kl !== m.ppo_kl || m.ppo_beside_score !== m.ppo_score, 'the β = 0 run is the same run');
  assert((await page.locator('[data-testid=ppo-watched-beside]').count()) === 3, 'the watched prompts do not show the β = 0 run');
  console.log(`     β 0.05: score ${m.ppo_score.toFixed(3)} KL ${m.ppo_kl.toFixed(3)} · β 0: score ${m.ppo_beside_score.toFixed(3)} KL ${m.ppo_beside_kl.toFixed(3)}`);
  await page.screenshot({ path: join(shots, '11-hacking.png'), fullPage: true });
});

await test('Evaluate: blind A/B judged by keyboard, persona and RM win rates, alignment tax, three models side by side', async () => {
  await page.getByTestId('tab-evaluate').click();
  await page.getByTestId('eval-run').click();
  await until('the duels', async () => { const s = await status(); assert(!s.error, s.error); return s.metrics.eval_duels >= 2 && s.metrics.eval_three_way >= 1; }, 300_000, 500);
  await page.getByTestId('eval-duel').focus();
  await page.keyboard.press('a');
  await page.keyboard.press('t');
  await until('two judged', async () => (await status()).metrics.eval_judged === 2, 5_000, 100);
  await page.getByTestId('eval-persona').click();
  const m = (await status()).metrics;
  assert((await page.getByTestId('eval-user-rate').innerText()).includes('of 2'), await page.getByTestId('eval-user-rate').innerText());
  assert(await page.getByTestId('eval-persona-rate').isVisible() && await page.getByTestId('eval-rm-rate').isVisible(), 'persona / RM win rates not shown');
  const rows = await page.locator('[data-testid=eval-tax-row]').count();
  assert(rows === 4 && m.tax_pretrained > 0 && m.tax_sft > 0 && m.tax_ppo > 0 && m.tax_beside > 0, `alignment tax rows ${rows}: ${JSON.stringify(m)}`);
  console.log(`     you ${m.eval_user_win_rate} · persona ${m.eval_persona_win_rate} · RM ${m.eval_rm_win_rate}; tax: pretrained ${m.tax_pretrained.toFixed(3)} SFT ${m.tax_sft.toFixed(3)} PPO ${m.tax_ppo.toFixed(3)} β0 ${m.tax_beside.toFixed(3)}`);
  await page.screenshot({ path: join(shots, '12-evaluate.png'), fullPage: true });
});

await test('labels, settings and demonstrations survive a reload; a corrupt import is refused and changes nothing', async () => {
  const before = await ranked();
  await openApp(page, base, APP);
  const after = await ranked();
  assert(after.labelled_prompts === before.labelled_prompts && after.labelled_pairs === before.labelled_pairs && after.human_pairs === before.human_pairs,
    `before ${JSON.stringify(before)}, after reload ${JSON.stringify(after)}`);
  assert((await page.getByTestId('rank-k').inputValue()) === '4', 'the K chosen before the reload was not kept');
  assert((await page.locator('[data-testid=sft-demo]').last().locator('input').first().inputValue()) === 'Q: What does the owl say at night?', 'the added demonstration was not kept');
  await page.getByTestId('session-import').setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from('{"format": "rlhf-playground/session", "version": 1, "settings": ') });
  await until('the import error', async () => page.getByTestId('import-error').isVisible(), 10_000, 200);
  const msg = await page.getByTestId('import-error').innerText();
  assert(msg.includes('nothing changed'), msg);
  const still = await ranked();
  assert(still.labelled_prompts === before.labelled_prompts && still.labelled_pairs === before.labelled_pairs, JSON.stringify(still));
  await page.screenshot({ path: join(shots, '08-import-error.png'), fullPage: true });
  // The pairs out as TRL-style JSONL and back in: the same pairs.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('preferences-export').click()]);
  const jsonl = await readFile(await download.path(), 'utf8');
  const rows = jsonl.trim().split('\n').map((l) => JSON.parse(l));
  assert(rows.length >= 1 && rows.length <= before.labelled_pairs && rows.every((r) => r.prompt && r.chosen && r.rejected && r.chosen !== r.rejected), jsonl.slice(0, 300));
  if (process.env.E2E_EXPORT_DIR) await writeFile(join(process.env.E2E_EXPORT_DIR, 'preferences.jsonl'), jsonl);
  await page.getByTestId('session-import').setInputFiles({ name: 'pairs.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(jsonl) });
  // The corrupt import above cleared the note: "N ✓" says this import was applied.
  await until('the pairs imported', async () => (await page.getByTestId('import-ok').innerText()).includes('✓'), 10_000, 200);
  // rlhfStatus() is written by the engine's next turn, a moment after the import.
  const prompts = new Set(rows.map((r) => `${r.labeler}:${r.prompt}`)).size; // one ranked prompt per labeler
  let back;
  await until('the status to show the imported pairs', async () => {
    back = await ranked();
    return back.labelled_pairs === rows.length && back.labelled_prompts === prompts;
  }, 10_000, 200).catch(() => assert(false, `${back.labelled_pairs} pairs and ${back.labelled_prompts} prompts back, ${rows.length} and ${prompts} in the file`));
  // The demonstrations out as prompt/completion JSONL (the one added above with
  // them), edited outside, and back in.
  const [demoDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('demonstrations-export').click()]);
  const demos = (await readFile(await demoDownload.path(), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const shown = await page.locator('[data-testid=sft-demo]').count();
  assert(demos.length === shown, `${demos.length} demonstrations exported, ${shown} on the page`);
  assert(demos.some((d) => d.prompt.trim() === 'Q: What does the owl say at night?' && d.completion), JSON.stringify(demos.slice(-2)));
  if (process.env.E2E_EXPORT_DIR) await writeFile(join(process.env.E2E_EXPORT_DIR, 'demonstrations.jsonl'), demos.map((d) => JSON.stringify(d)).join('\n'));
  const fewer = demos.slice(0, demos.length - 1).map((d) => JSON.stringify(d)).join('\n');
  await page.getByTestId('session-import').setInputFiles({ name: 'demos.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(fewer) });
  await until('the demonstrations imported', async () => (await page.getByTestId('import-ok').innerText()).includes(`${demos.length - 1} demonstrations ✓`), 10_000, 200);
  await until('the imported demonstrations in use', async () => await page.locator('[data-testid=sft-demo]').count() === demos.length - 1, 10_000, 200);
  assert((await ranked()).labelled_pairs === rows.length, 'importing demonstrations changed the pairs');
});

await test('switching to 简体中文 translates the page', async () => {
  await page.getByTestId('lang').selectOption('zh');
  await until('Chinese text', async () => (await page.getByTestId('panel-pretrain').innerText()).includes('预训练'), 5_000, 100);
  await page.screenshot({ path: join(shots, '04-zh.png'), fullPage: true });
  await page.getByTestId('lang').selectOption('en');
});

await test('Reset starts over from an untrained model', async () => {
  await page.getByTestId('pretrain-reset').click();
  const s = await until('step 0 again', async () => { const s = await status(); return s.step === 0 && s.metrics.held_out_loss > 5.5 && s; }, 120_000, 300);
  assert(Math.abs(s.metrics.held_out_loss - initial) < 1e-3, `same seed should rebuild the same model: ${s.metrics.held_out_loss} vs ${initial}`);
});

await test('without WebGPU (backend=cpu) it trains on the CPU and says so', async () => {
  const { page: cpu, errors } = await pageWithErrors(browser);
  const s = await openApp(cpu, base, 'preset=micro&seed=1&backend=cpu');
  assert(s.backend === 'cpu' && s.adapter === null, JSON.stringify(s));
  assert((await cpu.getByTestId('backend').innerText()).includes('CPU'), 'the badge does not say CPU');
  // Same seed, other device: another random init (each backend has its own RNG).
  assert(Math.abs(s.metrics.initial_held_out_loss - Math.log(512)) < 0.3, `untrained CPU loss ${s.metrics.initial_held_out_loss}`);
  await cpu.getByTestId('pretrain-step').click();
  const after = await until('one CPU step', async () => { const s = await statusOf(cpu); return s.step === 1 && s; }, 60_000, 200);
  assert(after.metrics.train_loss > 0 && !after.error, JSON.stringify(after));
  await cpu.screenshot({ path: join(shots, '05-cpu.png'), fullPage: true });
  await cpu.close();
  assert(errors.length === 0, `console errors on the CPU page:\n${errors.join('\n')}`);
});

await test('an engine worker that cannot start hands the engine to the page, which trains', async () => {
  const { page: p, errors } = await pageWithErrors(browser);
  const warnings = [];
  p.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  // Every worker gets a script that fails to start, as where module workers are missing.
  await p.addInitScript(() => {
    const Real = window.Worker;
    const failing = "self.onmessage = () => self.postMessage(['the engine worker could not start: simulated'])";
    window.Worker = function (_url, options) { return new Real(URL.createObjectURL(new Blob([failing], { type: 'text/javascript' })), options); };
  });
  const s = await openApp(p, base, 'preset=micro&seed=1&backend=cpu');
  assert(!s.error, JSON.stringify(s));
  await p.getByTestId('pretrain-step').click();
  const after = await until('one step on the page', async () => { const s = await statusOf(p); return s.step === 1 && s; }, 60_000, 200);
  assert(after.metrics.train_loss > 0 && !after.error, JSON.stringify(after));
  assert(warnings.some((w) => w.includes("the engine runs on the page's thread")), `no word of the fallback:\n${warnings.join('\n')}`);
  await p.close();
  assert(errors.length === 0, `console errors:\n${errors.join('\n')}`);
});

await test('?bench= measures in a worker of its own (the same module): the page keeps painting meanwhile', async () => {
  const { page: b, errors } = await pageWithErrors(browser);
  await watchMainThread(b);
  await openApp(b, base, 'preset=micro&seed=1&backend=cpu&bench=rollout');
  await mainThread(b); // from here on: the frames while the worker measures
  const s = await until('the worker\'s rollout bench', async () => { const s = await statusOf(b); return s.bench_done && s; }, 120_000, 250);
  const frames = await mainThread(b);
  console.log(`     ${JSON.stringify(s.bench)}`);
  console.log(`     main thread while the worker measured: ${JSON.stringify(frames)}`);
  assert(!s.bench.some((r) => r.error), `a bench failed: ${JSON.stringify(s.bench)}`);
  assert(s.bench[0].bench === 'worker' && s.bench[0].backend === 'cpu', `the worker's device first: ${JSON.stringify(s.bench[0])}`);
  const rollouts = s.bench.filter((r) => r.bench === 'rollout');
  assert(rollouts.length === 3 && rollouts.every((r) => r.ms_per_rollout > 0), `three rollout ways: ${JSON.stringify(rollouts)}`);
  assert(frames.tasks_over_200ms === 0, `the page's thread was held while the worker measured: ${JSON.stringify(frames)}`);
  await b.close();
  assert(errors.length === 0, `console errors on the bench page:\n${errors.join('\n')}`);
});

// PPO is the runner's recipe (β, γ_ptx, lr, 4 answers a prompt, 2 epochs) with 16
// answers an iteration instead of 32: `cargo bench --bench walk` runs this walk
// natively through the same stage drivers (seeds 1-20: the score rose on all 20
// and the answers got shorter on 19; the faster settings used before, lr 1e-3, 2
// answers a prompt, 4 epochs, rose on 4 of 6 and drifted to babble on the others).
const CPU_APP = 'preset=micro&seed=1&lang=en&backend=cpu&k=4&rm_lr=0.003&rm_heldout=1&ppo_rollout=16&watch_every=100&overopt_every=8&probe_prompts=4&probe_pool=8';
await test('on the CPU backend the same page walks to PPO fast enough to check that the mean score rises', async () => {
  // A new context: its own storage, so it starts with no labels. The CPU backend in
  // wasm is several times quicker than a software GPU for the micro model, which
  // buys the 24 iterations × 16 answers × 2 epochs over which PPO's climb is clear.
  // The labels follow a taste the persona does not have — shorter is better, an
  // empty answer last — and answers may be as long as the recipe's (40 tokens), so
  // the missing-end penalty does not shorten them by itself: PPO's answers getting
  // shorter is the policy learning what the labels asked for.
  const { page: cpu, errors } = await pageWithErrors(browser);
  // What the main thread lets through in each stage while the engine's worker trains
  // (measured, not asserted).
  await watchMainThread(cpu);
  const stages = [];
  const measured = async (stage) => stages.push([stage, await mainThread(cpu)]);
  const t0 = Date.now();
  await openApp(cpu, base, CPU_APP);
  await measured('load');
  const st = () => statusOf(cpu);
  const runUntil = async (prefix, what, done, ms) => {
    await cpu.getByTestId(`${prefix}-start`).click();
    const s = await until(what, async () => { const s = await st(); assert(!s.error, s.error); return done(s) && s; }, ms, 300);
    await cpu.getByTestId(`${prefix}-pause`).click();
    await until(`${prefix} paused`, async () => !(await st()).running, 120_000, 200);
    return s;
  };
  // Exactly n steps, one click of Step each: Start/Pause runs on until the pause
  // arrives, a step or more further on a slower machine, so the walk would be a
  // different experiment on every run; stepped, it is the same one everywhere.
  const stepTo = async (prefix, count, n, ms) => {
    for (let done = count(await st()); done < n; done = count(await st())) {
      await cpu.getByTestId(`${prefix}-step`).click();
      await until(`${prefix} step ${done + 1}`, async () => { const s = await st(); assert(!s.error, s.error); return count(s) > done; }, ms, 100);
    }
    assert(count(await st()) === n, `${prefix}: ${count(await st())} steps, not ${n}`);
    return st();
  };
  // Full storage, simulated: every write of a kept model fails as a full disk does
  // (in the engine's worker, which keeps the models).
  const engine = await engineScope(cpu);
  await engine.evaluate(() => {
    self.realWrite = FileSystemWritableFileStream.prototype.write;
    FileSystemWritableFileStream.prototype.write = () => Promise.reject(new DOMException('simulated', 'QuotaExceededError'));
  });
  await stepTo('pretrain', (s) => s.step, 22, 60_000);
  await measured('pretrain');
  const full = await until('the storage-full message', async () => (await st()).keep_error, 60_000, 200);
  assert(full.includes('storage for this page is full') && (await cpu.getByTestId('keep-error').isVisible()), full);
  await engine.evaluate(() => { FileSystemWritableFileStream.prototype.write = self.realWrite; });
  await cpu.getByTestId('tab-sft').click();
  await stepTo('sft', (s) => s.metrics.sft_step ?? 0, 11, 60_000);
  await measured('sft');
  await cpu.getByTestId('tab-rank').click();
  await cpu.getByTestId('rank-sample').click();
  const ROUNDS = 4;
  for (let round = 0; round < ROUNDS; round++) {
    await until('answers', async () => (await st()).metrics.rank_answers >= 2 && (await cpu.getByTestId('rank-submit').isEnabled()), 120_000, 200);
    // Shortest first, by keyboard: a number key puts the focused answer at that place.
    const answers = await cpu.getByTestId('rank-item').evaluateAll((items) =>
      items.map((li) => ({ i: li.dataset.answer, empty: li.querySelector('.answer-text').classList.contains('empty'), len: li.querySelector('.answer-text').textContent.length })));
    answers.sort((a, b) => (a.empty - b.empty) || (a.len - b.len));
    for (const [place, a] of answers.entries()) {
      // The list re-renders (and re-focuses the moved answer) after each key: press
      // on the answer itself, again if a re-render swallowed the key.
      const item = () => cpu.locator(`#rank-item-${a.i}`);
      await until(`answer ${a.i} at place ${place + 1}`, async () => {
        if ((await item().getAttribute('data-place')) === String(place + 1)) return true;
        await item().press(String(place + 1));
        await cpu.waitForTimeout(150);
        return (await item().getAttribute('data-place')) === String(place + 1);
      }, 15_000, 50);
    }
    const placed = await cpu.getByTestId('rank-item').evaluateAll((items) => items.map((li) => li.querySelector('.answer-text').textContent));
    assert(placed.every((t, j) => j === 0 || placed[j - 1].length <= t.length || t.startsWith('∅')), `not shortest first: ${JSON.stringify(placed)}`);
    await cpu.getByTestId('rank-submit').click();
    await until(`ranking ${round + 1}`, async () => (await st()).metrics.labelled_prompts === round + 1, 120_000, 200);
  }
  await measured('rank');
  await cpu.getByTestId('tab-reward').click();
  await stepTo('rm', (s) => s.metrics.rm_step ?? 0, 11, 60_000);
  await measured('reward model');
  assert(!(await st()).keep_error || (await st()).keep_error.includes('full'), (await st()).keep_error);

  // Reload: the kept models come back at the same stage with the same weights.
  // The score of a fixed answer (another one scored first, so a new score shows).
  const probe = async () => {
    let last;
    for (const answer of ["A: I don't know.", 'A: The fox eats berries.']) {
      await cpu.getByTestId('rm-probe-answer').fill(answer);
      const before = (await st()).metrics.rm_probe_score;
      await cpu.getByTestId('rm-probe').click();
      last = await until('a probe score', async () => { const s = (await st()).metrics.rm_probe_score; return s !== undefined && s !== before && s; }, 60_000, 200);
    }
    return last;
  };
  const scoreBefore = await probe();
  const probePrompt = await cpu.getByTestId('rm-probe-prompt').inputValue();
  const trained = await st();
  await until('all three models kept', async () => {
    const s = await st();
    return s.kept.pretrained === trained.step && s.kept.sft === trained.metrics.sft_step && s.kept.reward_model === trained.metrics.rm_step && !s.keep_busy;
  }, 120_000, 300);
  // The page's export of the reward model: a safetensors file with its card in the header.
  const [download] = await Promise.all([cpu.waitForEvent('download'), cpu.getByTestId('export-reward_model').click()]);
  const exported = await readFile(await download.path());
  const headerLen = Number(exported.readBigUInt64LE(0));
  const header = JSON.parse(exported.subarray(8, 8 + headerLen).toString());
  assert(JSON.parse(header.__metadata__.rlhf_playground).role === 'reward_model' && header['backbone.wte.weight'].shape[0] === 512, JSON.stringify(header).slice(0, 300));
  if (process.env.E2E_EXPORT_DIR) {
    // For benches/check_export.py: the file, and what the page scored with it.
    const dir = join(process.env.E2E_EXPORT_DIR, 'reward_model');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.safetensors'), exported);
    await writeFile(join(dir, 'page_probe.json'), JSON.stringify({ prompt: probePrompt, answer: 'A: The fox eats berries.', reward: scoreBefore }));
  }
  await cpu.getByTestId('tab-ppo').click();
  await mainThread(cpu);
  const t1 = Date.now();
  const m = (await stepTo('ppo', (s) => s.metrics.ppo_iteration ?? 0, 24, 120_000)).metrics;
  await measured('ppo');
  console.log(`     CPU walk: ${((Date.now() - t0) / 1000).toFixed(0)} s in all, PPO ${((Date.now() - t1) / 1000).toFixed(0)} s; ` +
              `score first third ${m.ppo_score_first_third.toFixed(3)} -> last third ${m.ppo_score_last_third.toFixed(3)}, KL ${m.ppo_kl.toFixed(3)}`);
  assert(m.ppo_score_last_third > m.ppo_score_first_third, `the mean score did not rise: ${m.ppo_score_first_third} -> ${m.ppo_score_last_third}`);
  // What the labels asked for: shorter answers. Stepped, the walk is the same on
  // every machine (score -1.80 -> -1.07, 29.20 -> 21.07 tokens); benches/walk.rs
  // runs walks of its sizes natively: shorter on 19 of seeds 1-20.
  console.log(`     answer length (tokens): first third ${m.ppo_answer_tokens_first_third.toFixed(2)} -> last third ${m.ppo_answer_tokens_last_third.toFixed(2)}`);
  assert(m.ppo_answer_tokens_last_third < m.ppo_answer_tokens_first_third,
    `PPO did not move toward the labels (shorter first): ${m.ppo_answer_tokens_first_third} -> ${m.ppo_answer_tokens_last_third} tokens`);
  // Over-optimisation: SFT's best-of-n (n = 1, 2, 4, 8 from a pool of 8) and the
  // policy probed at iterations 0, 8, 16 and 24, gold and proxy against √KL.
  assert(m.overopt_best_of_n === 4 && m.overopt_main === 4, `over-optimisation points: ${m.overopt_best_of_n} best-of-n, ${m.overopt_main} PPO`);
  for (const chart of ['overopt-gold', 'overopt-proxy']) {
    assert((await cpu.locator(`[data-testid=${chart}] polyline`).count()) === 2, `${chart}: not one line for best-of-n and one for PPO`);
  }
  assert((await cpu.locator('[data-testid=overopt-length-score] circle').count()) === 16, 'the latest rollout\'s 16 answers are not on the length-score scatter');
  assert((await cpu.getByTestId('overopt-sign').count()) === 1 && (await cpu.getByTestId('overopt-peaks').locator('li').count()) === 2, 'the signs and the peaks are not shown');
  // DPO on the same four ranked prompts (one batch: every step is a pass, and looked at).
  await stepTo('dpo', (s) => s.metrics.dpo_step ?? 0, 4, 120_000);
  await measured('dpo');
  console.log(`     main thread, longest task / frame p95 (ms): ${stages.map(([n, t]) => `${n} ${t.longest_task_ms}/${t.frame_p95_ms}`).join(', ')}`);
  const d = (await st()).metrics;
  console.log(`     DPO: loss ${d.dpo_first_loss.toFixed(3)} -> ${d.dpo_loss.toFixed(3)}, pairs ordered right ${d.dpo_accuracy}, margin ${d.dpo_margin.toFixed(3)}`);
  assert(Math.abs(d.dpo_first_loss - Math.LN2) < 1e-4 && d.dpo_loss < d.dpo_first_loss && d.dpo_margin > 0, JSON.stringify(d));
  assert(d.overopt_dpo === 4 && d.dpo_answer_tokens > 0 && (await cpu.getByTestId('dpo-token').count()) === d.dpo_answer_tokens, `DPO: ${d.overopt_dpo} points, ${d.dpo_answer_tokens} tokens`);
  assert((await cpu.locator('[data-testid=overopt-gold] polyline').count()) === 3, 'DPO is not on the over-optimisation chart');
  await cpu.screenshot({ path: join(shots, '13-cpu-ppo.png'), fullPage: true });
  await cpu.getByTestId('overopt').screenshot({ path: join(shots, '13-overopt.png') });
  await cpu.getByTestId('dpo').screenshot({ path: join(shots, '13-dpo.png') });
  // The blind A/B sets DPO against SFT when asked; the tax has a DPO row.
  await cpu.getByTestId('tab-evaluate').click();
  await cpu.getByTestId('eval-against').selectOption('dpo');
  await cpu.getByTestId('eval-run').click();
  const ab = await until('the DPO duels', async () => { const s = await st(); return s.metrics.eval_duels > 0 && s.metrics.eval_dpo === 1 && s.metrics.tax_dpo !== undefined && s; }, 120_000, 300);
  await cpu.getByTestId('eval-persona').click();
  const persona = await cpu.getByTestId('eval-persona-rate').innerText();
  assert(persona.includes('DPO wins') && (await cpu.getByTestId('eval-tax-row').count()) === 4, persona);
  console.log(`     blind A/B, DPO against SFT: ${ab.metrics.eval_duels} duels; ${persona}; tax DPO ${ab.metrics.tax_dpo.toFixed(3)}`);
  await cpu.getByTestId('tab-ppo').click();
  const kept = await until('the PPO run and DPO kept', async () => { const s = await st(); return s.kept.policy === m.ppo_iteration && s.kept.dpo === 4 && !s.keep_busy && s; }, 120_000, 300);
  console.log(`     kept: last write ${kept.keep_ms.toFixed(0)} ms for ${(kept.keep_bytes / 1e6).toFixed(2)} MB`);
  const policyBytes = async () => {
    const [d] = await Promise.all([cpu.waitForEvent('download'), cpu.getByTestId('export-policy').click()]);
    const b = await readFile(await d.path());
    return b.subarray(8 + Number(b.readBigUInt64LE(0))); // the weights, after the header
  };
  const policyBefore = await policyBytes();
  // PPO shifted the reward model so the demonstrations score 0 on average: its score now.
  await cpu.getByTestId('tab-reward').click();
  const scoreKept = await probe();
  // Reload after PPO: every model comes back as it was when PPO paused, at PPO.
  await openApp(cpu, base, CPU_APP);
  await until('the offer to resume', async () => (await st()).resume_offered, 30_000, 200);
  await cpu.getByTestId('resume').click();
  const resumed = await until('resumed', async () => { const s = await st(); return !s.resume_offered && s.metrics.ppo_iteration === m.ppo_iteration && s.resume_ms && s; }, 120_000, 200);
  assert(!resumed.keep_error && resumed.stage === 'ppo' && resumed.step === trained.step && resumed.metrics.sft_step === trained.metrics.sft_step &&
         resumed.metrics.rm_step === trained.metrics.rm_step && resumed.metrics.ppo_score === m.ppo_score &&
         resumed.metrics.overopt_main === m.overopt_main && resumed.metrics.overopt_best_of_n === m.overopt_best_of_n && resumed.metrics.overopt_dpo === 4 &&
         resumed.metrics.dpo_step === 4 && resumed.metrics.dpo_loss === d.dpo_loss,
    `resumed ${JSON.stringify({ stage: resumed.stage, step: resumed.step, sft: resumed.metrics.sft_step, ppo: resumed.metrics.ppo_iteration, error: resumed.keep_error })}`);
  console.log(`     resumed in ${resumed.resume_ms.toFixed(0)} ms (pretrained, SFT, reward model, policy, value, DPO; PPO's watched answers)`);
  assert(Buffer.compare(await policyBytes(), policyBefore) === 0, 'the resumed policy\'s weights differ from the kept ones');
  assert((await cpu.locator('[data-testid=ppo-chart-scores] polyline').count()) >= 1, 'PPO\'s chart history did not come back');
  await cpu.getByTestId('tab-reward').click();
  assert((await cpu.locator('[data-testid=rm-chart] polyline').count()) >= 2, 'the reward model\'s chart history did not come back');
  const scoreAfter = await probe();
  console.log(`     reload + resume: RM score of a fixed answer ${scoreKept} -> ${scoreAfter}`);
  assert(Math.abs(scoreAfter - scoreKept) < 1e-5, `the resumed reward model scores ${scoreAfter}, before the reload ${scoreKept}`);

  // A checkpoint of another size, and a damaged one: refused, nothing changes.
  const small = { format: 'rlhf-playground/model', version: 1, role: 'reward_model', architecture: { vocab_size: 512, block_size: 128, n_layer: 4, n_head: 4, n_embd: 128 },
                  layer_norm_epsilon: 1e-5, tied_lm_head: true, preset: 'small', lang: 'en', seed: 1, steps: 5 };
  for (const [name, buffer, says] of [['small.safetensors', safetensors({ rlhf_playground: JSON.stringify(small) }), 'small'],
                                      ['broken.safetensors', exported.subarray(0, 5000), 'damaged']]) {
    await cpu.getByTestId('model-import').setInputFiles({ name, mimeType: 'application/octet-stream', buffer });
    const msg = await until(`${name} refused`, async () => { const e = (await st()).keep_error; return e?.startsWith(name) && e; }, 30_000, 200);
    assert(msg.includes('nothing changed') && msg.includes(says), msg);
  }
  assert(Math.abs((await probe()) - scoreKept) < 1e-5 && (await st()).metrics.rm_step === trained.metrics.rm_step, 'a refused import changed the reward model');
  await cpu.screenshot({ path: join(shots, '14-resumed.png'), fullPage: true });
  // PPO goes on from where it was kept.
  await cpu.getByTestId('tab-ppo').click();
  const more = await runUntil('ppo', 'PPO after the resume', (s) => s.metrics.ppo_iteration >= m.ppo_iteration + 2, 300_000);
  assert(more.metrics.ppo_kl > 0 && Number.isFinite(more.metrics.ppo_score), JSON.stringify(more.metrics));

  // A teacher link: a fresh browser opens at the reward model with the course's
  // SFT model and reward model (these files), the stages before it hidden.
  const [sftDownload] = await Promise.all([cpu.waitForEvent('download'), cpu.getByTestId('export-sft').click()]);
  const course = { 'sft.safetensors': await readFile(await sftDownload.path()), 'reward_model.safetensors': exported };
  const lesson = await browser.newPage();
  lesson.on('pageerror', (e) => errors.push(`lesson: ${e.message}`));
  await lesson.route('**/course/*.safetensors', (route) => route.fulfill({ body: course[route.request().url().split('/').pop()] }));
  await openApp(lesson, base, 'preset=micro&seed=1&lang=en&backend=cpu&models=course/sft.safetensors,course/reward_model.safetensors&open=reward&hide=pretrain,sft,inside');
  const ls = await until('the lesson\'s models', async () => { const s = await statusOf(lesson); return s.metrics.rm_step === trained.metrics.rm_step && s; }, 60_000, 200);
  assert(ls.stage === 'reward' && !ls.keep_error && (await lesson.getByTestId('tab-pretrain').count()) === 0 && (await lesson.getByTestId('tab-reward').count()) === 1,
    JSON.stringify({ stage: ls.stage, error: ls.keep_error }));
  await lesson.getByTestId('rm-probe-answer').fill('A: The fox eats berries.');
  await lesson.getByTestId('rm-probe').click();
  const lessonScore = await until('the lesson\'s score', async () => (await statusOf(lesson)).metrics.rm_probe_score, 60_000, 200);
  assert(Math.abs(lessonScore - scoreBefore) < 1e-5, `the imported reward model scores ${lessonScore}, the page that trained it ${scoreBefore}`);
  await lesson.close();
  await cpu.close();
  assert(errors.length === 0, `console errors on the CPU page:\n${errors.join('\n')}`);
});

await test('no console errors', async () => {
  assert(consoleErrors.length === 0, `console errors:\n${consoleErrors.join('\n')}`);
});

await browser.close();
server.close();
const failed = results.filter((r) => !r.ok).length;
console.log(`\n${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
