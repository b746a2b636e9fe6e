//! Subgroup columns: the `slices` option names manifest or tabular columns whose values name
//! subgroups (a hospital site, a scanner, a sex), so metrics can be reported per subgroup.
//!
//! A model can keep its overall recall while losing it on one site; the gate can only see that
//! if each sample carries its subgroup values. Reading is as strict as for labels: a named column
//! that is missing, or an empty value, is an error naming the file and line, and a column with
//! more distinct values than [`MAX_SLICE_VALUES`] is refused, since it is then an identifier
//! rather than a subgroup and its tables would swamp the report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::csv_file::column_index;
use super::{DatasetError, DatasetFormat, DatasetOptions};

/// Most distinct values one slice column may have.
pub const MAX_SLICE_VALUES: usize = 100;

/// Refuses slices on an image folder (it has no columns), a slice that repeats, and a slice
/// that is the label column.
pub(super) fn check_options(
    path: &Path,
    options: &DatasetOptions,
    format: DatasetFormat,
) -> Result<(), DatasetError> {
    let invalid = |message: String| DatasetError::InvalidOption {
        path: path.to_path_buf(),
        message,
    };
    if options.slices.is_empty() {
        return Ok(());
    }
    if format == DatasetFormat::ImageFolder {
        return Err(invalid(
            "slices needs a manifest or tabular CSV with subgroup columns; an image folder has none, so remove slices or list the images in a manifest".into(),
        ));
    }
    let mut seen = BTreeSet::new();
    for name in &options.slices {
        if !seen.insert(name) {
            return Err(invalid(format!(
                "slices lists \"{name}\" twice; list each column once"
            )));
        }
        if *name == options.label_column {
            return Err(invalid(format!(
                "slices lists the label column \"{name}\"; per-class metrics are already reported, so remove it"
            )));
        }
    }
    Ok(())
}

/// Column positions of the slices in a CSV header; a missing one is an error naming it and the
/// columns present.
pub(super) fn csv_columns(
    path: &Path,
    header: &[String],
    slices: &[String],
) -> Result<Vec<usize>, DatasetError> {
    slices
        .iter()
        .map(|name| {
            column_index(
                path,
                header,
                name,
                "fix slices in [models.dataset] to name subgroup columns",
            )
        })
        .collect()
}

/// One CSV record's slice values; an empty value is an error naming the line.
pub(super) fn csv_values(
    path: &Path,
    line: u64,
    slices: &[String],
    columns: &[usize],
    record: &csv::StringRecord,
) -> Result<BTreeMap<String, String>, DatasetError> {
    let mut out = BTreeMap::new();
    for (name, &col) in slices.iter().zip(columns) {
        let value = record.get(col).unwrap_or("");
        if value.is_empty() {
            return Err(empty(path, line, name));
        }
        out.insert(name.clone(), value.to_string());
    }
    Ok(out)
}

/// One JSON line's slice values: strings, numbers or booleans. A missing key names the keys the
/// line has.
pub(super) fn json_values(
    path: &Path,
    line: u64,
    slices: &[String],
    object: &Value,
) -> Result<BTreeMap<String, String>, DatasetError> {
    let mut out = BTreeMap::new();
    for name in slices {
        let value = match object.get(name) {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => {
                return Err(DatasetError::UnreadableLine {
                    path: path.to_path_buf(),
                    line,
                    reason: format!(
                        "slice key \"{name}\" is not a string or number; give each subgroup a name"
                    ),
                })
            }
            None => {
                let present = object
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                return Err(DatasetError::UnreadableLine {
                    path: path.to_path_buf(),
                    line,
                    reason: format!(
                        "has no slice key \"{name}\" (keys present: {present}); add it to every line or fix slices in [models.dataset]"
                    ),
                });
            }
        };
        if value.is_empty() {
            return Err(empty(path, line, name));
        }
        out.insert(name.clone(), value);
    }
    Ok(out)
}

fn empty(path: &Path, line: u64, name: &str) -> DatasetError {
    DatasetError::UnreadableLine {
        path: path.to_path_buf(),
        line,
        reason: format!(
            "slice column \"{name}\" is empty; every line needs a subgroup value (write e.g. \"unknown\")"
        ),
    }
}

/// Refuses a slice column with more than [`MAX_SLICE_VALUES`] distinct values.
pub(super) fn check_distinct(
    path: &Path,
    slices: &[String],
    values: &[BTreeMap<String, String>],
) -> Result<(), DatasetError> {
    for name in slices {
        let distinct: BTreeSet<&str> = values
            .iter()
            .filter_map(|v| v.get(name).map(String::as_str))
            .collect();
        if distinct.len() > MAX_SLICE_VALUES {
            return Err(DatasetError::InvalidOption {
                path: path.to_path_buf(),
                message: format!(
                    "slice column \"{name}\" has {} distinct values, more than the {MAX_SLICE_VALUES} allowed; slice by a coarser column",
                    distinct.len()
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::load_dataset;
    use super::*;

    fn write(name: &str, body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::write(dir.path().join("a.png"), b"x").unwrap();
        (dir, p)
    }

    fn with_slices(names: &[&str]) -> DatasetOptions {
        DatasetOptions {
            slices: names.iter().map(|s| s.to_string()).collect(),
            ..DatasetOptions::default()
        }
    }

    #[test]
    fn tabular_manifest_and_jsonl_carry_slice_values() {
        let (_d, p) = write("t.csv", "x,site,label\n1.0,north,0\n2.0,south,1\n");
        let ds = load_dataset(&p, &with_slices(&["site"]), None).unwrap();
        assert_eq!(ds.slices.len(), 2);
        assert_eq!(ds.slices[1]["site"], "south");
        // The slice column is not a feature.
        assert!(
            matches!(&ds.samples[0].input, super::super::SampleInput::Features(f) if f.len() == 1)
        );

        let (_d, p) = write("m.csv", "path,label,site\na.png,1,east\n");
        let ds = load_dataset(&p, &with_slices(&["site"]), None).unwrap();
        assert_eq!(ds.slices[0]["site"], "east");

        let (_d, p) = write(
            "m.jsonl",
            "{\"path\": \"a.png\", \"label\": 1, \"site\": 7}\n",
        );
        let ds = load_dataset(&p, &with_slices(&["site"]), None).unwrap();
        assert_eq!(ds.slices[0]["site"], "7");
    }

    #[test]
    fn missing_columns_empty_values_and_too_many_values_are_one_line_errors() {
        let cases = [
            (
                "t.csv",
                "x,label\n1.0,0\n".to_string(),
                "no column \"site\" (columns present: x, label)",
            ),
            (
                "t.csv",
                "x,site,label\n1.0,,0\n".to_string(),
                "line 2: slice column \"site\" is empty",
            ),
            (
                "m.jsonl",
                "{\"path\": \"a.png\", \"label\": 1}\n".to_string(),
                "line 1: has no slice key \"site\" (keys present: ",
            ),
            (
                "t.csv",
                std::iter::once("x,site,label\n".to_string())
                    .chain((0..101).map(|i| format!("1.0,s{i},0\n")))
                    .collect(),
                "101 distinct values, more than the 100 allowed",
            ),
        ];
        for (name, body, expected) in cases {
            let (_d, p) = write(name, &body);
            let err = load_dataset(&p, &with_slices(&["site"]), None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
            assert!(!err.contains('\n'), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let err = load_dataset(dir.path(), &with_slices(&["site"]), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("an image folder has none"), "{err}");
    }
}
