//! Real input values instead of random ones, and the check of a model's outputs against
//! expected ones.
//!
//! Random data suits a model whose inputs are free numbers, but not one that takes indices into
//! a table, a sample rate, or a mask: those need the values they were made for. Inputs come from
//! `--input NAME=PATH` (`.npy` or `.pb`) and from an ONNX test-data folder (`--inputs DIR`, as in
//! the model zoo's `test_data_set_0/`), whose `output_*.pb` files are what the model should give.
//! Everything here is plain data and pure functions; the files are read by `tensorfile`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::engine::model::{
    format_dims, Dim, ElemType, ModelSpec, ShapeRequest, TensorData, TensorSpec,
};
use crate::engine::tensorfile::{self, StoredTensor};

pub use crate::engine::model::InputFiles;

/// A tensor and the file it came from.
#[derive(Debug, Clone)]
pub struct FromFile {
    pub path: PathBuf,
    pub tensor: StoredTensor,
}

/// Input values matched to the model's inputs, and expected outputs matched to its outputs.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub inputs: BTreeMap<String, FromFile>,
    pub expected: BTreeMap<String, FromFile>,
}

/// Reads the files and matches each to one of the model's inputs or outputs: by the tensor's
/// own name when it has one, else by its number. Types and shapes must fit the model.
pub fn load(files: &InputFiles, spec: &ModelSpec) -> Result<Given> {
    let mut given = Given::default();
    if let Some(dir) = &files.dir {
        let numbered = |prefix: &str| numbered_files(dir, prefix);
        given.inputs = match_by_name_or_position(numbered("input_")?, &spec.inputs, "input")?;
        given.expected = match_by_name_or_position(numbered("output_")?, &spec.outputs, "output")?;
        if given.inputs.is_empty() {
            bail!(
                "--inputs {}: the folder has no input_0.pb; give an ONNX test-data folder such as test_data_set_0",
                dir.display()
            );
        }
    }
    for (name, path) in &files.files {
        if !spec.inputs.iter().any(|i| &i.name == name) {
            bail!(
                "--input {name}={}: the model has no input named `{name}`; its inputs are: {}",
                path.display(),
                names(&spec.inputs)
            );
        }
        let tensor = tensorfile::read(path)?;
        given.inputs.insert(
            name.clone(),
            FromFile {
                path: path.clone(),
                tensor,
            },
        );
    }
    for input in &spec.inputs {
        if let Some(file) = given.inputs.get(&input.name) {
            check_fits(input, file, "input")?;
        }
    }
    Ok(given)
}

impl Given {
    /// `request` with the given inputs' shapes added: real values fix their own shapes.
    pub fn shapes(&self, request: &ShapeRequest) -> Result<ShapeRequest> {
        let mut request = request.clone();
        for (name, file) in &self.inputs {
            if request.shapes.contains_key(name) {
                bail!(
                    "--shape {name}: the input's values come from {}, which fixes its shape; drop --shape {name}",
                    file.path.display()
                );
            }
            request
                .shapes
                .insert(name.clone(), file.tensor.shape.clone());
        }
        Ok(request)
    }

    /// The values for input `name`, when given.
    pub fn feed(&self, name: &str, elem: &ElemType) -> Option<TensorData> {
        self.inputs.get(name)?.tensor.to_feed(elem)
    }
}

fn names(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `DIR/PREFIX<n>.pb` files, in order of `n`.
fn numbered_files(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "--inputs {}: cannot read the folder ({e}); give an ONNX test-data folder such as test_data_set_0",
            dir.display()
        )
    })?;
    let mut numbered: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name
                .strip_prefix(prefix)?
                .strip_suffix(".pb")?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    numbered.sort();
    Ok(numbered.into_iter().map(|(_, p)| p).collect())
}

