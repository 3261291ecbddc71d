//! The stage drivers that the runner, the tests and the page share, on an
//! untrained micro GPT (flex CPU, fast). Pretraining looks at the held-out loss
//! and samples on its cadence and at the last step. SFT keeps the pretrained model beside it
//! and goes on from a kept model; the reward model walks every ranked prompt once
//! a pass, starts a new pass when more are ranked, and goes on from a kept model.
//! PPO: the run beside the main one sees the same
//! prompts in the same order with its own β and reward; the panel's β and γ_ptx act
//! on the main run only, from the next iteration; scores are normalised on the
//! ranked answers; a stage rebuilt and resumed from a kept run's weights computes
//! the same as the run it was kept from, and goes on.

use burn::prelude::*;
use pollster::block_on;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rlhf_playground::checkpoint::{self, ModelCard, Role};
use rlhf_playground::corpus::Lang;
use rlhf_playground::lab::Lab;
use rlhf_playground::model::{Gpt, Preset};
use rlhf_playground::ppo::PpoTrainer;
use rlhf_playground::rank::{Comparison, Pair};
use rlhf_playground::reward::{RewardModel, RewardTrainer};
use rlhf_playground::sft::{self, SftConfig, SftTrainer};
use rlhf_playground::stages::ppo::{Beside, PpoRecipe, PpoSettings, PpoStage, score_stats};
use rlhf_playground::stages::pretrain::{self, Cadence};
use rlhf_playground::stages::reward::{RewardSettings, RewardStage};
use rlhf_playground::stages::sft::SftStage;
use rlhf_playground::train::OptimConfig;

struct Setup {
    lab: Lab,
    sft: SftTrainer,
    rm: RewardTrainer,
    ranked: Vec<Comparison>,
}

fn setup() -> Setup {
    let device = Device::flex();
    let lab = Lab::new(Preset::Micro, 1, Lang::En, &device).unwrap();
    let demos = sft::demonstrations(Lang::En);
    let sft = SftTrainer::new(lab.pretrainer.trainable_model(), &lab.tokenizer, &demos, SftConfig::for_preset(Preset::Micro), 2, &device);
    let optim = OptimConfig { lr: 1e-3, warmup_steps: 0, weight_decay: 0.0, grad_clip_norm: 1.0 };
    // α = 1: the likelihood read-out is on, so the β = 0 run's head-alone reward differs.
    let rm = RewardTrainer::new(sft.trainable_model(), lab.model_cfg.n_embd, 1.0, optim, &device);
    let ranked = sft::prompts(Lang::En)
        .rl
        .into_iter()
        .take(3)
        .map(|prompt| Comparison {
            prompt,
            answers: vec!["A: I don't know.".into(), "A: The fox eats berries.".into(), "A: Yes, it is.".into()],
            pairs: vec![Pair { chosen: 0, rejected: 1 }, Pair { chosen: 0, rejected: 2 }],
            labeler: Default::default(),
        })
        .collect();
    Setup { lab, sft, rm, ranked }
}

fn settings(beside: Beside) -> PpoSettings {
    let recipe = PpoRecipe { rollout: 4, samples_per_prompt: 2, minibatch: 2, epochs: 1, max_new_tokens: 6, ..PpoRecipe::default() };
    PpoSettings { beta: 0.2, gamma_ptx: 0.5, recipe, beside }
}

fn logits(model: &Gpt, lab: &Lab) -> Vec<f32> {
    let ids: Vec<i64> = lab.tokenizer.encode("Q: What does the fox eat?").iter().map(|&t| t as i64).collect();
    let n = ids.len();
    model.forward(Tensor::<1, Int>::from_ints(ids.as_slice(), &lab.device).reshape([1, n])).into_data().try_to_vec::<f32>().unwrap()
}

