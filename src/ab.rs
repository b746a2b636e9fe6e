//! Same-runner A/B: the base model and the candidate timed in one process, in alternating blocks.
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
//! - both warm up by count and by time, in alternating rounds, and which model opens the first
//!   block (and so warmed up last) is drawn per gate run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
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

/// Warmup rounds per model: warmup alternates between the two this many times.
const WARMUP_ROUNDS: u64 = 4;

struct Side {
    model: LoadedModel,
    samples_ns: Vec<u64>,
    cold: ColdStart,
    memory: MemoryUse,
}

/// The two open models and the samples gathered so far.
pub struct AbPair {
    base: Side,
    candidate: Side,
    resolution: Resolution,
    batch: i64,
    settings: BenchSettings,
    timed: Duration,
    blocks: u64,
    /// Whether the base model opens the even blocks (and the candidate the odd ones).
    base_first: bool,
}

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
        let mut settings = settings.clone();
        let session = &mut settings.session;
        if session.intra_threads.is_none() && session.inter_threads.is_none() {
            session.shared_pool = true;
        } else {
            session.spinning = false;
        }
        let (mut base, base_created, base_memory) =
            bench::open_measured(runtime, base_path, &settings)?;
        let (mut candidate, cand_created, cand_memory) =
            bench::open_measured(runtime, candidate_path, &settings)?;
        if !same_inputs(&base.spec, &candidate.spec) {
            bail!(
                "the base model {} and the candidate take different inputs, so they cannot be timed on the same data; \
                 remove base_model/base_ref to compare against the committed baseline instead",
                base_path.display()
            );
        }
        // Given input values feed both models, exactly as random ones would.
        let given = crate::inputs::load(&shapes.inputs, &candidate.spec)?;
        let resolution = candidate.spec.resolve(&given.shapes(shapes)?, batch)?;
        let batch = bench::batch_size(batch, &resolution);
        let mut first_ms = [0.0; 2];
        for (i, model) in [&mut base, &mut candidate].into_iter().enumerate() {
            // The same seed for both: identical input values.
            let mut rng = StdRng::seed_from_u64(settings.seed);
            first_ms[i] = bench::prepare(model, &resolution.inputs, &given, &mut rng)?;
        }
        let base_first = coin();
        // Alternating warmup rounds, ending with the model that opens the first block.
        let runs = settings.warmup.div_ceil(WARMUP_ROUNDS);
        let seconds = settings.warmup_s / WARMUP_ROUNDS as f64;
        for _ in 0..WARMUP_ROUNDS {
            let order = if base_first {
                [&mut candidate, &mut base]
            } else {
                [&mut base, &mut candidate]
            };
            for model in order {
                bench::warm_up(model, runs, seconds)?;
            }
        }
        let side = |model, created: Duration, first_run_ms, memory| Side {
            model,
            samples_ns: Vec::new(),
            cold: ColdStart {
                session_create_ms: created.as_secs_f64() * 1000.0,
                first_run_ms,
            },
            memory,
        };
        Ok(AbPair {
            base: side(base, base_created, first_ms[0], base_memory),
            candidate: side(candidate, cand_created, first_ms[1], cand_memory),
            resolution,
            batch,
            settings,
            timed: Duration::ZERO,
            blocks: 0,
            base_first,
        })
    }

    /// Times `runs` more runs of each model, in alternating blocks of [`BLOCK`] runs,
    /// rounded up to whole blocks, so the comparison's block bootstrap sees the real blocks.
    /// Stops early, at a block boundary, once `deadline` has passed: a runner that slows down
    /// midway must not stretch the model's time budget.
    pub fn extend(
        &mut self,
        runs: u64,
        deadline: Option<Instant>,
        progress: Progress,
    ) -> Result<()> {
        let target = self.candidate.samples_ns.len() as u64 + runs.div_ceil(BLOCK) * BLOCK;
        let started = Instant::now();
        while (self.candidate.samples_ns.len() as u64) < target
            && deadline.is_none_or(|d| Instant::now() < d)
        {
            let n = BLOCK.min(target - self.candidate.samples_ns.len() as u64);
            let base_opens = self.blocks.is_multiple_of(2) == self.base_first;
            let order = if base_opens {
                [true, false]
            } else {
                [false, true]
            };
            for (i, is_base) in order.into_iter().enumerate() {
                let side = if is_base {
                    &mut self.base
                } else {
                    &mut self.candidate
                };
                // ABBA order: a block's first model ran last in the block before (or warmed up
                // last), so the switch is to its second model, which discards runs for longer;
                // every block discards its first runs, so a block's first timed run never pays
                // for the bookkeeping between blocks on one side only.
                let settle = if i == 1 { SWITCH_TIME } else { Duration::ZERO };
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
            progress("A/B", self.candidate.samples_ns.len() as u64, target);
        }
        self.timed += started.elapsed();
        Ok(())
    }

    /// Samples so far, in milliseconds: (base, candidate).
    pub fn samples_ms(&self) -> (Vec<f64>, Vec<f64>) {
        let ms = |ns: &[u64]| ns.iter().map(|n| *n as f64 / 1e6).collect();
        (ms(&self.base.samples_ns), ms(&self.candidate.samples_ns))
    }

    /// Runs of each model timed so far.
    pub fn runs(&self) -> usize {
        self.candidate.samples_ns.len()
    }

    /// Seconds spent timing so far.
    pub fn timed_s(&self) -> f64 {
        self.timed.as_secs_f64()
    }

    /// Mean seconds one run of each model takes together, from the samples so far.
    pub fn seconds_per_pair(&self) -> f64 {
        let mean = |ns: &[u64]| ns.iter().sum::<u64>() as f64 / ns.len().max(1) as f64 / 1e9;
        mean(&self.base.samples_ns) + mean(&self.candidate.samples_ns)
    }

    /// The two bench results: (base, candidate).
    pub fn into_results(self) -> Result<(BenchResult, BenchResult)> {
        let AbPair {
            base,
            candidate,
            resolution,
            batch,
            settings,
            timed,
            ..
        } = self;
        let peak = system::rss().peak_bytes;
        let wall = timed.as_secs_f64() / 2.0;
        let make = |mut side: Side| -> Result<BenchResult> {
            let mut run =
                bench::batch_run(batch, resolution.inputs.clone(), &side.samples_ns, wall)?;
            run.transfer = side.model.measure_transfers(bench::TRANSFER_COPIES)?;
            let runs = vec![run];
            let mut notes = notes(&runs, &resolution.defaulted, settings.session.provider);
            notes.extend(side.model.gpu_notes().iter().cloned());
            Ok(BenchResult {
                settings: settings.clone(),
                provider: settings.session.provider.name().to_string(),
                cold_start: side.cold,
                memory: MemoryUse {
                    peak_rss_bytes: peak,
                    ..side.memory
                },
                gpu: system::gpu_info(),
                defaulted_dims: resolution.defaulted.clone(),
                notes,
                placement: side.model.placement().cloned(),
                profile: None,
                runs,
            })
        };
        Ok((make(base)?, make(candidate)?))
    }

    /// The candidate's interface.
    pub fn candidate_spec(&self) -> &ModelSpec {
        &self.candidate.model.spec
    }

    /// The base model's interface.
    pub fn base_spec(&self) -> &ModelSpec {
        &self.base.model.spec
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

/// A fair coin for which model opens the A/B, from the clock's nanoseconds.
fn coin() -> bool {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() & 1 == 1)
        .unwrap_or(true)
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
