//! How fast modelgate turns image files into model input, without a model.
//!
//! `scripts/bench_preprocess.sh` compares this with Python (Pillow + numpy doing torchvision's
//! ImageNet transform) on the same files. This example runs modelgate's own preprocessing,
//! `preprocess_batch` in batches as `eval` calls it (both cores through rayon), over every
//! `.jpg` in a folder, and prints one JSON line per repetition with samples per second.
//! `--stage decode` times decoding alone (libjpeg-turbo), `--stage decode-image-crate` the
//! `image` crate's JPEG decoder, for comparison; `--threads 1` pins rayon to one thread.
//!
//! ```sh
//! cargo build --release --example preprocess_bench
//! target/release/examples/preprocess_bench DIR [--reps 3] [--batch 64] [--threads N]
//!     [--stage preprocess|decode|decode-image-crate]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use modelgate::data::preprocess::{self, Preset};
use rayon::prelude::*;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let (mut reps, mut batch, mut threads, mut stage) = (3usize, 64usize, 0usize, String::new());
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("a flag needs a value");
        match arg.as_str() {
            "--reps" => reps = value()?.parse()?,
            "--batch" => batch = value()?.parse()?,
            "--threads" => threads = value()?.parse()?,
            "--stage" => stage = value()?,
            _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
            _ => bail!("unexpected argument {arg:?}"),
        }
    }
    let dir = dir
        .context("usage: preprocess_bench DIR [--reps 3] [--batch 64] [--threads N] [--stage S]")?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "jpg"));
    files.sort();
    if files.is_empty() {
        bail!("no .jpg files in {}", dir.display());
    }
    let p = Preset::TorchvisionImagenet.config();
    let stage = if stage.is_empty() {
        "preprocess".to_string()
    } else {
        stage
    };
    for rep in 0..reps {
        let start = Instant::now();
        let mut checksum = 0.0f64;
        for chunk in files.chunks(batch) {
            let paths: Vec<&Path> = chunk.iter().map(PathBuf::as_path).collect();
            checksum += match stage.as_str() {
                "preprocess" => preprocess::preprocess_batch(&paths, &p)?
                    .iter()
                    .step_by(997)
                    .map(|&v| f64::from(v))
                    .sum::<f64>(),
                "decode" => paths
                    .par_iter()
                    .map(|path| preprocess::decode_image(path).map(|i| f64::from(i.width())))
                    .sum::<Result<f64, _>>()?,
                "decode-image-crate" => paths
                    .par_iter()
                    .map(|path| image::open(path).map(|i| f64::from(i.width())))
                    .sum::<Result<f64, _>>()?,
                other => bail!("--stage {other:?}: give preprocess, decode or decode-image-crate"),
            };
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{{\"stage\": \"{stage}\", \"rep\": {rep}, \"samples\": {}, \"seconds\": {seconds:.4}, \"samples_per_s\": {:.1}, \"threads\": {}, \"checksum\": {checksum:.3}}}",
            files.len(),
            files.len() as f64 / seconds,
            rayon::current_num_threads()
        );
    }
    Ok(())
}
