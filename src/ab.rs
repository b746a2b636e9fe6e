//! Same-runner A/B: the base model and the candidate timed in one process, in alternating blocks
//! (and, for `modelgate explore`, any number of variants the same way).
//!
//! A CI runner's speed drifts: another job starts, the CPU heats up, a neighbour wakes. Timing the
//! base model last week and the candidate today mixes that drift into the comparison. Timing them
//! side by side in short alternating blocks (ABBA order, so neither always goes first) makes drift
//! hit both alike, so what is left is the difference between the models.
//!
//! Two sessions in one process must not disturb each other, and neither may be favoured:
//! - they share one thread pool, or with explicit thread counts their pools do not spin while
//!   idle: with a pool each and ONNX Runtime's default spinning, the idle session's workers
//!   busy-wait on the cores the running one needs (a model A/B'd against itself measured a p95
//!   4.5x its `bench` p95; see docs/benchmarks.md);
//! - the first runs after each switch are discarded, while caches refill with the other model;
//! - all warm up by count and by time, in alternating rounds, and which model opens the first
//!   block (and so warmed up last) is drawn per run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::bench::{self, BenchResult, BenchSettings, ColdStart, MemoryUse, Progress};
use crate::model::{ModelSpec, Resolution, ShapeRequest};
use crate::runtime::{LoadedModel, Provider, Runtime};
use crate::system;

/// Runs per block: short enough that drift within a block is small, long enough that switching
/// models (and their caches) is a small share of the time. The comparison's block bootstrap
/// resamples these same blocks.
const BLOCK: u64 = crate::compare::BLOCK_RUNS as u64;

/// Untimed runs after each switch between the models: at least this many...
const SWITCH_RUNS: u64 = 2;
/// ...and at least this long, so a fast model's first runs on refilled caches drop out too.
const SWITCH_TIME: Duration = Duration::from_millis(2);

/// Warmup rounds per model: warmup alternates between the models this many times.
const WARMUP_ROUNDS: u64 = 4;

/// One model to time, with its own session settings and batch size.
pub struct Arm<'a> {
    pub path: &'a Path,
    pub settings: BenchSettings,
    pub batch: Option<i64>,
}

struct Side {
    model: LoadedModel,
    samples_ns: Vec<u64>,
    cold: ColdStart,
    memory: MemoryUse,
    resolution: Resolution,
    batch: i64,
    settings: BenchSettings,
}

/// Any number of open models timed in turn, in blocks of [`BLOCK`] runs: block k runs them in
/// one order and block k+1 in the reverse order (ABC CBA, the ABBA order of two), and with three
/// or more the order rotates every two blocks (BCA ACB, CAB BAC, ...), so over the blocks every
/// model runs in every position equally often; block k of every model was timed within the same
/// stretch, and the comparison's block bootstrap draws those blocks together.
pub struct Interleaved {
    sides: Vec<Side>,
    timed: Duration,
    blocks: u64,
    /// The model that ran last.
    last: usize,
    /// The even blocks' order, a rotation of the arms drawn per run; the odd blocks reverse it.
    order: Vec<usize>,
    label: &'static str,
}

