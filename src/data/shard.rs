//! Sharding a model's labeled data over several runners (`gate --shard K/N`).
//!
//! A sample belongs to shard `1 + h mod N`, where `h` is the first eight bytes (big-endian) of the
//! SHA-256 of its id: the same slices on every runner whatever the order of the dataset's files,
//! and a file that lists the same samples in another order cuts the same way. Each shard's
//! results file says which slice it holds and of what (the count of the whole set and a digest of
//! its ids), so `modelgate merge` can check that the shards add up to exactly the dataset.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most shards a run is cut into: GitHub Actions' limit on jobs in one matrix.
pub const MAX_SHARDS: u32 = 256;

/// The K-th of N slices, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether the sample `id` falls in this slice.
    pub fn contains(&self, id: &str) -> bool {
        shard_of(id, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let fix = "give K/N with 1 <= K <= N <= 256, e.g. 2/4";
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not K/N; {fix}"))?;
        let number = |v: &str| v.trim().parse::<u32>().ok();
        match (number(k), number(n)) {
            (Some(index), Some(count)) if index >= 1 && index <= count && count <= MAX_SHARDS => {
                Ok(Shard { index, count })
            }
            _ => Err(format!("{text:?} is not a shard; {fix}")),
        }
    }
}

/// The 1-based shard of `count` that the sample `id` belongs to.
pub fn shard_of(id: &str, count: u32) -> u32 {
    let digest = Sha256::digest(id.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(head) % u64::from(count.max(1))) as u32 + 1
}

/// SHA-256 (hex) of the ids sorted, each followed by a newline: the same for any order of the
/// same samples.
pub fn ids_digest<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_unstable();
    let mut hasher = Sha256::new();
    for id in ids {
        hasher.update(id.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What part of a model's work a results file holds, when the gate ran in shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardInfo {
    /// This file's slice, 1-based; absent in a file `modelgate merge` wrote from all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// How many slices the labeled data was cut into.
    pub count: u32,
    /// The shard whose runner timed the model: the latency in the file is that runner's alone,
    /// never pooled across runners.
    pub latency_shard: u32,
    /// Samples in this file's evaluation: its slice, or the whole set once merged.
    pub samples: usize,
    /// Samples in the whole labeled set.
    pub dataset_samples: usize,
    /// SHA-256 of the whole set's sample ids, sorted, one per line.
    pub dataset_ids_sha256: String,
}

impl ShardInfo {
    /// "shard 2/4", or "merged from 4 shards".
    pub fn describe(&self) -> String {
        match self.index {
            Some(index) => format!("shard {index}/{}", self.count),
            None => format!("merged from {} shards", self.count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_follow_the_sha256_of_the_id() {
        // Reference: Python's hashlib, independent of this code:
        //   python3 -c 'import hashlib; f=lambda s,n: int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "big") % n + 1;
        //   print([f(s, n) for s, n in [("a.jpg",3), ("normal/0001.jpeg",4), ("data.csv:17",256), ("",2), ("ü/x.png",7)]])'
        //   -> [2, 2, 102, 1, 6]
        let cases = [
            ("a.jpg", 3, 2),
            ("normal/0001.jpeg", 4, 2),
            ("data.csv:17", 256, 102),
            ("", 2, 1),
            ("ü/x.png", 7, 6),
        ];
        for (id, count, want) in cases {
            assert_eq!(shard_of(id, count), want, "{id:?} of {count}");
        }
        assert_eq!(shard_of("anything", 1), 1);
    }

    #[test]
    fn every_id_falls_in_exactly_one_shard_and_shards_are_even() {
        let ids: Vec<String> = (0..6000).map(|i| format!("img/{i:05}.png")).collect();
        let mut sizes = [0usize; 4];
        for id in &ids {
            let owners: Vec<u32> = (1..=4)
                .filter(|k| {
                    Shard {
                        index: *k,
                        count: 4,
                    }
                    .contains(id)
                })
                .collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0] as usize - 1] += 1;
        }
        // 1,500 expected each; a binomial sd of ~34, so 5 sd either side.
        for size in sizes {
            assert!((1330..=1670).contains(&size), "{sizes:?}");
        }
    }

    #[test]
    fn shard_text_is_k_of_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("256/256".parse::<Shard>().unwrap().to_string(), "256/256");
        for bad in ["0/4", "5/4", "2", "a/b", "1/257", "-1/2", "1/0", ""] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("K/N"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_ids_digest_ignores_order() {
        assert_eq!(ids_digest(["b", "a", "c"]), ids_digest(["c", "b", "a"]));
        assert_ne!(ids_digest(["a", "b"]), ids_digest(["a", "b", "b"]));
        // printf 'a\nb\n' | sha256sum
        assert_eq!(
            ids_digest(["b", "a"]),
            "911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2"
        );
    }
}
