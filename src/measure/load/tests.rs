use super::*;

#[test]
fn committed_schema_matches_the_types() {
    let committed = include_str!("../../../schemas/load.schema.json");
    assert!(
        committed == json_schema(),
        "schemas/load.schema.json is stale: run `cargo run -- schema load > schemas/load.schema.json`"
    );
}

#[test]
fn poisson_gaps_have_the_exponential_mean_and_variance() {
    let rate = 200.0;
    let mut rng = StdRng::seed_from_u64(7);
    let arrivals = poisson_arrivals(rate, 500.0, &mut rng).unwrap();
    let gaps: Vec<f64> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 / 1e9)
        .collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // About 100 000 gaps. The sample mean of exponential gaps has a standard error of
    // (1/rate)/sqrt(n), 0.32 % here; the sample variance's relative standard error is
    // sqrt((kurtosis - 1)/n) = sqrt(8/n), 0.9 % (an exponential's kurtosis is 9). A 2 % and
    // a 5 % tolerance are over five standard errors each: a correct generator fails neither
    // by chance, and one off by a few percent (a wrong rate, uniform gaps) fails both.
    assert!(
        (n - rate * 500.0).abs() < 5.0 * (rate * 500.0f64).sqrt(),
        "{n} arrivals"
    );
    assert!((mean * rate - 1.0).abs() < 0.02, "mean gap {mean}");
    assert!((var * rate * rate - 1.0).abs() < 0.05, "gap variance {var}");
    assert!(arrivals.windows(2).all(|w| w[0] <= w[1]));
    // Seeded: the same seed gives the same arrivals.
    let again = poisson_arrivals(rate, 500.0, &mut StdRng::seed_from_u64(7)).unwrap();
    assert_eq!(arrivals, again);
}

#[test]
fn queueing_formulas_match_hand_computed_values() {
    let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
    // M/M/1, lambda 80/s, mu 100/s: rho 0.8, Wq = 0.8 / (100 - 80) = 40 ms.
    assert!(close(mm1_wait_s(80.0, 100.0), 0.040));
    // M/D/1: half of it, 0.8 / (2 x 100 x 0.2) = 20 ms.
    assert!(close(md1_wait_s(80.0, 100.0), 0.020));
    // M/M/2, lambda 150/s, mu 100/s: a = 1.5, rho = 0.75; a^2/2! / (1 - rho) = 4.5;
    // Erlang C = 4.5 / (1 + 1.5 + 4.5) = 9/14; Wq = (9/14) / (200 - 150) = 12.857 ms.
    assert!(close(mmc_wait_s(150.0, 100.0, 2), 9.0 / 14.0 / 50.0));
    assert!(close(mdc_wait_s(150.0, 100.0, 2), 9.0 / 14.0 / 100.0));
    // M/M/1 through Erlang C agrees with rho / (mu - lambda) at another point: 10/s, 50/s.
    assert!(close(mmc_wait_s(10.0, 50.0, 1), 0.2 / 40.0));
    // At or past capacity there is no steady state.
    assert_eq!(mm1_wait_s(100.0, 100.0), None);
    assert_eq!(md1_wait_s(120.0, 100.0), None);
    assert_eq!(mmc_wait_s(200.0, 100.0, 2), None);
}

#[test]
fn latency_counts_from_the_scheduled_arrival() {
    // Ten requests all due at once on one worker whose service takes 5 ms: the k-th waits
    // for the k before it, so its latency is about (k + 1) x 5 ms, though each ran 5 ms.
    let arrivals = vec![0u64; 10];
    let service = Duration::from_millis(5);
    let worker = || {
        std::thread::sleep(service);
        Ok(())
    };
    let m = run_open_loop(&arrivals, vec![worker], true).unwrap();
    let r = rate_result(10.0, 0.0, 1, m).unwrap();
    let records = r.records.clone().unwrap();
    for (k, rec) in records.iter().enumerate() {
        let latency = rec.end_ms - rec.scheduled_ms;
        assert!(latency >= 5.0 * (k + 1) as f64, "request {k}: {latency} ms");
    }
    assert!(r.mean_service_ms >= 5.0 && r.mean_service_ms < 20.0);
    // Mean latency of 5, 10, ..., 50 ms is 27.5 ms, far above the 5 ms service time.
    assert!(r.latency.mean_ms >= 27.5, "{}", r.latency.mean_ms);
    assert!(r.latency.max_ms >= 50.0 && r.latency.p50_ms >= 25.0);
    assert!(r.mean_queue_ms >= 22.5, "{}", r.mean_queue_ms);
    assert_eq!(r.requests, 10);
}

