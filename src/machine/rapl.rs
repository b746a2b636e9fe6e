//! CPU energy from Linux's RAPL counters (`/sys/class/powercap/intel-rapl:N/energy_uj`, on
//! Intel and recent AMD processors), read before and after the timed runs.
//!
//! The counters measure whole packages (every core, every process), so the figure is the
//! package's energy while the model ran, not the model's alone; and they are readable only
//! where the kernel and permissions allow (often root only since 2020). Where they are not,
//! nothing is recorded: energy is never estimated.

use std::path::{Path, PathBuf};

/// The package counters found under a powercap folder.
#[derive(Debug, Clone)]
pub struct Rapl {
    /// Each package's `energy_uj` file and its wrap-around range.
    packages: Vec<(PathBuf, u64)>,
}

/// The default powercap folder.
pub const POWERCAP: &str = "/sys/class/powercap";

impl Rapl {
    /// The readable package counters (`intel-rapl:N`, not their `intel-rapl:N:M` sub-zones) under
    /// `root`; None when there are none.
    pub fn open(root: &Path) -> Option<Rapl> {
        let mut packages = Vec::new();
        for entry in std::fs::read_dir(root).ok()?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(index) = name.strip_prefix("intel-rapl:") else {
                continue;
            };
            if index.contains(':') || index.parse::<u32>().is_err() {
                continue;
            }
            let energy = entry.path().join("energy_uj");
            let range = read_u64(&entry.path().join("max_energy_range_uj")).unwrap_or(u64::MAX);
            if read_u64(&energy).is_some() {
                packages.push((energy, range));
            }
        }
        packages.sort();
        (!packages.is_empty()).then_some(Rapl { packages })
    }

    /// Every package's counter now, in µJ; None if one cannot be read.
    pub fn read(&self) -> Option<Vec<u64>> {
        self.packages.iter().map(|(p, _)| read_u64(p)).collect()
    }

    /// Energy between two readings in mJ, summed over packages, a counter that wrapped counted
    /// once around its range.
    pub fn energy_mj(&self, before: &[u64], after: &[u64]) -> Option<f64> {
        if before.len() != self.packages.len() || after.len() != before.len() {
            return None;
        }
        let mut total: u128 = 0;
        for (((_, range), b), a) in self.packages.iter().zip(before).zip(after) {
            total += if a >= b {
                u128::from(a - b)
            } else {
                u128::from(range.saturating_sub(*b)) + u128::from(*a)
            };
        }
        Some(total as f64 / 1000.0)
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(root: &Path, name: &str, energy: u64, range: u64) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("energy_uj"), format!("{energy}\n")).unwrap();
        std::fs::write(dir.join("max_energy_range_uj"), format!("{range}\n")).unwrap();
    }

    #[test]
    fn packages_are_summed_and_a_wrapped_counter_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        zone(dir.path(), "intel-rapl:0", 1_000, 10_000_000);
        zone(dir.path(), "intel-rapl:1", 9_999_000, 10_000_000);
        // A sub-zone (a package's cores) is part of its package: not counted again.
        zone(dir.path(), "intel-rapl:0:0", 5, 10_000_000);
        std::fs::create_dir_all(dir.path().join("other")).unwrap();
        let rapl = Rapl::open(dir.path()).unwrap();
        let before = rapl.read().unwrap();
        assert_eq!(before, vec![1_000, 9_999_000]);
        // Package 0 moved 2,000 µJ; package 1 wrapped: 1,000 to the top, then 500.
        zone(dir.path(), "intel-rapl:0", 3_000, 10_000_000);
        zone(dir.path(), "intel-rapl:1", 500, 10_000_000);
        let after = rapl.read().unwrap();
        assert_eq!(rapl.energy_mj(&before, &after), Some(3.5));
        assert_eq!(rapl.energy_mj(&before, &after[..1]), None);
    }

    #[test]
    fn no_readable_counter_is_none_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Rapl::open(dir.path()).is_none());
        assert!(Rapl::open(&dir.path().join("missing")).is_none());
        std::fs::create_dir_all(dir.path().join("intel-rapl:0")).unwrap();
        assert!(Rapl::open(dir.path()).is_none(), "no energy_uj file");
    }
}
