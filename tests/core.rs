//! Native tests of the compute core on burn's `flex` CPU device.

use burn::prelude::*;
use pollster::block_on;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::corpus::{self, Lang};
use rlhf_playground::data::ids_row;
use rlhf_playground::inspect::{attention_maps, top_next_tokens};
use rlhf_playground::model::{KvCache, Preset};
use rlhf_playground::pretrain::{PretrainConfig, Pretrainer};
use rlhf_playground::readback::read_vec;
use rlhf_playground::sample::{
    SampleConfig, first_readback_after, generate, generate_k, generate_many, generate_many_with_kernel, generate_with_kernel, pick,
};
use rlhf_playground::tokenizer::Tokenizer;

const VOCAB: usize = 512;

fn tokenizer() -> Tokenizer {
    let docs = corpus::documents(corpus::pretraining_text(Lang::En));
    Tokenizer::train(docs.into_iter(), VOCAB).expect("tokenizer trains")
}

#[test]
fn tokenizer_round_trips_any_text_and_shows_its_merges() {
    let tok = tokenizer();
    assert_eq!(tok.vocab_size(), VOCAB);
    for text in [
        "The fox eats berries.",
        "Q: How do I get to the park?\nQ: Where is the museum?",
        "你好，世界！狐狸吃浆果。",
        "emoji 🦊🍎👩‍👩‍👧 and café, naïve, Ωmega\t tabs  double  spaces",
        "",
        " leading and trailing ",
    ] {
        let ids = tok.encode(text);
        assert_eq!(tok.decode(&ids), text, "round trip of {text:?}");
        assert!(ids.iter().all(|&id| (id as usize) < VOCAB));
    }
    // BPE compresses the world it was trained on: far fewer tokens than bytes.
    let sentence = "The fox lives in the forest. The owl eats mice.";
    assert!(tok.encode(sentence).len() * 2 < sentence.len());
    // The merges are the vocabulary beyond bytes and the special token, in order.
    let merges = tok.merges();
    assert_eq!(merges.len(), VOCAB - 256 - 1);
    assert!(merges.iter().enumerate().all(|(i, m)| m.rank == i));
    let first = format!("{}{}", merges[0].left, merges[0].right);
    assert!(tok.encode(&first).len() == 1, "the first merge {first:?} is one token");
    // Same corpus ⇒ same tokenizer (no hidden randomness).
    assert_eq!(tokenizer().merges(), merges);
    // The end-of-text marker is one token.
    assert_eq!(tok.encode("<|endoftext|>"), vec![tok.eot()]);
}

fn micro_model(device: &Device) -> rlhf_playground::model::Gpt {
    rlhf_playground::backend::seeded(device, 7, || Preset::Micro.gpt(VOCAB).init(device))
}

#[test]
fn attention_is_causal_and_rows_sum_to_one() {
    let device = Device::flex();
    let model = micro_model(&device);
    let tok = tokenizer();
    let maps = block_on(attention_maps(&model, &tok, "Q: What does the fox eat?", &device)).unwrap();
    let cfg = Preset::Micro.gpt(VOCAB);
    assert_eq!((maps.n_layer, maps.n_head), (cfg.n_layer, cfg.n_head));
    let t = maps.len();
    assert!(t > 4);
    for layer in 0..maps.n_layer {
        for head in 0..maps.n_head {
            for q in 0..t {
                let row = maps.row(layer, head, q);
                let sum: f32 = row.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "row sums to {sum}");
                assert!(row[q + 1..].iter().all(|&p| p == 0.0), "layer {layer} head {head} query {q} attends to the future: {row:?}");
                assert!(row[..=q].iter().all(|&p| p > 0.0));
            }
        }
    }
}

#[test]
fn changing_a_future_token_never_changes_past_logits() {
    let device = Device::flex();
    let model = micro_model(&device);
    let a: Vec<u32> = (0..12).map(|i| (i * 37 % VOCAB) as u32).collect();
    let mut b = a.clone();
    b[8] = 300;
    let la = block_on(read_vec(model.forward(ids_row(&a, &device)))).unwrap();
    let lb = block_on(read_vec(model.forward(ids_row(&b, &device)))).unwrap();
    let per_pos = VOCAB;
    for pos in 0..12 {
        let (ra, rb) = (&la[pos * per_pos..(pos + 1) * per_pos], &lb[pos * per_pos..(pos + 1) * per_pos]);
        let diff = ra.iter().zip(rb).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        if pos < 8 {
            assert!(diff < 1e-5, "position {pos} saw the future (diff {diff})");
        } else {
            assert!(diff > 1e-4, "position {pos} ignored its own context (diff {diff})");
        }
    }
}

