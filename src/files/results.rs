//! The results file: one versioned JSON document per measured model.
//!
//! `bench` and `eval` each fill their own section of the same file, baselines are results files
//! with provenance added, and `compare` reads two of them. The schema version is checked before
//! anything else so a file from a newer modelgate is refused with a clear word instead of being
//! half understood. `schemas/results.schema.json` is generated from these types.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::measure::bench::BenchResult;
use crate::validate::eval::EvalResult;

use crate::engine::model::ModelSpec;
use crate::engine::runtime::LibraryInfo;
use crate::machine::system::Fingerprint;

/// Version of the results-file layout this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The model a result describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelRecord {
    /// Short name, the file stem unless the config names it.
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub size_bytes: u64,
    pub interface: ModelSpec,
}

/// A results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResultsFile {
    pub schema_version: u32,
    pub modelgate_version: String,
    /// RFC 3339 time the measurement finished.
    pub created_at: String,
    pub model: ModelRecord,
    pub environment: Fingerprint,
    pub onnxruntime: LibraryInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<BenchResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<EvalResult>,
    /// Who approved this file as a baseline, and from what; only baselines carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// The slice of the labeled data this file holds, when the gate ran in shards
    /// (`gate --shard`), or the shards it was merged from (`modelgate merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::data::shard::ShardInfo>,
}

/// How a results file became a baseline, written by `modelgate baseline approve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Provenance {
    /// The approver: `--approver`, else `GITHUB_ACTOR`, else `git config user.name`.
    pub approved_by: String,
    /// RFC 3339 time of the approval.
    pub approved_at: String,
    /// `git rev-parse HEAD` of the repository holding the config, when it is in one.
    pub commit: Option<String>,
    /// The results file approved, or `measured` when approve measured the model itself.
    pub source: String,
    /// Free text from `--note`.
    pub note: Option<String>,
}

/// A results file for `path` with no sections yet: the model record and this machine's
/// fingerprint, which bench and eval share.
pub fn new_results(
    library: &LibraryInfo,
    path: &Path,
    name: Option<&str>,
    provider: &str,
    interface: ModelSpec,
) -> Result<ResultsFile> {
    let sha256 = crate::machine::system::sha256_file(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    let size_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let name = name
        .map(str::to_string)
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    Ok(ResultsFile {
        schema_version: SCHEMA_VERSION,
        modelgate_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now_rfc3339(),
        environment: crate::machine::system::fingerprint(path, &sha256, &library.version, provider),
        model: ModelRecord {
            name,
            path: path.display().to_string(),
            sha256,
            size_bytes,
            interface,
        },
        onnxruntime: library.clone(),
        bench: None,
        eval: None,
        provenance: None,
        shard: None,
    })
}

/// The current time as RFC 3339, to the second.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads a results (or baseline) file, checking the schema version first.
pub fn load(path: &Path) -> Result<ResultsFile> {
    let text = read_capped(path, RESULTS_MAX_BYTES, "results file")?;
    parse(&text).with_context(|| format!("results file {}", path.display()))
}

/// Reads a results file that must describe the whole model, not one shard of it: what compare,
/// check, the gate and approve read.
pub fn load_whole(path: &Path) -> Result<ResultsFile> {
    let results = load(path)?;
    check_not_a_shard(&results, path)?;
    Ok(results)
}

/// Largest results or comparison file read: far above what 200,000 timed runs and a labeled
/// dataset make, and a bound on what a crafted file can make modelgate hold in memory.
pub const RESULTS_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Refuses one shard's results where the whole model's are needed: judging or approving a slice
/// of the labeled data as if it were all of it would be wrong.
pub fn check_not_a_shard(results: &ResultsFile, path: &Path) -> Result<()> {
    if let Some(shard) = &results.shard {
        if let Some(index) = shard.index {
            bail!(
                "{} holds shard {index}/{} of model `{}` only; merge all the shards first with `modelgate merge`",
                path.display(),
                shard.count,
                crate::base::text::clean(&results.model.name, crate::base::text::VALUE_MAX_CHARS)
            );
        }
    }
    Ok(())
}

/// Reads a text file that may come from elsewhere (an artifact, a pull request), refusing one
/// larger than `max_bytes` before reading it.
pub fn read_capped(path: &Path, max_bytes: u64, what: &str) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    let mut text = String::new();
    // Read one byte past the limit, so a file that grows while read is caught too.
    file.take(max_bytes + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} {} as UTF-8 text", path.display()))?;
    if text.len() as u64 > max_bytes {
        bail!(
            "{what} {} is larger than {} MiB; it is not a file modelgate wrote",
            path.display(),
            max_bytes / (1024 * 1024)
        );
    }
    Ok(text)
}

