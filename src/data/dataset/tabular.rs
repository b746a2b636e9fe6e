//! The tabular form: a CSV of numeric feature columns and a label column, for
//! models that take a feature vector rather than an image.
//!
//! Feature order is the model's input order, so it is explicit: the
//! `feature_columns` option when given, else every column but the label in file
//! order. Cells must be finite numbers; an empty cell, text, NaN or infinity is
//! an error naming the file, line and column, because a silently imputed value
//! would change what the gate measures.

use std::path::Path;

use super::csv_file::{column_index, csv_error, open_csv};
use super::{resolve_labels, slices, Dataset, DatasetError, RawLabel};
use super::{DatasetOptions, Sample, SampleInput};

pub(super) fn load(
    path: &Path,
    options: &DatasetOptions,
    class_names: Option<&[String]>,
) -> Result<Dataset, DatasetError> {
    let (mut reader, header) = open_csv(path)?;
    let label_col = column_index(
        path,
        &header,
        &options.label_column,
        "set label_column to the column holding the labels",
    )?;
    let slice_cols = slices::csv_columns(path, &header, &options.slices)?;
    let feature_cols = feature_columns(path, &header, label_col, &slice_cols, options)?;
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );

    let mut raw = Vec::new();
    let mut rows = Vec::new();
    let mut slice_values = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(0, |p| p.line());
        let label = record.get(label_col).unwrap_or("").to_string();
        if label.is_empty() {
            return Err(DatasetError::UnreadableLine {
                path: path.to_path_buf(),
                line,
                reason: format!(
                    "column \"{}\" is empty; every line needs a label",
                    options.label_column
                ),
            });
        }
        let mut features = Vec::with_capacity(feature_cols.len());
        for &col in &feature_cols {
            let cell = record.get(col).unwrap_or("");
            match cell.parse::<f32>() {
                Ok(v) if v.is_finite() => features.push(v),
                _ => {
                    return Err(DatasetError::NotNumeric {
                        path: path.to_path_buf(),
                        line,
                        column: header[col].clone(),
                        value: cell.to_string(),
                    })
                }
            }
        }
        if !options.slices.is_empty() {
            slice_values.push(slices::csv_values(
                path,
                line,
                &options.slices,
                &slice_cols,
                &record,
            )?);
        }
        raw.push(RawLabel {
            label,
            location: format!("{} line {line}", path.display()),
        });
        rows.push((format!("{file_name}:{line}"), features));
    }
    let (classes, labels) = resolve_labels(&raw, class_names)?;
    let samples = rows
        .into_iter()
        .zip(labels)
        .map(|((id, features), label)| Sample {
            id,
            label,
            input: SampleInput::Features(features),
        })
        .collect();
    Ok(Dataset {
        classes,
        samples,
        slices: slice_values,
    })
}

/// Indices of the feature columns, in model input order.
fn feature_columns(
    path: &Path,
    header: &[String],
    label_col: usize,
    slice_cols: &[usize],
    options: &DatasetOptions,
) -> Result<Vec<usize>, DatasetError> {
    let invalid = |message: String| DatasetError::InvalidOption {
        path: path.to_path_buf(),
        message,
    };
    let cols: Vec<usize> = match &options.feature_columns {
        Some(names) => names
            .iter()
            .map(|n| column_index(path, header, n, "fix feature_columns"))
            .collect::<Result<_, _>>()?,
        // Subgroup columns name groups, not features.
        None => (0..header.len())
            .filter(|&i| i != label_col && !slice_cols.contains(&i))
            .collect(),
    };
    if cols.contains(&label_col) {
        return Err(invalid(format!(
            "feature_columns includes the label column \"{}\"; remove it",
            options.label_column
        )));
    }
    if cols.is_empty() {
        return Err(invalid(
            "no feature columns; list them in feature_columns or add columns besides the label"
                .to_string(),
        ));
    }
    Ok(cols)
}

#[cfg(test)]
mod tests {
    use super::super::{detect_format, load_dataset, DatasetFormat};
    use super::*;

    fn write(body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data.csv");
        std::fs::write(&p, body).unwrap();
        (dir, p)
    }

    fn features(ds: &Dataset) -> Vec<(String, usize, Vec<f32>)> {
        ds.samples
            .iter()
            .map(|s| match &s.input {
                SampleInput::Features(f) => (s.id.clone(), s.label, f.clone()),
                other => panic!("expected features, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn all_other_columns_are_features_in_file_order() {
        let (_d, p) = write("age,label,size\n61,10,1.5\n40,2,-3e-1\n");
        assert_eq!(detect_format(&p).unwrap(), DatasetFormat::Tabular);
        let ds = load_dataset(&p, &DatasetOptions::default(), None).unwrap();
        assert_eq!(ds.classes, vec!["2", "10"]);
        assert_eq!(
            features(&ds),
            vec![
                ("data.csv:2".to_string(), 1, vec![61.0, 1.5]),
                ("data.csv:3".to_string(), 0, vec![40.0, -0.3]),
            ]
        );
    }

    #[test]
    fn feature_columns_and_label_column_options() {
        let (_d, p) = write("a,b,c,y\n1,2,3,x\n");
        let opts = DatasetOptions {
            label_column: "y".to_string(),
            feature_columns: Some(vec!["c".to_string(), "a".to_string()]),
            ..DatasetOptions::default()
        };
        let ds = load_dataset(&p, &opts, None).unwrap();
        assert_eq!(features(&ds)[0].2, vec![3.0, 1.0]);
    }

    #[test]
    fn non_numeric_feature_names_file_line_column() {
        for bad in ["abc", "", "NaN", "inf"] {
            let (_d, p) = write(&format!("age,label\n1,0\n{bad},1\n"));
            let err = load_dataset(&p, &DatasetOptions::default(), None).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{} line 3, column \"age\": {bad:?} is not a finite number; fix the value or leave the column out with feature_columns",
                    p.display()
                )
            );
        }
    }

    #[test]
    fn missing_feature_column_lists_present() {
        let (_d, p) = write("a,label\n1,0\n");
        let opts = DatasetOptions {
            feature_columns: Some(vec!["b".to_string()]),
            ..DatasetOptions::default()
        };
        let err = load_dataset(&p, &opts, None).unwrap_err();
        assert!(
            matches!(&err, DatasetError::MissingColumn { column, present, .. } if column == "b" && present == "a, label"),
            "{err}"
        );
    }

    #[test]
    fn label_only_csv_has_no_features() {
        let (_d, p) = write("label\n0\n");
        let err = load_dataset(&p, &DatasetOptions::default(), None).unwrap_err();
        assert!(err.to_string().contains("no feature columns"), "{err}");
    }

    #[test]
    fn feature_columns_on_a_manifest_is_rejected() {
        let (_d, p) = write("path,label\nx.png,0\n");
        let opts = DatasetOptions {
            feature_columns: Some(vec!["a".to_string()]),
            ..DatasetOptions::default()
        };
        let err = load_dataset(&p, &opts, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("feature_columns applies only to tabular"),
            "{err}"
        );
    }
}
