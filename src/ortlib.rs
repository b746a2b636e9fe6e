//! Finding the ONNX Runtime shared library.
//!
//! modelgate loads ONNX Runtime at run time (ort's `load-dynamic`), so one binary works with the CPU
//! build and with the GPU build a CI runner installs. This module decides which file to load, in a
//! fixed order a user can predict: `--ort-lib`, then `ORT_DYLIB_PATH`, then an `onnxruntime` (or
//! `onnxruntime-gpu`) package importable by `python3`, and last a copy of the pinned wheel fetched
//! with pip into modelgate's cache. Nothing here touches ort itself; the runtime module does.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The ONNX Runtime release this build targets (ort 2.0.0-rc.15 speaks the 1.31 API).
pub const PINNED_VERSION: &str = "1.31.1";

/// Where the library came from, recorded in every results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LibrarySource {
    /// `--ort-lib PATH`.
    Flag,
    /// The `ORT_DYLIB_PATH` environment variable.
    Env,
    /// An `onnxruntime` package importable by `python3`.
    Python,
    /// The pinned wheel, fetched into modelgate's cache.
    Cache,
}

/// A library file chosen to load, and why.
#[derive(Debug, Clone)]
pub struct LibraryChoice {
    pub path: PathBuf,
    pub source: LibrarySource,
}

/// What the caller asks for: an explicit path, and whether a GPU build is wanted when fetching.
#[derive(Debug, Clone, Default)]
pub struct LibraryRequest {
    pub explicit: Option<PathBuf>,
    pub want_gpu: bool,
}

const HOW_TO_PROVIDE: &str = "provide ONNX Runtime 1.31 in one of three ways: \
--ort-lib /path/to/libonnxruntime.so, ORT_DYLIB_PATH=/path/to/libonnxruntime.so, \
or `python3 -m pip install onnxruntime==1.31.1`";

/// Picks the library file, fetching the pinned wheel when nothing else is found.
/// `notice` receives the one line that says a fetch is happening.
pub fn locate(request: &LibraryRequest, notice: &mut dyn FnMut(&str)) -> Result<LibraryChoice> {
    if let Some(path) = &request.explicit {
        return existing(path, LibrarySource::Flag, "--ort-lib");
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return existing(Path::new(&path), LibrarySource::Env, "ORT_DYLIB_PATH");
    }
    if let Some(path) = python_package_dir().and_then(|dir| library_in_package(&dir)) {
        return Ok(LibraryChoice {
            path,
            source: LibrarySource::Python,
        });
    }
    let cache = cache_dir(request.want_gpu)?;
    if let Some(path) = library_in_package(&cache.join("onnxruntime")) {
        return Ok(LibraryChoice {
            path,
            source: LibrarySource::Cache,
        });
    }
    let package = if request.want_gpu {
        "onnxruntime-gpu"
    } else {
        "onnxruntime"
    };
    notice(&format!(
        "ONNX Runtime not found; fetching {package}=={PINNED_VERSION} with pip into {}",
        cache.display()
    ));
    fetch_wheel(package, &cache)?;
    library_in_package(&cache.join("onnxruntime"))
        .map(|path| LibraryChoice {
            path,
            source: LibrarySource::Cache,
        })
        .with_context(|| {
            format!("the fetched {package} wheel holds no libonnxruntime; {HOW_TO_PROVIDE}")
        })
}

fn existing(path: &Path, source: LibrarySource, via: &str) -> Result<LibraryChoice> {
    if !path.is_file() {
        bail!(
            "ONNX Runtime library {} (from {via}) does not exist; {HOW_TO_PROVIDE}",
            path.display()
        );
    }
    Ok(LibraryChoice {
        path: path.to_path_buf(),
        source,
    })
}

/// The folder of an importable `onnxruntime` package, found without importing it (an import
/// takes about a second and may print warnings).
fn python_package_dir() -> Option<PathBuf> {
    let script = "import importlib.util as u\n\
                  s = u.find_spec('onnxruntime')\n\
                  print(list(s.submodule_search_locations)[0] if s and s.submodule_search_locations else '')";
    let output = Command::new("python3").args(["-c", script]).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (output.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `capi/libonnxruntime.so.X.Y.Z` inside an `onnxruntime` package folder, newest first.
fn library_in_package(package_dir: &Path) -> Option<PathBuf> {
    let capi = package_dir.join("capi");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_runtime_library_name)
        })
        .collect();
    found.sort();
    found.pop()
}

