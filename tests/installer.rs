//! scripts/install-modelgate.sh against a local stand-in for GitHub releases: a release binary is
//! installed only when it matches the digest committed in the action's own checkout (never a
//! checksum served beside it), a tampered asset is refused, a warm cache installs without a
//! download but not without a check, and a version with no committed sums goes to the source
//! build. Linux only: the release targets checked here are the Linux ones.
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};

const REPO: &str = "octo-org/modelgate";
const VERSION: &str = "v9.9.9";

/// The fake `modelgate`: answers `--version` as the installer expects.
const GOOD_BINARY: &str =
    "#!/bin/sh\nif [ \"$1\" = --version ]; then echo \"modelgate 9.9.9\"; fi\n";
/// What an attacker who can replace a release asset would serve instead.
const EVIL_BINARY: &str =
    "#!/bin/sh\necho \"modelgate 9.9.9\"\necho stolen >\"${RUNNER_TEMP:-/tmp}/pwned\"\n";

/// Files served by path, and every path asked for.
#[derive(Default)]
struct Served {
    files: HashMap<String, Vec<u8>>,
    requests: Vec<String>,
}

/// A local server answering `GET /<owner>/<repo>/releases/download/<version>/<asset>` like
/// github.com: the file when it is published, 404 otherwise. It runs on its own thread and
/// runtime so the tests can run the installer with a plain blocking `Command`; the thread ends
/// with the test process.
struct FakeReleases {
    url: String,
    state: Arc<Mutex<Served>>,
}

impl FakeReleases {
    fn start() -> FakeReleases {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Served::default()));
        let app = Router::new().fallback(serve).with_state(state.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeReleases { url, state }
    }

    /// Publishes `bytes` as the asset `name` of the release VERSION.
    fn publish(&self, name: &str, bytes: &[u8]) {
        let path = format!("/{REPO}/releases/download/{VERSION}/{name}");
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path, bytes.to_vec());
    }

    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    fn forget_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

