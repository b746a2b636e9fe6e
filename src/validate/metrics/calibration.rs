//! Expected calibration error: how far a model's confidence is from how often it is right.
//!
//! A change (quantisation, a new head) can keep accuracy yet make a model over-confident, which
//! breaks any threshold or triage built on its scores. The definition is the common one (Guo et
//! al., "On Calibration of Modern Neural Networks", 2017): the top-class confidence `max(scores)`
//! is binned into [`ECE_BINS`] equal-width bins over [0, 1], right-closed (`(i/15, (i+1)/15]`,
//! a confidence of exactly 0 falling in the first); a sample counts as right when its top-scoring
//! class is its label; ECE is the sample-weighted mean of `|accuracy - mean confidence|` over
//! the bins.

/// Bins of [`expected_calibration_error`].
pub const ECE_BINS: usize = 15;

/// ECE of per-class `scores` against `labels`; `None` when there are no samples, the lengths
/// differ, a row is empty, or a score is not finite.
pub fn expected_calibration_error(scores: &[Vec<f32>], labels: &[usize]) -> Option<f64> {
    if scores.is_empty() || scores.len() != labels.len() {
        return None;
    }
    let mut count = [0usize; ECE_BINS];
    let mut confidence = [0f64; ECE_BINS];
    let mut correct = [0usize; ECE_BINS];
    for (row, &label) in scores.iter().zip(labels) {
        if row.iter().any(|s| !s.is_finite()) {
            return None;
        }
        // The first of tied top scores, as numpy's argmax.
        let (top, conf) = row.iter().enumerate().fold(
            None,
            |best: Option<(usize, f32)>, (i, &s)| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((i, s)),
            },
        )?;
        let conf = f64::from(conf).clamp(0.0, 1.0);
        let bin = ((conf * ECE_BINS as f64).ceil() as usize).clamp(1, ECE_BINS) - 1;
        count[bin] += 1;
        confidence[bin] += conf;
        correct[bin] += usize::from(top == label);
    }
    let n = scores.len() as f64;
    Some(
        (0..ECE_BINS)
            .filter(|&b| count[b] > 0)
            .map(|b| {
                let m = count[b] as f64;
                m / n * (correct[b] as f64 / m - confidence[b] / m).abs()
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_numpy_computation_of_the_binned_definition() {
        let scores: Vec<Vec<f32>> = [0.95f32, 0.8, 0.6, 0.55, 0.3, 0.1, 0.7, 0.99, 0.5, 0.2]
            .iter()
            .map(|&p| vec![1.0 - p, p])
            .collect();
        let labels = [1, 1, 0, 1, 0, 1, 1, 1, 0, 0];
        // python -c "import numpy as np
        // p=np.array([0.95,0.8,0.6,0.55,0.3,0.1,0.7,0.99,0.5,0.2],dtype=np.float32)
        // s=np.stack([1-p,p],1).astype(float); y=np.array([1,1,0,1,0,1,1,1,0,0])
        // c=s.max(1); r=(s.argmax(1)==y); b=np.clip(np.ceil(c*15).astype(int),1,15)-1
        // print(sum(abs(r[b==k].mean()-c[b==k].mean())*(b==k).sum()/len(y) for k in range(15) if (b==k).any()))"
        // -> 0.3509999990463257   (numpy 2.4)
        let ece = expected_calibration_error(&scores, &labels).unwrap();
        assert!((ece - 0.3509999990463257).abs() < 1e-6, "{ece}");
        let perfect = vec![vec![0.0f32, 1.0]; 4];
        assert_eq!(
            expected_calibration_error(&perfect, &[1, 1, 1, 1]),
            Some(0.0)
        );
        assert_eq!(expected_calibration_error(&[], &[]), None);
        assert_eq!(expected_calibration_error(&[vec![f32::NAN]], &[0]), None);
        assert_eq!(expected_calibration_error(&[vec![]], &[0]), None);
    }
}
