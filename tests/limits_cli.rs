//! Hostile sizes and durations, through the real binary: each is refused before anything is
//! allocated or run, with exit code 2 and one line naming the limit and the flag or config key,
//! and quickly. Before these limits, they aborted on a failed allocation, panicked, or hung.

use crate::support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::{assert_user_error, model, root, stderr};

/// How long a refusal may take; a run past it is a hang.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs modelgate like `support::modelgate`, but kills it and fails past [`DEADLINE`].
fn modelgate_quick(args: &[&str]) -> Output {
    let mut child = support::modelgate_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run modelgate");
    let started = Instant::now();
    while child.try_wait().expect("wait for modelgate").is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "modelgate {args:?} still running after {DEADLINE:?}: {}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect output")
}

fn refused(args: &[&str], expected: &str) {
    let out = modelgate_quick(args);
    let err = stderr(&out);
    assert!(!err.contains("RUST_BACKTRACE"), "panic: {err}");
    assert_user_error(&out, expected);
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn huge_static_input_is_refused_before_allocating() {
    let huge = model("testdata/huge_static_dim.onnx");
    refused(
        &["bench", path_str(&huge), "--iterations", "10"],
        "input `x` is 100000x100000x3 (120000000000 bytes)",
    );
}

#[test]
fn bench_flags_over_the_limits_name_the_flag() {
    let digits = model("digits_fp32.onnx");
    let digits = path_str(&digits);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--batch", "100000000000"],
            "--batch 100000000000: more than the largest batch",
        ),
        (
            &["--iterations", "10000000000"],
            "--iterations 10000000000: more than the 10000000 timed runs",
        ),
        (
            &["--dim", "N=9223372036854775807"],
            "--dim N=9223372036854775807: a dim must be 1 to",
        ),
        (
            &["--min-time-s", "1e20"],
            "--min-time-s 100000000000000000000: give a number of seconds",
        ),
        (
            &["--min-time", "inf"],
            "--min-time-s inf: give a number of seconds",
        ),
        (
            &["--intra-threads", "100000"],
            "--intra-threads 100000: more than 4 threads per core",
        ),
        (
            &["--inter-threads", "100000"],
            "--inter-threads 100000: more than 4 threads per core",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["bench", digits];
        args.extend_from_slice(extra);
        refused(&args, expected);
    }
}

#[test]
fn eval_flags_over_the_limits_name_the_flag() {
    let digits = model("digits_fp32.onnx");
    let manifest = root().join("models/data/digits/test.csv");
    let base = [
        "eval",
        path_str(&digits),
        "--dataset",
        path_str(&manifest),
        "--color",
        "gray",
    ];
    let cases: &[(&[&str], &str)] = &[
        (
            &["--resize", "100000x100000"],
            "--resize 100000x100000: more than modelgate's image limit",
        ),
        (
            // The old name, kept as an alias; the error names the flag's own name.
            &["--crop", "20000x8"],
            "--center-crop 20000x8: more than modelgate's image limit",
        ),
        (
            &["--batch", "100000000000"],
            "--batch 100000000000: more than the largest batch",
        ),
        (
            &["--resize", "16384x16384", "--batch", "64"],
            "--batch 64: a batch of 64 16384x16384 images",
        ),
        (&["--intra-threads", "100000"], "--intra-threads 100000"),
    ];
    for (extra, expected) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        refused(&args, expected);
    }
}

#[test]
fn config_values_over_the_limits_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modelgate.toml");
    let head = "[[models]]\nname = \"digits\"\ncandidate = \"models/digits_fp32.onnx\"\n";
    let cases = [
        (
            "[models.bench]\nmin_time_s = inf\n",
            "models `digits`: bench.min_time_s = inf:",
        ),
        (
            "[models.bench]\nmin_time_s = nan\n",
            "bench.min_time_s = NaN:",
        ),
        (
            "[models.bench]\nmin_time_s = -1\n",
            "bench.min_time_s = -1:",
        ),
        (
            "[models.bench]\nmin_time_s = 1e20\n",
            "bench.min_time_s = 100000000000000000000:",
        ),
        (
            "[models.bench]\nmax_time_s = inf\n",
            "bench.max_time_s = inf:",
        ),
        ("[models.bench]\nmax_time_s = 0\n", "bench.max_time_s = 0:"),
        ("[models.bench]\nwarmup_s = nan\n", "bench.warmup_s = NaN:"),
        (
            "[models.bench]\niterations = 10000000000\n",
            "bench.iterations = 10000000000: more than",
        ),
        (
            "[models.bench]\nbatch = 100000000000\n",
            "bench.batch = 100000000000: more than",
        ),
        (
            "[models.bench]\nintra_threads = 100000\n",
            "bench.intra_threads = 100000: more than",
        ),
        (
            "[models.bench]\ninter_threads = 100000\n",
            "bench.inter_threads = 100000: more than",
        ),
        (
            "[models.bench.dims]\nN = -3\n",
            "bench.dims.N = -3: a dim must be 1 to",
        ),
        (
            "[models.bench.shapes]\nimage = [1, 1, 8, 9223372036854775807]\n",
            "bench.shapes.image = 1x1x8x9223372036854775807:",
        ),
        (
            "[models.preprocess]\ncolor = \"gray\"\nresize = [100000, 100000]\n",
            "preprocess.resize = [100000, 100000]: more than modelgate's image limit",
        ),
    ];
    for (section, expected) in cases {
        std::fs::write(&config, format!("{head}{section}")).unwrap();
        let json = dir.path().join("comparison.json");
        refused(
            &[
                "gate",
                "--config",
                path_str(&config),
                "--json",
                path_str(&json),
            ],
            expected,
        );
    }
}

