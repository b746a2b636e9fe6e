//! The image-folder form: `root/<class>/.../<image>`, the layout of
//! torchvision's `ImageFolder` and Keras' `image_dataset_from_directory`.
//!
//! Classes are the subfolder names sorted by name (as `ImageFolder` sorts
//! them, so class indices match models trained on the same folder); files are
//! found recursively and sorted, so sample order and ids are stable across runs
//! and machines. Hidden entries (leading `.`) and files that are not
//! `.png`/`.jpg`/`.jpeg` are skipped.

use std::fs;
use std::path::{Path, PathBuf};

use super::{class_index, Dataset, DatasetError, Sample, SampleInput};

/// Image file extensions read, compared case-insensitively.
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

pub(super) fn load(root: &Path, class_names: Option<&[String]>) -> Result<Dataset, DatasetError> {
    let class_dirs: Vec<(String, PathBuf)> = sorted_entries(root)?
        .into_iter()
        // fs::metadata follows links, so a class folder may be a symlink.
        .filter(|(_, p)| p.is_dir())
        .collect();
    let classes = match class_names {
        Some(names) => names.to_vec(),
        None => class_dirs.iter().map(|(name, _)| name.clone()).collect(),
    };

    let mut samples = Vec::new();
    for (class, dir) in &class_dirs {
        // A class folder outside class_names is an error even when empty:
        // it most likely means class_names and the data disagree.
        let label = class_index(class, &format!("subfolder {}", dir.display()), &classes)?;
        let mut files = Vec::new();
        collect_images(dir, &mut files)?;
        samples.extend(files.into_iter().map(|file| Sample {
            id: relative_id(root, &file),
            label,
            input: SampleInput::Image(file),
        }));
    }
    Ok(Dataset {
        classes,
        samples,
        slices: Vec::new(),
    })
}

/// Non-hidden entries of `dir` as (file name, path), sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, DatasetError> {
    let io_err = |cause| DatasetError::Io {
        path: dir.to_path_buf(),
        cause,
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            entries.push((name, entry.path()));
        }
    }
    entries.sort();
    Ok(entries)
}

/// Append the image files under `dir` to `out`, depth first in name order.
/// Symlinked files are read; symlinked directories are not entered, so a link
/// cycle cannot loop.
fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DatasetError> {
    for (_, path) in sorted_entries(dir)? {
        let is_link = path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if path.is_dir() {
            if !is_link {
                collect_images(&path, out)?;
            }
        } else if path.is_file() && is_image(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// `path` relative to `root`, with `/` separators on every platform.
fn relative_id(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::super::{load_dataset, DatasetOptions};
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"not decoded at load time").unwrap();
    }

    fn ids(ds: &Dataset) -> Vec<(&str, usize)> {
        ds.samples
            .iter()
            .map(|s| (s.id.as_str(), s.label))
            .collect()
    }

    #[test]
    fn classes_and_files_are_sorted_and_ids_relative() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(root, "tumor/b.png");
        touch(root, "tumor/a.JPG");
        touch(root, "normal/sub/c.jpeg");
        touch(root, "normal/notes.txt");
        touch(root, "normal/.hidden.png");
        touch(root, "README.md");
        fs::create_dir_all(root.join("empty")).unwrap();
        let ds = load_dataset(root, &DatasetOptions::default(), None).unwrap();
        assert_eq!(ds.classes, vec!["empty", "normal", "tumor"]);
        assert_eq!(
            ids(&ds),
            vec![
                ("normal/sub/c.jpeg", 1),
                ("tumor/a.JPG", 2),
                ("tumor/b.png", 2)
            ]
        );
        assert_eq!(
            ds.samples[0].input,
            SampleInput::Image(root.join("normal/sub/c.jpeg"))
        );
    }

    #[test]
    fn class_names_fix_the_order() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "a/1.png");
        touch(dir.path(), "b/2.png");
        let names = vec!["b".to_string(), "a".to_string(), "c".to_string()];
        let ds = load_dataset(dir.path(), &DatasetOptions::default(), Some(&names)).unwrap();
        assert_eq!(ds.classes, names);
        assert_eq!(ids(&ds), vec![("a/1.png", 1), ("b/2.png", 0)]);
    }

    #[test]
    fn subfolder_outside_class_names_is_named() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "a/1.png");
        touch(dir.path(), "x/2.png");
        let names = vec!["a".to_string(), "b".to_string()];
        let err = load_dataset(dir.path(), &DatasetOptions::default(), Some(&names)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DatasetError::UnknownLabel { .. }));
        assert!(msg.contains("label \"x\""), "{msg}");
        assert!(msg.contains("[a, b]"), "{msg}");
        assert!(
            msg.contains(&dir.path().join("x").display().to_string()),
            "{msg}"
        );
    }

    #[test]
    fn folder_without_images_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "root-level.png");
        touch(dir.path(), "a/readme.txt");
        let err = load_dataset(dir.path(), &DatasetOptions::default(), None).unwrap_err();
        assert!(matches!(err, DatasetError::Empty { .. }));
        assert!(err.to_string().contains("inside class subfolders"), "{err}");
    }
}