/// Parses results JSON; see [`load`].
pub fn parse(text: &str) -> Result<ResultsFile> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("is not valid JSON ({e}); regenerate it with --json"))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => bail!(
            "has schema_version {v}, but this modelgate reads version {SCHEMA_VERSION}; \
             regenerate it with this modelgate or upgrade modelgate"
        ),
        None => bail!("has no schema_version; it is not a modelgate results file"),
    }
    serde_json::from_value(value)
        .map_err(|e| anyhow::anyhow!("does not match schema version {SCHEMA_VERSION} ({e})"))
}

/// Writes JSON atomically: a temporary file in the same folder, flushed to disk, then renamed
/// over the target, so a reader never sees half a file and an interruption leaves the old one.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("cannot serialise results")?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Checks every output path a command was given before it runs anything; see
/// [`check_output_file`].
pub fn check_outputs(files: &[(&str, Option<&Path>)], results_dir: Option<&Path>) -> Result<()> {
    for (flag, path) in files {
        if let Some(path) = path {
            check_output_file(flag, path)?;
        }
    }
    if let Some(dir) = results_dir {
        check_output_folder("--results-dir", dir)?;
    }
    Ok(())
}

/// Fails, naming `flag`, when `path` cannot be written as a file: its folder is missing, is not
/// a folder or refuses a new file, or the path is a folder. Commands call it before measuring,
/// so a typo in an output path costs nothing instead of the whole run.
pub fn check_output_file(flag: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!(
            "{flag} {}: is a folder; give a file path, e.g. {}",
            path.display(),
            path.join("out.json").display()
        );
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    check_output_dir(flag, path, dir)
}

/// Like [`check_output_file`] for a folder that a command creates when missing (`--results-dir`):
/// it must be a folder if it exists, else its parent folder must exist.
pub fn check_output_folder(flag: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        return check_output_dir(flag, path, path);
    }
    if path.exists() {
        bail!(
            "{flag} {}: is a file, not a folder; give a folder path",
            path.display()
        );
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    check_output_dir(flag, path, parent)
}

fn check_output_dir(flag: &str, path: &Path, dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        bail!(
            "{flag} {}: {} {what}; create the folder or give another path",
            path.display(),
            dir.display()
        );
    }
    // Creating (and dropping) a temporary file is the one test of writability that holds for
    // every file system and user.
    if let Err(e) = tempfile::NamedTempFile::new_in(dir) {
        bail!(
            "{flag} {}: cannot write into folder {} ({}); give a writable path",
            path.display(),
            dir.display(),
            e.kind()
        );
    }
    Ok(())
}

/// See [`write_json_atomic`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(|| {
        format!(
            "cannot write {}: folder {} is not writable or does not exist",
            path.display(),
            dir.display()
        )
    })?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // A temporary file is private (0600); give the result the old file's mode, or the usual
    // 0644 for a new one, so a committed baseline stays readable.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0o644);
        let _ = file
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode));
    }
    file.as_file()
        .sync_all()
        .with_context(|| format!("cannot flush {}", path.display()))?;
    // PersistError's message is its io error's, which is also its source: keep one.
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The JSON Schema of [`ResultsFile`], as committed in `schemas/results.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ResultsFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads an existing results file to add an eval section to, when it describes the same model.
pub fn existing_for(path: &Path, sha256: &str) -> Option<ResultsFile> {
    let existing = load(path).ok()?;
    (existing.model.sha256 == sha256).then_some(existing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_schema_versions_and_non_results() {
        let cases = [
            ("{\"schema_version\": 99}", "schema_version 99"),
            ("{\"model\": {}}", "no schema_version"),
            ("not json", "not valid JSON"),
            (
                "{\"schema_version\": 1, \"model\": 3}",
                "does not match schema version 1",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", parse(text).unwrap_err());
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn committed_schema_matches_the_types() {
        let committed = include_str!("../../schemas/results.schema.json");
        assert!(
            committed == json_schema(),
            "schemas/results.schema.json is stale: run `cargo run -- schema > schemas/results.schema.json`"
        );
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "old").unwrap();
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\n  \"a\": 1\n}\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let fresh = dir.path().join("fresh.json");
            write_json_atomic(&fresh, &2).unwrap();
            let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644, "a new file is readable by others");
            std::fs::remove_file(&fresh).unwrap();
        }
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        let err = write_json_atomic(&dir.path().join("missing/r.json"), &1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not writable or does not exist"), "{err}");
    }
}
