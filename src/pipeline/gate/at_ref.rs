//! The model files a gate reads from git: the candidate at `--candidate-ref` and the base at
//! `base_ref` (or `base_model`), each checked against the SHA-256 it must have.

use super::*;

/// A model's candidate file as committed at `--candidate-ref`, read from git into a temporary
/// file: the model config to measure it with (its candidate path pointing there), and a label.
pub struct CandidateAtRef {
    pub model: ModelConfig,
    pub label: String,
    /// The commit the file was read from.
    pub commit: String,
    _temp: tempfile::TempDir,
}

/// Reads `model`'s candidate file as committed at `reference` (relative to `root`, the config's
/// folder) into a temporary file. The commit's files are only read: nothing is checked out.
pub fn candidate_at_ref(
    model: &ModelConfig,
    root: &Path,
    reference: &str,
) -> Result<CandidateAtRef> {
    let context = || format!("model `{}`: --candidate-ref", model.name);
    let commit = resolve_candidate_ref(root, reference)
        .with_context(|| format!("model `{}`", model.name))?;
    let file = file_at(root, commit, &model.candidate, "candidate").with_context(context)?;
    let mut at_ref = model.clone();
    at_ref.candidate = file.path;
    Ok(CandidateAtRef {
        commit: file.commit.commit.clone(),
        model: at_ref,
        label: format!(
            "{} at {}",
            model.candidate.display(),
            gitref::short(&file.commit.commit)
        ),
        _temp: file.temp,
    })
}

/// The commit `--candidate-ref` names: a pull request's head, so not "merge-base".
pub fn resolve_candidate_ref(root: &Path, reference: &str) -> Result<gitref::BaseCommit> {
    if reference == gitref::MERGE_BASE {
        bail!("--candidate-ref {reference:?}: give the pull request's head commit");
    }
    gitref::resolve(root, reference).context("--candidate-ref")
}

/// A model file as committed at a commit, written to a temporary file (`ROLE.onnx`).
pub(super) struct FileAt {
    path: PathBuf,
    commit: gitref::BaseCommit,
    sha256: String,
    temp: tempfile::TempDir,
}

pub(super) fn file_at(
    root: &Path,
    commit: gitref::BaseCommit,
    path: &Path,
    role: &str,
) -> Result<FileAt> {
    let bytes = gitref::read_at(root, &commit.commit, path)?;
    let temp = tempfile::tempdir()
        .with_context(|| format!("cannot create a temporary folder for the {role} model"))?;
    let file = temp.path().join(format!("{role}.onnx"));
    std::fs::write(&file, &bytes).with_context(|| format!("cannot write the {role} model"))?;
    Ok(FileAt {
        path: file,
        commit,
        sha256: crate::machine::system::sha256_hex(&bytes),
        temp,
    })
}

/// Results read with `--from-results` must be of the configured candidate file (at
/// `--candidate-ref` when given), not of whatever model the run that wrote them chose.
pub(super) fn check_candidate_sha(
    model: &ModelConfig,
    options: &GateOptions,
    measured: &ResultsFile,
) -> Result<()> {
    let path = options.root.join(&model.candidate);
    if !path.exists() && options.candidate_ref.is_none() {
        // Judging results without the model file (a results-only artifact): nothing to check.
        return Ok(());
    }
    let sha = crate::machine::system::sha256_file(&path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    if measured.model.sha256 != sha {
        bail!(
            "--from-results: {}.json is of a model with SHA-256 {:?}, not the candidate {} (SHA-256 {sha}); measure the candidate",
            model.name,
            crate::base::text::clean(&measured.model.sha256, 80),
            model.candidate.display()
        );
    }
    Ok(())
}

/// The base model's file: a path from the config, or the candidate's path at the base commit;
/// with its SHA-256, which is what any base results must match.
pub struct BaseFile {
    path: PathBuf,
    pub(super) label: String,
    pub(super) sha256: String,
    /// The commit it was read from, when it came from git.
    pub(super) commit: Option<String>,
    _temp: Option<tempfile::TempDir>,
}

impl BaseFile {
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

pub(super) fn base_model_file(
    model: &ModelConfig,
    options: &GateOptions,
) -> Result<Option<BaseFile>> {
    let root = &options.root;
    if let Some(path) = &model.base_model {
        let full = root.join(path);
        crate::engine::model::check_model_file(&full)
            .with_context(|| format!("model `{}`: base_model", model.name))?;
        let sha256 = crate::machine::system::sha256_file(&full)
            .with_context(|| format!("cannot read base_model {}", full.display()))?;
        return Ok(Some(BaseFile {
            path: full,
            label: path.display().to_string(),
            sha256,
            commit: None,
            _temp: None,
        }));
    }
    let Some(reference) = options.base_ref.as_deref().or(model.base_ref.as_deref()) else {
        return Ok(None);
    };
    let context = || format!("model `{}`: base_ref", model.name);
    let base = gitref::resolve(root, reference).with_context(context)?;
    let file = file_at(root, base, &model.candidate, "base").with_context(context)?;
    Ok(Some(BaseFile {
        label: format!(
            "{} at {} ({})",
            model.candidate.display(),
            gitref::short(&file.commit.commit),
            file.commit.label
        ),
        commit: Some(file.commit.commit.clone()),
        path: file.path,
        sha256: file.sha256,
        _temp: Some(file.temp),
    }))
}
