//! Finding the ONNX Runtime shared library.
//!
//! modelgate loads ONNX Runtime at run time (ort's `load-dynamic`), so one binary works with the CPU
//! build and with the GPU build a CI runner installs. This module decides which file to load, in a
//! fixed order a user can predict: `--ort-lib`, then `ORT_DYLIB_PATH`, then an `onnxruntime` (or
//! `onnxruntime-gpu`) package importable by `python3`, and last a copy of the pinned wheel fetched
//! with pip into modelgate's cache, trusted by its SHA-256 in the table below and never by its
//! name. Nothing here touches ort itself; the runtime module does.

mod fetch;
mod python;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// The ONNX Runtime release this build targets (ort 2.0.0-rc.15 speaks the 1.31 API).
pub const PINNED_VERSION: &str = "1.31.1";

/// The Python version whose wheel the fetch takes (`pip download --python-version`), so exactly
/// one wheel file matches each platform whatever the machine's own Python. The library inside
/// does not depend on it.
pub(crate) const PYTHON_VERSION: &str = "3.12";

/// One wheel modelgate may fetch, pinned by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PinnedWheel {
    /// `onnxruntime` or `onnxruntime-gpu`.
    pub package: &'static str,
    /// `std::env::consts::OS` and `ARCH` of the machines it serves.
    pub os: &'static str,
    pub arch: &'static str,
    /// The tag given to `pip download --platform`.
    pub platform: &'static str,
    /// The file pip downloads.
    pub file: &'static str,
    /// Its SHA-256, lowercase hex.
    pub sha256: &'static str,
}

/// The 1.31.1 wheels, for Python 3.12. Each digest was taken from the file PyPI serves, with
///   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
///     --platform PLATFORM PACKAGE==1.31.1 -d DIR && sha256sum DIR/*.whl
/// where PLATFORM is the row's `platform`. scripts/onnxruntime-1.31.1.txt, which the GitHub
/// Action installs with `pip --require-hashes`, lists the same digests (a test below checks).
/// onnxruntime 1.31.1 has no Intel macOS wheel and onnxruntime-gpu no macOS one; the GPU wheel
/// for aarch64 needs glibc 2.34. Windows is not served by the fetch.
const WHEELS: &[PinnedWheel] = &[
    PinnedWheel {
        package: "onnxruntime",
        os: "linux",
        arch: "x86_64",
        platform: "manylinux_2_28_x86_64",
        file: "onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
        sha256: "1f3dea47f2f0e5117c2404cea7d21fd253ae7836a3bf167a501cdfbb2600d536",
    },
    PinnedWheel {
        package: "onnxruntime",
        os: "linux",
        arch: "aarch64",
        platform: "manylinux_2_28_aarch64",
        file: "onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_aarch64.whl",
        sha256: "0b9a492176886992e0e875f06bc0367e333f5fff11711a2d642e18b02f3009cc",
    },
    PinnedWheel {
        package: "onnxruntime",
        os: "macos",
        arch: "aarch64",
        platform: "macosx_14_0_arm64",
        file: "onnxruntime-1.31.1-cp312-cp312-macosx_14_0_arm64.whl",
        sha256: "96dd2564b10ea7153ad9c207e7cd8e5917cb3ba521e0e0a62ac03486fdc8d56c",
    },
    PinnedWheel {
        package: "onnxruntime-gpu",
        os: "linux",
        arch: "x86_64",
        platform: "manylinux_2_28_x86_64",
        file: "onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
        sha256: "05d548956197b9d01f59b625de740e0d6be3593f874e241a12dc0362650ecdf7",
    },
    PinnedWheel {
        package: "onnxruntime-gpu",
        os: "linux",
        arch: "aarch64",
        platform: "manylinux_2_34_aarch64",
        file: "onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_34_aarch64.whl",
        sha256: "a0f1725c5a6d1ef82d63498b5ebc25e2c90c9560e91dc76db9be4a49162d4d33",
    },
];

/// The table row for `package` on this kind of machine, or the error that names the machine
/// and the other ways to provide ONNX Runtime.
fn pinned_wheel(package: &str, os: &str, arch: &str) -> Result<&'static PinnedWheel> {
    match WHEELS
        .iter()
        .find(|w| w.package == package && w.os == os && w.arch == arch)
    {
        Some(wheel) => Ok(wheel),
        None => bail!(
            "ONNX Runtime not found, and modelgate pins no {package}=={PINNED_VERSION} wheel to \
             fetch for {os} {arch}; {HOW_TO_PROVIDE}"
        ),
    }
}

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
/// `notice` receives each line the user should see on stderr: a warning about python3's package,
/// a cache entry that is not trusted, the fetch itself.
pub fn locate(request: &LibraryRequest, notice: &mut dyn FnMut(&str)) -> Result<LibraryChoice> {
    if let Some(path) = &request.explicit {
        return existing(path, LibrarySource::Flag, "--ort-lib");
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return existing(Path::new(&path), LibrarySource::Env, "ORT_DYLIB_PATH");
    }
    if let Some(path) = from_python(request.want_gpu, notice) {
        return Ok(LibraryChoice {
            path,
            source: LibrarySource::Python,
        });
    }
    let package = if request.want_gpu {
        "onnxruntime-gpu"
    } else {
        "onnxruntime"
    };
    let wheel = pinned_wheel(package, std::env::consts::OS, std::env::consts::ARCH)?;
    let cache = cache_dir(request.want_gpu)?;
    let path = match fetch::cache_state(wheel, &cache) {
        fetch::CacheState::Trusted(path) => path,
        state => {
            if let fetch::CacheState::Untrusted(why) = state {
                notice(&format!(
                    "warning: not trusting the cached ONNX Runtime in {}: {why}",
                    cache.display()
                ));
            }
            notice(&format!(
                "ONNX Runtime not found; fetching {} ({package}=={PINNED_VERSION}, SHA-256 \
                 checked) with pip into {}",
                wheel.file,
                cache.display()
            ));
            fetch::fetch(wheel, &cache)?
        }
    };
    Ok(LibraryChoice {
        path,
        source: LibrarySource::Cache,
    })
}