fn is_runtime_library_name(name: &str) -> bool {
    // Linux wheels ship libonnxruntime.so.1.31.1, macOS ones libonnxruntime.1.31.1.dylib.
    (name.starts_with("libonnxruntime.so")
        || name.starts_with("libonnxruntime.") && name.ends_with(".dylib"))
        && !name.contains("providers")
}

/// `$MODELGATE_CACHE`, else `$XDG_CACHE_HOME/modelgate`, else `~/.cache/modelgate`; one folder
/// per package and version so a CPU and a GPU copy can sit side by side.
fn cache_dir(gpu: bool) -> Result<PathBuf> {
    let root = if let Some(dir) = std::env::var_os("MODELGATE_CACHE").filter(|d| !d.is_empty()) {
        PathBuf::from(dir)
    } else if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(dir).join("modelgate")
    } else if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        PathBuf::from(home).join(".cache").join("modelgate")
    } else {
        bail!("no cache folder for ONNX Runtime: set MODELGATE_CACHE, or {HOW_TO_PROVIDE}");
    };
    let flavour = if gpu {
        "onnxruntime-gpu"
    } else {
        "onnxruntime"
    };
    Ok(root.join(format!("{flavour}-{PINNED_VERSION}")))
}

/// Installs the wheel into a temporary sibling folder and renames it into place, so an
/// interrupted fetch never leaves a half-filled cache that a later run would trust.
fn fetch_wheel(package: &str, target: &Path) -> Result<()> {
    let parent = target.parent().context("cache folder has no parent")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create cache folder {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot write in cache folder {}", parent.display()))?;
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(staging.path())
        .arg(format!("{package}=={PINNED_VERSION}"))
        .output();
    let output = match output {
        Ok(output) => output,
        Err(_) => bail!(
            "ONNX Runtime not found and python3 is not available to fetch it; {HOW_TO_PROVIDE}"
        ),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("pip failed");
        bail!(
            "fetching {package}=={PINNED_VERSION} with pip failed ({}); {HOW_TO_PROVIDE}",
            last.trim()
        );
    }
    let staged = staging.keep();
    if target.exists() {
        // Another process finished the same fetch first; keep theirs.
        let _ = std::fs::remove_dir_all(&staged);
        return Ok(());
    }
    std::fs::rename(&staged, target)
        .with_context(|| format!("cannot move the fetched wheel into {}", target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_runtime_library_names() {
        let cases = [
            ("libonnxruntime.so.1.31.1", true),
            ("libonnxruntime.so", true),
            ("libonnxruntime.1.31.1.dylib", true),
            ("libonnxruntime_providers_cuda.so", false),
            ("libonnxruntime_providers_shared.so", false),
            ("onnxruntime_pybind11_state.so", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_runtime_library_name(name), expected, "{name}");
        }
    }

    #[test]
    fn finds_newest_library_in_package_folder() {
        let dir = tempfile::tempdir().unwrap();
        let capi = dir.path().join("capi");
        std::fs::create_dir_all(&capi).unwrap();
        for name in [
            "libonnxruntime.so.1.30.0",
            "libonnxruntime.so.1.31.1",
            "libonnxruntime_providers_shared.so",
        ] {
            std::fs::write(capi.join(name), b"").unwrap();
        }
        let found = library_in_package(dir.path()).unwrap();
        assert_eq!(found.file_name().unwrap(), "libonnxruntime.so.1.31.1");
        assert!(library_in_package(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn explicit_path_that_does_not_exist_names_the_three_ways() {
        let request = LibraryRequest {
            explicit: Some(PathBuf::from("/nonexistent/libonnxruntime.so")),
            want_gpu: false,
        };
        let err = locate(&request, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("--ort-lib"), "{err}");
        assert!(err.contains("ORT_DYLIB_PATH"), "{err}");
        assert!(err.contains("pip install onnxruntime"), "{err}");
    }
}
