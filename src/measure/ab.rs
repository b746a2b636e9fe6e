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

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::engine::model::{ModelSpec, Resolution, ShapeRequest};
use crate::engine::runtime::{LoadedModel, Provider, Runtime};
use crate::machine::system;
use crate::measure::bench::{self, BenchResult, BenchSettings, ColdStart, MemoryUse, Progress};

mod child;
mod order;
mod rounds;

pub use child::*;
pub use order::{block_runs_for, BLOCK_RUNS, BLOCK_TIME_S};
pub use rounds::*;

use order::{block_order, draw};

/// One look's samples: both models' runs in the order they were timed, the runs of each
/// session pair (see `compare::LatencyInput::sessions`) and the runs per A/B block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AbSamples {
    pub base_ms: Vec<f64>,
    pub candidate_ms: Vec<f64>,
    pub sessions: Vec<usize>,
    pub block_runs: usize,
}

/// Untimed runs after each switch between the models, in blocks of [`BLOCK_RUNS`]: at least
/// this many...
const SWITCH_RUNS: u64 = 2;
/// ...and at least this long, so a fast model's first runs on refilled caches drop out too.
/// Blocks cut short by [`BLOCK_TIME_S`] (runs over 4 ms) discard nothing: what a switch costs
/// (caches refilled) is a small part of such a run, three of them would cost as much as the
/// block, and ABBA gives each model as many runs right after a switch as the other, so what is
/// left of the cost falls on both alike.
const SWITCH_TIME: Duration = Duration::from_millis(2);

/// Warmup rounds per model: warmup alternates between the models this many times.
const WARMUP_ROUNDS: u64 = 4;

/// One model to time, with its own session settings and batch size.
#[derive(Clone)]
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

/// Any number of open models timed in turn, in blocks of runs: block k runs them in
/// one order and block k+1 in the reverse order (ABC CBA, the ABBA order of two), and with three
/// or more the order rotates every two blocks (BCA ACB, CAB BAC, ...), so over the blocks every
/// model runs in every position equally often; block k of every model was timed within the same
/// stretch, and the comparison's block bootstrap draws those blocks together.
pub struct Interleaved {
    sides: Vec<Side>,
    timed: Duration,
    blocks: u64,
    /// Runs per block: [`BLOCK_RUNS`], or fewer for models slower than 4 ms a run.
    block: u64,
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
    /// `block` is the runs per block; `None` chooses it from the fastest model's warmup runs
    /// ([`block_runs_for`]).
    pub fn open(
        runtime: &Runtime,
        arms: Vec<Arm>,
        shapes: &ShapeRequest,
        label: &'static str,
        block: Option<usize>,
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
            let given = crate::engine::inputs::load(&shapes.inputs, &model.spec)?;
            if batch.is_some() && !given.inputs.is_empty() {
                bail!(
                    "batch: the input values of {} come from files, which fix their shapes; drop the batch setting",
                    path.display()
                );
            }
            let shown = || {
                format!(
                    "model {}",
                    crate::base::text::clean(
                        &path.display().to_string(),
                        crate::base::text::VALUE_MAX_CHARS
                    )
                )
            };
            let resolution = model
                .spec
                .resolve(&given.shapes(shapes)?, batch)
                .with_context(shown)?;
            // The same seed for every arm: identical input values where the inputs agree.
            let mut rng = StdRng::seed_from_u64(settings.seed);
            let first_run_ms = bench::prepare(&mut model, &resolution.inputs, &given, &mut rng)
                .with_context(shown)?;
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
        // Each arm's warmup time and runs, for its time per run.
        let mut warm = vec![(Duration::ZERO, 0u64); n];
        for _ in 0..WARMUP_ROUNDS {
            for &i in order.iter().rev() {
                let side = &mut sides[i];
                let runs = side.settings.warmup.div_ceil(WARMUP_ROUNDS);
                let seconds = side.settings.warmup_s / WARMUP_ROUNDS as f64;
                let started = Instant::now();
                let done = bench::warm_up(&mut side.model, runs, seconds)?;
                warm[i].0 += started.elapsed();
                warm[i].1 += done;
            }
        }
        let block = block.unwrap_or_else(|| {
            let fastest = warm
                .iter()
                .filter(|(_, runs)| *runs > 0)
                .map(|(time, runs)| time.as_secs_f64() / *runs as f64)
                .fold(f64::INFINITY, f64::min);
            block_runs_for(fastest)
        });
        Ok(Interleaved {
            sides,
            timed: Duration::ZERO,
            blocks: 0,
            block: block.clamp(1, BLOCK_RUNS) as u64,
            last: order.first().copied().unwrap_or(0),
            order,
            label,
        })
    }