/// A KV cache changes how much runs per token, not what comes out: a prompt run at
/// once and then one token at a time gives the logits of the whole context.
#[test]
fn a_kv_cache_gives_the_whole_contexts_logits() {
    let device = Device::flex();
    let model = micro_model(&device);
    let ids: Vec<u32> = (0..20).map(|i| (i * 53 % VOCAB) as u32).collect();
    let whole = block_on(read_vec(model.forward(ids_row(&ids, &device)))).unwrap();
    let mut cache = KvCache::default();
    let mut cached = block_on(read_vec(model.forward_cached(ids_row(&ids[..12], &device), &mut cache))).unwrap();
    for i in 12..20 {
        cached.extend(block_on(read_vec(model.forward_cached(ids_row(&ids[i..=i], &device), &mut cache))).unwrap());
    }
    assert_eq!(cache.len(), 20);
    let diff = whole.iter().zip(&cached).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(whole.len() == cached.len() && diff < 1e-5, "cached logits differ by {diff}");
}

/// Rows of different lengths run together, left-padded, compute what each computes
/// alone: the padding is hidden and each row's positions start at its own first token.
#[test]
fn left_padded_rows_give_each_rows_own_logits() {
    let device = Device::flex();
    let model = micro_model(&device);
    let short: Vec<u32> = (0..5).map(|i| (i * 37 % VOCAB) as u32).collect();
    let long: Vec<u32> = (0..12).map(|i| (i * 53 % VOCAB) as u32).collect();
    let (a, b) = ((101u32, 202u32), (303u32, 404u32)); // two more tokens for each row, one at a time
    let mut cache = KvCache::left_padded(vec![7, 0]);
    let mut padded: Vec<i32> = vec![0; 7];
    padded.extend(short.iter().chain(&long).map(|&x| x as i32));
    let first = model.forward_cached(Tensor::<2, Int>::from_data(TensorData::new(padded, [2, 12]), &device), &mut cache);
    let mut last = vec![block_on(read_vec(first.narrow(1, 11, 1))).unwrap()];
    for (x, y) in [(a.0, b.0), (a.1, b.1)] {
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![x as i32, y as i32], [2, 1]), &device);
        last.push(block_on(read_vec(model.forward_cached(ids, &mut cache))).unwrap());
    }
    let alone = |ids: &[u32]| block_on(read_vec(model.forward(ids_row(ids, &device)).narrow(1, ids.len() - 1, 1))).unwrap();
    for (step, row_last) in last.iter().enumerate() {
        let (s, l): (Vec<u32>, Vec<u32>) = match step {
            0 => (short.clone(), long.clone()),
            1 => ([&short[..], &[a.0]].concat(), [&long[..], &[b.0]].concat()),
            _ => ([&short[..], &[a.0, a.1]].concat(), [&long[..], &[b.0, b.1]].concat()),
        };
        let want = [alone(&s), alone(&l)].concat();
        let diff = want.iter().zip(row_last).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(want.len() == row_last.len() && diff < 1e-5, "step {step}: padded logits differ by {diff}");
    }
}