/// A run's policy and value network as the page keeps them: safetensors files,
/// read back onto the training device.
fn kept(run: &PpoTrainer, lab: &Lab) -> (Gpt, RewardModel) {
    let card = |role| ModelCard::new(role, &lab.model_cfg, Preset::Micro, Lang::En, 1, run.iteration());
    let train = lab.device.clone().autodiff();
    let policy = block_on(checkpoint::to_safetensors(&run.policy(), &card(Role::Policy), &lab.tokenizer)).unwrap();
    let value = block_on(checkpoint::to_safetensors(&run.value(), &card(Role::Value), &lab.tokenizer)).unwrap();
    let (policy, _) = checkpoint::load_gpt(&policy, &[Role::Policy], &lab.model_cfg, &train).unwrap();
    let (value, _) = checkpoint::load_reward_model(&value, &[Role::Value], &lab.model_cfg, &train).unwrap();
    (policy, value)
}

#[test]
fn the_run_beside_sees_the_same_prompts_with_its_own_beta_and_reward() {
    let s = setup();
    let mut stage = block_on(PpoStage::new(&s.lab, &s.sft, &s.rm, &s.ranked, settings(Beside::Beta0), 9)).unwrap();
    let (_, beside) = stage.beside.as_ref().expect("a run beside was asked for");
    assert_eq!((beside.beta, beside.cfg.gamma_ptx), (0.0, 0.0));
    assert_eq!(block_on(beside.reward_model().fluency_weight()).unwrap(), 0.0, "β = 0 optimises the head alone");
    assert_eq!(block_on(stage.main.reward_model().fluency_weight()).unwrap(), 1.0);
    // Scores normalised on the ranked answers, each run by the reward it optimises.
    let (mean, std) = block_on(score_stats(&s.rm.model(), &s.ranked, &s.lab)).unwrap();
    assert_eq!((stage.main.cfg.score_mean, stage.main.cfg.score_std, stage.main.cfg.score_clip), (mean, std, 3.0));
    assert_ne!(beside.cfg.score_mean, mean, "the head alone scores on its own scale");
    for iteration in 1..=2 {
        let (main, beside) = block_on(stage.step(&s.lab)).unwrap();
        let beside = beside.expect("both runs step");
        assert_eq!((main.iteration, beside.iteration), (iteration, iteration));
        let prompts = |it: &rlhf_playground::stages::ppo::Iteration| it.rollouts.iter().map(|r| r.prompt.clone()).collect::<Vec<_>>();
        assert_eq!(prompts(&main), prompts(&beside), "iteration {iteration}");
        assert_eq!(main.rollouts.len(), 4);
        assert!(main.stats.unwrap().kl.is_finite() && beside.stats.unwrap().kl.is_finite());
    }
}

#[test]
fn the_panels_beta_and_ptx_act_on_the_main_run_from_the_next_iteration() {
    let s = setup();
    let mut stage = block_on(PpoStage::new(&s.lab, &s.sft, &s.rm, &s.ranked, settings(Beside::PtxToggled), 9)).unwrap();
    assert_eq!(stage.beside.as_ref().map(|(_, b)| (b.beta, b.cfg.gamma_ptx)), Some((0.2, 0.0)), "γ_ptx toggled, same β");
    block_on(stage.step(&s.lab)).unwrap();
    stage.set(0.05, 0.0);
    let (main, beside) = block_on(stage.step(&s.lab)).unwrap();
    let main = main.stats.unwrap();
    assert_eq!(main.beta, 0.05);
    assert_eq!(main.ptx_loss, 0.0, "γ_ptx 0: no pretraining loss");
    assert_eq!(beside.unwrap().stats.unwrap().beta, 0.2, "the run beside keeps its own β");
}

