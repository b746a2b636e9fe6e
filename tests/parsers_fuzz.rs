//! The parsers of files a pull request can change (modelgate.toml, a dataset manifest, a
//! results or baseline file) fed arbitrary text and arbitrary damage to real files: each must
//! answer Ok or Err, never panic. The case counts keep a debug build under a few seconds.

use std::path::Path;

use modelgate::data::dataset::{load_dataset, DatasetOptions};
use modelgate::files::config::GateConfig;
use modelgate::files::results;
use proptest::prelude::*;

const CONFIG: &str = include_str!("../modelgate.toml");
const BASELINE: &str = include_str!("../src/commands/baseline/testdata/cancer.json");
const MANIFEST_CSV: &str = "path,label\nimg/a.png,0\nimg/b.png,1\n";
const MANIFEST_JSONL: &str =
    "{\"path\": \"img/a.png\", \"label\": \"tumor\"}\n{\"path\": \"img/b.png\", \"label\": 3}\n";

/// `text` cut at `cut` (a fraction of its length) with `edits` bytes replaced, read back as
/// text the way the loaders read files (invalid UTF-8 replaced).
fn damaged(text: &str, cut: f64, edits: &[(f64, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes.truncate((bytes.len() as f64 * cut) as usize);
    for (at, byte) in edits {
        if !bytes.is_empty() {
            let i = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
            bytes[i] = *byte;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn edits() -> impl Strategy<Value = Vec<(f64, u8)>> {
    prop::collection::vec((0.0..1.0f64, any::<u8>()), 0..8)
}

/// Writes `body` as a manifest beside two image files and loads it: Ok or Err, no panic.
fn load_manifest(name: &str, body: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("img")).unwrap();
    for f in ["a.png", "b.png"] {
        std::fs::write(dir.path().join("img").join(f), b"x").unwrap();
    }
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    let _ = load_dataset(&path, &DatasetOptions::default(), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn config_parser_never_panics_on_any_text(text in ".{0,400}") {
        let _ = GateConfig::parse(&text);
    }

    #[test]
    fn config_parser_never_panics_on_a_damaged_config(cut in 0.0..=1.0f64, edits in edits()) {
        let _ = GateConfig::parse(&damaged(CONFIG, cut, &edits));
    }

    #[test]
    fn results_parser_never_panics_on_any_text(text in ".{0,400}") {
        let _ = results::parse(&text);
    }

    #[test]
    fn results_parser_never_panics_on_a_damaged_baseline(cut in 0.0..=1.0f64, edits in edits()) {
        if let Ok(parsed) = results::parse(&damaged(BASELINE, cut, &edits)) {
            // What parses is a whole results file, and is its own model.
            let same = modelgate::files::identity::check_same_model(
                &parsed.model,
                Path::new("b.json"),
                &parsed.model,
                modelgate::files::identity::Names::Match,
            );
            prop_assert!(same.is_ok());
        }
    }

    #[test]
    fn manifest_loaders_never_panic_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        load_manifest("m.csv", &bytes);
        load_manifest("m.jsonl", &bytes);
    }

    #[test]
    fn manifest_loaders_never_panic_on_a_damaged_manifest(cut in 0.0..=1.0f64, edits in edits()) {
        load_manifest("m.csv", damaged(MANIFEST_CSV, cut, &edits).as_bytes());
        load_manifest("m.jsonl", damaged(MANIFEST_JSONL, cut, &edits).as_bytes());
    }
}

/// Every prefix of a real results file: none may panic (the shorter committed fixture, read at
/// a stride so a debug build stays fast; every cut of the JSON's first 2 KiB).
#[test]
fn results_parser_never_panics_on_any_prefix_of_a_baseline() {
    let bytes = BASELINE.as_bytes();
    let cuts = (0..2048.min(bytes.len())).chain((2048..bytes.len()).step_by(97));
    for cut in cuts {
        let _ = results::parse(&String::from_utf8_lossy(&bytes[..cut]));
    }
    assert!(results::parse(BASELINE).is_ok());
}

/// Every prefix of modelgate.toml.
#[test]
fn config_parser_never_panics_on_any_prefix_of_the_config() {
    for cut in 0..=CONFIG.len() {
        if CONFIG.is_char_boundary(cut) {
            let _ = GateConfig::parse(&CONFIG[..cut]);
        }
    }
    assert!(GateConfig::parse(CONFIG).is_ok());
}
