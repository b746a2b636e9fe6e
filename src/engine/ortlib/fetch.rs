//! Fetching the pinned ONNX Runtime wheel into modelgate's cache, trusted by content only.
//!
//! pip downloads the wheel (it does not install it); its SHA-256 is checked against the table in
//! `ortlib` before a byte of it is unpacked. The cache entry is written beside its final place and
//! renamed in: the libraries, the wheel itself, and a record naming the files. Nothing in the
//! entry vouches for anything else in it: a later run re-checks the kept wheel against the digest
//! pinned in modelgate's source, then the core library against the same file inside that wheel,
//! and the providers' sizes against the wheel's; the record only says which files to look at. A
//! cache folder shared with other jobs (or written by anyone else) can at worst cost a fetch.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{is_runtime_library_name, PinnedWheel, HOW_TO_PROVIDE, PINNED_VERSION, PYTHON_VERSION};

/// The record written in each cache entry, beside the `onnxruntime/` folder.
pub(crate) const RECORD_FILE: &str = "modelgate-fetch.json";

/// The wheel the entry was unpacked from, kept in the entry to check it against.
pub(crate) const WHEEL_FILE: &str = "wheel.whl";

/// What a cache entry was unpacked from, and what it held then.
#[derive(Debug, Serialize, Deserialize)]
struct FetchRecord {
    /// The wheel's file name, such as `onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl`.
    wheel: String,
    /// The wheel's SHA-256, lowercase hex, as checked against the table.
    wheel_sha256: String,
    /// The file name of the core library among `files`.
    library: String,
    /// Every file unpacked into `onnxruntime/capi/`.
    files: Vec<UnpackedFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct UnpackedFile {
    name: String,
    bytes: u64,
    sha256: String,
}

/// What the cache holds for one wheel.
#[derive(Debug)]
pub(crate) enum CacheState {
    /// Nothing yet.
    Missing,
    /// A library unpacked from the pinned wheel and unchanged since.
    Trusted(PathBuf),
    /// Something that must not be loaded; the reason, for the notice.
    Untrusted(String),
}

/// Checks the cache entry at `target` against the pinned wheel. Hashes the kept wheel and the
/// core library (tens of megabytes each; the GPU wheel is hundreds) on every call; the provider
/// libraries are checked by their size in the wheel only, since the core library is what
/// decides which of them load.
pub(crate) fn cache_state(wheel: &PinnedWheel, target: &Path) -> CacheState {
    if !target.exists() {
        return CacheState::Missing;
    }
    match trusted_library(wheel, target) {
        Ok(path) => CacheState::Trusted(path),
        Err(why) => CacheState::Untrusted(why),
    }
}

fn trusted_library(wheel: &PinnedWheel, target: &Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(target.join(RECORD_FILE))
        .map_err(|_| format!("it has no {RECORD_FILE} naming the wheel it came from"))?;
    let record: FetchRecord = serde_json::from_str(&text)
        .map_err(|e| format!("its {RECORD_FILE} is unreadable ({e})"))?;
    // The kept wheel against the digest in modelgate's source, never the record's.
    let kept = target.join(WHEEL_FILE);
    let wheel_sha256 = sha256_file(&kept)
        .map_err(|_| format!("it keeps no {WHEEL_FILE} to check its libraries against"))?;
    if wheel_sha256 != wheel.sha256 {
        return Err(format!(
            "its {WHEEL_FILE} has SHA-256 {wheel_sha256}, not the pinned {}",
            wheel.sha256
        ));
    }
    let in_wheel = wheel_libraries(&kept).map_err(|e| format!("{e:#}"))?;
    let capi = target.join("onnxruntime").join("capi");
    let mut core = None;
    for file in &record.files {
        // The record is data on disk: a name must stay a plain file name inside capi/, and
        // name a library of the wheel.
        if Path::new(&file.name).file_name() != Some(file.name.as_ref()) {
            return Err(format!("its record names an odd file {:?}", file.name));
        }
        let Some(expected) = in_wheel.iter().find(|f| f.name == file.name) else {
            return Err(format!(
                "its record names {:?}, which the wheel does not hold",
                file.name
            ));
        };
        let path = capi.join(&file.name);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).ok();
        if bytes != Some(expected.bytes) {
            return Err(format!("{} is missing or changed size", path.display()));
        }
        if file.name == record.library && is_runtime_library_name(&file.name) {
            core = Some((path, &expected.sha256));
        }
    }
    let Some((path, expected)) = core else {
        return Err(format!(
            "its record names no library ({:?})",
            record.library
        ));
    };
    let actual = sha256_file(&path).map_err(|e| format!("{e:#}"))?;
    if &actual != expected {
        return Err(format!(
            "{} has SHA-256 {actual}, not the {expected} of the same file in the pinned wheel",
            path.display()
        ));
    }
    Ok(path)
}