#[test]
fn a_stage_resumed_from_kept_weights_computes_the_same_and_goes_on() {
    let s = setup();
    let mut first = block_on(PpoStage::new(&s.lab, &s.sft, &s.rm, &s.ranked, settings(Beside::Beta0), 9)).unwrap();
    block_on(first.step(&s.lab)).unwrap();
    first.set(0.3, 0.1);
    block_on(first.step(&s.lab)).unwrap();
    let main = (kept(&first.main, &s.lab), first.main.beta, first.main.cfg.gamma_ptx);
    let beside = first.beside.as_ref().map(|(_, b)| (kept(b, &s.lab), b.beta, b.cfg.gamma_ptx));

    // As after a reload: a new stage from SFT and the reward model, then the kept runs.
    let mut again = block_on(PpoStage::new(&s.lab, &s.sft, &s.rm, &s.ranked, settings(Beside::Beta0), 9)).unwrap();
    assert_ne!(logits(&again.main.policy(), &s.lab), logits(&first.main.policy(), &s.lab), "two updates moved the policy");
    again.resume(first.main.iteration(), main, beside);
    assert_eq!(logits(&again.main.policy(), &s.lab), logits(&first.main.policy(), &s.lab));
    let (b1, b2) = (&first.beside.as_ref().unwrap().1, &again.beside.as_ref().unwrap().1);
    assert_eq!(logits(&b2.policy(), &s.lab), logits(&b1.policy(), &s.lab));
    assert_eq!((again.main.beta, again.main.cfg.gamma_ptx), (0.3, 0.1));
    let (main, beside) = block_on(again.step(&s.lab)).unwrap();
    assert_eq!((main.iteration, beside.unwrap().iteration), (3, 3));
    let stats = main.stats.unwrap();
    assert!(stats.named().iter().all(|(_, v)| v.is_finite()), "{stats:?}");
}

#[test]
fn the_page_and_the_runner_start_ppo_from_one_recipe() {
    // The page's defaults are PpoSettings::for_preset; the runner's are the pipeline's.
    for preset in [Preset::Micro, Preset::Small] {
        let runner = rlhf_playground::pipeline::PipelineConfig::for_preset(preset);
        let page = PpoSettings::for_preset(preset);
        assert_eq!((runner.beta, runner.gamma_ptx, &runner.ppo), (page.beta, page.gamma_ptx, &page.recipe), "{preset:?}");
    }
}

#[test]
fn sft_keeps_the_pretrained_model_beside_it_and_goes_on_from_a_kept_one() {
    let s = setup();
    let demos = sft::demonstrations(Lang::En);
    let mut stage = SftStage::new(&s.lab, &demos);
    let pretrained = logits(&s.lab.pretrainer.model(), &s.lab);
    assert_eq!(logits(&stage.trainer.model(), &s.lab), pretrained, "SFT starts from the pretrained weights");
    for step in 1..=2 {
        assert_eq!(block_on(stage.step()).unwrap().step, step);
    }
    assert_ne!(logits(&stage.trainer.model(), &s.lab), pretrained, "two steps moved the SFT model");
    assert_eq!(logits(&stage.base, &s.lab), pretrained, "the \"before\" model stays as SFT found it");

    // Greedy: the same answers whatever the random stream.
    let prompts: Vec<String> = sft::prompts(Lang::En).eval.into_iter().take(2).collect();
    let watched = block_on(stage.watch(&s.lab, &prompts, &mut StdRng::seed_from_u64(1))).unwrap();
    assert_eq!(watched.iter().map(|w| w.prompt.clone()).collect::<Vec<_>>(), prompts);
    assert_eq!(block_on(stage.watch(&s.lab, &prompts, &mut StdRng::seed_from_u64(2))).unwrap(), watched);

    let mut again = SftStage::resumed(&s.lab, &demos, stage.trainer.trainable_model(), stage.trainer.step_count());
    assert_eq!(logits(&again.trainer.model(), &s.lab), logits(&stage.trainer.model(), &s.lab));
    assert_eq!(block_on(again.step()).unwrap().step, 3);
}

