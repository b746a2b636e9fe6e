//! The `onnxruntime` package `python3` can import, and whether modelgate should load its library.
//!
//! The probe reads the package's folder and its distribution's metadata without importing it (an
//! import loads the library, takes about a second and may print warnings). The decision is a pure
//! function of what the probe saw, so each rule has its own test.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::PINNED_VERSION;

/// What `python3` reported about its `onnxruntime` package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PythonProbe {
    /// The package folder (holding `capi/`).
    pub dir: PathBuf,
    /// Each installed distribution that provides the package, as (normalised name, version):
    /// usually one, `onnxruntime` or `onnxruntime-gpu`; none when the folder has no metadata.
    pub distributions: Vec<(String, String)>,
}

/// Finds the package folder and the distributions that provide it: the two names modelgate
/// knows first, then (Python 3.10 and later) a scan of every installed distribution, which is
/// slower, for builds such as `onnxruntime-openvino`.
const PROBE_SCRIPT: &str = "\
import importlib.util as u
s = u.find_spec('onnxruntime')
locs = list(s.submodule_search_locations or []) if s else []
print(locs[0] if locs else '')
if locs:
    import importlib.metadata as m
    found = []
    for name in ('onnxruntime', 'onnxruntime-gpu'):
        try:
            found.append((name, m.version(name)))
        except Exception:
            pass
    if not found:
        try:
            for name in sorted(set(m.packages_distributions().get('onnxruntime', []))):
                found.append((name, m.version(name)))
        except Exception:
            pass
    for name, version in found:
        print(name, version)
";

/// Runs the probe; `None` when python3 is missing or has no `onnxruntime` package.
pub(crate) fn probe() -> Option<PythonProbe> {
    let output = Command::new("python3")
        .args(["-c", PROBE_SCRIPT])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    parse_probe(&String::from_utf8_lossy(&output.stdout))
}

/// Reads the probe's output: the folder on the first line, then one `name version` per line.
pub(crate) fn parse_probe(text: &str) -> Option<PythonProbe> {
    let mut lines = text.lines();
    let dir = lines.next()?.trim();
    if dir.is_empty() {
        return None;
    }
    let distributions = lines
        .filter_map(|line| {
            let (name, version) = line.trim().split_once(' ')?;
            let version = version.trim();
            // Both reach the terminal in a warning: keep only what a package name or version
            // can hold (PEP 508, PEP 440), so metadata cannot smuggle in escape sequences.
            (is_plain(name) && is_plain(version)).then(|| (normalise(name), version.to_string()))
        })
        .collect();
    Some(PythonProbe {
        dir: PathBuf::from(dir),
        distributions,
    })
}

fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-!".contains(c))
}

/// PEP 503 name normalisation: `onnxruntime_gpu` and `ONNXRuntime-GPU` are `onnxruntime-gpu`.
fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// Whether to load python3's library, and the warning line to print either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PythonVerdict {
    /// Load it; with a warning when it is not the version modelgate targets.
    Use { warning: Option<String> },
    /// Do not load it: a GPU provider was asked for and this build is CPU-only.
    Skip { warning: String },
}

/// The rules: a CPU-only package (distribution `onnxruntime`, or no CUDA provider library
/// beside the core library) never serves a GPU provider; any other version than the pinned one
/// is used, with a warning naming both, because the user installed it on purpose.
/// `has_cuda_provider` is whether `libonnxruntime_providers_cuda` sits beside the library.
pub(crate) fn judge(probe: &PythonProbe, has_cuda_provider: bool, want_gpu: bool) -> PythonVerdict {
    let dir = probe.dir.display();
    let gpu_distribution = probe
        .distributions
        .iter()
        .any(|(name, _)| name == "onnxruntime-gpu");
    if want_gpu && !(gpu_distribution && has_cuda_provider) {
        let why = if gpu_distribution {
            "has no libonnxruntime_providers_cuda beside its library".to_string()
        } else {
            let names: Vec<&str> = probe
                .distributions
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            match names.as_slice() {
                [] => "has no package metadata naming it onnxruntime-gpu".to_string(),
                names => format!("is the CPU-only build ({})", names.join(", ")),
            }
        };
        return PythonVerdict::Skip {
            warning: format!(
                "warning: not using python3's onnxruntime in {dir} for a GPU provider: it {why}; \
                 fetching onnxruntime-gpu=={PINNED_VERSION} instead"
            ),
        };
    }
    // With both distributions installed, the GPU one describes the files a GPU run loads.
    let version = probe
        .distributions
        .iter()
        .find(|(name, _)| name == "onnxruntime-gpu")
        .or_else(|| probe.distributions.first())
        .map(|(_, version)| version.as_str());
    let warning = match version {
        Some(version) if version == PINNED_VERSION => None,
        Some(version) => Some(format!(
            "warning: using python3's onnxruntime {version} from {dir}, but modelgate targets \
             {PINNED_VERSION}; set ORT_DYLIB_PATH or --ort-lib to choose another library"
        )),
        None => Some(format!(
            "warning: using python3's onnxruntime from {dir}, whose version is unknown (no package \
             metadata), but modelgate targets {PINNED_VERSION}; set ORT_DYLIB_PATH or --ort-lib \
             to choose another library"
        )),
    };
    PythonVerdict::Use { warning }
}

