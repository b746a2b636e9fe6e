//! The manifest forms: a CSV (`path,label` header) or JSON-lines file listing
//! image paths and their labels.
//!
//! Manifests let a test set live beside the model without copying images into
//! class folders, and let one image appear in several sets. Paths are relative
//! to the manifest's folder (absolute paths are kept), and every listed image
//! must exist when the dataset is loaded, so a typo fails before the model runs
//! rather than halfway through an evaluation. A listed path must resolve (after `..`, an
//! absolute path or a symlink) inside the manifest's folder unless `allow_outside_paths` is set:
//! a manifest from a pull request must not make the gate read files elsewhere on the runner.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::csv_file::{column_index, csv_error, open_csv};
use super::{resolve_labels, slices, Dataset, DatasetError, DatasetOptions, RawLabel};
use super::{Sample, SampleInput};

/// What one manifest line names, before labels are mapped to classes.
struct Entry {
    /// The path as written, used as the sample id.
    written: String,
    line: u64,
    /// Its subgroup values.
    slices: std::collections::BTreeMap<String, String>,
}

pub(super) fn load_csv(
    path: &Path,
    options: &DatasetOptions,
    class_names: Option<&[String]>,
) -> Result<Dataset, DatasetError> {
    let label_column = options.label_column.as_str();
    let (mut reader, header) = open_csv(path)?;
    let path_col = column_index(
        path,
        &header,
        "path",
        "a manifest needs a path column; for feature data set format = \"tabular\"",
    )?;
    let label_col = column_index(
        path,
        &header,
        label_column,
        "set label_column to the column holding the labels",
    )?;
    let slice_cols = slices::csv_columns(path, &header, &options.slices)?;
    let mut entries = Vec::new();
    let mut raw = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").to_string();
        let (written, label) = (field(path_col), field(label_col));
        check_not_empty(path, line, &written, "path")?;
        check_not_empty(path, line, &label, label_column)?;
        let slices = slices::csv_values(path, line, &options.slices, &slice_cols, &record)?;
        raw.push(RawLabel {
            label,
            location: format!("{} line {line}", path.display()),
        });
        entries.push(Entry {
            written,
            line,
            slices,
        });
    }
    finish(
        path,
        entries,
        &raw,
        class_names,
        options.allow_outside_paths,
    )
}

pub(super) fn load_jsonl(
    path: &Path,
    options: &DatasetOptions,
    class_names: Option<&[String]>,
) -> Result<Dataset, DatasetError> {
    let label_key = options.label_column.as_str();
    let text = std::fs::read_to_string(path).map_err(|cause| DatasetError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let example = format!("{{\"path\": \"images/1.png\", \"{label_key}\": \"tumor\"}}");
    let mut entries = Vec::new();
    let mut raw = Vec::new();
    for (i, text_line) in text.lines().enumerate() {
        let line = i as u64 + 1;
        if text_line.trim().is_empty() {
            continue;
        }
        let unreadable = |reason: String| DatasetError::UnreadableLine {
            path: path.to_path_buf(),
            line,
            reason: format!("{reason}; each line must be an object like {example}"),
        };
        let value: Value = serde_json::from_str(text_line)
            .map_err(|e| unreadable(format!("is not valid JSON ({e})")))?;
        let written = match value.get("path") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err(unreadable("has no non-empty \"path\" string".to_string())),
        };
        let label = match value.get(label_key) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(unreadable(format!(
                    "has no \"{label_key}\" string or number"
                )))
            }
        };
        let slices = slices::json_values(path, line, &options.slices, &value)?;
        raw.push(RawLabel {
            label,
            location: format!("{} line {line}", path.display()),
        });
        entries.push(Entry {
            written,
            line,
            slices,
        });
    }
    finish(
        path,
        entries,
        &raw,
        class_names,
        options.allow_outside_paths,
    )
}

fn check_not_empty(path: &Path, line: u64, value: &str, column: &str) -> Result<(), DatasetError> {
    if value.is_empty() {
        return Err(DatasetError::UnreadableLine {
            path: path.to_path_buf(),
            line,
            reason: format!("column \"{column}\" is empty; every line needs a value"),
        });
    }
    Ok(())
}