#[test]
fn two_workers_share_the_queue_in_arrival_order() {
    let arrivals: Vec<u64> = (0..8).map(|i| i * 1_000_000).collect();
    let service = Duration::from_millis(4);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            move || {
                std::thread::sleep(service);
                Ok(())
            }
        })
        .collect();
    let m = run_open_loop(&arrivals, workers, true).unwrap();
    let records = m.records.clone().unwrap();
    assert_eq!(records.len(), 8);
    for (i, rec) in records.iter().enumerate() {
        assert!(
            rec.start_ms >= rec.scheduled_ms,
            "request {i} started early"
        );
        assert_eq!(rec.scheduled_ms, i as f64);
    }
}

#[test]
fn a_failing_request_stops_the_run_with_its_error() {
    let arrivals = vec![0u64; 100];
    let worker = || Err(anyhow!("the session failed"));
    let err = run_open_loop(&arrivals, vec![worker], false).err().unwrap();
    assert!(err.to_string().contains("session failed"));
}

fn rate(offered: f64, service_rate: f64, p99: f64) -> RateResult {
    RateResult {
        offered_qps: offered,
        requests: 1,
        wall_time_s: 1.0,
        achieved_qps: offered,
        latency: LatencyPercentiles {
            mean_ms: 1.0,
            p50_ms: 1.0,
            p95_ms: 1.0,
            p99_ms: p99,
            max_ms: p99,
        },
        mean_service_ms: 1000.0 / service_rate,
        mean_queue_ms: 0.0,
        service_rate_qps: service_rate,
        utilization: offered / service_rate,
        mean_in_system: 0.0,
        predicted_queue: Prediction {
            deterministic_ms: None,
            exponential_ms: None,
        },
        records: None,
    }
}

#[test]
fn capacity_plan_and_slo_follow_the_formula() {
    let rates = [
        rate(100.0, 500.0, 3.0),
        rate(300.0, 450.0, 9.0),
        rate(400.0, 450.0, 40.0),
    ];
    // 300/450 = 67 % is the highest within 70 %: 1000 x 1.5 / (450 x 0.7) = 4.76 -> 5.
    let plan = capacity_plan(&rates, 1000.0, 1.5, None).unwrap();
    assert_eq!(plan.measured_at_qps, 300.0);
    assert_eq!(plan.instances, 5);
    assert_eq!(plan.rule, CapacityRule::Utilization);
    assert!(plan.formula.contains("= 5"), "{}", plan.formula);
    // With an SLO: each instance takes the lower of 450 x 0.7 = 315 qps and the highest rate
    // whose p99 met it (every lower rate meeting it too).
    for (slo, rule, per_instance, instances) in [
        (5.0, CapacityRule::Slo, 100.0, 15),
        (10.0, CapacityRule::Slo, 300.0, 5),
        (50.0, CapacityRule::Utilization, 315.0, 5),
        (1.0, CapacityRule::SloUnmet, 315.0, 5),
    ] {
        let plan = capacity_plan(&rates, 1000.0, 1.5, Some(slo)).unwrap();
        assert_eq!(plan.rule, rule, "slo {slo}");
        assert!(
            (plan.per_instance_qps - per_instance).abs() < 1e-9,
            "slo {slo}"
        );
        assert_eq!(plan.instances, instances, "slo {slo}: {}", plan.formula);
        assert!(
            plan.formula.contains(&format!("= {instances}")),
            "{}",
            plan.formula
        );
    }
    // A p99 far above the service time at a quiet rate is noted: service times vary.
    let noisy = [rate(100.0, 500.0, 30.0)];
    let notes = notes_for(&noisy);
    assert!(
        notes[0]
            .starts_with("100 qps: at 20 % utilization p99 is already 15x the mean service time"),
        "{notes:?}"
    );
    assert_eq!(slo_result(&rates, 10.0).first_rate_over_qps, Some(400.0));
    assert_eq!(slo_result(&rates, 50.0).first_rate_over_qps, None);
    let notes = notes_for(&rates);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("400 qps: utilization 89 %"),
        "{notes:?}"
    );
}

#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("30s").unwrap(), 30.0);
    assert_eq!(parse_duration("500ms").unwrap(), 0.5);
    assert_eq!(parse_duration("2m").unwrap(), 120.0);
    assert_eq!(parse_duration("1.5").unwrap(), 1.5);
    assert!(parse_duration("3 weeks").is_err());
    assert!(parse_duration("s").is_err());
}
