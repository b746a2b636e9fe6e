//! CSV reading shared by the manifest and tabular forms: one reader setup and
//! one translation of csv errors into [`DatasetError`] lines naming the file and
//! line, so both forms report malformed files the same way.

use std::path::Path;

use super::DatasetError;

/// Open a CSV file (UTF-8, header line, surrounding spaces trimmed) and read
/// its header.
pub(super) fn open_csv(
    path: &Path,
) -> Result<(csv::Reader<std::fs::File>, Vec<String>), DatasetError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| csv_error(path, e))?;
    let header = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(str::to_string)
        .collect();
    Ok((reader, header))
}

/// Turn a csv error into a one-line error naming the file and line.
pub(super) fn csv_error(path: &Path, err: csv::Error) -> DatasetError {
    let line = err.position().map_or(0, |p| p.line());
    let message = err.to_string();
    match err.into_kind() {
        csv::ErrorKind::Io(cause) => DatasetError::Io {
            path: path.to_path_buf(),
            cause,
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => DatasetError::UnreadableLine {
            path: path.to_path_buf(),
            line,
            reason: format!(
                "has {len} fields but the header has {expected_len}; quote fields that contain commas"
            ),
        },
        csv::ErrorKind::Utf8 { err, .. } => DatasetError::UnreadableLine {
            path: path.to_path_buf(),
            line,
            reason: format!("is not valid UTF-8 ({err}); save the file as UTF-8"),
        },
        _ => DatasetError::UnreadableLine {
            path: path.to_path_buf(),
            line,
            reason: format!("cannot be read as CSV: {message}"),
        },
    }
}

/// Position of `column` in `header`, or an error listing the columns present.
pub(super) fn column_index(
    path: &Path,
    header: &[String],
    column: &str,
    fix: &str,
) -> Result<usize, DatasetError> {
    header
        .iter()
        .position(|h| h == column)
        .ok_or_else(|| DatasetError::MissingColumn {
            path: path.to_path_buf(),
            column: column.to_string(),
            present: header.join(", "),
            fix: fix.to_string(),
        })
}
