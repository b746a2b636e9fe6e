use super::*;

#[test]
fn over_the_blocks_every_model_runs_in_every_position_equally_often() {
    let order = [1, 2, 0];
    let blocks: Vec<Vec<usize>> = (0..6).map(|b| block_order(&order, b)).collect();
    assert_eq!(
        blocks,
        [
            [1, 2, 0],
            [0, 2, 1],
            [2, 0, 1],
            [1, 0, 2],
            [0, 1, 2],
            [2, 1, 0]
        ]
    );
    let mut positions = [[0; 3]; 3];
    for b in &blocks {
        for (at, model) in b.iter().enumerate() {
            positions[*model][at] += 1;
        }
    }
    assert_eq!(positions, [[2; 3]; 3]);
    // With two models it is the ABBA order: the model that ends a block opens the next.
    let two: Vec<Vec<usize>> = (0..4).map(|b| block_order(&[0, 1], b)).collect();
    assert_eq!(two, [[0, 1], [1, 0], [0, 1], [1, 0]]);
}

#[test]
fn an_ab_on_a_gpu_says_why_it_has_no_gpu_telemetry() {
    let on = |provider| {
        notes(&[], &[], provider)
            .iter()
            .any(|n| n.starts_with("no GPU power, clocks or energy for the A/B"))
    };
    assert!(on(Provider::Cuda));
    assert!(on(Provider::Tensorrt));
    assert!(!on(Provider::Cpu));
}
