use super::*;

const MINIMAL: &str = "[[models]]\nname = \"digits\"\ncandidate = \"models/digits_fp32.onnx\"\n";

#[test]
fn defaults_and_layered_overrides() {
    let text = format!("[criteria]\nmax_p95_regression_pct = 3.0\n\n{MINIMAL}[models.criteria]\nmin_recall = 0.9\n");
    let config = GateConfig::parse(&text).unwrap();
    let criteria = config.criteria_for(&config.models[0]);
    assert_eq!(criteria.max_p50_regression_pct, 5.0);
    assert_eq!(criteria.max_p95_regression_pct, 3.0);
    assert_eq!(criteria.max_recall_drop_pts, 0.5);
    assert_eq!(criteria.min_recall, Some(0.9));
    assert_eq!(criteria.significance, 0.05);
    // The quality criteria beyond accuracy and recall are off unless set.
    assert_eq!(criteria.min_slice_size, 30);
    assert_eq!(
        (
            criteria.slice_min_recall,
            criteria.max_auroc_drop_pts,
            criteria.max_ece
        ),
        (None, None, None)
    );
    let text = format!("[criteria]\nmax_ece = 0.1\nmin_slice_size = 50\n\n{MINIMAL}[models.criteria]\nmax_ece = 0.05\n");
    let config = GateConfig::parse(&text).unwrap();
    let layered = config.criteria_for(&config.models[0]);
    assert_eq!((layered.max_ece, layered.min_slice_size), (Some(0.05), 50));
    assert_eq!(
        config.models[0].baseline_path(Path::new("/repo")),
        Path::new("/repo/baselines/digits.json")
    );
    assert_eq!(config.models[0].bench.iterations, 1000);
}

#[test]
fn input_files_are_relative_to_the_config_folder() {
    let text = format!(
        "{MINIMAL}[models.bench]\ninputs = \"data/test_data_set_0\"\ninput = {{ sr = \"sr.npy\" }}\ncheck_outputs = true\n"
    );
    let config = GateConfig::parse(&text).unwrap();
    let bench = &config.models[0].bench;
    assert!(bench.check_outputs);
    let files = bench.input_files(Path::new("repo"));
    assert_eq!(files.dir, Some(PathBuf::from("repo/data/test_data_set_0")));
    assert_eq!(files.files["sr"], PathBuf::from("repo/sr.npy"));
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let cases = [
        (
            format!("{MINIMAL}[models.criteria]\nmax_p59_regression_pct = 1.0\n"),
            "max_p59_regression_pct",
        ),
        (format!("{MINIMAL}colour = 1\n"), "colour"),
        (
            format!("{MINIMAL}[models.criteria]\nmin_recall = 95\n"),
            "criteria.min_recall = 95",
        ),
        (
            format!("{MINIMAL}[models.criteria]\nsignificance = 0\n"),
            "criteria.significance = 0",
        ),
        (
            format!("{MINIMAL}[models.criteria]\nmax_p50_regression_pct = -1\n"),
            "max_p50_regression_pct = -1",
        ),
        (
            format!("{MINIMAL}[models.bench]\niterations = 0\n"),
            "bench.iterations = 0",
        ),
        (
            format!("{MINIMAL}[models.bench]\ncheck_outputs = true\n"),
            "check_outputs = true needs bench.inputs",
        ),
        (format!("{MINIMAL}[models.bench]\nep = \"gpu\"\n"), "gpu"),
        (
            format!("{MINIMAL}[models.criteria]\nslice_min_recall = 90\n"),
            "criteria.slice_min_recall = 90",
        ),
        (
            format!("{MINIMAL}[models.criteria]\nmax_ece = 1.5\n"),
            "criteria.max_ece = 1.5",
        ),
        (
            format!("{MINIMAL}[models.criteria]\nmax_auroc_drop_pts = -1\n"),
            "max_auroc_drop_pts = -1",
        ),
        (
            format!("{MINIMAL}[models.criteria]\nmin_slice_size = 0\n"),
            "criteria.min_slice_size = 0",
        ),
        (
            format!("{MINIMAL}[models.criteria]\nlatency_run_sd_pct = -0.1\n"),
            "criteria.latency_run_sd_pct = -0.1: must be a percentage from 0 to 10, e.g. 0.18",
        ),
        (format!("{MINIMAL}{MINIMAL}"), "appears twice"),
        ("[criteria]\n".to_string(), "no [[models]]"),
        (
            "[[models]]\nname = \"a b\"\ncandidate = \"x.onnx\"\n".to_string(),
            "models.name",
        ),
    ];
    for (text, expected) in cases {
        let err = format!("{:#}", GateConfig::parse(&text).unwrap_err());
        assert!(err.contains(expected), "{err} should contain {expected}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}
