//! The integration tests, as one test binary: each module is one area (the file of its name
//! beside this one). One binary links once and runs every test in one pool of threads, which
//! keeps `cargo test` on a fresh clone to minutes.

mod support;
mod workspace;

mod action_e2e;
mod baseline_cli;
mod bench_cli;
mod check_cli;
mod ci_tools;
mod config_doc;
mod docs_approval;
mod errors_cli;
mod eval_cli;
mod explore_cli;
mod gate_cli;
mod github_api;
mod init_cli;
mod inputs_cli;
mod install_onnxruntime;
mod installer;
mod limits_cli;
mod load_cli;
mod parsers_fuzz;
mod pr_gate;
mod profile_cli;
mod python_agreement;
mod sharded_e2e;
mod workflows_e2e;

/// Every test file beside this one is a module here: a file left out would never run.
#[test]
fn every_test_file_is_a_module_of_this_binary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(module) = name.strip_suffix(".rs").filter(|m| *m != "main") {
            assert!(
                main.contains(&format!("\nmod {module};\n")),
                "tests/{name} is not declared in tests/main.rs: add `mod {module};`"
            );
        }
    }
}
