//! Labeled evaluation data, loaded once into plain records before any model runs.
//!
//! A gate is only as good as the data it scores, so loading is strict: every
//! label must map to a known class, every feature must be a finite number, and
//! every problem is reported as one line naming the file (and line) and the fix.
//! Three on-disk forms are read: a folder of class subfolders of images, a
//! manifest (CSV or JSON lines) of image paths and labels, and a tabular CSV of
//! numeric features. Errors are typed ([`DatasetError`]) so the command that
//! calls [`load_dataset`] can map all of them to exit code 2.

mod csv_file;
mod folder;
mod manifest;
mod slices;
mod tabular;

pub use slices::MAX_SLICE_VALUES;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A labeled evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    /// Class names; a sample's `label` and a model's output column index into this.
    pub classes: Vec<String>,
    /// Samples in a stable order (sorted files, or file order for manifests).
    pub samples: Vec<Sample>,
    /// Each sample's subgroup values (column -> value), in sample order; empty when no
    /// `slices` are configured.
    pub slices: Vec<BTreeMap<String, String>>,
}

/// One labeled example.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Stable identifier for reports: the image path relative to the dataset
    /// (folder), the path as written (manifest), or `file.csv:LINE` (tabular).
    pub id: String,
    /// Index into [`Dataset::classes`].
    pub label: usize,
    /// What the model is fed.
    pub input: SampleInput,
}

/// The model input of a sample, before preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SampleInput {
    /// An image file, resolved to a path that exists.
    Image(PathBuf),
    /// A row of finite numeric features, passed to the model as-is.
    Features(Vec<f32>),
}

/// Which on-disk form to read; `Auto` guesses from the path.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DatasetFormat {
    /// Directory -> `image_folder`; `.jsonl` -> `manifest_jsonl`; `.csv` ->
    /// `manifest_csv` when it has a `path` column, else `tabular`.
    #[default]
    Auto,
    /// `root/<class>/.../<image>.png|jpg|jpeg`.
    ImageFolder,
    /// CSV with a `path` column and a label column.
    ManifestCsv,
    /// One JSON object per line with `path` and the label key.
    ManifestJsonl,
    /// CSV of numeric feature columns and a label column.
    Tabular,
}

/// How to read a dataset (the `[models.dataset]` options other than its path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetOptions {
    /// On-disk form; default `auto`.
    #[serde(default)]
    pub format: DatasetFormat,
    /// Column (CSV) or key (JSON lines) holding the label; default `label`.
    #[serde(default = "default_label_column")]
    pub label_column: String,
    /// Tabular only: feature columns in model input order; default all
    /// columns except the label column, in file order.
    #[serde(default)]
    pub feature_columns: Option<Vec<String>>,
    /// Manifests only: accept image paths that resolve (through `..`, an absolute path or a
    /// symlink) outside the manifest's folder; default false, since a dataset from a pull
    /// request must not read files elsewhere on the runner.
    #[serde(default)]
    pub allow_outside_paths: bool,
    /// Manifest and tabular only: columns (CSV) or keys (JSON lines) whose values name
    /// subgroups, such as `["site", "sex"]`; metrics are reported per value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<String>,
}

fn default_label_column() -> String {
    "label".to_string()
}

impl Default for DatasetOptions {
    fn default() -> Self {
        DatasetOptions {
            format: DatasetFormat::Auto,
            label_column: default_label_column(),
            feature_columns: None,
            allow_outside_paths: false,
            slices: Vec::new(),
        }
    }
}

