//! Times one resize, 1024x1024 RGB noise to 256x256 bilinear (the torchvision preset's
//! `Resize(256)` of a 1024x1024 photo), and its 224x224 centre window:
//! `cargo run --release -p modelgate-resample --example resize_bench [REPS]`.

use std::time::Instant;

use modelgate_resample::{resize, resize_window, Filter};

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut state = 7u32;
    let pixels: Vec<u8> = (0..1024 * 1024 * 3)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    let time = |name: &str, f: &dyn Fn() -> Vec<u8>| {
        let mut best = f64::INFINITY;
        let mut total = 0u64;
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..reps / 5 {
                total += u64::from(f()[1000]);
            }
            best = best.min(start.elapsed().as_secs_f64() / (reps / 5) as f64);
        }
        println!("{name}: {:.3} ms (checksum {total})", best * 1e3);
    };
    let full = || resize(&pixels, 3, [1024, 1024], [256, 256], Filter::Bilinear, true);
    let window = || {
        resize_window(
            &pixels,
            3,
            [1024, 1024],
            [256, 256],
            [16, 16, 224, 224],
            Filter::Bilinear,
            true,
        )
    };
    time("resize 1024 -> 256", &full);
    time("resize 1024 -> 256, 224 window", &window);
}