/// Resolve image paths against the manifest's folder, check they exist, and
/// map labels to classes.
fn finish(
    manifest: &Path,
    entries: Vec<Entry>,
    raw: &[RawLabel],
    class_names: Option<&[String]>,
    allow_outside: bool,
) -> Result<Dataset, DatasetError> {
    let base = manifest.parent().unwrap_or(Path::new(""));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |cause| DatasetError::Io { path, cause }
    };
    let folder = std::fs::canonicalize(if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    })
    .map_err(io(base))?;
    let (classes, labels) = resolve_labels(raw, class_names)?;
    let mut samples = Vec::with_capacity(entries.len());
    let mut slice_values = Vec::new();
    // Each image once: a repeated line would count one image twice in every metric.
    let mut first_line: std::collections::HashMap<PathBuf, u64> = Default::default();
    for (entry, label) in entries.into_iter().zip(labels) {
        let image: PathBuf = base.join(&entry.written);
        if !image.is_file() {
            return Err(DatasetError::MissingPath {
                path: image,
                context: format!(" (listed in {} line {})", manifest.display(), entry.line),
            });
        }
        let resolved = std::fs::canonicalize(&image).map_err(io(&image))?;
        if !allow_outside && !resolved.starts_with(&folder) {
            return Err(DatasetError::OutsidePath {
                manifest: manifest.to_path_buf(),
                line: entry.line,
                written: entry.written,
                resolved,
                folder,
            });
        }
        if let Some(first) = first_line.insert(resolved, entry.line) {
            return Err(DatasetError::UnreadableLine {
                path: manifest.to_path_buf(),
                line: entry.line,
                reason: format!(
                    "{:?} is the image of line {first} again; list each image once",
                    crate::base::text::clean(&entry.written, 120)
                ),
            });
        }
        samples.push(Sample {
            id: entry.written,
            label,
            input: SampleInput::Image(image),
        });
        if !entry.slices.is_empty() {
            slice_values.push(entry.slices);
        }
    }
    Ok(Dataset {
        classes,
        samples,
        slices: slice_values,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{load_dataset, DatasetFormat, DatasetOptions};
    use super::*;

    /// A temp dir with `img/a.png` and `img/b.png` and a manifest `name` with `body`.
    fn setup(name: &str, body: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("img")).unwrap();
        for f in ["a.png", "b.png"] {
            std::fs::write(dir.path().join("img").join(f), b"x").unwrap();
        }
        let manifest = dir.path().join(name);
        std::fs::write(&manifest, body).unwrap();
        (dir, manifest)
    }

    fn load(path: &Path, names: Option<&[String]>) -> Result<Dataset, DatasetError> {
        load_dataset(path, &DatasetOptions::default(), names)
    }

    #[test]
    fn csv_manifest_is_detected_and_paths_resolved() {
        let (dir, m) = setup("test.csv", "path,label\nimg/b.png,1\nimg/a.png, 0\n");
        assert_eq!(
            crate::data::dataset::detect_format(&m).unwrap(),
            DatasetFormat::ManifestCsv
        );
        let ds = load(&m, None).unwrap();
        assert_eq!(ds.classes, vec!["0", "1"]);
        assert_eq!(ds.samples[0].id, "img/b.png");
        assert_eq!(ds.samples[0].label, 1);
        assert_eq!(
            ds.samples[1].input,
            SampleInput::Image(dir.path().join("img/a.png"))
        );
    }

    #[test]
    fn jsonl_manifest_accepts_string_and_number_labels() {
        let body = "{\"path\": \"img/a.png\", \"label\": \"tumor\"}\n\n{\"path\": \"img/b.png\", \"label\": 3, \"extra\": 1}\n";
        let (_dir, m) = setup("test.jsonl", body);
        let ds = load(&m, None).unwrap();
        assert_eq!(ds.classes, vec!["3", "tumor"]);
        assert_eq!(
            ds.samples.iter().map(|s| s.label).collect::<Vec<_>>(),
            [1, 0]
        );
    }

    #[test]
    fn unknown_label_names_file_line_and_classes() {
        let (_dir, m) = setup("test.csv", "path,label\nimg/a.png,cat\nimg/b.png,dgo\n");
        let names = vec!["cat".to_string(), "dog".to_string()];
        let err = load(&m, Some(&names)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} line 3: label \"dgo\" is neither one of the class names [cat, dog] nor a class index; fix the label or add it to class_names",
                m.display()
            )
        );
    }

    #[test]
    fn an_image_listed_twice_names_both_lines() {
        // Written alike or not: ./img/a.png is img/a.png.
        for again in ["img/a.png", "./img/a.png"] {
            let body = format!("path,label\nimg/a.png,0\nimg/b.png,1\n{again},1\n");
            let (_dir, m) = setup("test.csv", &body);
            let err = load(&m, None).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{} line 4: \"{again}\" is the image of line 2 again; list each image once",
                    m.display()
                )
            );
        }
    }

    #[test]
    fn missing_image_names_manifest_line() {
        let (_dir, m) = setup("test.csv", "path,label\nimg/a.png,0\nimg/c.png,1\n");
        let err = load(&m, None).unwrap_err();
        assert!(matches!(err, DatasetError::MissingPath { .. }));
        assert!(err.to_string().contains("test.csv line 3)"), "{err}");
    }

    #[test]
    fn paths_outside_the_manifests_folder_are_refused_unless_allowed() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret.png");
        std::fs::write(&secret, b"x").unwrap();
        let (dir, _) = setup("unused.csv", "");
        std::fs::create_dir(dir.path().join("ds")).unwrap();
        std::fs::write(dir.path().join("ds/in.png"), b"x").unwrap();
        std::fs::write(dir.path().join("up.png"), b"x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&secret, dir.path().join("ds/link.png")).unwrap();
        let mut written = vec!["../up.png".to_string(), secret.display().to_string()];
        if cfg!(unix) {
            written.push("link.png".to_string());
        }
        for path in written {
            let manifest = dir.path().join("ds/test.csv");
            std::fs::write(&manifest, format!("path,label\nin.png,0\n{path},1\n")).unwrap();
            let err = load(&manifest, None).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, DatasetError::OutsidePath { line: 3, .. }),
                "{path}: {msg}"
            );
            assert!(
                msg.contains("key \"path\"") && msg.contains("allow_outside_paths"),
                "{msg}"
            );
            let allowed = DatasetOptions {
                allow_outside_paths: true,
                ..DatasetOptions::default()
            };
            assert_eq!(
                load_dataset(&manifest, &allowed, None)
                    .unwrap()
                    .samples
                    .len(),
                2
            );
        }
        // A path that leaves the folder and comes back stays inside.
        let manifest = dir.path().join("ds/test.jsonl");
        std::fs::write(&manifest, "{\"path\": \"../ds/in.png\", \"label\": 0}\n").unwrap();
        assert_eq!(load(&manifest, None).unwrap().samples.len(), 1);
    }

    #[test]
    fn bad_jsonl_line_is_named() {
        let (_dir, m) = setup(
            "test.jsonl",
            "{\"path\": \"img/a.png\", \"label\": 0}\n{\"path\": \"img/b.png\",\n",
        );
        let err = load(&m, None).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, DatasetError::UnreadableLine { line: 2, .. }),
            "{msg}"
        );
        assert!(msg.contains("is not valid JSON"), "{msg}");
    }

    #[test]
    fn missing_label_column_lists_present_columns() {
        let (_dir, m) = setup("test.csv", "path,class\nimg/a.png,0\n");
        let err = load(&m, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} has no column \"label\" (columns present: path, class); set label_column to the column holding the labels",
                m.display()
            )
        );
    }

    #[test]
    fn ragged_csv_line_is_named() {
        let (_dir, m) = setup("test.csv", "path,label\nimg/a.png,0,extra\n");
        let err = load(&m, None).unwrap_err();
        assert!(
            matches!(err, DatasetError::UnreadableLine { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn header_only_manifest_is_empty() {
        let (_dir, m) = setup("test.csv", "path,label\n");
        let err = load(&m, None).unwrap_err();
        assert!(matches!(err, DatasetError::Empty { .. }), "{err}");
    }
}