/// A row dropped from a left-padded cache (its answer ended) takes nothing of the
/// others with it: the row left computes what it computes alone, padding and all.
#[test]
fn rows_that_leave_a_padded_cache_leave_the_others_as_they_were() {
    let device = Device::flex();
    let model = micro_model(&device);
    let short: Vec<u32> = (0..5).map(|i| (i * 41 % VOCAB) as u32).collect();
    let long: Vec<u32> = (0..12).map(|i| (i * 59 % VOCAB) as u32).collect();
    let mut cache = KvCache::left_padded(vec![0, 7, 0]);
    let mut padded: Vec<i32> = long.iter().map(|&x| x as i32).collect();
    padded.extend(std::iter::repeat_n(0, 7).chain(short.iter().map(|&x| x as i32)));
    padded.extend(long.iter().map(|&x| x as i32));
    model.forward_cached(Tensor::<2, Int>::from_data(TensorData::new(padded, [3, 12]), &device), &mut cache);
    let step = Tensor::<2, Int>::from_data(TensorData::new(vec![7, 101, 9], [3, 1]), &device);
    model.forward_cached(step, &mut cache);
    // The first and last rows end; the short one goes on alone for two more tokens.
    cache.keep_rows(&[1]);
    let mut last = vec![];
    for x in [202, 303] {
        last = block_on(read_vec(model.forward_cached(Tensor::<2, Int>::from_data(TensorData::new(vec![x], [1, 1]), &device), &mut cache)))
            .unwrap();
    }
    let ids: Vec<u32> = short.iter().copied().chain([101, 202, 303]).collect();
    let alone = block_on(read_vec(model.forward(ids_row(&ids, &device)).narrow(1, ids.len() - 1, 1))).unwrap();
    let diff = alone.iter().zip(&last).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(alone.len() == last.len() && diff < 1e-5, "the row left differs from itself alone by {diff}");
    assert_eq!(cache.len(), 15);
}

/// Prompts sampled together give the answers each gives alone from the same stream,
/// each cut where its prompt leaves the block no more room.
#[test]
fn prompts_sampled_together_answer_as_they_would_alone() {
    let device = Device::flex();
    let model = micro_model(&device);
    let prompts: Vec<Vec<u32>> = [3usize, 9, 50].iter().map(|&n| (0..n).map(|i| ((i * 29 + n) % VOCAB) as u32).collect()).collect();
    let cfg = SampleConfig { temperature: 1.0, top_k: 0, max_new_tokens: 20 };
    let seeds = [11u64, 12, 13];
    let mut rngs: Vec<StdRng> = seeds.iter().map(|&s| StdRng::seed_from_u64(s)).collect();
    let together = block_on(generate_many(&model, 0, &prompts, 3, &cfg, None, &mut rngs, &device)).unwrap();
    for ((prompt, &seed), answers) in prompts.iter().zip(&seeds).zip(&together) {
        let room = cfg.max_new_tokens.min(model.block_size() - prompt.len() - 1);
        let alone_cfg = SampleConfig { max_new_tokens: room, ..cfg };
        let alone = block_on(generate_k(&model, 0, prompt, 3, &alone_cfg, None, &mut StdRng::seed_from_u64(seed), &device)).unwrap();
        assert_eq!(answers, &alone, "prompt of {} tokens", prompt.len());
        assert!(answers.iter().all(|a| a.len() == room), "each answer runs to its room ({room})");
    }
    assert_eq!(together[2][0].len(), 13, "a 50-token prompt leaves 64 − 51 = 13");
    // With an end token that an answer draws early, rows end at different times and
    // leave the batch; each prompt still gets what it gets alone.
    let stop = together[0][0][2];
    let mut rngs: Vec<StdRng> = seeds.iter().map(|&s| StdRng::seed_from_u64(s)).collect();
    let stopped = block_on(generate_many(&model, 0, &prompts, 3, &cfg, Some(stop), &mut rngs, &device)).unwrap();
    let ended_early = stopped.iter().flatten().filter(|a| a.last() == Some(&stop) && a.len() < 13).count();
    assert!(ended_early > 0 && ended_early < 9, "some rows, not all, end at the end token: {stopped:?}");
    for ((prompt, &seed), answers) in prompts.iter().zip(&seeds).zip(&stopped) {
        let room = cfg.max_new_tokens.min(model.block_size() - prompt.len() - 1);
        let alone_cfg = SampleConfig { max_new_tokens: room, ..cfg };
        let alone = block_on(generate_k(&model, 0, prompt, 3, &alone_cfg, Some(stop), &mut StdRng::seed_from_u64(seed), &device)).unwrap();
        assert_eq!(answers, &alone, "prompt of {} tokens, with an end token", prompt.len());
    }
}