/// The libraries in a wheel's `onnxruntime/capi/`, with their sizes and digests, read from the
/// wheel (decompressed, not unpacked).
fn wheel_libraries(wheel_path: &Path) -> Result<Vec<UnpackedFile>> {
    let file = File::open(wheel_path)
        .with_context(|| format!("cannot open wheel {}", wheel_path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("wheel {} is not a zip archive", wheel_path.display()))?;
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let Some(name) = library_name(&entry, wheel_path)? else {
            continue;
        };
        let mut hasher = Sha256::new();
        let bytes = std::io::copy(&mut entry, &mut hasher)
            .with_context(|| format!("cannot read {name} in {}", wheel_path.display()))?;
        files.push(UnpackedFile {
            name,
            bytes,
            sha256: hex(&hasher.finalize()),
        });
    }
    Ok(files)
}

/// The file name of a zip entry in `onnxruntime/capi/` that is a library, else None.
fn library_name(entry: &zip::read::ZipFile<'_, File>, wheel_path: &Path) -> Result<Option<String>> {
    let full_name = entry
        .name()
        .with_context(|| format!("wheel {} has an unreadable entry", wheel_path.display()))?;
    Ok(full_name
        .strip_prefix("onnxruntime/capi/")
        .filter(|name| is_library_file(name))
        .map(str::to_string))
}

/// Downloads the pinned wheel with pip into a temporary folder beside `target` and installs
/// it there with [`install_wheel`].
pub(crate) fn fetch(wheel: &PinnedWheel, target: &Path) -> Result<PathBuf> {
    let parent = target.parent().context("cache folder has no parent")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create cache folder {}", parent.display()))?;
    // Beside the cache rather than in /tmp: the GPU wheel is a quarter of a gigabyte.
    let download = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot write in cache folder {}", parent.display()))?;
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-input",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--python-version",
            PYTHON_VERSION,
            "--platform",
            wheel.platform,
            "--dest",
        ])
        .arg(download.path())
        .arg(format!("{}=={PINNED_VERSION}", wheel.package))
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
            "fetching {}=={PINNED_VERSION} with pip failed ({}); {HOW_TO_PROVIDE}",
            wheel.package,
            last.trim()
        );
    }
    let path = download.path().join(wheel.file);
    if !path.is_file() {
        bail!(
            "pip did not download {} for {}=={PINNED_VERSION}; {HOW_TO_PROVIDE}",
            wheel.file,
            wheel.package
        );
    }
    install_wheel(wheel, &path, target)
}

