use super::*;

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

#[test]
fn shape_and_dim_flags_parse_or_name_the_flag() {
    let ok = shape_request(&["input=1x3x8x8".into()], &["seq=16".into()]).unwrap();
    assert_eq!(ok.shapes["input"], vec![1, 3, 8, 8]);
    assert_eq!(ok.dims["seq"], 16);
    let err = shape_request(&["input".into()], &[])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("--shape input:"), "{err}");
    let err = shape_request(&[], &["seq=0".into()])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("--dim seq=0:"), "{err}");
}

#[test]
fn zero_iterations_is_refused() {
    let cli = Cli::try_parse_from(["modelgate", "bench", "m.onnx", "--iterations", "0"]).unwrap();
    let Command::Bench(args) = cli.command else {
        panic!("parsed as another command")
    };
    let err = args.settings().unwrap_err().to_string();
    assert!(err.contains("--iterations 0"), "{err}");
}

#[test]
fn the_runtime_flags_go_before_or_after_the_commands_that_load_it_only() {
    let lib = |args: &[&str]| {
        let cli = Cli::try_parse_from(args).unwrap();
        let Command::Gate(gate) = cli.command else {
            panic!("parsed as another command")
        };
        gate.runtime.over(&cli.global).ort_lib
    };
    assert_eq!(
        lib(&["modelgate", "--ort-lib", "a.so", "gate"]),
        Some("a.so".into())
    );
    assert_eq!(
        lib(&["modelgate", "gate", "--ort-lib", "b.so"]),
        Some("b.so".into())
    );
    assert_eq!(
        lib(&[
            "modelgate",
            "--ort-lib",
            "a.so",
            "gate",
            "--ort-lib",
            "b.so"
        ]),
        Some("b.so".into()),
        "the one nearer the command wins"
    );
    for command in [
        &[
            "modelgate",
            "report",
            "--comparison",
            "c.json",
            "--ort-lib",
            "a.so",
        ][..],
        &["modelgate", "schema", "-v"],
    ] {
        let err = Cli::try_parse_from(command).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::UnknownArgument,
            "{command:?}"
        );
    }
}