impl Interleaved {
    /// Opens every arm's model, binds inputs (given, or random from the same seed, so arms with
    /// the same inputs get identical values) and warms them up in alternating rounds, ending with
    /// the model that opens the first block. Sessions that leave ONNX Runtime's threads at their
    /// defaults share one pool when every arm does; otherwise no session's pool spins while idle.
    pub fn open(
        runtime: &Runtime,
        arms: Vec<Arm>,
        shapes: &ShapeRequest,
        label: &'static str,
        check: impl FnOnce(&[&ModelSpec]) -> Result<()>,
    ) -> Result<Interleaved> {
        let share = arms.iter().all(|a| {
            a.settings.session.intra_threads.is_none() && a.settings.session.inter_threads.is_none()
        });
        let mut opened = Vec::with_capacity(arms.len());
        for arm in arms {
            let mut settings = arm.settings;
            if share {
                settings.session.shared_pool = true;
            } else {
                settings.session.spinning = false;
            }
            let (model, created, memory) = bench::open_measured(runtime, arm.path, &settings)?;
            if let Some(batch) = arm.batch {
                if !model.spec.batch_is_dynamic() {
                    bail!(
                        "batch {batch}: the first dim of {} is fixed, so its batch size cannot change; \
                         drop the batch setting or export the model with a dynamic first dim",
                        arm.path.display()
                    );
                }
            }
            opened.push((model, created, memory, settings, arm.batch, arm.path));
        }
        check(&opened.iter().map(|o| &o.0.spec).collect::<Vec<_>>())?;
        let mut sides = Vec::with_capacity(opened.len());
        for (mut model, created, memory, settings, batch, path) in opened {
            let given = crate::inputs::load(&shapes.inputs, &model.spec)?;
            if batch.is_some() && !given.inputs.is_empty() {
                bail!(
                    "batch: the input values of {} come from files, which fix their shapes; drop the batch setting",
                    path.display()
                );
            }
            let resolution = model.spec.resolve(&given.shapes(shapes)?, batch)?;
            // The same seed for every arm: identical input values where the inputs agree.
            let mut rng = StdRng::seed_from_u64(settings.seed);
            let first_run_ms = bench::prepare(&mut model, &resolution.inputs, &given, &mut rng)?;
            sides.push(Side {
                model,
                samples_ns: Vec::new(),
                cold: ColdStart {
                    session_create_ms: created.as_secs_f64() * 1000.0,
                    first_run_ms,
                },
                memory,
                batch: bench::batch_size(batch, &resolution),
                resolution,
                settings,
            });
        }
        let n = sides.len();
        let start = draw(n);
        let order: Vec<usize> = (0..n).map(|i| (start + i) % n).collect();
        for _ in 0..WARMUP_ROUNDS {
            for &i in order.iter().rev() {
                let side = &mut sides[i];
                let runs = side.settings.warmup.div_ceil(WARMUP_ROUNDS);
                let seconds = side.settings.warmup_s / WARMUP_ROUNDS as f64;
                bench::warm_up(&mut side.model, runs, seconds)?;
            }
        }
        Ok(Interleaved {
            sides,
            timed: Duration::ZERO,
            blocks: 0,
            last: order.first().copied().unwrap_or(0),
            order,
            label,
        })
    }

    /// Times `runs` more runs of each model, in blocks of [`BLOCK`] runs, rounded up to whole
    /// blocks, so the comparison's block bootstrap sees the real blocks. Stops early, at a block
    /// boundary, once `deadline` has passed: a runner that slows down midway must not stretch
    /// the time budget.
    pub fn extend(
        &mut self,
        runs: u64,
        deadline: Option<Instant>,
        progress: Progress,
    ) -> Result<()> {
        let target = self.runs() as u64 + runs.div_ceil(BLOCK) * BLOCK;
        let started = Instant::now();
        while (self.runs() as u64) < target && deadline.is_none_or(|d| Instant::now() < d) {
            let n = BLOCK.min(target - self.runs() as u64);
            for index in block_order(&self.order, self.blocks) {
                let side = &mut self.sides[index];
                // A model that ran last (in the block before, or in the warmup) goes on after
                // a few untimed runs; a switch to another model discards runs for longer. Every
                // block discards its first runs, so a block's first timed run never pays for
                // the bookkeeping between blocks on one side only.
                let settle = if index == self.last {
                    Duration::ZERO
                } else {
                    SWITCH_TIME
                };
                self.last = index;
                bench::warm_up(&mut side.model, SWITCH_RUNS, settle.as_secs_f64())?;
                // The first timed run of every block comes out slower (about +50 % on a
                // microsecond model, measured) even after untimed runs just before it: one more
                // run is timed and its sample dropped.
                let samples = bench::time_loop(
                    &mut side.model,
                    n + 1,
                    Duration::ZERO,
                    "",
                    &mut |_, _, _| {},
                )?;
                side.samples_ns.extend(&samples[1..]);
            }
            self.blocks += 1;
            progress(self.label, self.runs() as u64, target);
        }
        self.timed += started.elapsed();
        Ok(())
    }