fn match_by_name_or_position(
    paths: Vec<PathBuf>,
    specs: &[TensorSpec],
    what: &str,
) -> Result<BTreeMap<String, FromFile>> {
    if paths.len() > specs.len() {
        bail!(
            "{} holds {} {what} files but the model has {} {what}s ({})",
            paths[0].parent().unwrap_or(Path::new(".")).display(),
            paths.len(),
            specs.len(),
            names(specs)
        );
    }
    let mut matched = BTreeMap::new();
    for (position, path) in paths.into_iter().enumerate() {
        let tensor = tensorfile::read(&path)?;
        let name = match &tensor.name {
            Some(name) if specs.iter().any(|s| &s.name == name) => name.clone(),
            Some(name) => bail!(
                "{} is named `{name}`, but the model has no {what} of that name; its {what}s are: {}",
                path.display(),
                names(specs)
            ),
            None => specs[position].name.clone(),
        };
        if matched.contains_key(&name) {
            bail!("{} gives {what} `{name}` a second time", path.display());
        }
        matched.insert(name, FromFile { path, tensor });
    }
    Ok(matched)
}

fn elem_name(elem: &ElemType) -> String {
    match elem {
        ElemType::Unsupported(kind) => kind.clone(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    }
}

/// The file's type must be the model's, and its shape must fit the declared one.
fn check_fits(spec: &TensorSpec, file: &FromFile, what: &str) -> Result<()> {
    let tensor = &file.tensor;
    if !tensor.values.is_of(&spec.elem) {
        bail!(
            "{} holds {} values but the model's {what} `{}` is {}; save the values as {}",
            file.path.display(),
            tensor.type_name(),
            spec.name,
            elem_name(&spec.elem),
            elem_name(&spec.elem)
        );
    }
    let fits = tensor.shape.len() == spec.dims.len()
        && tensor.shape.iter().zip(&spec.dims).all(|(n, d)| match d {
            Dim::Fixed(fixed) => fixed == n,
            Dim::Symbolic(_) => *n >= 1,
        });
    if !fits {
        bail!(
            "{} has shape {} but the model's {what} `{}` is declared {}",
            file.path.display(),
            format_shape(&tensor.shape),
            spec.name,
            format_dims(&spec.dims)
        );
    }
    Ok(())
}

fn format_shape(shape: &[i64]) -> String {
    format_dims(&shape.iter().map(|n| Dim::Fixed(*n)).collect::<Vec<_>>())
}

/// How close an output must be: numpy's `assert_allclose(actual, desired, rtol, atol)`, which
/// passes when `|actual - desired| <= atol + rtol * |desired|` for every element.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Default for Tolerance {
    /// ONNX's backend tests: `rtol=1e-3, atol=1e-7` (onnx/backend/test/case/model/__init__.py).
    fn default() -> Self {
        Tolerance {
            rtol: 1e-3,
            atol: 1e-7,
        }
    }
}

/// One output compared with its expected values.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputCheck {
    pub output: String,
    pub passed: bool,
    /// One line saying how it matched, or where it differs most.
    pub line: String,
}

/// An output as the model returned it, widened to f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Returned {
    pub type_name: String,
    pub shape: Vec<i64>,
    pub values: Vec<f64>,
}

