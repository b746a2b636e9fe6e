//! The commands that judge: compare (two results files) and gate (every model of the config).

use super::*;

/// `modelgate compare`.
pub fn compare(args: &CompareArgs) -> Result<Verdict> {
    let config = match &args.config {
        Some(path) => Some(GateConfig::load(path)?),
        None => None,
    };
    results::check_outputs(&[("--json", args.json.as_deref())], None)?;
    let candidate = results::load_whole(&args.candidate)?;
    let baseline = results::load_whole(&args.baseline)?;
    crate::files::identity::check_same_model(
        &baseline.model,
        &args.baseline,
        &candidate.model,
        crate::files::identity::Names::Free,
    )?;
    let model = config
        .as_ref()
        .and_then(|c| {
            c.models
                .iter()
                .find(|m| m.name == candidate.model.name)
                .cloned()
        })
        .unwrap_or_else(|| ModelConfig::named(&candidate.model.name, &candidate.model.path));
    let criteria = match &config {
        Some(c) => c.criteria_for(&model),
        None => Default::default(),
    };
    let measured = Measured {
        candidate,
        base: None,
    };
    // Both files are the user's explicit choice: the baseline is the reference for everything.
    let judged = gate::judge(
        &model,
        &criteria,
        &measured,
        None,
        Some(&baseline),
        &args.baseline,
    );
    let comparison = compare::finalize(
        vec![judged],
        criteria.significance,
        compare::MissingBaseline::Fails,
        results::now_rfc3339(),
    );
    finish_comparison(&comparison, args.json.as_deref(), None, None)
}

/// `modelgate gate`.
pub fn gate(global: &GlobalArgs, args: &GateArgs) -> Result<Verdict> {
    let config = gate::select_models(GateConfig::load(&args.config)?, &args.models)?;
    results::check_outputs(
        &[
            ("--json", args.json.as_deref()),
            ("--report", args.report.as_deref()),
        ],
        args.results_dir.as_deref(),
    )?;
    let root = config_root(&args.config);
    let options = GateOptions {
        root,
        missing_baseline: if args.allow_new {
            compare::MissingBaseline::IsNew
        } else {
            compare::MissingBaseline::Fails
        },
        from_results: args.from_results.clone(),
        results_dir: args.results_dir.clone(),
        provider: args.ep.map(|e| e.provider()),
        base_ref: args.base_ref.clone(),
        candidate_ref: args.candidate_ref.clone(),
        shard: args.shard,
    };
    // A commit that is not there is the caller's mistake, not each model's: say it once.
    if let Some(reference) = &options.candidate_ref {
        gate::resolve_candidate_ref(&options.root, reference)?;
    }
    let runtime = if options.from_results.is_some() {
        None
    } else {
        let provider = options
            .provider
            .unwrap_or_else(|| config.models[0].bench.ep);
        let session = crate::engine::runtime::SessionSettings {
            provider,
            ..Default::default()
        };
        Some(load_runtime(global, &session)?)
    };
    let mut progress = progress_bar();
    if let (Some(shard), Some(runtime)) = (options.shard, &runtime) {
        for path in gate::run_shard(&config, runtime, &options, &mut progress)? {
            println!("shard {shard}: wrote {}", path.display());
        }
        println!("merge every shard's folder with `modelgate merge`, then judge with `modelgate gate --from-results`");
        return Ok(Verdict::Pass);
    }
    let comparison = gate::run(&config, runtime.as_ref(), &options, &mut progress);
    finish_comparison(
        &comparison,
        args.json.as_deref(),
        args.report.as_deref(),
        args.template.as_deref(),
    )
}