#[test]
fn the_reward_stage_walks_every_ranked_prompt_once_a_pass_and_starts_over_when_more_are_ranked() {
    let s = setup();
    let settings = RewardSettings { batch: 2, ..RewardSettings::default() };
    let mut stage = RewardStage::new(&s.lab, &s.sft, settings.clone(), StdRng::seed_from_u64(5));
    let tied = |prompt: &str| Comparison {
        prompt: prompt.into(),
        answers: vec!["A: Yes.".into(), "A: No.".into()],
        pairs: vec![],
        labeler: Default::default(),
    };
    assert!(matches!(block_on(stage.step(&s.lab, &[tied("Q: Is it?")])), Err(rlhf_playground::TrainError::NoPairs)));
    let mut ranked = s.ranked.clone();
    ranked.push(tied("Q: Is it?"));
    assert_eq!(stage.steps_per_pass(&ranked), 2, "three prompts with pairs, two a step; the tied one does not count");
    let pass = |stage: &mut RewardStage, ranked: &[Comparison], passes: usize| {
        let mut seen = vec![];
        for i in 1..=stage.steps_per_pass(ranked) {
            let st = block_on(stage.step(&s.lab, ranked)).unwrap();
            assert_eq!(st.pass_done, i == stage.steps_per_pass(ranked));
            assert!(st.stats.loss.is_finite());
            seen.extend(st.prompts);
        }
        assert_eq!(stage.passes(), passes);
        seen.sort();
        seen
    };
    let labelled = |r: &[Comparison]| {
        let mut p: Vec<String> = r.iter().filter(|c| !c.pairs.is_empty()).map(|c| c.prompt.clone()).collect();
        p.sort();
        p
    };
    assert_eq!(pass(&mut stage, &ranked, 1), labelled(&ranked));
    assert_eq!(pass(&mut stage, &ranked, 2), labelled(&ranked));
    // One step into a pass, a person ranks a fourth prompt: a new pass over all four.
    block_on(stage.step(&s.lab, &ranked)).unwrap();
    let mut more = ranked.clone();
    let mut fourth = s.ranked[0].clone();
    fourth.prompt = sft::prompts(Lang::En).rl[5].clone();
    more.push(fourth);
    assert_eq!(pass(&mut stage, &more, 3), labelled(&more));
    assert_eq!(stage.trainer.step_count(), 7);

    // The same stream orders the prompts the same way (runs can be paired).
    let mut twin = RewardStage::new(&s.lab, &s.sft, settings.clone(), StdRng::seed_from_u64(5));
    let mut first = RewardStage::new(&s.lab, &s.sft, settings.clone(), StdRng::seed_from_u64(5));
    for _ in 0..2 {
        let (a, b) = (block_on(first.step(&s.lab, &ranked)).unwrap(), block_on(twin.step(&s.lab, &ranked)).unwrap());
        assert_eq!((a.prompts, a.stats.loss), (b.prompts, b.stats.loss));
    }

    // A kept model goes on where it stopped, scoring as it did.
    let score = |rm: &RewardModel| {
        block_on(rlhf_playground::reward::score(rm, &s.lab.tokenizer, &ranked[0].prompt, &ranked[0].answers, &s.lab.device)).unwrap()
    };
    let mut kept = RewardStage::resumed(&s.lab, stage.trainer.trainable_model(), 7, settings, StdRng::seed_from_u64(6));
    assert_eq!(score(&kept.trainer.model()), score(&stage.trainer.model()));
    assert_eq!(block_on(kept.step(&s.lab, &ranked)).unwrap().stats.step, 8);
}