/// Compares a returned output with the expected one as ONNX's backend test runner does: same
/// shape, same type, then `assert_allclose(returned, expected)` (NaN equals NaN; an infinity
/// must match exactly).
pub fn check_output(
    output: &str,
    expected: &FromFile,
    got: &Returned,
    tol: Tolerance,
) -> OutputCheck {
    let fail = |line: String| OutputCheck {
        output: output.to_string(),
        passed: false,
        line,
    };
    let want = &expected.tensor;
    if want.shape != got.shape {
        return fail(format!(
            "output `{output}` has shape {} but {} expects {}",
            format_shape(&got.shape),
            expected.path.display(),
            format_shape(&want.shape)
        ));
    }
    if want.type_name() != got.type_name {
        return fail(format!(
            "output `{output}` is {} but {} holds {}",
            got.type_name,
            expected.path.display(),
            want.type_name()
        ));
    }
    let want_values = want.to_f64();
    let mut outside = 0usize;
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&g, &w)) in got.values.iter().zip(&want_values).enumerate() {
        let both_nan = g.is_nan() && w.is_nan();
        let diff = if both_nan || g == w {
            0.0
        } else {
            (g - w).abs()
        };
        // As numpy's isclose: infinities are close only to themselves.
        let close = both_nan
            || g == w
            || (g.is_finite() && w.is_finite() && diff <= tol.atol + tol.rtol * w.abs());
        if !close {
            outside += 1;
        }
        // A NaN difference (one side NaN) counts as the largest.
        let larger = match worst {
            None => true,
            Some((_, d)) => diff.is_nan() && !d.is_nan() || diff > d,
        };
        if larger && (diff > 0.0 || diff.is_nan()) {
            worst = Some((i, diff));
        }
    }
    let tolerance = format!("atol {:e} + rtol {:e} x |expected|", tol.atol, tol.rtol);
    match worst {
        Some((at, diff)) if outside > 0 => fail(format!(
            "output `{output}` differs from {}: largest absolute difference {diff} at flat index {at} \
             (expected {}, got {}); {outside} of {} values outside the tolerance {tolerance}",
            expected.path.display(),
            want_values[at],
            got.values[at],
            got.values.len()
        )),
        _ => OutputCheck {
            output: output.to_string(),
            passed: true,
            line: format!(
                "output `{output}` matches {} ({} values, largest absolute difference {}, tolerance {tolerance})",
                expected.path.display(),
                got.values.len(),
                worst.map_or(0.0, |(_, d)| d)
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(values: Vec<f32>) -> FromFile {
        FromFile {
            path: PathBuf::from("output_0.pb"),
            tensor: StoredTensor {
                name: None,
                shape: vec![values.len() as i64],
                values: TensorData::F32(values),
            },
        }
    }

    fn got(values: Vec<f64>) -> Returned {
        Returned {
            type_name: "float32".into(),
            shape: vec![values.len() as i64],
            values,
        }
    }

    #[test]
    fn outputs_compare_as_numpy_assert_allclose() {
        // np.testing.assert_allclose(actual, desired, rtol=1e-3, atol=1e-7) passes for each
        // first pair and fails for each second (numpy 2.4).
        let tol = Tolerance::default();
        let cases: Vec<(Vec<f64>, Vec<f32>, bool)> = vec![
            (vec![1000.9], vec![1000.0], true),
            (vec![1001.1], vec![1000.0], false),
            (vec![0.0], vec![0.0], true),
            (vec![2e-7], vec![0.0], false),
            (vec![f64::NAN], vec![f32::NAN], true),
            (vec![f64::NAN], vec![1.0], false),
            (vec![f64::INFINITY], vec![f32::INFINITY], true),
            (vec![f64::INFINITY], vec![f32::NEG_INFINITY], false),
        ];
        for (g, w, pass) in cases {
            let check = check_output("y", &expected(w.clone()), &got(g.clone()), tol);
            assert_eq!(check.passed, pass, "{g:?} vs {w:?}: {}", check.line);
        }
    }

    #[test]
    fn a_mismatch_names_the_largest_difference_and_where() {
        let check = check_output(
            "y",
            &expected(vec![1.0, 2.0, 3.5]),
            &got(vec![1.0, 2.0, 3.0]),
            Tolerance::default(),
        );
        assert!(!check.passed);
        assert!(
            check
                .line
                .contains("largest absolute difference 0.5 at flat index 2"),
            "{}",
            check.line
        );
        let shape = check_output(
            "y",
            &expected(vec![1.0]),
            &got(vec![1.0, 2.0]),
            Tolerance::default(),
        );
        assert!(shape.line.contains("has shape 2"), "{}", shape.line);
    }
}
