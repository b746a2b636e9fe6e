//! Every git call: which commit a pull request starts from, a model file as it was there, the
//! commit a file sits at, and a config value (who approves).
//!
//! A ref comes from the config or the command line, both of which a pull request can edit, so it
//! is validated before git sees it and passed after `--end-of-options`: `--output=x` is refused,
//! never run. Paths are read relative to the config's folder, as every other path in the config.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The `base_ref` value that asks for the merge base of `HEAD` with the default branch.
pub const MERGE_BASE: &str = "merge-base";

/// A ref resolved to a commit, and how it was found (for the report).
#[derive(Debug, Clone, PartialEq)]
pub struct BaseCommit {
    pub commit: String,
    pub label: String,
}

/// Refuses what cannot be a ref name, a commit or a rev expression such as `HEAD~1`: empty,
/// leading `-` (git would read an option), `:` (a path), whitespace or control characters.
pub fn validate_ref(reference: &str) -> Result<()> {
    let bad = reference.is_empty()
        || reference.len() > 256
        || reference.starts_with('-')
        || reference
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        bail!(
            "{reference:?} is not a git ref; use a branch, tag or commit such as origin/main, or {MERGE_BASE:?} for a base"
        );
    }
    Ok(())
}

fn git(root: &Path) -> Command {
    let mut command = Command::new("git");
    command.arg("-C").arg(root);
    command
}

/// A git command's trimmed, non-empty output, or None when git, the repository or the value is
/// missing: for facts that are recorded when known (a commit, a name), never required.
fn known(root: &Path, args: &[&str]) -> Option<String> {
    git_output(root, args)
        .ok()
        .flatten()
        .filter(|text| !text.is_empty())
}

/// The commit checked out in the repository holding `dir` (`HEAD`), when there is one.
pub fn head_commit(dir: &Path) -> Option<String> {
    known(dir, &["rev-parse", "HEAD"])
}

/// A git config value (e.g. `user.name`) as seen from `root`, when set.
pub fn config_value(root: &Path, key: &str) -> Option<String> {
    known(root, &["config", key])
}

/// Runs git and returns its trimmed stdout, or None when git fails.
fn git_output(root: &Path, args: &[&str]) -> Result<Option<String>> {
    let output = git(root)
        .args(args)
        .output()
        .context("base_ref needs git; install git or set base_model")?;
    Ok(output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
}

/// The commit `reference` names, after validating it.
fn rev_parse(root: &Path, reference: &str) -> Result<Option<String>> {
    validate_ref(reference)?;
    let peeled = format!("{reference}^{{commit}}");
    git_output(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &peeled,
        ],
    )
}

/// Resolves a `base_ref` to a commit. [`MERGE_BASE`] is the merge base of `HEAD` with the
/// pull request's base branch (`GITHUB_BASE_REF` in a pull-request workflow), else with the
/// remote's default branch, else with a local `main` or `master`.
pub fn resolve(root: &Path, reference: &str) -> Result<BaseCommit> {
    if reference != MERGE_BASE {
        let Some(commit) = rev_parse(root, reference)? else {
            bail!(
                "{reference}: git knows no such commit in {}; fetch it (actions/checkout with fetch-depth: 0, or git fetch origin COMMIT)",
                root.display()
            );
        };
        return Ok(BaseCommit {
            commit,
            label: reference.to_string(),
        });
    }
    let Some(head) = rev_parse(root, "HEAD")? else {
        if git_output(root, &["rev-parse", "--git-dir"])?.is_some() {
            bail!(
                "\"{MERGE_BASE}\": the repository at {} has no commit yet, so there is no base to time the model against; commit the model, modelgate.toml and baselines/ first (git add, git commit), or set base_model",
                root.display()
            );
        }
        bail!(
            "\"{MERGE_BASE}\": {} is not in a git repository, so there is no base to time the model against; run the gate in the model's repository, or set base_model to the file to compare with",
            root.display()
        );
    };
    let branch = default_branch(root)?;
    let Some(commit) = git_output(root, &["merge-base", "--end-of-options", &head, &branch])?
    else {
        bail!("\"{MERGE_BASE}\": HEAD and {branch} share no history; fetch the full history (fetch-depth: 0) or pass --base-ref");
    };
    Ok(BaseCommit {
        commit,
        label: format!("merge base of HEAD and {branch}"),
    })
}