/// Whether a CUDA provider library sits in `capi/` beside the core library.
pub(crate) fn has_cuda_provider(package_dir: &Path) -> bool {
    // Only Linux wheels have one; macOS builds have no CUDA.
    package_dir
        .join("capi")
        .join("libonnxruntime_providers_cuda.so")
        .is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_of(distributions: &[(&str, &str)]) -> PythonProbe {
        PythonProbe {
            dir: PathBuf::from("/site-packages/onnxruntime"),
            distributions: distributions
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn parses_the_probe_output() {
        let probe =
            parse_probe("/site/onnxruntime\nonnxruntime_gpu 1.31.1\nonnxruntime 1.20.0\n").unwrap();
        assert_eq!(probe.dir, PathBuf::from("/site/onnxruntime"));
        assert_eq!(
            probe.distributions,
            [
                ("onnxruntime-gpu".to_string(), "1.31.1".to_string()),
                ("onnxruntime".to_string(), "1.20.0".to_string())
            ]
        );
        let odd = parse_probe("/site/onnxruntime\nonnxruntime 1.31.1\x1b[2J\n").unwrap();
        assert!(odd.distributions.is_empty(), "{odd:?}");
        assert_eq!(parse_probe("\n"), None);
        assert_eq!(parse_probe(""), None);
        assert!(parse_probe("/site/onnxruntime\n")
            .unwrap()
            .distributions
            .is_empty());
    }

    #[test]
    fn the_pinned_version_is_used_silently() {
        let verdict = judge(&probe_of(&[("onnxruntime", PINNED_VERSION)]), false, false);
        assert_eq!(verdict, PythonVerdict::Use { warning: None });
    }

    #[test]
    fn another_version_is_used_with_a_warning_naming_both() {
        let verdict = judge(&probe_of(&[("onnxruntime", "1.20.1")]), false, false);
        let PythonVerdict::Use {
            warning: Some(line),
        } = verdict
        else {
            panic!("{verdict:?}");
        };
        assert!(line.starts_with("warning: "), "{line}");
        assert!(line.contains("1.20.1"), "{line}");
        assert!(line.contains(PINNED_VERSION), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn unknown_version_is_used_with_a_warning() {
        let verdict = judge(&probe_of(&[]), false, false);
        assert!(
            matches!(&verdict, PythonVerdict::Use { warning: Some(w) } if w.contains("unknown")),
            "{verdict:?}"
        );
    }

    #[test]
    fn gpu_build_of_another_version_serves_a_gpu_provider_with_a_warning() {
        let verdict = judge(&probe_of(&[("onnxruntime-gpu", "1.30.0")]), true, true);
        assert!(
            matches!(&verdict, PythonVerdict::Use { warning: Some(w) } if w.contains("1.30.0")),
            "{verdict:?}"
        );
        let pinned = judge(
            &probe_of(&[("onnxruntime-gpu", PINNED_VERSION)]),
            true,
            true,
        );
        assert_eq!(pinned, PythonVerdict::Use { warning: None });
    }

    #[test]
    fn cpu_only_package_never_serves_a_gpu_provider() {
        // (distributions, CUDA provider library present, what the warning must say)
        let cpu_only = [("onnxruntime", PINNED_VERSION)];
        let gpu = [("onnxruntime-gpu", PINNED_VERSION)];
        let cases = [
            (&cpu_only[..], false, "CPU-only build (onnxruntime)"),
            // A CUDA library copied beside a CPU distribution does not make it a GPU build.
            (&cpu_only[..], true, "CPU-only build"),
            (&gpu[..], false, "no libonnxruntime_providers_cuda"),
            (&[][..], true, "no package metadata"),
        ];
        for (distributions, cuda, why) in cases {
            let verdict = judge(&probe_of(distributions), cuda, true);
            let PythonVerdict::Skip { warning } = &verdict else {
                panic!("{distributions:?} {cuda}: {verdict:?}");
            };
            assert!(warning.contains(why), "{warning}");
            assert!(warning.contains("fetching onnxruntime-gpu"), "{warning}");
        }
        // The same CPU-only package serves the CPU provider.
        let cpu = judge(&probe_of(&[("onnxruntime", PINNED_VERSION)]), false, false);
        assert_eq!(cpu, PythonVerdict::Use { warning: None });
    }

    #[test]
    fn finds_the_cuda_provider_beside_the_library() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("capi")).unwrap();
        assert!(!has_cuda_provider(dir.path()));
        std::fs::write(
            dir.path().join("capi/libonnxruntime_providers_cuda.so"),
            b"",
        )
        .unwrap();
        assert!(has_cuda_provider(dir.path()));
    }
}