/// Why a dataset could not be loaded. Each message is one line naming the file
/// and the fix.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The dataset path, or an image a manifest lists, does not exist.
    #[error("{path} does not exist{context}; check the path")]
    MissingPath {
        /// The path that is missing.
        path: PathBuf,
        /// Where it was referenced, e.g. " (listed in data.csv line 3)", or empty.
        context: String,
    },
    /// A manifest lists an image that resolves outside the manifest's folder.
    #[error("{manifest} line {line}, key \"path\": {written:?} resolves to {resolved}, outside the dataset's folder {folder}; move the image into the folder, or set allow_outside_paths = true in [models.dataset] (eval: --allow-outside-paths)")]
    OutsidePath {
        /// The manifest.
        manifest: PathBuf,
        /// 1-based line number in the manifest.
        line: u64,
        /// The path as written.
        written: String,
        /// Where it resolves to.
        resolved: PathBuf,
        /// The manifest's folder, resolved.
        folder: PathBuf,
    },
    /// The dataset file is a Git LFS pointer: the data was never fetched.
    #[error("dataset {path} is a Git LFS pointer, not the data; fetch it with `git lfs pull` (actions/checkout with lfs: true)")]
    LfsPointer {
        /// The dataset file.
        path: PathBuf,
    },
    /// A file or directory could not be read.
    /// The cause is in the message and not a `source`, so a report of the whole chain says
    /// it once.
    #[error("cannot read {path}: {cause}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The form could not be guessed from the path.
    #[error("cannot tell the dataset format of {path}; use a directory, a .csv or a .jsonl file, or set format = \"image_folder\", \"manifest_csv\", \"manifest_jsonl\" or \"tabular\"")]
    UnknownFormat {
        /// The dataset path.
        path: PathBuf,
    },
    /// An option does not apply to the chosen form, or class names repeat.
    #[error("dataset {path}: {message}")]
    InvalidOption {
        /// The dataset path.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Loading found no samples.
    #[error("dataset {path} has no samples; {hint}")]
    Empty {
        /// The dataset path.
        path: PathBuf,
        /// What the loader looked for.
        hint: String,
    },
    /// A required column is absent from the CSV header.
    #[error("{path} has no column \"{column}\" (columns present: {present}); {fix}")]
    MissingColumn {
        /// The CSV file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The header, comma separated.
        present: String,
        /// Which option names the column.
        fix: String,
    },
    /// A feature cell is empty, not a number, NaN or infinite.
    #[error("{path} line {line}, column \"{column}\": {value:?} is not a finite number; fix the value or leave the column out with feature_columns")]
    NotNumeric {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The column name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// A manifest or CSV line could not be parsed.
    #[error("{path} line {line}: {reason}")]
    UnreadableLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file (0 when unknown).
        line: u64,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A label is not among the configured class names.
    #[error("{location}: label \"{label}\" is neither one of the class names [{known}] nor a class index; fix the label or add it to class_names")]
    UnknownLabel {
        /// "file line N" or "subfolder DIR".
        location: String,
        /// The label as written.
        label: String,
        /// The known class names, comma separated.
        known: String,
    },
}

/// Load a dataset from `path`.
///
/// `class_names` (from the postprocess config) fixes the classes and their
/// order; every label must then be one of them. Without it, classes are the
/// distinct labels sorted (numerically when all labels are numbers); for an
/// image folder they are all subfolder names sorted by name, as torchvision's
/// `ImageFolder` does, so class indices line up with models trained that way.
pub fn load_dataset(
    path: &Path,
    options: &DatasetOptions,
    class_names: Option<&[String]>,
) -> Result<Dataset, DatasetError> {
    if !path.exists() {
        return Err(DatasetError::MissingPath {
            path: path.to_path_buf(),
            context: String::new(),
        });
    }
    if let Some(names) = class_names {
        check_class_names(path, names)?;
    }
    if path.is_file() {
        let mut head = Vec::new();
        let read = std::fs::File::open(path)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 1024), &mut head));
        if read.is_ok() && crate::base::gitref::is_lfs_pointer(&head) {
            return Err(DatasetError::LfsPointer {
                path: path.to_path_buf(),
            });
        }
    }
    let format = match options.format {
        DatasetFormat::Auto => detect_format(path)?,
        other => other,
    };
    if options.feature_columns.is_some() && format != DatasetFormat::Tabular {
        return Err(DatasetError::InvalidOption {
            path: path.to_path_buf(),
            message: "feature_columns applies only to tabular datasets; remove it".to_string(),
        });
    }
    slices::check_options(path, options, format)?;
    let dataset = match format {
        DatasetFormat::ImageFolder => folder::load(path, class_names)?,
        DatasetFormat::ManifestCsv => manifest::load_csv(path, options, class_names)?,
        DatasetFormat::ManifestJsonl => manifest::load_jsonl(path, options, class_names)?,
        DatasetFormat::Tabular => tabular::load(path, options, class_names)?,
        // detect_format never answers Auto; this arm only keeps the match total.
        DatasetFormat::Auto => {
            return Err(DatasetError::UnknownFormat {
                path: path.to_path_buf(),
            })
        }
    };
    if dataset.samples.is_empty() {
        return Err(DatasetError::Empty {
            path: path.to_path_buf(),
            hint: match format {
                DatasetFormat::ImageFolder => {
                    "expected .png, .jpg or .jpeg files inside class subfolders".to_string()
                }
                _ => "expected a header line followed by at least one data line".to_string(),
            },
        });
    }
    slices::check_distinct(path, &options.slices, &dataset.slices)?;
    Ok(dataset)
}

