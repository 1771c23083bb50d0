//! Random access without memory: every value another row may need (a key a
//! child points at, the parent a row picks) is a pure function of (seed,
//! table, column, row index), so nothing generated is ever kept to be
//! looked up later, and memory stays flat at any size.
//!
//! - [`mix`]: SplitMix64 finaliser over (key, index), the cheap hash every
//!   choice below starts from (portable: plain integer arithmetic).
//! - [`value_rng`]: a ChaCha8 stream for one (key, index) — for values that
//!   must be recomputed on demand (unique and referenced columns).
//! - [`Affine`]: a permutation of `0..n` (`i ↦ (a·i + b) mod n` with
//!   `gcd(a, n) = 1`): one-to-one choices (1:1 foreign keys) and injective
//!   values inside a range.
//! - [`uniform`]: an index in `0..n` from a hash.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// A 64-bit key for (seed, label): SHA-256 once per column, not per value.
pub fn key(seed: u64, label: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"rollproof-generate-key-v1");
    h.update(seed.to_be_bytes());
    h.update((label.len() as u64).to_be_bytes());
    h.update(label.as_bytes());
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// SplitMix64's finaliser of `key` ⊕ `index`-th step.
pub fn mix(key: u64, index: u64) -> u64 {
    let mut z = key ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A ChaCha8 stream for value `index` of `key`.
pub fn value_rng(key: u64, index: u64) -> ChaCha8Rng {
    let mut seed = [0u8; 32];
    for (k, chunk) in seed.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(key ^ (k as u64) << 56, index).to_le_bytes());
    }
    ChaCha8Rng::from_seed(seed)
}

/// A ChaCha8 stream for one table (or one purpose within it).
pub fn stream(seed: u64, label: &str) -> ChaCha8Rng {
    value_rng(key(seed, label), u64::MAX)
}

/// An index in `0..n` (n > 0) from hash `h`.
pub fn uniform(h: u64, n: u64) -> u64 {
    ((h as u128 * n as u128) >> 64) as u64
}

/// A permutation of `0..n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Affine {
    n: u64,
    a: u64,
    b: u64,
}

impl Affine {
    /// A permutation of `0..n` chosen by `key`.
    pub fn new(key: u64, n: u64) -> Affine {
        if n <= 1 {
            return Affine {
                n: n.max(1),
                a: 1,
                b: 0,
            };
        }
        let mut a = mix(key, 1) % n;
        // Far from the identity and coprime with n.
        if a < 2 {
            a = 2 % n;
        }
        while gcd(a, n) != 1 {
            a = (a + 1) % n;
            if a == 0 {
                a = 1;
            }
        }
        Affine {
            n,
            a,
            b: mix(key, 2) % n,
        }
    }

    /// The image of `i` (taken modulo n).
    pub fn at(&self, i: u64) -> u64 {
        ((self.a as u128 * (i % self.n) as u128 + self.b as u128) % self.n as u128) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_is_a_permutation() {
        for n in [1u64, 2, 3, 10, 97, 1000, 1024] {
            let p = Affine::new(key(1, "t"), n);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.at(i) as usize;
                assert!(!seen[j], "n={n} repeats {j}");
                seen[j] = true;
            }
        }
    }

    #[test]
    fn uniform_stays_in_range_and_streams_differ() {
        for i in 0..1000 {
            assert!(uniform(mix(7, i), 13) < 13);
        }
        use rand::RngExt;
        let (mut a, mut b) = (stream(1, "a"), stream(1, "b"));
        assert_ne!(a.random::<u64>(), b.random::<u64>());
        assert_eq!(
            value_rng(5, 9).random::<u64>(),
            value_rng(5, 9).random::<u64>()
        );
    }
}
