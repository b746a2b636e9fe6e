//! `modelgate eval` predicts what the hand-written Python pipeline predicts, sample by sample.
//!
//! modelgate decodes PNGs with the `image` crate and scales them in Rust; a user's pipeline does
//! it with PIL and numpy. If the two ever disagreed on a pixel (a different grayscale conversion,
//! a rounding step, an off-by-one in the layout), accuracy could still look plausible while the
//! gate judged a different model than the one users run. So the argmax of every test sample is
//! compared with the Python pipeline's, committed as a fixture so the test needs no Python.
//!
//! The fixture `tests/fixtures/digits_fp32_python_preds.csv` was written by (onnxruntime 1.31.1,
//! numpy, pillow):
//!
//! ```sh
//! python scripts/python_eval.py --model models/digits_fp32.onnx \
//!     --manifest models/data/digits/test.csv --repeat 1 \
//!     --dump-preds tests/fixtures/digits_fp32_python_preds.csv
//! ```

use crate::support;

use std::collections::BTreeMap;

use support::{model, modelgate, root};

/// `id -> (label, pred)` from the fixture, with classes as the manifest writes them.
fn python_predictions() -> BTreeMap<String, (String, String)> {
    let path = root().join("tests/fixtures/digits_fp32_python_preds.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            (row[0].to_string(), (row[1].to_string(), row[2].to_string()))
        })
        .collect()
}

#[test]
fn eval_predicts_the_same_class_as_the_python_pipeline_on_every_digit() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("digits.json");
    let manifest = root().join("models/data/digits/test.csv");
    let out = modelgate(&[
        "eval",
        model("digits_fp32.onnx").to_str().unwrap(),
        "--dataset",
        manifest.to_str().unwrap(),
        "--color",
        "gray",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let eval = &results["eval"];
    let classes: Vec<String> = eval["dataset"]["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let class = |v: &serde_json::Value| classes[v.as_u64().unwrap() as usize].clone();
    let ours: BTreeMap<String, (String, String)> = eval["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                (class(&s["label"]), class(&s["pred"])),
            )
        })
        .collect();

    let python = python_predictions();
    assert_eq!(python.len(), 540, "the fixture holds the whole test split");
    let ids_ours: Vec<&String> = ours.keys().collect();
    let ids_python: Vec<&String> = python.keys().collect();
    assert_eq!(
        ids_ours, ids_python,
        "sample ids differ from the manifest's paths"
    );
    let disagreements: Vec<String> = python
        .iter()
        .filter(|(id, theirs)| ours[*id] != **theirs)
        .map(|(id, (label, pred))| {
            format!(
                "{id}: label {label}, Python {pred}, modelgate {}",
                ours[id].1
            )
        })
        .collect();
    assert!(
        disagreements.is_empty(),
        "{} of 540 predictions differ from the Python pipeline:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