    /// Times `runs` more runs of each model, in blocks, rounded up to whole blocks, so the
    /// comparison's block bootstrap sees the real blocks. Stops early, at a block
    /// boundary, once `deadline` has passed: a runner that slows down midway must not stretch
    /// the time budget.
    pub fn extend(
        &mut self,
        runs: u64,
        deadline: Option<Instant>,
        progress: Progress,
    ) -> Result<()> {
        let block = self.block;
        let target = self.runs() as u64 + runs.div_ceil(block) * block;
        // Blocks cut short for slow models discard no runs (see SWITCH_TIME).
        let full = block >= BLOCK_RUNS as u64;
        let started = Instant::now();
        while (self.runs() as u64) < target && deadline.is_none_or(|d| Instant::now() < d) {
            let n = block.min(target - self.runs() as u64);
            for index in block_order(&self.order, self.blocks) {
                let side = &mut self.sides[index];
                let switched = index != self.last;
                self.last = index;
                // In a full block, a model that ran last (in the block before, or in the warmup)
                // goes on after a few untimed runs; a switch to another model discards runs for
                // longer. Every full block discards its first runs, so a block's first timed run
                // never pays for the bookkeeping between blocks on one side only. Its first timed
                // run still comes out slower (about +50 % on a microsecond model, measured) even
                // after untimed runs just before it: one more run is timed and its sample dropped.
                let dropped = if full {
                    let settle = if switched {
                        SWITCH_TIME
                    } else {
                        Duration::ZERO
                    };
                    bench::warm_up(&mut side.model, SWITCH_RUNS, settle.as_secs_f64())?;
                    1
                } else {
                    0
                };
                let samples = bench::time_loop(
                    &mut side.model,
                    n + dropped as u64,
                    Duration::ZERO,
                    "",
                    &mut |_| {},
                )?;
                side.samples_ns.extend(&samples[dropped..]);
            }
            self.blocks += 1;
            crate::base::events::report(progress, self.label, self.runs() as u64, target);
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

    /// Runs per block.
    pub fn block_runs(&self) -> usize {
        self.block as usize
    }

    /// Seconds every arm's session took to create, and its first run, together.
    pub fn cold_start_s(&self) -> f64 {
        self.sides
            .iter()
            .map(|s| (s.cold.session_create_ms + s.cold.first_run_ms) / 1000.0)
            .sum()
    }

    /// Arm `arm`'s runs so far, in nanoseconds.
    pub fn samples_ns(&self, arm: usize) -> &[u64] {
        self.sides.get(arm).map_or(&[], |s| &s.samples_ns)
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

/// Warmup of every session pair after the first, by count...
const SESSION_WARMUP_RUNS: u64 = 5;
/// ...and by time: the machine is warm by then, only the fresh sessions' first runs (arena
/// allocation, caches) are discarded.
const SESSION_WARMUP_S: f64 = 0.05;

/// Seconds a child process takes to start and load ONNX Runtime, before one has been timed
/// (measured about 0.2 s on a 2-core runner; the planner uses the real figure once it has one).
const PROCESS_START_S: f64 = 0.25;

/// How the A/B times its session pairs.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// The ONNX Runtime library that child processes load: every pair after the first is
    /// timed in a child process of its own. None keeps every pair in this process.
    pub processes: Option<PathBuf>,
}

/// The session pair the A/B is on.
enum Pair {
    /// Open in the gate's own process.
    Here(Interleaved),
    /// Timed in a child process, which has exited.
    Child(PairRuns),
    /// Not timed yet: the next [`AbPair::extend`] times it in a child process.
    Next,
}

impl Pair {
    fn samples_ns(&self, arm: usize) -> &[u64] {
        match (self, arm) {
            (Pair::Here(pair), _) => pair.samples_ns(arm),
            (Pair::Child(runs), 0) => &runs.base_ns,
            (Pair::Child(runs), _) => &runs.candidate_ns,
            (Pair::Next, _) => &[],
        }
    }

    fn runs(&self) -> usize {
        self.samples_ns(0).len()
    }
}

/// The base model and the candidate, timed in alternating blocks with the same settings, inputs
/// and batch, in a series of session pairs: each pair is a fresh session of each model, opened,
/// warmed up, timed side by side and closed before the next opens. Two sessions of one model
/// settle at their own speed and stay there (allocation layout, which pool thread runs which
/// operator), so the comparison takes each pair as one draw of that spread (see
/// `stats::session_ratio`); one pair of long-lived sessions would measure that pair, not the
/// models. One pair is alive at a time, so no idle session's pool competes with the timed one.
///
/// The first pair is timed in the gate's process; with [`Schedule::processes`], every later
/// pair in a child process of its own, so what a process settles on (address-space layout, the
/// allocator's state, ONNX Runtime's global thread pool) varies between pairs as it does
/// between CI runs, and the interval covers it too.
pub struct AbPair<'r> {
    runtime: &'r Runtime,
    base_path: PathBuf,
    candidate_path: PathBuf,
    settings: BenchSettings,
    shapes: ShapeRequest,
    batch: Option<i64>,
    schedule: Schedule,
    current: Option<Pair>,
    /// The two models' interfaces, read from the first pair.
    specs: (ModelSpec, ModelSpec),
    /// The first pair's results (cold start, memory), the template of the final ones.
    first: Option<(BenchResult, BenchResult)>,
    /// Every closed pair's runs, in nanoseconds: (base, candidate), and the runs of each pair.
    done_ns: (Vec<u64>, Vec<u64>),
    sessions: Vec<usize>,
    timed: Duration,
    /// Seconds the last session pair took to open and warm up.
    open_s: f64,
    /// Runs per block, chosen by the first pair and kept by every later one.
    block: usize,
}

impl<'r> AbPair<'r> {
    /// Opens the first session pair, binds the same inputs (given or random) to each model, and
    /// warms both up with the full warmup settings, timed as `schedule` says.
    pub fn open(
        runtime: &'r Runtime,
        base_path: &Path,
        candidate_path: &Path,
        settings: &BenchSettings,
        shapes: &ShapeRequest,
        batch: Option<i64>,
        schedule: Schedule,
    ) -> Result<AbPair<'r>> {
        let started = Instant::now();
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
        let pair = Interleaved::open(runtime, arms, shapes, "A/B", None, check)?;
        Ok(AbPair {
            block: pair.block_runs(),
            runtime,
            base_path: base_path.to_path_buf(),
            candidate_path: candidate_path.to_path_buf(),
            settings: settings.clone(),
            shapes: shapes.clone(),
            batch,
            schedule,
            specs: (pair.spec(0).clone(), pair.spec(1).clone()),
            current: Some(Pair::Here(pair)),
            first: None,
            done_ns: (Vec::new(), Vec::new()),
            sessions: Vec::new(),
            timed: Duration::ZERO,
            open_s: started.elapsed().as_secs_f64(),
        })
    }

    /// The settings of every pair after the first: a short warmup, the machine being warm.
    fn later_settings(&self) -> BenchSettings {
        let mut settings = self.settings.clone();
        settings.warmup = settings.warmup.min(SESSION_WARMUP_RUNS);
        settings.warmup_s = settings.warmup_s.min(SESSION_WARMUP_S);
        settings
    }

    /// Closes the session pair being timed (keeping its runs) and opens a fresh one, warmed up
    /// briefly: the machine is warm, only the new sessions' first runs are discarded. With
    /// child processes, the fresh pair is opened and timed by the next [`AbPair::extend`].
    pub fn next_session(&mut self) -> Result<()> {
        self.close_current()?;
        if self.schedule.processes.is_some() {
            self.current = Some(Pair::Next);
            return Ok(());
        }
        let started = Instant::now();
        let arm = |path| Arm {
            path,
            settings: self.later_settings(),
            batch: self.batch,
        };
        let arms = vec![arm(&self.base_path), arm(&self.candidate_path)];
        let pair = Interleaved::open(
            self.runtime,
            arms,
            &self.shapes,
            "A/B",
            Some(self.block),
            |_| Ok(()),
        )?;
        self.current = Some(Pair::Here(pair));
        self.open_s = started.elapsed().as_secs_f64();
        Ok(())
    }

    fn close_current(&mut self) -> Result<()> {
        let Some(pair) = self.current.take() else {
            return Ok(());
        };
        let runs = pair.runs();
        if runs == 0 {
            return Ok(());
        }
        self.done_ns.0.extend(pair.samples_ns(0));
        self.done_ns.1.extend(pair.samples_ns(1));
        self.sessions.push(runs);
        match pair {
            Pair::Here(pair) => {
                self.timed += Duration::from_secs_f64(pair.timed_s());
                if self.first.is_none() {
                    let mut results = pair.into_results()?;
                    let candidate = results
                        .pop()
                        .context("the A/B lost its candidate; this is a bug in modelgate")?;
                    let base = results
                        .pop()
                        .context("the A/B lost its base model; this is a bug in modelgate")?;
                    self.first = Some((base, candidate));
                }
            }
            Pair::Child(child) => {
                self.timed += Duration::from_secs_f64(child.timed_s.max(0.0));
            }
            Pair::Next => {}
        }
        Ok(())
    }

    /// Times `runs` more runs of each model in the session pair now open (see
    /// [`Interleaved::extend`]); a pair due in a child process is opened and timed there, and
    /// one a child process has timed takes no more runs.
    pub fn extend(
        &mut self,
        runs: u64,
        deadline: Option<Instant>,
        progress: Progress,
    ) -> Result<()> {
        // Progress counts every run of each model timed so far, over all session pairs.
        let before = self.done_ns.0.len() as u64;
        let mut whole = crate::base::events::rescaled(progress, |done, target| {
            (before + done, before + target)
        });
        match &mut self.current {
            Some(Pair::Here(pair)) => pair.extend(runs, deadline, &mut whole),
            Some(Pair::Next) => {
                let library = self.schedule.processes.clone().context(
                    "the A/B has no ONNX Runtime library for its child process; this is a bug in modelgate",
                )?;
                let spec = PairSpec {
                    base: self.base_path.clone(),
                    candidate: self.candidate_path.clone(),
                    settings: self.later_settings(),
                    shapes: self.shapes.clone(),
                    batch: self.batch,
                    runs,
                    block_runs: Some(self.block),
                    seconds: deadline
                        .map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64()),
                };
                let started = Instant::now();
                let child = time_pair_in_child(&library, &spec)?;
                self.open_s = (started.elapsed().as_secs_f64() - child.timed_s).max(0.0);
                let timed = child.base_ns.len() as u64;
                crate::base::events::report(&mut whole, "A/B", timed, timed);
                self.current = Some(Pair::Child(child));
                Ok(())
            }
            Some(Pair::Child(_)) => Ok(()),
            None => bail!("the A/B has no open session pair; this is a bug in modelgate"),
        }
    }

