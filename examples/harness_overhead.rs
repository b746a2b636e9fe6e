//! What modelgate's timed loop costs per run, beyond the model itself.
//!
//! `modelgate bench` times each run alone (two clock reads and a push into a preallocated vector
//! per run, in `bench::time_loop`). That bookkeeping must stay small next to the fastest model
//! anyone benchmarks, or the p50 it reports is partly the harness. This example opens a model with
//! modelgate's own runtime, binds random inputs the way `bench` does, and compares
//!
//! - (a) N bare `LoadedModel::run_bound()` calls with one clock read around the whole loop, and
//! - (b) `bench::time_loop` for N runs, with one clock read around it,
//!
//! in ns per run; the harness overhead is (b) - (a). On a shared machine one long loop is often
//! hit by another process, which adds hundreds of ns per run to whichever side it lands on, more
//! than the overhead being measured. So each round alternates many short blocks of (a) and (b)
//! (which goes first flips every block) and keeps the median block of each side and the median
//! of the paired differences; the table then gives the median over rounds. It prints markdown,
//! as `docs/benchmarks.md` quotes it.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-study cargo build --release --examples
//! /work/target-study/release/examples/harness_overhead --ort-lib /path/to/libonnxruntime.so \
//!     [--model models/tiny.onnx] [--runs 2000] [--blocks 200] [--rounds 5] [--intra-threads 1]
//! ```

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;

use modelgate::engine::model::ShapeRequest;
use modelgate::engine::ortlib::{self, LibraryRequest};
use modelgate::engine::runtime::{LoadedModel, Runtime, SessionSettings};
use modelgate::measure::bench;

struct Args {
    ort_lib: Option<PathBuf>,
    model: PathBuf,
    runs: u64,
    blocks: usize,
    rounds: usize,
    intra_threads: Option<usize>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        ort_lib: None,
        model: PathBuf::from("models/tiny.onnx"),
        runs: 2000,
        blocks: 200,
        rounds: 5,
        intra_threads: Some(1),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--ort-lib" => args.ort_lib = Some(PathBuf::from(value()?)),
            "--model" => args.model = PathBuf::from(value()?),
            "--runs" => args.runs = value()?.parse().context("--runs: a whole number")?,
            "--blocks" => args.blocks = value()?.parse().context("--blocks: a whole number")?,
            "--rounds" => args.rounds = value()?.parse().context("--rounds: a whole number")?,
            // 0 leaves ONNX Runtime's default thread count.
            "--intra-threads" => {
                let n: usize = value()?
                    .parse()
                    .context("--intra-threads: a whole number")?;
                args.intra_threads = (n > 0).then_some(n);
            }
            other => bail!(
                "unknown argument {other}; use --ort-lib PATH --model PATH --runs N --blocks N \
                 --rounds N --intra-threads N"
            ),
        }
    }
    if args.runs == 0 || args.blocks == 0 || args.rounds == 0 {
        bail!("--runs, --blocks and --rounds must be at least 1");
    }
    Ok(args)
}

/// (a): bare runs, one clock read around all of them; ns per run.
fn bare_ns_per_run(model: &mut LoadedModel, runs: u64) -> Result<f64> {
    let start = Instant::now();
    for _ in 0..runs {
        model.run_bound()?;
    }
    Ok(start.elapsed().as_nanos() as f64 / runs as f64)
}

/// (b): modelgate's timed loop, one clock read around it; ns per run, and the p50 it recorded.
fn timed_loop_ns_per_run(model: &mut LoadedModel, runs: u64) -> Result<(f64, f64)> {
    let start = Instant::now();
    let samples = bench::time_loop(model, runs, Duration::ZERO, "", &mut |_| {})?;
    let per_run = start.elapsed().as_nanos() as f64 / runs as f64;
    let mut sorted = samples;
    sorted.sort_unstable();
    Ok((per_run, sorted[sorted.len() / 2] as f64))
}

/// Two clock reads and a push with nothing between them: the floor of (b) - (a).
fn clock_pair_ns(runs: u64) -> f64 {
    let mut samples: Vec<u64> = Vec::with_capacity(runs as usize);
    let start = Instant::now();
    for _ in 0..runs {
        let t0 = Instant::now();
        let t1 = Instant::now();
        samples.push((t1 - t0).as_nanos() as u64);
    }
    let per_run = start.elapsed().as_nanos() as f64 / runs as f64;
    black_box(&samples);
    per_run
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One round's medians over its blocks.
struct Round {
    bare: f64,
    timed: f64,
    overhead: f64,
    inner_p50: f64,
    clock: f64,
}

fn round(model: &mut LoadedModel, args: &Args) -> Result<Round> {
    let (mut bare, mut timed, mut diff, mut p50s, mut clock) =
        (vec![], vec![], vec![], vec![], vec![]);
    for block in 0..args.blocks {
        // Flip which side goes first, so neither always follows the other.
        let (a, (b, p50)) = if block % 2 == 0 {
            let a = bare_ns_per_run(model, args.runs)?;
            (a, timed_loop_ns_per_run(model, args.runs)?)
        } else {
            let b = timed_loop_ns_per_run(model, args.runs)?;
            (bare_ns_per_run(model, args.runs)?, b)
        };
        bare.push(a);
        timed.push(b);
        diff.push(b - a);
        p50s.push(p50);
        clock.push(clock_pair_ns(args.runs));
    }
    Ok(Round {
        bare: median(&bare),
        timed: median(&timed),
        overhead: median(&diff),
        inner_p50: median(&p50s),
        clock: median(&clock),
    })
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let choice = ortlib::locate(
        &LibraryRequest {
            explicit: args.ort_lib.clone(),
            want_gpu: false,
        },
        &mut |line| eprintln!("{line}"),
    )?;
    let runtime = Runtime::load(&choice, None)?;
    let session = SessionSettings {
        intra_threads: args.intra_threads,
        ..SessionSettings::default()
    };
    let (mut model, _) = runtime.open(&args.model, &session)?;
    let resolution = model.spec.resolve(&ShapeRequest::default(), None)?;
    bench::bind_inputs(
        &mut model,
        &resolution.inputs,
        &modelgate::engine::inputs::Given::default(),
        &mut StdRng::seed_from_u64(0),
    )?;
    // Warm up the session and the allocator before either side is timed.
    for _ in 0..1000 {
        model.run_bound()?;
    }

    println!(
        "model {}, ONNX Runtime {} ({}), intra-op threads {}; each round: {} alternating blocks \
         of {} runs per side, medians over blocks",
        args.model.display(),
        runtime.library.version,
        runtime.library.path,
        args.intra_threads
            .map_or("default".to_string(), |n| n.to_string()),
        args.blocks,
        args.runs
    );
    println!();
    println!(
        "| round | (a) bare run_bound, ns/run | (b) time_loop, ns/run | overhead (b)-(a), ns/run \
         | time_loop's own p50, ns | two clock reads + push alone, ns |"
    );
    println!("|---|---|---|---|---|---|");
    let mut rounds = Vec::new();
    for i in 1..=args.rounds {
        let r = round(&mut model, &args)?;
        println!(
            "| {i} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.bare, r.timed, r.overhead, r.inner_p50, r.clock
        );
        rounds.push(r);
    }
    let col = |f: fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    println!(
        "| **median** | **{:.0}** | **{:.0}** | **{:.0}** | **{:.0}** | **{:.0}** |",
        col(|r| r.bare),
        col(|r| r.timed),
        col(|r| r.overhead),
        col(|r| r.inner_p50),
        col(|r| r.clock)
    );
    Ok(())
}