async fn serve(State(state): State<Arc<Mutex<Served>>>, uri: Uri) -> Response {
    let mut served = state.lock().unwrap();
    served.requests.push(uri.path().to_string());
    match served.files.get(uri.path()) {
        Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// This machine's release target, as release.yml names it.
fn target() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}

fn asset() -> String {
    format!("modelgate-{VERSION}-{}.tar.gz", target())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A release archive laid out as release.yml packs it: `modelgate-VERSION-TARGET/modelgate`.
fn archive(dir: &Path, binary: &str) -> Vec<u8> {
    let name = asset();
    let folder = name.trim_end_matches(".tar.gz");
    let staging = tempfile::tempdir_in(dir).unwrap();
    std::fs::create_dir(staging.path().join(folder)).unwrap();
    let exe = staging.path().join(folder).join("modelgate");
    std::fs::write(&exe, binary).unwrap();
    let status = Command::new("chmod").arg("755").arg(&exe).status().unwrap();
    assert!(status.success());
    let tarball = staging.path().join(&name);
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(staging.path())
        .arg(folder)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(tarball).unwrap()
}

/// A runner's view: the action's checkout (the script and its committed sums), RUNNER_TEMP with
/// the install folder in it, and a PATH holding only the tools the script uses (no cargo).
struct Runner {
    _dir: tempfile::TempDir,
    root: PathBuf,
    action: PathBuf,
    temp: PathBuf,
    tools: PathBuf,
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let action = root.join("action");
        std::fs::create_dir_all(action.join("scripts")).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-modelgate.sh"),
            action.join("scripts/install-modelgate.sh"),
        )
        .unwrap();
        let temp = root.join("runner-temp");
        std::fs::create_dir_all(&temp).unwrap();
        let tools = root.join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        let path = std::env::var_os("PATH").unwrap_or_default();
        for tool in [
            "bash",
            "curl",
            "tar",
            "gzip",
            "sha256sum",
            "awk",
            "find",
            "mktemp",
            "install",
            "uname",
            "cat",
            "rm",
            "mv",
            "mkdir",
            "sort",
            "chmod",
        ] {
            let found = std::env::split_paths(&path)
                .map(|dir| dir.join(tool))
                .find(|candidate| candidate.is_file())
                .unwrap_or_else(|| panic!("{tool} is not on PATH"));
            std::os::unix::fs::symlink(found, tools.join(tool)).unwrap();
        }
        Runner {
            _dir: dir,
            root,
            action,
            temp,
            tools,
        }
    }

    /// Commits `releases/VERSION.sha256` into the action's checkout, in sha256sum's format.
    fn commit_sums(&self, lines: &[(String, String)]) {
        let body: String = lines
            .iter()
            .map(|(digest, name)| format!("{digest}  {name}\n"))
            .collect();
        std::fs::create_dir_all(self.action.join("releases")).unwrap();
        std::fs::write(self.action.join(format!("releases/{VERSION}.sha256")), body).unwrap();
    }

    fn install_dir(&self) -> PathBuf {
        self.temp.join("modelgate")
    }

    fn installed(&self) -> PathBuf {
        self.install_dir().join("bin/modelgate")
    }

    /// Runs the installer as action.yml does, for the `version` input `version`.
    fn run(&self, server: &FakeReleases, version: &str, args: &[&str]) -> (Output, String) {
        self.run_at(server, version, VERSION, args)
    }

    /// The same, for an action checked out at `action_ref`.
    fn run_at(
        &self,
        server: &FakeReleases,
        version: &str,
        action_ref: &str,
        args: &[&str],
    ) -> (Output, String) {
        let output = self.root.join("github-output");
        std::fs::write(&output, "").unwrap();
        let out = Command::new(self.tools.join("bash"))
            .arg(self.action.join("scripts/install-modelgate.sh"))
            .args(args)
            .env_clear()
            .env("PATH", &self.tools)
            .env("HOME", &self.root)
            .env("MODELGATE_INSTALL_DIR", self.install_dir())
            .env("MODELGATE_VERSION", version)
            .env("ACTION_REPOSITORY", REPO)
            .env("ACTION_REF", action_ref)
            .env("ACTION_PATH", &self.action)
            .env("GITHUB_SERVER_URL", &server.url)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITHUB_OUTPUT", &output)
            .output()
            .unwrap();
        (out, std::fs::read_to_string(output).unwrap())
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// A runner whose checkout commits the digest of the good archive, and a server publishing it.
fn released() -> (Runner, FakeReleases, Vec<u8>) {
    let runner = Runner::new();
    let good = archive(&runner.root, GOOD_BINARY);
    runner.commit_sums(&[
        (
            sha256_hex(b"another target's archive"),
            "modelgate-v9.9.9-riscv64gc-unknown-linux-gnu.tar.gz".into(),
        ),
        (sha256_hex(&good), asset()),
    ]);
    let server = FakeReleases::start();
    server.publish(&asset(), &good);
    (runner, server, good)
}

#[test]
fn installs_the_release_binary_checked_against_the_committed_digest() {
    let (runner, server, good) = released();
    let (out, github_output) = runner.run(&server, VERSION, &[]);
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read_to_string(runner.installed()).unwrap(),
        GOOD_BINARY
    );
    assert!(github_output.contains(&format!("path={}", runner.installed().display())));
    assert!(String::from_utf8_lossy(&out.stdout).contains("modelgate 9.9.9"));
    let err = stderr(&out);
    assert!(err.contains(&sha256_hex(&good)), "{err}");
    assert_eq!(
        server.requests(),
        [format!("/{REPO}/releases/download/{VERSION}/{}", asset())]
    );
}

#[test]
fn a_tampered_asset_is_refused_though_a_matching_sha256_is_served_beside_it() {
    let (runner, server, good) = released();
    let evil = archive(&runner.root, EVIL_BINARY);
    server.publish(&asset(), &evil);
    server.publish(
        &format!("{}.sha256", asset()),
        format!("{}  {}\n", sha256_hex(&evil), asset()).as_bytes(),
    );
    // What a restored cache might have left in bin/: not trusted by name.
    std::fs::create_dir_all(runner.install_dir().join("bin")).unwrap();
    std::fs::write(runner.installed(), EVIL_BINARY).unwrap();

    let (out, github_output) = runner.run(&server, VERSION, &[]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    let error = err
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("no ::error line: {err}"));
    for part in [
        asset(),
        sha256_hex(&evil),
        sha256_hex(&good),
        "refusing it".into(),
    ] {
        assert!(error.contains(&part), "{error} should name {part}");
    }
    assert!(!runner.installed().exists(), "nothing may stay installed");
    assert!(!github_output.contains("path="));
    assert!(!runner.temp.join("pwned").exists());
    assert!(
        !err.contains("building from source"),
        "a mismatch never falls back to a build: {err}"
    );
    let requests = server.requests();
    assert!(
        requests.iter().all(|path| !path.ends_with(".sha256")),
        "the installer asked the release for a checksum: {requests:?}"
    );
}

#[test]
fn a_warm_cache_installs_the_same_binary_without_downloading() {
    let (runner, server, _) = released();
    let (out, _) = runner.run(&server, VERSION, &[]);
    assert_exit(&out, 0);
    let first = std::fs::read(runner.installed()).unwrap();
    server.forget_requests();

    let started = Instant::now();
    let (out, github_output) = runner.run(&server, VERSION, &[]);
    let warm = started.elapsed();
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(runner.installed()).unwrap(), first);
    assert!(github_output.contains("path="));
    assert!(
        stderr(&out).contains("Re-verified the cached"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.requests(), Vec::<String>::new());
    // A local figure, not a runner's: the warm path is a digest, an untar and a copy.
    eprintln!("warm install took {warm:?}");
    assert!(warm < Duration::from_secs(10), "warm install took {warm:?}");
}

#[test]
fn a_poisoned_cache_entry_is_discarded_and_the_release_downloaded_again() {
    let (runner, server, _) = released();
    let cached = runner.install_dir().join("archives").join(asset());
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    std::fs::write(&cached, archive(&runner.root, EVIL_BINARY)).unwrap();

    let (out, _) = runner.run(&server, VERSION, &[]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("::warning title=modelgate install::the cached"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(runner.installed()).unwrap(),
        GOOD_BINARY
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_version_without_committed_sums_goes_to_the_source_build() {
    let (runner, server, _) = released();
    // A branch: no releases/main.sha256 in the checkout, so no download is even tried.
    let (out, github_output) = runner.run(&server, "main", &[]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("no release of main for ")
            && err.contains("; building from source, which takes several minutes"),
        "{err}"
    );
    assert!(
        err.contains("::error title=modelgate install::no release binary for 'main' on this runner and no cargo to build one"),
        "{err}"
    );
    assert!(!github_output.contains("path="));
    assert_eq!(server.requests(), Vec::<String>::new());
}

#[test]
fn committed_sums_without_this_target_go_to_the_source_build() {
    let (runner, server, good) = released();
    runner.commit_sums(&[(
        sha256_hex(&good),
        "modelgate-v9.9.9-riscv64gc-unknown-linux-gnu.tar.gz".into(),
    )]);
    let (out, _) = runner.run(&server, VERSION, &[]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("no cargo to build one"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.requests(), Vec::<String>::new());
}

#[test]
fn hostile_version_strings_are_refused() {
    let (runner, server, _) = released();
    for version in ["--foo", "v1;rm", "v1 x", "$(id)"] {
        let (out, github_output) = runner.run(&server, version, &[]);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("::error title=modelgate version::"),
            "{version}: {}",
            stderr(&out)
        );
        assert!(!github_output.contains("path="));
        // The cache-key step does not fail on it: it chooses no cache and leaves the refusal
        // to the install step.
        let (out, github_output) = runner.run(&server, version, &["--cache-key"]);
        assert_exit(&out, 0);
        assert_eq!(github_output, "key=\n");
    }
    assert!(!runner.installed().exists());
    assert_eq!(server.requests(), Vec::<String>::new());
}

#[test]
fn the_cache_key_names_the_version_target_and_committed_digest() {
    let (runner, server, good) = released();
    let (out, github_output) = runner.run(&server, VERSION, &["--cache-key"]);
    assert_exit(&out, 0);
    assert_eq!(
        github_output,
        format!(
            "key=modelgate-bin-{}-{VERSION}-{}\n",
            target(),
            sha256_hex(&good)
        )
    );
    // A branch built from another repository ref cannot be pinned: not cached.
    let (out, github_output) = runner.run(&server, "main", &["--cache-key"]);
    assert_exit(&out, 0);
    assert_eq!(github_output, "key=\n");
    // Nor is a source build at a full commit id: a key computable from public source would let
    // any job of the repository plant the binary the next job runs.
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let (_, github_output) = runner.run(&server, commit, &["--cache-key"]);
    assert_eq!(github_output, "key=\n");
    assert_eq!(server.requests(), Vec::<String>::new());
}

/// A cache entry is written by whichever job saved it, a job that parsed a pull request's models
/// included: tools planted in the cached `bin/` (which goes on PATH) are gone after the install,
/// and only the verified binary is there.
#[test]
fn tools_planted_in_a_cached_bin_folder_are_removed_before_it_goes_on_path() {
    let (runner, server, _) = released();
    let bin = runner.install_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for planted in ["od", "python3", "modelgate"] {
        std::fs::write(bin.join(planted), EVIL_BINARY).unwrap();
    }
    let (out, _) = runner.run(&server, VERSION, &[]);
    assert_exit(&out, 0);
    let mut left: Vec<String> = std::fs::read_dir(&bin)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["modelgate"]);
    assert_eq!(
        std::fs::read_to_string(runner.installed()).unwrap(),
        GOOD_BINARY
    );
}

/// `uses: OWNER/modelgate@SHA`: the action's ref is a commit, not a version, so the checkout's
/// Cargo.toml names the release, which is installed and verified when its sums are committed.
#[test]
fn an_action_pinned_by_commit_installs_the_release_its_checkout_names() {
    let (runner, server, good) = released();
    std::fs::write(
        runner.action.join("Cargo.toml"),
        "[package]\nname = \"modelgate\"\nversion = \"9.9.9\"\n\n[dependencies]\nversion_check = { version = \"0.9\" }\n",
    )
    .unwrap();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let (out, _) = runner.run_at(&server, "", commit, &[]);
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read_to_string(runner.installed()).unwrap(),
        GOOD_BINARY
    );
    let err = stderr(&out);
    assert!(err.contains("installing release v9.9.9"), "{err}");
    assert!(err.contains(&sha256_hex(&good)), "{err}");
    let (_, github_output) = runner.run_at(&server, "", commit, &["--cache-key"]);
    assert_eq!(
        github_output,
        format!(
            "key=modelgate-bin-{}-{VERSION}-{}\n",
            target(),
            sha256_hex(&good)
        )
    );
    // A checkout whose version has no committed sums builds from source (no cargo here).
    std::fs::write(
        runner.action.join("Cargo.toml"),
        "[package]\nname = \"modelgate\"\nversion = \"9.9.10\"\n",
    )
    .unwrap();
    let (out, _) = runner.run_at(&server, "", commit, &[]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("no cargo to build one"),
        "{}",
        stderr(&out)
    );
}

/// The source build decodes JPEG as release binaries do where nasm is there (libjpeg-turbo's
/// SIMD, `--features jpeg-simd`), and says so when it is not. `cargo` and `nasm` here are
/// stand-ins that record their arguments: what is tested is the script's choice.
#[test]
fn a_source_build_uses_libjpeg_turbos_simd_where_nasm_is_there() {
    if std::env::consts::ARCH != "x86_64" {
        return;
    }
    let (runner, server, _) = released();
    let args_file = runner.root.join("cargo-args");
    let cargo = format!(
        "#!/bin/bash\necho \"$@\" > {args}\nroot=\nprev=\nfor a in \"$@\"; do [ \"$prev\" = --root ] && root=$a; prev=$a; done\n\
         mkdir -p \"$root/bin\"\nprintf '#!/bin/bash\\necho modelgate 0.0.0\\n' > \"$root/bin/modelgate\"\nchmod +x \"$root/bin/modelgate\"\n",
        args = args_file.display()
    );
    let fake = |name: &str, body: &str| {
        let path = runner.tools.join(name);
        std::fs::write(&path, body).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    };
    fake("cargo", &cargo);

    // No nasm, and no apt-get to install it: a plain build, with a notice.
    let (out, _) = runner.run(&server, "main", &[]);
    assert_exit(&out, 0);
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(
        args.starts_with("install --locked --force --root "),
        "{args}"
    );
    assert!(!args.contains("jpeg-simd"), "{args}");
    assert!(
        stderr(&out).contains("::notice title=modelgate install::nasm is not available"),
        "{}",
        stderr(&out)
    );

    // With nasm: the SIMD build.
    fake("nasm", "#!/bin/bash\necho 'NASM version 2.16.01'\n");
    let (out, _) = runner.run(&server, "main", &[]);
    assert_exit(&out, 0);
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(args.contains("--features jpeg-simd"), "{args}");
    assert!(
        stderr(&out).contains("Building with libjpeg-turbo's SIMD (NASM version 2.16.01)."),
        "{}",
        stderr(&out)
    );
}