    /// Samples so far, in milliseconds per run, in the arms' order.
    pub fn samples_ms(&self) -> Vec<Vec<f64>> {
        self.sides
            .iter()
            .map(|s| s.samples_ns.iter().map(|n| *n as f64 / 1e6).collect())
            .collect()
    }

    /// Runs of each model timed so far.
    pub fn runs(&self) -> usize {
        self.sides.first().map_or(0, |s| s.samples_ns.len())
    }

    /// Seconds spent timing so far.
    pub fn timed_s(&self) -> f64 {
        self.timed.as_secs_f64()
    }

    /// Mean seconds one run of every model takes together, from the samples so far.
    pub fn seconds_per_round(&self) -> f64 {
        let mean = |ns: &[u64]| ns.iter().sum::<u64>() as f64 / ns.len().max(1) as f64 / 1e9;
        self.sides.iter().map(|s| mean(&s.samples_ns)).sum()
    }

    /// The model interfaces, in the arms' order.
    pub fn spec(&self, arm: usize) -> &ModelSpec {
        &self.sides[arm].model.spec
    }

    /// One bench result per arm, in the arms' order.
    pub fn into_results(self) -> Result<Vec<BenchResult>> {
        let peak = system::rss().peak_bytes;
        let wall = self.timed.as_secs_f64() / self.sides.len().max(1) as f64;
        self.sides
            .into_iter()
            .map(|mut side| {
                let mut run = bench::batch_run(
                    side.batch,
                    side.resolution.inputs.clone(),
                    &side.samples_ns,
                    wall,
                )?;
                run.transfer = side.model.measure_transfers(bench::TRANSFER_COPIES)?;
                let runs = vec![run];
                let provider = side.settings.session.provider;
                let mut notes = notes(&runs, &side.resolution.defaulted, provider);
                notes.extend(side.model.gpu_notes().iter().cloned());
                Ok(BenchResult {
                    provider: provider.name().to_string(),
                    settings: side.settings,
                    cold_start: side.cold,
                    memory: MemoryUse {
                        peak_rss_bytes: peak,
                        ..side.memory
                    },
                    gpu: system::gpu_info(),
                    defaulted_dims: side.resolution.defaulted.clone(),
                    notes,
                    placement: side.model.placement().cloned(),
                    profile: None,
                    runs,
                })
            })
            .collect()
    }
}

/// The base model and the candidate, timed in alternating blocks with the same settings, inputs
/// and batch.
pub struct AbPair(Interleaved);

impl AbPair {
    /// Opens both models, binds the same inputs (given or random) to each, and warms both up.
    pub fn open(
        runtime: &Runtime,
        base_path: &Path,
        candidate_path: &Path,
        settings: &BenchSettings,
        shapes: &ShapeRequest,
        batch: Option<i64>,
    ) -> Result<AbPair> {
        let arm = |path| Arm {
            path,
            settings: settings.clone(),
            batch,
        };
        let check = |specs: &[&ModelSpec]| {
            if !same_inputs(specs[0], specs[1]) {
                bail!(
                    "the base model {} and the candidate take different inputs, so they cannot be timed on the same data; \
                     remove base_model/base_ref to compare against the committed baseline instead",
                    base_path.display()
                );
            }
            Ok(())
        };
        let arms = vec![arm(base_path), arm(candidate_path)];
        let both = Interleaved::open(runtime, arms, shapes, "A/B", check)?;
        Ok(AbPair(both))
    }

    /// See [`Interleaved::extend`].
    pub fn extend(
        &mut self,
        runs: u64,
        deadline: Option<Instant>,
        progress: Progress,
    ) -> Result<()> {
        self.0.extend(runs, deadline, progress)
    }

    /// Samples so far, in milliseconds: (base, candidate).
    pub fn samples_ms(&self) -> (Vec<f64>, Vec<f64>) {
        let mut all = self.0.samples_ms();
        let candidate = all.pop().unwrap_or_default();
        (all.pop().unwrap_or_default(), candidate)
    }

