//! The queueing models the measured latencies are set beside: M/M/1, M/D/1 and M/M/c (Erlang C),
//! M/D/c approximated (Allen-Cunneen).

/// Mean queueing delay (seconds) of M/M/c, Erlang C: arrivals at `lambda` per second, `c`
/// servers of `mu` per second each. None at or past capacity.
pub fn mmc_wait_s(lambda: f64, mu: f64, c: usize) -> Option<f64> {
    let c_f = c as f64;
    let rho = lambda / (c_f * mu);
    if !(0.0..1.0).contains(&rho) || c == 0 {
        return None;
    }
    let a = lambda / mu;
    // Sum of a^k/k! for k < c, and a^c/c!, built term by term.
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k as f64 + 1.0);
    }
    let tail = term / (1.0 - rho);
    let erlang_c = tail / (sum + tail);
    Some(erlang_c / (c_f * mu - lambda))
}

/// Mean queueing delay (seconds) of M/M/1: rho / (mu - lambda).
pub fn mm1_wait_s(lambda: f64, mu: f64) -> Option<f64> {
    mmc_wait_s(lambda, mu, 1)
}

/// Mean queueing delay (seconds) of M/D/1, Pollaczek-Khinchine with constant service:
/// rho / (2 mu (1 - rho)).
pub fn md1_wait_s(lambda: f64, mu: f64) -> Option<f64> {
    let rho = lambda / mu;
    (0.0..1.0)
        .contains(&rho)
        .then(|| rho / (2.0 * mu * (1.0 - rho)))
}

/// Mean queueing delay (seconds) of M/D/c, approximated as half of M/M/c's (Allen-Cunneen
/// with constant service); exact for c = 1.
pub fn mdc_wait_s(lambda: f64, mu: f64, c: usize) -> Option<f64> {
    if c == 1 {
        return md1_wait_s(lambda, mu);
    }
    mmc_wait_s(lambda, mu, c).map(|w| w / 2.0)
}

/// The queueing model's name for `concurrency` sessions.
pub fn queue_model(concurrency: usize) -> String {
    if concurrency == 1 {
        "M/D/1 (Pollaczek-Khinchine, constant service); M/M/1 as the upper reference".to_string()
    } else {
        format!(
            "M/D/{concurrency} approximated as half of M/M/{concurrency}'s Erlang C wait (Allen-Cunneen, constant service); M/M/{concurrency} as the upper reference"
        )
    }
}