    /// Arm `arm`'s runs so far (0 the base, 1 the candidate), closed pairs first, in ns.
    fn all_ns(&self, arm: usize) -> impl Iterator<Item = u64> + '_ {
        let done = if arm == 0 {
            &self.done_ns.0
        } else {
            &self.done_ns.1
        };
        let open = self.current.as_ref().map_or(&[][..], |p| p.samples_ns(arm));
        done.iter().chain(open).copied()
    }

    /// Every run so far, in milliseconds, with the runs of each session pair.
    pub fn samples(&self) -> AbSamples {
        let ms = |arm| {
            self.all_ns(arm)
                .map(|n| n as f64 / 1e6)
                .collect::<Vec<f64>>()
        };
        let mut sessions = self.sessions.clone();
        if self.session_runs() > 0 {
            sessions.push(self.session_runs());
        }
        AbSamples {
            base_ms: ms(0),
            candidate_ms: ms(1),
            sessions,
            block_runs: self.block,
        }
    }

    /// Runs of each model timed so far.
    pub fn runs(&self) -> usize {
        self.done_ns.0.len() + self.session_runs()
    }

    /// Runs of each model in the session pair now open.
    pub fn session_runs(&self) -> usize {
        self.current.as_ref().map_or(0, Pair::runs)
    }

    /// Runs per A/B block.
    pub fn block_runs(&self) -> usize {
        self.block
    }

    /// Session pairs so far, the open one included once it has runs.
    pub fn session_count(&self) -> usize {
        self.sessions.len() + usize::from(self.session_runs() > 0)
    }

    /// Mean seconds one run of each model takes together, over every run so far.
    pub fn seconds_per_pair(&self) -> f64 {
        let runs = self.runs().max(1) as f64;
        (0..2)
            .map(|arm| self.all_ns(arm).sum::<u64>() as f64 / runs / 1e9)
            .sum()
    }

    /// Seconds a session pair takes to open and warm up: measured on the last pair opened after
    /// the first; before there is one, estimated from the first pair's session creation and
    /// first runs plus the short warmup later pairs get (the first pair's own full warmup is
    /// no guide to theirs), and a child process's start when pairs run in their own.
    pub fn open_s(&self) -> f64 {
        if !self.sessions.is_empty() {
            return self.open_s;
        }
        let Some(Pair::Here(pair)) = &self.current else {
            return self.open_s;
        };
        let per_run = self.seconds_per_pair() / 2.0;
        let warmup = (SESSION_WARMUP_RUNS as f64 * per_run).max(SESSION_WARMUP_S);
        let start = if self.schedule.processes.is_some() {
            PROCESS_START_S
        } else {
            0.0
        };
        start + pair.cold_start_s() + 2.0 * warmup
    }

    /// The two bench results, (base, candidate): the first session pair's cold start and
    /// memory, every pair's runs, and the runs of each pair in `sessions`.
    pub fn into_results(mut self) -> Result<(BenchResult, BenchResult)> {
        self.close_current()?;
        let (mut base, mut candidate) = self
            .first
            .take()
            .context("the A/B timed no runs; this is a bug in modelgate")?;
        let wall = self.timed.as_secs_f64() / 2.0;
        let split = (self.sessions.as_slice(), self.block);
        merge_sessions(&mut base, &self.done_ns.0, split, wall)?;
        merge_sessions(&mut candidate, &self.done_ns.1, split, wall)?;
        Ok((base, candidate))
    }

    /// The interfaces of the base model and the candidate.
    pub fn specs(&self) -> &(ModelSpec, ModelSpec) {
        &self.specs
    }
}

/// `result` (a first session's) with its runs replaced by every session's, `ns`, and the runs
/// of each session and per block recorded: `(sessions, block_runs)`.
fn merge_sessions(
    result: &mut BenchResult,
    ns: &[u64],
    (sessions, block_runs): (&[usize], usize),
    wall_s: f64,
) -> Result<()> {
    let Some(run) = result.runs.first_mut() else {
        return Ok(());
    };
    let transfer = run.transfer.take();
    let mut merged = bench::batch_run(run.batch, run.inputs.clone(), ns, wall_s)?;
    merged.transfer = transfer;
    merged.sessions = sessions.to_vec();
    merged.block_runs = Some(block_runs);
    *run = merged;
    Ok(())
}

/// The bench notes, and on a GPU a word on why the A/B carries no GPU telemetry: the models
/// alternate in blocks of at most [`BLOCK_TIME_S`], shorter than NVML's power
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

fn same_inputs(a: &ModelSpec, b: &ModelSpec) -> bool {
    a.inputs.len() == b.inputs.len()
        && a.inputs
            .iter()
            .zip(&b.inputs)
            .all(|(x, y)| x.name == y.name && x.elem == y.elem && x.dims.len() == y.dims.len())
}

#[cfg(test)]
mod tests;