/// The GPU's way of sampling many prompts at once (left-padded into one KV cache,
/// tokens picked by the sampling kernel and fed back on the device, each prompt's
/// answers drawn with its own seed) gives every prompt the answers the GPU's way
/// gives it alone (the whole context again for each token): the same tokens, cut
/// at the same end token or room. On the CPU the sampling kernel's reference draws
/// the kernel's numbers, so the paths a GPU takes are compared here.
#[test]
fn prompts_batched_the_gpus_way_answer_as_they_would_alone() {
    let device = Device::flex();
    let model = micro_model(&device);
    // 63 tokens leave a 64-token block no room: that prompt's answers are empty.
    let prompts: Vec<Vec<u32>> = [3usize, 9, 50, 63].iter().map(|&n| (0..n).map(|i| ((i * 31 + n) % VOCAB) as u32).collect()).collect();
    let cfg = SampleConfig { temperature: 1.0, top_k: 40, max_new_tokens: 20 };
    let seeds = [21u64, 22, 23, 24];
    let rngs = || seeds.iter().map(|&s| StdRng::seed_from_u64(s)).collect::<Vec<_>>();
    // An end token the first answer draws early, so answers end in both ways.
    let free = block_on(generate_many_with_kernel(&model, 0, &prompts, 3, &cfg, None, &mut rngs(), &device)).unwrap();
    let stop = free[0][0][2];
    let together = block_on(generate_many_with_kernel(&model, 0, &prompts, 3, &cfg, Some(stop), &mut rngs(), &device)).unwrap();
    for (((prompt, &seed), answers), unstopped) in prompts.iter().zip(&seeds).zip(&together).zip(&free) {
        let room = cfg.max_new_tokens.min(model.block_size().saturating_sub(prompt.len() + 1));
        let alone_cfg = SampleConfig { max_new_tokens: room, ..cfg };
        let alone = block_on(generate_with_kernel(&model, 0, prompt, 3, &alone_cfg, Some(stop), &mut StdRng::seed_from_u64(seed), &device))
            .unwrap();
        assert_eq!(answers, &alone, "prompt of {} tokens", prompt.len());
        for (a, u) in answers.iter().zip(unstopped) {
            let end = u.iter().position(|&t| t == stop).map_or(u.len(), |i| i + 1);
            assert_eq!(a[..], u[..end], "an end token cuts the answer, nothing else changes");
            assert_eq!(u.len(), room, "without an end token each answer runs to its room ({room})");
        }
    }
    assert!(together[0][0].len() <= 3, "the first answer ends at its end token");
    assert!(together.iter().flatten().any(|a| a.len() == 20), "some answer runs to the limit");
    assert_eq!(free[2][0].len(), 13, "a 50-token prompt leaves 64 − 51 = 13");
    assert!(together[3].iter().all(Vec::is_empty), "a prompt that fills the block gets empty answers");
}

#[test]
fn untrained_loss_is_near_uniform() {
    let device = Device::flex();
    let model = micro_model(&device);
    let ids: Vec<u32> = (0..33).map(|i| (i * 11 % VOCAB) as u32).collect();
    let loss =
        block_on(read_vec(model.cross_entropy(model.forward(ids_row(&ids[..32], &device)), ids_row(&ids[1..], &device)))).unwrap()[0];
    let uniform = (VOCAB as f32).ln();
    assert!((loss - uniform).abs() < 0.3, "initial loss {loss} vs ln(V) = {uniform}");
}

/// A micro pretrainer on the corpus with `cfg`, seed 1, on the CPU.
fn micro_pretrainer(cfg: PretrainConfig, device: &Device) -> (Tokenizer, Pretrainer) {
    let tok = tokenizer();
    let docs = corpus::documents(corpus::pretraining_text(Lang::En));
    let split = corpus::tokenize_split(&docs, &tok);
    let trainer = Pretrainer::new(&Preset::Micro.gpt(tok.vocab_size()), cfg, split.train, &split.held_out, 1, device);
    (tok, trainer)
}