    /// Runs of each model timed so far.
    pub fn runs(&self) -> usize {
        self.0.runs()
    }

    /// Mean seconds one run of each model takes together, from the samples so far.
    pub fn seconds_per_pair(&self) -> f64 {
        self.0.seconds_per_round()
    }

    /// The two bench results: (base, candidate).
    pub fn into_results(self) -> Result<(BenchResult, BenchResult)> {
        let mut all = self.0.into_results()?;
        let candidate = all
            .pop()
            .context("the A/B lost its candidate; this is a bug in modelgate")?;
        let base = all
            .pop()
            .context("the A/B lost its base model; this is a bug in modelgate")?;
        Ok((base, candidate))
    }

    /// The candidate's interface.
    pub fn candidate_spec(&self) -> &ModelSpec {
        self.0.spec(1)
    }

    /// The base model's interface.
    pub fn base_spec(&self) -> &ModelSpec {
        self.0.spec(0)
    }
}

/// The bench notes, and on a GPU a word on why the A/B carries no GPU telemetry: the models
/// alternate in blocks of [`BLOCK`] runs, often tens of milliseconds, shorter than NVML's power
/// averaging (about a second on recent GPUs) and the energy counter's updates, so one sampler
/// over the A/B would mix both models' runs, and splitting its energy between them would be a
/// guess. `modelgate bench` samples each model alone.
fn notes(runs: &[bench::BatchRun], defaulted: &[String], provider: Provider) -> Vec<String> {
    let mut notes = bench::notes_for(runs, defaulted);
    if provider != Provider::Cpu {
        notes.push(
            "no GPU power, clocks or energy for the A/B, whose two models alternate too fast to tell apart; \
             modelgate bench measures them for one model"
                .to_string(),
        );
    }
    notes
}

/// The order of block `block`: `order` rotated by one every two blocks (with three or more
/// models; two alternate ABBA), and reversed in odd blocks.
fn block_order(order: &[usize], block: u64) -> Vec<usize> {
    let mut order = order.to_vec();
    if order.len() > 2 {
        let turn = (block / 2) % order.len() as u64;
        order.rotate_left(turn as usize);
    }
    if !block.is_multiple_of(2) {
        order.reverse();
    }
    order
}

/// Which arm opens the first block, drawn from the clock's nanoseconds: uniform enough for
/// an order nobody can count on.
fn draw(arms: usize) -> usize {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize % arms.max(1))
        .unwrap_or(0)
}

fn same_inputs(a: &ModelSpec, b: &ModelSpec) -> bool {
    a.inputs.len() == b.inputs.len()
        && a.inputs
            .iter()
            .zip(&b.inputs)
            .all(|(x, y)| x.name == y.name && x.elem == y.elem && x.dims.len() == y.dims.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_blocks_every_model_runs_in_every_position_equally_often() {
        let order = [1, 2, 0];
        let blocks: Vec<Vec<usize>> = (0..6).map(|b| block_order(&order, b)).collect();
        assert_eq!(
            blocks,
            [
                [1, 2, 0],
                [0, 2, 1],
                [2, 0, 1],
                [1, 0, 2],
                [0, 1, 2],
                [2, 1, 0]
            ]
        );
        let mut positions = [[0; 3]; 3];
        for b in &blocks {
            for (at, model) in b.iter().enumerate() {
                positions[*model][at] += 1;
            }
        }
        assert_eq!(positions, [[2; 3]; 3]);
        // With two models it is the ABBA order: the model that ends a block opens the next.
        let two: Vec<Vec<usize>> = (0..4).map(|b| block_order(&[0, 1], b)).collect();
        assert_eq!(two, [[0, 1], [1, 0], [0, 1], [1, 0]]);
    }

    #[test]
    fn an_ab_on_a_gpu_says_why_it_has_no_gpu_telemetry() {
        let on = |provider| {
            notes(&[], &[], provider)
                .iter()
                .any(|n| n.starts_with("no GPU power, clocks or energy for the A/B"))
        };
        assert!(on(Provider::Cuda));
        assert!(on(Provider::Tensorrt));
        assert!(!on(Provider::Cpu));
    }
}