/// Guess the form from the path; see [`DatasetFormat::Auto`].
pub fn detect_format(path: &Path) -> Result<DatasetFormat, DatasetError> {
    if path.is_dir() {
        return Ok(DatasetFormat::ImageFolder);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl") | Some("ndjson") => Ok(DatasetFormat::ManifestJsonl),
        Some("csv") => {
            let (_, header) = csv_file::open_csv(path)?;
            if header.iter().any(|h| h == "path") {
                Ok(DatasetFormat::ManifestCsv)
            } else {
                Ok(DatasetFormat::Tabular)
            }
        }
        _ => Err(DatasetError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

fn check_class_names(path: &Path, names: &[String]) -> Result<(), DatasetError> {
    let invalid = |message: String| DatasetError::InvalidOption {
        path: path.to_path_buf(),
        message,
    };
    if names.is_empty() {
        return Err(invalid(
            "class_names is empty; list the classes or remove it".to_string(),
        ));
    }
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(invalid(format!(
                "class_names lists \"{name}\" twice; class names must be unique"
            )));
        }
    }
    Ok(())
}

/// A label as read, with where it was read, before classes are known.
struct RawLabel {
    label: String,
    /// "file line N" or "subfolder DIR", for errors.
    location: String,
}

/// Classes as the sorted distinct labels: numerically when every label parses
/// as a number (so "10" follows "9"), else by string.
/// The warning for labels that are text while no class names were given: the classes are
/// then taken in sorted order, which a model's outputs need not follow.
pub fn label_order_warning(data: &Dataset, class_names: Option<&[String]>) -> Option<String> {
    if class_names.is_some() || data.classes.iter().all(|c| c.parse::<f64>().is_ok()) {
        return None;
    }
    let shown: Vec<String> = data
        .classes
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, c)| format!("{i}={}", crate::base::text::clean(c, 40)))
        .collect();
    let more = if data.classes.len() > 10 { ", ..." } else { "" };
    Some(format!(
        "warning: labels are text and no class names are given, so output i is taken as the i-th label in sorted order ({}{more}); if the model's outputs are in another order, give class_names (--class-names) in output order",
        shown.join(", ")
    ))
}