/// The library of python3's `onnxruntime` package, when the rules in `python::judge` allow it.
fn from_python(want_gpu: bool, notice: &mut dyn FnMut(&str)) -> Option<PathBuf> {
    let probe = python::probe()?;
    let path = library_in_package(&probe.dir)?;
    match python::judge(&probe, python::has_cuda_provider(&probe.dir), want_gpu) {
        python::PythonVerdict::Use { warning } => {
            if let Some(line) = warning {
                notice(&line);
            }
            Some(path)
        }
        python::PythonVerdict::Skip { warning } => {
            notice(&warning);
            None
        }
    }
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

    /// The digests pip must find for `package`, read from a requirements file's line for it.
    fn requirement_hashes(requirements: &str, package: &str) -> Vec<String> {
        let prefix = format!("{package}=={PINNED_VERSION} ");
        let lines: Vec<&str> = requirements
            .lines()
            .filter(|line| line.starts_with(&prefix))
            .collect();
        assert_eq!(lines.len(), 1, "one line for {package}");
        lines[0]
            .split_whitespace()
            .skip(1)
            .map(|option| {
                option
                    .strip_prefix("--hash=sha256:")
                    .unwrap_or_else(|| panic!("unexpected option {option}"))
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn table_and_the_actions_requirements_file_hold_the_same_digests() {
        let requirements = include_str!("../../scripts/onnxruntime-1.31.1.txt");
        assert_eq!(PINNED_VERSION, "1.31.1", "rename the requirements file too");
        for package in ["onnxruntime", "onnxruntime-gpu"] {
            let mut from_file = requirement_hashes(requirements, package);
            let mut from_table: Vec<String> = WHEELS
                .iter()
                .filter(|w| w.package == package)
                .map(|w| w.sha256.to_string())
                .collect();
            from_file.sort();
            from_table.sort();
            assert_eq!(from_file, from_table, "{package}");
        }
        let packages = requirements
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(packages, 2, "only onnxruntime and onnxruntime-gpu");
    }

    #[test]
    fn table_rows_are_well_formed() {
        for wheel in WHEELS {
            assert_eq!(wheel.sha256.len(), 64, "{wheel:?}");
            assert!(
                wheel
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{wheel:?}"
            );
            // The file pip downloads carries the package, version, Python tag and platform.
            let stem = wheel.package.replace('-', "_");
            let expected = format!("{stem}-{PINNED_VERSION}-cp312-cp312-{}.whl", wheel.platform);
            assert_eq!(wheel.file, expected);
            assert_eq!(PYTHON_VERSION.replace('.', ""), "312");
            let same = WHEELS
                .iter()
                .filter(|w| (w.package, w.os, w.arch) == (wheel.package, wheel.os, wheel.arch))
                .count();
            assert_eq!(same, 1, "one row per package and machine: {wheel:?}");
        }
    }

    #[test]
    fn machine_without_a_pinned_wheel_is_named_with_the_three_ways() {
        assert!(pinned_wheel("onnxruntime", "linux", "x86_64").is_ok());
        assert!(pinned_wheel("onnxruntime-gpu", "linux", "aarch64").is_ok());
        let err = pinned_wheel("onnxruntime-gpu", "macos", "aarch64")
            .unwrap_err()
            .to_string();
        assert!(err.contains("onnxruntime-gpu==1.31.1"), "{err}");
        assert!(err.contains("macos aarch64"), "{err}");
        assert!(err.contains("--ort-lib"), "{err}");
        assert!(err.contains("ORT_DYLIB_PATH"), "{err}");
        assert!(err.contains("pip install onnxruntime"), "{err}");
    }

    /// Downloads this machine's CPU wheel from the package index: needs the network, so it is
    /// left out of the default run (`cargo test --lib ortlib -- --ignored` runs it).
    #[test]
    #[ignore = "downloads a wheel from the package index"]
    fn fetches_and_verifies_the_real_wheel() {
        let wheel = pinned_wheel("onnxruntime", std::env::consts::OS, std::env::consts::ARCH)
            .expect("a pinned wheel for this machine");
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(format!("onnxruntime-{PINNED_VERSION}"));
        let library = fetch::fetch(wheel, &target).unwrap();
        assert!(is_runtime_library_name(
            library.file_name().unwrap().to_str().unwrap()
        ));
        assert!(matches!(
            fetch::cache_state(wheel, &target),
            fetch::CacheState::Trusted(_)
        ));
    }
}