#[test]
fn dynamic_image_height_and_width_must_be_set() {
    let hw = model("testdata/dynamic_hw.onnx");
    refused(
        &["bench", path_str(&hw), "--iterations", "10"],
        "--dim H=224 --dim W=224 or --shape image=1x3x224x224",
    );
    let out = modelgate_quick(&[
        "bench",
        path_str(&hw),
        "--dim",
        "H=8",
        "--dim",
        "W=8",
        "--iterations",
        "10",
        "--warmup",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// CRC-32 (ISO-HDLC, as PNG uses) of `bytes`.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG of a few dozen bytes whose header claims `width` x `height` gray pixels.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit gray, no interlace
    chunk(b"IHDR", &header);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    png
}

#[test]
fn image_whose_header_claims_a_huge_size_is_refused_before_decoding() {
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(images.join("0")).unwrap();
    std::fs::write(images.join("0/huge.png"), png_claiming(100_000, 100_000)).unwrap();
    // Every class needs a folder; the others hold one real digit each.
    let digit = root().join("models/data/digits/test/0/0010.png");
    for class in 1..10 {
        let folder = images.join(class.to_string());
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(&digit, folder.join("digit.png")).unwrap();
    }
    let digits = model("digits_fp32.onnx");
    refused(
        &[
            "eval",
            path_str(&digits),
            "--dataset",
            path_str(&images),
            "--color",
            "gray",
            "--resize",
            "8x8",
        ],
        "huge.png is larger than modelgate decodes (16384 pixels a side",
    );
}

/// Hostile inputs, round three: each is exit 2 with one short line (none over 1,000
/// characters), within the deadline, naming the thing and the fix.
#[test]
fn round_three_hostile_inputs_are_short_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let digits = model("digits_fp32.onnx");
    let short = |args: &[&str], expected: &str| {
        let out = modelgate_quick(args);
        let err = stderr(&out);
        assert!(
            err.lines().all(|l| l.chars().count() <= 1_000),
            "a line over 1,000 characters: {} bytes of stderr",
            err.len()
        );
        assert_user_error(&out, expected);
    };
    // A FIFO given as an input's values: refused, not read for ever.
    let fifo = dir.path().join("x.npy");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let input = format!("image={}", path_str(&fifo));
    short(
        &[
            "bench",
            path_str(&digits),
            "--input",
            &input,
            "--iterations",
            "5",
        ],
        "is not a regular file; give a .npy or ONNX TensorProto .pb file",
    );
    // A 200,000-character shape is quoted cut, with the advice kept.
    // 60,000 characters: a single argument may hold at most 128 KiB.
    let shape = format!("image={}", "1x".repeat(30_000));
    let out = modelgate_quick(&["bench", path_str(&digits), "--shape", &shape]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", &err[..err.len().min(500)]);
    assert!(
        err.lines().all(|l| l.chars().count() <= 1_000),
        "{} bytes",
        err.len()
    );
    assert!(err.contains("--shape"), "{}", &err[..err.len().min(500)]);
    // A 10 MB string in the config: the TOML error quotes it cut.
    let config = dir.path().join("modelgate.toml");
    let huge = "a".repeat(10_000_000);
    std::fs::write(
        &config,
        format!("[[models]]\nname = \"m\"\ncandidate = \"{huge}\"\nbogus = 1\n"),
    )
    .unwrap();
    let out = modelgate_quick(&["gate", "--config", path_str(&config)]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.len() < 4_000, "{} bytes of stderr", err.len());
    // A 300-character model name cannot name a baseline file: refused, named, cut.
    let name = "m".repeat(300);
    std::fs::write(
        &config,
        format!("[[models]]\nname = \"{name}\"\ncandidate = \"models/digits_fp32.onnx\"\n"),
    )
    .unwrap();
    short(
        &["gate", "--config", path_str(&config)],
        "characters long; give at most 100 (it names baselines/<name>.json",
    );
    // NaN and negative explore constraints are refused, naming the key.
    for (line, expected) in [
        (
            "recall_min = nan",
            "[explore.constraints] recall_min = NaN: give a fraction",
        ),
        (
            "latency_p95_ms = -1",
            "[explore.constraints] latency_p95_ms = -1: give a number",
        ),
    ] {
        std::fs::write(
            &config,
            format!(
                "[[models]]\nname = \"m\"\ncandidate = {:?}\n\n[[models.variants]]\nname = \"again\"\n\n[explore.constraints]\n{line}\n",
                path_str(&digits)
            ),
        )
        .unwrap();
        short(
            &[
                "explore",
                "--config",
                path_str(&config),
                "--model",
                "m",
                "--out",
                path_str(&dir.path().join("out")),
            ],
            expected,
        );
    }
    // A peak no plan can serve.
    short(
        &[
            "load",
            path_str(&digits),
            "--qps",
            "10",
            "--peak-qps",
            "1e300",
        ],
        "--peak-qps 1e300: give a rate above 0 and at most 1e9",
    );
}