#[test]
fn pretraining_lowers_held_out_loss_and_samples_the_world() {
    let device = Device::flex();
    let (tok, mut trainer) = micro_pretrainer(PretrainConfig::for_preset(Preset::Micro), &device);
    let before = block_on(trainer.held_out_loss()).unwrap();
    let mut first_train = None;
    for _ in 0..150 {
        let s = block_on(trainer.step()).unwrap();
        first_train.get_or_insert(s.train_loss);
    }
    let after = block_on(trainer.held_out_loss()).unwrap();
    eprintln!("held-out loss {before:.3} -> {after:.3} after {} steps", trainer.step_count());
    assert!(after < before - 2.0, "held-out loss only went {before} -> {after}");
    assert!(after < 3.6, "held-out loss {after} is not below 3.6");

    // The trained model puts real mass on a plausible next token.
    let model = trainer.model();
    let top = block_on(top_next_tokens(&model, &tok, "The fox eats", 5, &device)).unwrap();
    assert!(top[0].prob > 0.1, "{top:?}");
    let mut rng = StdRng::seed_from_u64(3);
    let cfg = SampleConfig { temperature: 0.7, top_k: 10, max_new_tokens: 24 };
    let out = block_on(generate(&model, tok.eot(), &tok.encode("The "), &cfg, Some(tok.eot()), &mut rng, &device)).unwrap();
    assert!(!out.is_empty() && out.len() <= 24);
    eprintln!("sample: The {}", tok.decode(&out));
}

#[test]
fn sampling_respects_temperature_and_top_k() {
    let logits = [0.1f32, 2.0, -1.0, 1.9, 0.5];
    let mut rng = StdRng::seed_from_u64(0);
    assert_eq!(pick(&logits, 0.0, 0, &mut rng), 1, "temperature 0 is greedy");
    assert_eq!(pick(&logits, 1.0, 1, &mut rng), 1, "top-1 is greedy");
    let mut counts = [0usize; 5];
    for _ in 0..2000 {
        counts[pick(&logits, 1.0, 2, &mut rng) as usize] += 1;
    }
    assert_eq!(counts[0] + counts[2] + counts[4], 0, "top-2 sampled outside the top 2: {counts:?}");
    // p(1)/p(3) = e^0.1 ≈ 1.105 at temperature 1.
    let ratio = counts[1] as f64 / counts[3] as f64;
    assert!((0.95..1.3).contains(&ratio), "ratio {ratio}");
    // High temperature flattens: every token appears.
    let mut seen = [false; 5];
    for _ in 0..2000 {
        seen[pick(&logits, 5.0, 0, &mut rng) as usize] = true;
    }
    assert!(seen.iter().all(|&s| s));
}

#[test]
fn gpu_generation_reads_back_once_when_answers_end_where_the_last_ones_did() {
    // No stop token: nothing can end early, so the batch is read back once, at the end.
    assert_eq!(first_readback_after(32, None, 8), 32);
    // A stop token: look when the last batch's longest answer had ended …
    assert_eq!(first_readback_after(40, Some(0), 12), 12);
    // … never past the token limit, and never before the first token.
    assert_eq!(first_readback_after(10, Some(0), 16), 10);
    assert_eq!(first_readback_after(10, Some(0), 0), 1);
}