/// Checks the wheel file's SHA-256 against the table, then unpacks its libraries into a
/// temporary folder beside `target`, writes the record, and renames the folder into place.
/// Returns the core library's path.
pub(crate) fn install_wheel(
    wheel: &PinnedWheel,
    wheel_path: &Path,
    target: &Path,
) -> Result<PathBuf> {
    let actual = sha256_file(wheel_path)?;
    if actual != wheel.sha256 {
        bail!(
            "refusing the downloaded ONNX Runtime wheel {}: its SHA-256 is {actual}, but modelgate \
             pins {}; the package index pip uses (`python3 -m pip config list`) served other bytes \
             than PyPI: point pip at PyPI or a faithful mirror, or {HOW_TO_PROVIDE}",
            wheel_path.display(),
            wheel.sha256
        );
    }
    let parent = target.parent().context("cache folder has no parent")?;
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot write in cache folder {}", parent.display()))?;
    let files = unpack_libraries(wheel_path, &staging.path().join("onnxruntime").join("capi"))?;
    std::fs::copy(wheel_path, staging.path().join(WHEEL_FILE))
        .with_context(|| format!("cannot write in cache folder {}", parent.display()))?;
    let Some(library) = files.iter().find(|f| is_runtime_library_name(&f.name)) else {
        bail!(
            "the {} wheel {} holds no libonnxruntime; {HOW_TO_PROVIDE}",
            wheel.package,
            wheel.file
        );
    };
    let record = FetchRecord {
        wheel: wheel.file.to_string(),
        wheel_sha256: actual,
        library: library.name.clone(),
        files,
    };
    std::fs::write(
        staging.path().join(RECORD_FILE),
        serde_json::to_string_pretty(&record)?,
    )
    .with_context(|| format!("cannot write in cache folder {}", parent.display()))?;

    if let CacheState::Trusted(path) = cache_state(wheel, target) {
        // Another process finished the same fetch first; keep theirs.
        return Ok(path);
    }
    if target.exists() {
        // An entry that is not trusted: move it aside whole, so no run ever sees half of it.
        let stale = tempfile::Builder::new()
            .prefix(".stale-")
            .tempdir_in(parent)
            .with_context(|| format!("cannot write in cache folder {}", parent.display()))?;
        std::fs::rename(target, stale.path().join("entry")).with_context(|| {
            format!(
                "cannot move the untrusted cache entry {} aside",
                target.display()
            )
        })?;
    }
    let staged = staging.keep();
    if let Err(error) = std::fs::rename(&staged, target) {
        let _ = std::fs::remove_dir_all(&staged);
        if let CacheState::Trusted(path) = cache_state(wheel, target) {
            return Ok(path);
        }
        return Err(error)
            .with_context(|| format!("cannot move the fetched wheel into {}", target.display()));
    }
    match cache_state(wheel, target) {
        CacheState::Trusted(path) => Ok(path),
        CacheState::Missing => bail!("the cache entry {} vanished", target.display()),
        CacheState::Untrusted(why) => bail!(
            "the cache entry {} just written is not trusted: {why}",
            target.display()
        ),
    }
}

/// Unpacks `onnxruntime/capi/lib*` (the core library and its providers) into `capi`, hashing
/// each file as it is written. The Python half of the wheel is not needed.
fn unpack_libraries(wheel_path: &Path, capi: &Path) -> Result<Vec<UnpackedFile>> {
    let file = File::open(wheel_path)
        .with_context(|| format!("cannot open wheel {}", wheel_path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("wheel {} is not a zip archive", wheel_path.display()))?;
    std::fs::create_dir_all(capi).with_context(|| format!("cannot create {}", capi.display()))?;
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let Some(name) = library_name(&entry, wheel_path)? else {
            continue;
        };
        let path = capi.join(&name);
        let mut out =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 16];
        let mut bytes = 0u64;
        loop {
            let read = entry
                .read(&mut buffer)
                .with_context(|| format!("cannot unpack {name} from {}", wheel_path.display()))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            out.write_all(&buffer[..read])
                .with_context(|| format!("cannot write {}", path.display()))?;
            bytes += read as u64;
        }
        out.sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        files.push(UnpackedFile {
            name,
            bytes,
            sha256: hex(&hasher.finalize()),
        });
    }
    Ok(files)
}