/// The branch a pull request merges into.
fn default_branch(root: &Path) -> Result<String> {
    let mut candidates = Vec::new();
    if let Ok(base) = std::env::var("GITHUB_BASE_REF") {
        if !base.is_empty() {
            candidates.push(format!("origin/{base}"));
        }
    }
    if let Some(head) = git_output(
        root,
        &[
            "symbolic-ref",
            "--quiet",
            "--short",
            "refs/remotes/origin/HEAD",
        ],
    )? {
        candidates.push(head);
    }
    candidates.extend(["origin/main", "origin/master", "main", "master"].map(String::from));
    for candidate in candidates {
        if validate_ref(&candidate).is_ok() && rev_parse(root, &candidate)?.is_some() {
            return Ok(candidate);
        }
    }
    bail!(
        "\"{MERGE_BASE}\": no default branch found (origin/main, origin/master, main, master); \
         fetch it (actions/checkout with fetch-depth: 0) or pass --base-ref with the base commit"
    )
}

/// The bytes of `path` (relative to `root`, the config's folder, or absolute inside the
/// repository) as committed at `commit`.
pub fn read_at(root: &Path, commit: &str, path: &Path) -> Result<Vec<u8>> {
    let spec = format!("{commit}:{}", repo_relative(root, path)?);
    let output = git(root)
        .args(["show", "--end-of-options", &spec])
        .output()
        .context("base_ref needs git; install git or set base_model")?;
    if !output.status.success() {
        bail!(
            "{} is not in commit {} ({}); commit the model there, fetch the history (fetch-depth: 0), or set base_model",
            path.display(),
            short(commit),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    if is_lfs_pointer(&output.stdout) {
        return smudge(root, commit, path, &output.stdout);
    }
    Ok(output.stdout)
}

/// The content a Git LFS pointer stands for, through `git lfs smudge` (which fetches the object
/// from the remote when it is not here yet).
fn smudge(root: &Path, commit: &str, path: &Path, pointer: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let refuse = |why: &str| {
        anyhow::anyhow!(
            "{} at commit {} is a Git LFS pointer and git lfs could not fetch it ({why}); install git-lfs, or fetch the objects with `git lfs fetch origin {}`",
            path.display(),
            short(commit),
            short(commit)
        )
    };
    let mut child = git(root)
        .args(["lfs", "smudge", "--"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| refuse(&e.to_string()))?;
    // A pointer is under 1 KiB, well within a pipe's buffer.
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(pointer)
            .map_err(|e| refuse(&e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| refuse(&e.to_string()))?;
    if !output.status.success() || is_lfs_pointer(&output.stdout) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr.lines().next().unwrap_or("no output").trim();
        return Err(refuse(&format!("{why:?}")));
    }
    Ok(output.stdout)
}

/// `path` as git's `<commit>:<path>` wants it: `./` relative to `root` (git reads it from the
/// `-C` folder), or an absolute path made relative to the repository's top.
fn repo_relative(root: &Path, path: &Path) -> Result<String> {
    if path.is_relative() {
        return Ok(format!("./{}", path.display()));
    }
    let top = git_output(root, &["rev-parse", "--show-toplevel"])?
        .map(PathBuf::from)
        .with_context(|| format!("{} is not in a git repository", root.display()))?;
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let relative = canonical(path)
        .strip_prefix(canonical(&top))
        .map(Path::to_path_buf)
        .map_err(|_| {
            anyhow::anyhow!(
                "{} is outside the git repository {}; set base_model instead of base_ref",
                path.display(),
                top.display()
            )
        })?;
    Ok(relative.display().to_string())
}

/// Whether `bytes` are a Git LFS pointer file instead of the content it points to.
pub fn is_lfs_pointer(bytes: &[u8]) -> bool {
    bytes.len() < 1024 && bytes.starts_with(b"version https://git-lfs.github.com/spec/")
}

/// The first 12 hex digits of a commit, as the reports show it.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_that_git_would_read_as_options_or_paths_are_refused() {
        for bad in [
            "",
            "--output=x",
            "-p",
            "HEAD:models/a.onnx",
            "main branch",
            "a\nb",
        ] {
            let err = validate_ref(bad).unwrap_err().to_string();
            assert!(err.contains("is not a git ref"), "{bad:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        for good in ["HEAD", "HEAD~1", "origin/main", "v1.2", "0123abcd"] {
            validate_ref(good).unwrap();
        }
    }

    #[test]
    fn lfs_pointers_are_recognised() {
        let pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n";
        assert!(is_lfs_pointer(pointer));
        assert!(!is_lfs_pointer(b"\x08\x07\x12\x04onnx"));
    }
}