#[test]
fn a_blown_up_update_is_rolled_back_to_the_last_good_weights() {
    let device = Device::flex();
    // A NaN learning rate turns the weights to NaN on the first update.
    let mut cfg = PretrainConfig::for_preset(Preset::Micro);
    cfg.optim.lr = f64::NAN;
    cfg.optim.warmup_steps = 0;
    let (_, mut trainer) = micro_pretrainer(cfg, &device);
    let before = block_on(trainer.held_out_loss()).unwrap();
    let first = block_on(trainer.step()).expect("the first loss is computed on good weights");
    assert!(first.train_loss.is_finite());
    assert!(block_on(trainer.held_out_loss()).unwrap().is_nan(), "the NaN update was applied");
    let err = block_on(trainer.step()).unwrap_err();
    assert!(matches!(err, rlhf_playground::TrainError::NonFinite { step: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("last good weights"));
    assert_eq!(trainer.step_count(), 0, "the step that broke the weights is undone");
    let after = block_on(trainer.held_out_loss()).unwrap();
    assert_eq!(after, before, "the weights are back to the last good ones");
}

#[test]
fn batches_are_shifted_windows_and_every_tenth_document_is_held_out() {
    use rlhf_playground::data::Batch;
    use rlhf_playground::sample::context;
    let tokens: Vec<u32> = (0..100).collect();
    let mut rng = StdRng::seed_from_u64(5);
    let b = Batch::random(&tokens, 4, 8, &mut rng);
    assert_eq!((b.inputs.len(), b.targets.len()), (32, 32));
    for row in 0..4 {
        let (x, y) = (&b.inputs[row * 8..(row + 1) * 8], &b.targets[row * 8..(row + 1) * 8]);
        assert!(x.iter().zip(y).all(|(a, b)| b - a == 1), "targets are inputs shifted by one");
    }
    let e = Batch::evenly_spaced(&tokens, 4, 8);
    assert_eq!(e, Batch::evenly_spaced(&tokens, 4, 8), "evaluation batches are fixed");
    assert_eq!(*e.targets.last().unwrap() as usize, 3 * ((100 - 9) / 4) + 8);
    // The context starts with end-of-text and keeps the most recent tokens.
    assert_eq!(context(0, &[5, 6, 7], 8), vec![0, 5, 6, 7]);
    assert_eq!(context(0, &[1, 2, 3, 4, 5], 3), vec![3, 4, 5]);
    assert_eq!(context(0, &[], 3), vec![0]);

    let docs = corpus::documents(corpus::pretraining_text(Lang::En));
    let held: Vec<&str> =
        docs.iter().enumerate().filter(|(i, _)| i % corpus::HELD_OUT_EVERY == corpus::HELD_OUT_EVERY - 1).map(|(_, d)| *d).collect();
    assert!(held.len() * corpus::HELD_OUT_EVERY >= docs.len() - corpus::HELD_OUT_EVERY && !held.is_empty());
    let tok = tokenizer();
    let split = corpus::tokenize_split(&docs, &tok);
    assert!(
        split.train.len() > 8 * split.held_out.len() && split.held_out.len() > 1000,
        "{} / {}",
        split.train.len(),
        split.held_out.len()
    );
    assert_eq!(split.held_out.iter().filter(|&&t| t == tok.eot()).count(), held.len(), "each held-out document ends with end-of-text");
}

/// fast-cpu's training step runs a batch as shards on several threads: the shards'
/// summed losses and gradients must be the whole batch's, so the weights after a
/// few updates are the same either way (up to float rounding). Unequal shards (1,
/// 1 and 2 rows of 4) check that each part is weighted by its share of the rows.
#[test]
fn a_batch_split_into_shards_trains_exactly_like_the_whole_batch() {
    use rlhf_playground::data::Batch;
    use rlhf_playground::train::Fitter;
    let device = Device::flex();
    let autodiff = device.clone().autodiff();
    let model = || rlhf_playground::backend::seeded(&device, 7, || Preset::Micro.gpt(VOCAB).init(&autodiff));
    let optim = PretrainConfig::for_preset(Preset::Micro).optim;
    let tokens: Vec<u32> = (0..400).map(|i| (i * 37 % 101 + i / 7) as u32 % VOCAB as u32).collect();
    let mut rng = StdRng::seed_from_u64(3);
    let (mut whole, mut sharded) = (Fitter::new(model(), optim.clone()), Fitter::new(model(), optim));
    for step in 0..3 {
        let batch = Batch::random(&tokens, 4, 16, &mut rng);
        let shards = batch.split(3);
        assert_eq!(shards.iter().map(|s| s.batch_size).collect::<Vec<_>>(), [1, 1, 2]);
        assert_eq!(
            shards.iter().flat_map(|s| s.inputs.clone()).collect::<Vec<_>>(),
            batch.inputs,
            "the shards are the batch's rows, in order"
        );
        let (inputs, targets) = batch.to_tensors(&autodiff);
        let (a, _) = block_on(whole.step(whole.model.cross_entropy(whole.model.forward(inputs), targets))).unwrap();
        let (b, _) = block_on(sharded.step_sharded(shards, |m, s| {
            let (inputs, targets) = s.to_tensors(&autodiff);
            m.cross_entropy(m.forward(inputs), targets) * (s.batch_size as f64 / 4.0)
        }))
        .unwrap();
        assert!((a - b).abs() < 1e-5, "step {step}: whole-batch loss {a}, summed shards {b}");
    }
    assert_eq!(sharded.step_count(), 3);
    let probe = ids_row(&tokens[..24], &device);
    let logits = |f: &Fitter| block_on(read_vec(f.model.valid().forward(probe.clone()))).unwrap();
    let (a, b) = (logits(&whole), logits(&sharded));
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    let moved = a
        .iter()
        .zip(block_on(read_vec(model().valid().forward(probe.clone()))).unwrap())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-4 && moved > 100.0 * diff, "logits after 3 updates differ by {diff} (the updates moved them by {moved})");
}