#[test]
fn pretraining_measures_and_samples_on_its_cadence_and_at_the_last_step() {
    let mut lab = Lab::new(Preset::Micro, 1, Lang::En, &Device::flex()).unwrap();
    let cadence = Cadence { held_out: 2, sample: 3, sample_tokens: 5 };
    let mut rng = StdRng::seed_from_u64(1);
    let mut looked = vec![];
    for step in 1..=5 {
        let s = block_on(pretrain::step(&mut lab.pretrainer, &lab.tokenizer, &lab.device, &cadence, Some(5), &mut rng)).unwrap();
        assert_eq!(s.stats.step, step);
        assert!(s.stats.train_loss.is_finite());
        if let Some(h) = s.held_out_loss {
            assert_eq!(h, block_on(lab.pretrainer.held_out_loss()).unwrap(), "the held-out loss of the weights after the step");
        }
        // The runner prints this as its `pretrain` event: the step's fields at the top
        // level, `held_out_loss` and `sample` only when measured (docs/building.md).
        let event = serde_json::to_value(&s).unwrap();
        assert!(event["step"] == step && event["train_loss"].is_number(), "{event}");
        assert_eq!((event.get("held_out_loss").is_some(), event.get("sample").is_some()), (s.held_out_loss.is_some(), s.sample.is_some()));
        looked.push((s.held_out_loss.is_some(), s.sample.is_some()));
    }
    assert_eq!(looked, [(false, false), (true, false), (false, true), (true, false), (true, false)]);
    let never = Cadence { held_out: 0, sample: 0, sample_tokens: 5 };
    let s = block_on(pretrain::step(&mut lab.pretrainer, &lab.tokenizer, &lab.device, &never, None, &mut rng)).unwrap();
    assert_eq!((s.held_out_loss, s.sample), (None, None));
}

#[test]
fn dpo_starts_at_ln2_and_fits_the_pairs_its_implicit_reward_summing_per_token() {
    use rlhf_playground::dpo::{implicit_reward_per_token, sequence_log_probs};
    use rlhf_playground::reward::encode_answers;
    use rlhf_playground::stages::dpo::{DpoSettings, DpoStage};
    let s = setup();
    let settings = DpoSettings { beta: 0.1, lr: 1e-3, batch: 4, passes: 8, warmup: 0 };
    let mut dpo = DpoStage::new(&s.lab, &s.sft, settings, StdRng::seed_from_u64(7));
    // The policy is the reference at the start: every implicit reward is 0, the loss ln 2.
    let first = block_on(dpo.step(&s.lab, &s.ranked)).unwrap();
    assert!((first.stats.loss - std::f32::consts::LN_2).abs() < 1e-5 && first.stats.margin.abs() < 1e-6, "{first:?}");
    // One batch holds all three prompts: every step is a pass.
    assert!(first.pass_done && first.passes == 1);
    let mut last = first.clone();
    while dpo.passes() < 8 {
        last = block_on(dpo.step(&s.lab, &s.ranked)).unwrap();
    }
    assert!(last.stats.loss < first.stats.loss - 0.05 && last.stats.accuracy == 1.0 && last.stats.margin > 0.5, "{last:?}");
    assert!(last.stats.chosen > 0.0 && last.stats.rejected < 0.0, "{last:?}");
    // Per token, the implicit reward adds up to β·(log π(y) − log π_ref(y)) of the whole answer.
    let (policy, reference) = (dpo.trainer.policy(), dpo.trainer.reference().clone());
    let (prompt, answer) = (&s.ranked[0].prompt, &s.ranked[0].answers[0]);
    let per_token = block_on(implicit_reward_per_token(&policy, &reference, &s.lab.tokenizer, prompt, answer, 0.1, &s.lab.device)).unwrap();
    let enc = encode_answers(&s.lab.tokenizer, prompt, std::slice::from_ref(answer), policy.block_size(), &s.lab.device);
    let whole = |m: &Gpt| block_on(rlhf_playground::readback::read_vec(sequence_log_probs(m, &enc))).unwrap()[0];
    let sum: f32 = per_token.iter().map(|(_, r)| r).sum();
    assert!((sum - 0.1 * (whole(&policy) - whole(&reference))).abs() < 1e-3, "{sum} vs {}", 0.1 * (whole(&policy) - whole(&reference)));
    // The answer's tokens and its end-of-text, in order.
    let text: String = per_token.iter().map(|(t, _)| t.as_str()).collect();
    assert!(text.starts_with(answer.as_str()), "{text:?}");
}