/// A shared library directly in `capi/`: `libonnxruntime.so.1.31.1`, the providers, the dylib.
fn is_library_file(name: &str) -> bool {
    !name.contains('/')
        && name.starts_with("lib")
        && (name.contains(".so") || name.ends_with(".dylib"))
}

/// The SHA-256 of a file, lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORE: &str = "libonnxruntime.so.1.31.1";

    /// A small wheel-shaped zip: the core library, a provider, and Python files to leave out.
    fn fake_wheel(dir: &Path, core_bytes: &[u8]) -> PathBuf {
        let path = dir.join("onnxruntime-fake.whl");
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in [
            (format!("onnxruntime/capi/{CORE}"), core_bytes),
            (
                "onnxruntime/capi/libonnxruntime_providers_shared.so".to_string(),
                b"provider".as_slice(),
            ),
            (
                "onnxruntime/__init__.py".to_string(),
                b"import os".as_slice(),
            ),
            (
                "onnxruntime/capi/onnxruntime_pybind11_state.so".to_string(),
                b"python".as_slice(),
            ),
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    /// A table row pinning `wheel_path`'s digest, as the real table pins PyPI's.
    fn pinned(wheel_path: &Path) -> PinnedWheel {
        let digest = sha256_file(wheel_path).unwrap();
        PinnedWheel {
            package: "onnxruntime",
            os: "linux",
            arch: "x86_64",
            platform: "manylinux_2_28_x86_64",
            file: "onnxruntime-fake.whl",
            sha256: String::leak(digest),
        }
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        // printf abc | sha256sum
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verified_wheel_is_unpacked_and_then_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let wheel_path = fake_wheel(dir.path(), b"core library");
        let wheel = pinned(&wheel_path);
        let target = dir.path().join("cache").join("onnxruntime-1.31.1");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        assert!(matches!(cache_state(&wheel, &target), CacheState::Missing));

        let library = install_wheel(&wheel, &wheel_path, &target).unwrap();
        assert_eq!(library, target.join("onnxruntime/capi").join(CORE));
        assert_eq!(std::fs::read(&library).unwrap(), b"core library");
        let capi = target.join("onnxruntime/capi");
        assert!(capi.join("libonnxruntime_providers_shared.so").is_file());
        // Only the libraries are unpacked.
        assert!(!capi.join("onnxruntime_pybind11_state.so").exists());
        assert!(!target.join("onnxruntime/__init__.py").exists());
        assert!(matches!(cache_state(&wheel, &target), CacheState::Trusted(p) if p == library));
        // No temporary folder is left beside the entry.
        let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["onnxruntime-1.31.1"]);
    }

    #[test]
    fn wheel_whose_bytes_do_not_match_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel_path = fake_wheel(dir.path(), b"core library");
        let wheel = pinned(&wheel_path);
        // The index serves another file under the same name.
        let served_dir = dir.path().join("served");
        std::fs::create_dir(&served_dir).unwrap();
        let served = fake_wheel(&served_dir, b"core library, tampered");
        let target = dir.path().join("onnxruntime-1.31.1");
        let err = install_wheel(&wheel, &served, &target).unwrap_err();
        let line = format!("{err:#}");
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("onnxruntime-fake.whl"), "{line}");
        assert!(line.contains(wheel.sha256), "{line}");
        assert!(line.contains(&sha256_file(&served).unwrap()), "{line}");
        assert!(line.contains("ORT_DYLIB_PATH"), "{line}");
        assert!(!target.exists(), "nothing unpacked from a refused wheel");
    }

    #[test]
    fn tampered_cached_library_is_not_trusted_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let wheel_path = fake_wheel(dir.path(), b"core library");
        let wheel = pinned(&wheel_path);
        let target = dir.path().join("onnxruntime-1.31.1");
        let library = install_wheel(&wheel, &wheel_path, &target).unwrap();

        // Same size, other bytes: only the digest tells.
        std::fs::write(&library, b"core LIBRARY").unwrap();
        let CacheState::Untrusted(why) = cache_state(&wheel, &target) else {
            panic!("a tampered library was trusted");
        };
        assert!(why.contains("not the"), "{why}");

        // Fetching again replaces the whole entry.
        let again = install_wheel(&wheel, &wheel_path, &target).unwrap();
        assert_eq!(std::fs::read(&again).unwrap(), b"core library");
        assert!(matches!(
            cache_state(&wheel, &target),
            CacheState::Trusted(_)
        ));
    }

    #[test]
    fn cache_entry_without_record_or_of_another_wheel_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let wheel_path = fake_wheel(dir.path(), b"core library");
        let wheel = pinned(&wheel_path);
        let target = dir.path().join("onnxruntime-1.31.1");
        install_wheel(&wheel, &wheel_path, &target).unwrap();

        let other = PinnedWheel {
            sha256: "0000000000000000000000000000000000000000000000000000000000000000",
            ..wheel
        };
        let CacheState::Untrusted(why) = cache_state(&other, &target) else {
            panic!("an entry of another wheel was trusted");
        };
        assert!(why.contains("not the pinned"), "{why}");

        // An entry an older modelgate wrote with pip install: a library, no record.
        std::fs::remove_file(target.join(RECORD_FILE)).unwrap();
        let CacheState::Untrusted(why) = cache_state(&wheel, &target) else {
            panic!("an entry without a record was trusted");
        };
        assert!(why.contains(RECORD_FILE), "{why}");
    }

    /// The record is data on disk too: one rewritten to vouch for another library (its size and
    /// digest) does not make that library trusted, since the library is checked against the
    /// kept wheel, and the kept wheel against the digest in the source.
    #[test]
    fn a_forged_record_or_a_swapped_wheel_does_not_vouch_for_another_library() {
        let dir = tempfile::tempdir().unwrap();
        let wheel_path = fake_wheel(dir.path(), b"core library");
        let wheel = pinned(&wheel_path);
        let target = dir.path().join("onnxruntime-1.31.1");
        let library = install_wheel(&wheel, &wheel_path, &target).unwrap();

        let planted = b"planted library, another size";
        std::fs::write(&library, planted).unwrap();
        let record_path = target.join(RECORD_FILE);
        let mut record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
        for file in record["files"].as_array_mut().unwrap() {
            if file["name"] == CORE {
                file["bytes"] = serde_json::json!(planted.len());
                file["sha256"] = serde_json::json!(sha256_file(&library).unwrap());
            }
        }
        std::fs::write(&record_path, record.to_string()).unwrap();
        let CacheState::Untrusted(why) = cache_state(&wheel, &target) else {
            panic!("a library the record was forged for was trusted");
        };
        assert!(why.contains("changed size"), "{why}");

        // The kept wheel swapped for one holding the planted library: its digest is not the
        // pinned one.
        let other_dir = dir.path().join("other");
        std::fs::create_dir(&other_dir).unwrap();
        let other = fake_wheel(&other_dir, planted);
        std::fs::copy(&other, target.join(WHEEL_FILE)).unwrap();
        let CacheState::Untrusted(why) = cache_state(&wheel, &target) else {
            panic!("a swapped wheel was trusted");
        };
        assert!(why.contains("not the pinned"), "{why}");
    }

    #[test]
    fn record_naming_a_file_outside_capi_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let wheel_path = fake_wheel(dir.path(), b"core library");
        let wheel = pinned(&wheel_path);
        let target = dir.path().join("onnxruntime-1.31.1");
        install_wheel(&wheel, &wheel_path, &target).unwrap();
        let record_path = target.join(RECORD_FILE);
        let text = std::fs::read_to_string(&record_path)
            .unwrap()
            .replace(&format!("\"{CORE}\""), "\"../../libonnxruntime.so.1\"");
        std::fs::write(&record_path, text).unwrap();
        assert!(matches!(
            cache_state(&wheel, &target),
            CacheState::Untrusted(_)
        ));
    }
}
