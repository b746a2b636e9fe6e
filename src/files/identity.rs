//! Whether a baseline is of the same model as the candidate it judges.
//!
//! `gate`, `compare` and `check` all read a baseline from a file that anyone can point them at,
//! and a baseline of another model would judge the candidate against numbers that mean nothing
//! for it. A new SHA-256 is the normal case (that is what a pull request changes); a different
//! input signature is not: the inputs' names, element types and fixed dims must agree, and a
//! symbolic dim must meet a symbolic dim at the same position (its name may differ, since
//! exporters rename them). The model's name must agree where both sides take it from the gate
//! config (`gate`); `bench` and `eval` name a results file after the model file's stem, so
//! `compare` and `check` of `model_fp32.json` against `model_int8.json` rely on the signature.

use std::path::Path;

use anyhow::{bail, Result};

use crate::base::text::{clean, VALUE_MAX_CHARS};
use crate::engine::model::{Dim, ModelSpec, TensorSpec};
use crate::files::results::ModelRecord;

/// Whether names must agree as well as input signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Both names come from the gate config: they must be equal.
    Match,
    /// A name may be a file's stem: only the signature is compared.
    Free,
}

/// Fails, naming both models, when `baseline` is not of the model `candidate` describes.
pub fn check_same_model(
    baseline: &ModelRecord,
    baseline_path: &Path,
    candidate: &ModelRecord,
    names: Names,
) -> Result<()> {
    let same_inputs = key(&baseline.interface) == key(&candidate.interface);
    let same_name = names == Names::Free || baseline.name == candidate.name;
    if same_inputs && same_name {
        return Ok(());
    }
    let name = |r: &ModelRecord| clean(&r.name, VALUE_MAX_CHARS);
    let what = if same_inputs {
        format!(
            "baseline {} is of model `{}` but the candidate is model `{}`",
            baseline_path.display(),
            name(baseline),
            name(candidate)
        )
    } else {
        format!(
            "baseline {} is of model `{}` with inputs {} but the candidate, model `{}`, has inputs {}",
            baseline_path.display(),
            name(baseline),
            signature(&baseline.interface),
            name(candidate),
            signature(&candidate.interface)
        )
    };
    bail!(
        "{what}; give the baseline of this model, or approve one with `modelgate baseline approve`"
    )
}

/// What is compared of each input, sorted by name: the order ONNX Runtime lists inputs in is
/// not part of what a caller feeds.
fn key(spec: &ModelSpec) -> Vec<(&str, String, Vec<Option<i64>>)> {
    let mut inputs: Vec<_> = spec
        .inputs
        .iter()
        .map(|t| {
            let dims = t
                .dims
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => Some(*n),
                    Dim::Symbolic(_) => None,
                })
                .collect();
            (t.name.as_str(), format!("{:?}", t.elem), dims)
        })
        .collect();
    inputs.sort();
    inputs
}

/// `features float32 [N, 30]; mask bool [N]`, as in the results file.
fn signature(spec: &ModelSpec) -> String {
    let one = |t: &TensorSpec| {
        let dims: Vec<String> = t
            .dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => n.to_string(),
                Dim::Symbolic(s) if s.is_empty() => "?".to_string(),
                Dim::Symbolic(s) => clean(s, 40),
            })
            .collect();
        let elem = serde_json::to_value(&t.elem)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", t.elem));
        format!("{} {elem} [{}]", clean(&t.name, 80), dims.join(", "))
    };
    let all: Vec<String> = spec.inputs.iter().take(8).map(one).collect();
    let more = spec.inputs.len().saturating_sub(8);
    let mut text = all.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    format!("({text})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::ElemType;

    fn record(name: &str, inputs: Vec<TensorSpec>) -> ModelRecord {
        ModelRecord {
            name: name.to_string(),
            path: format!("{name}.onnx"),
            sha256: "ab".repeat(32),
            size_bytes: 1,
            interface: ModelSpec {
                inputs,
                outputs: vec![],
            },
        }
    }

    fn input(name: &str, elem: ElemType, dims: &[Dim]) -> TensorSpec {
        TensorSpec {
            name: name.to_string(),
            elem,
            dims: dims.to_vec(),
        }
    }

    #[test]
    fn what_makes_a_baseline_another_models() {
        use Dim::{Fixed, Symbolic};
        let n = |s: &str| Symbolic(s.to_string());
        let base = record(
            "cancer",
            vec![input("x", ElemType::Float32, &[n("N"), Fixed(30)])],
        );
        let path = Path::new("baselines/cancer.json");
        let check = |cand: &ModelRecord, names| check_same_model(&base, path, cand, names);
        // (candidate, names rule, Ok?)
        let cases = [
            (base.clone(), Names::Match, true),
            (
                record(
                    "cancer",
                    vec![input("x", ElemType::Float32, &[n("batch"), Fixed(30)])],
                ),
                Names::Match,
                true,
            ),
            (
                record("digits", base.interface.inputs.clone()),
                Names::Match,
                false,
            ),
            (
                record("digits", base.interface.inputs.clone()),
                Names::Free,
                true,
            ),
            (
                record(
                    "cancer",
                    vec![input("y", ElemType::Float32, &[n("N"), Fixed(30)])],
                ),
                Names::Free,
                false,
            ),
            (
                record(
                    "cancer",
                    vec![input("x", ElemType::Float16, &[n("N"), Fixed(30)])],
                ),
                Names::Free,
                false,
            ),
            (
                record(
                    "cancer",
                    vec![input("x", ElemType::Float32, &[n("N"), Fixed(31)])],
                ),
                Names::Free,
                false,
            ),
            (
                record(
                    "cancer",
                    vec![input("x", ElemType::Float32, &[Fixed(1), Fixed(30)])],
                ),
                Names::Free,
                false,
            ),
            (record("cancer", vec![]), Names::Free, false),
        ];
        for (i, (cand, names, ok)) in cases.iter().enumerate() {
            assert_eq!(check(cand, *names).is_ok(), *ok, "case {i}");
        }
        let mut other = base.clone();
        other.sha256 = "cd".repeat(32);
        assert!(
            check(&other, Names::Match).is_ok(),
            "a new SHA is a new version"
        );
        let msg = check(&cases[6].0, Names::Free).unwrap_err().to_string();
        assert!(
            msg.contains("inputs (x float32 [N, 30])")
                && msg.contains("inputs (x float32 [N, 31])"),
            "{msg}"
        );
        let msg = check(&cases[2].0, Names::Match).unwrap_err().to_string();
        assert!(
            msg.contains("`cancer`") && msg.contains("`digits`"),
            "{msg}"
        );
    }
}