fn discover_classes<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let distinct: BTreeSet<&str> = labels.collect();
    let mut classes: Vec<String> = distinct.into_iter().map(str::to_string).collect();
    let numbers: Option<Vec<f64>> = classes.iter().map(|c| c.parse::<f64>().ok()).collect();
    if let Some(numbers) = numbers {
        let mut keyed: Vec<(f64, String)> = numbers.into_iter().zip(classes).collect();
        // total_cmp is total even for the "NaN" label; the string breaks ties
        // between spellings of one number ("1" and "1.0").
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        classes = keyed.into_iter().map(|(_, c)| c).collect();
    }
    classes
}

/// Index of `label` in `classes`, or an error naming where it was read. A label that names no
/// class but is a whole number below the class count is taken as an index, since labeled data
/// usually stores `0`/`1` while the config names the classes.
fn class_index(label: &str, location: &str, classes: &[String]) -> Result<usize, DatasetError> {
    classes
        .iter()
        .position(|c| c == label)
        .or_else(|| {
            label
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|i| *i < classes.len())
        })
        .ok_or_else(|| DatasetError::UnknownLabel {
            location: location.to_string(),
            label: label.to_string(),
            known: classes.join(", "),
        })
}

/// Classes from `class_names` when given, else discovered from the labels;
/// then the index of each label.
fn resolve_labels(
    raw: &[RawLabel],
    class_names: Option<&[String]>,
) -> Result<(Vec<String>, Vec<usize>), DatasetError> {
    let classes = match class_names {
        Some(names) => names.to_vec(),
        None => discover_classes(raw.iter().map(|r| r.label.as_str())),
    };
    let labels = raw
        .iter()
        .map(|r| class_index(&r.label, &r.location, &classes))
        .collect::<Result<_, _>>()?;
    Ok((classes, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_labels_index_named_classes() {
        let names = vec!["benign".to_string(), "malignant".to_string()];
        assert_eq!(class_index("malignant", "f line 2", &names).unwrap(), 1);
        assert_eq!(class_index("1", "f line 2", &names).unwrap(), 1);
        assert_eq!(class_index("0", "f line 2", &names).unwrap(), 0);
        let err = class_index("2", "f line 9", &names)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f line 9") && err.contains("[benign, malignant]"),
            "{err}"
        );
    }

    #[test]
    fn numeric_labels_sort_numerically() {
        let labels = ["10", "2", "1", "2", "0.5"];
        assert_eq!(
            discover_classes(labels.into_iter()),
            vec!["0.5", "1", "2", "10"]
        );
    }

    #[test]
    fn text_labels_sort_by_string() {
        let labels = ["tumor", "normal", "10", "2"];
        assert_eq!(
            discover_classes(labels.into_iter()),
            vec!["10", "2", "normal", "tumor"]
        );
    }

    #[test]
    fn missing_path_names_the_path() {
        let err = load_dataset(
            Path::new("/nonexistent/data.csv"),
            &DatasetOptions::default(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, DatasetError::MissingPath { .. }));
        assert_eq!(
            err.to_string(),
            "/nonexistent/data.csv does not exist; check the path"
        );
    }

    #[test]
    fn unknown_extension_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data.parquet");
        std::fs::write(&p, "x").unwrap();
        let err = load_dataset(&p, &DatasetOptions::default(), None).unwrap_err();
        assert!(matches!(err, DatasetError::UnknownFormat { .. }), "{err}");
    }

    #[test]
    fn duplicate_class_names_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["a".to_string(), "a".to_string()];
        let err = load_dataset(dir.path(), &DatasetOptions::default(), Some(&names)).unwrap_err();
        assert!(
            err.to_string().contains("class_names lists \"a\" twice"),
            "{err}"
        );
    }

    #[test]
    fn options_deserialize_with_defaults_and_reject_unknown_keys() {
        let opts: DatasetOptions = serde_json::from_str(r#"{"format": "tabular"}"#).unwrap();
        assert_eq!(opts.format, DatasetFormat::Tabular);
        assert_eq!(opts.label_column, "label");
        assert!(serde_json::from_str::<DatasetOptions>(r#"{"lable_column": "y"}"#).is_err());
    }
}
