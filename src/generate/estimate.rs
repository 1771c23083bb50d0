//! How big will a surrogate be, at least? A lower bound from the profile
//! alone — row counts after `--scale`, and for each profiled column the
//! mean of its length range (a few bytes for the others) — so `generate`
//! can check free space before writing gigabytes. It never over-estimates:
//! unprofiled columns, indexes and page slack only add to the real size
//! (the default profile at scale 1 gives 11.6 MB for its 86 MB file), so a
//! refusal on this bound is never a false alarm.

use super::SCALED_TABLES;
use crate::profile::Profile;

/// Bytes every row takes at least: record header, rowid and one column.
const ROW_OVERHEAD: u64 = 8;

/// A lower bound, in bytes, of the file `generate` writes for `profile` at
/// `scale` (saturating: absurd scales give `u64::MAX`, never wrap).
pub fn min_bytes(profile: &Profile, scale: f64) -> u64 {
    profile
        .tables
        .iter()
        .map(|(name, t)| {
            let rows = if SCALED_TABLES.contains(&name.as_str()) {
                let r = (t.rows as f64 * scale).round();
                if r >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    r as u64
                }
            } else {
                t.rows
            };
            let per_row = t.columns.values().fold(ROW_OVERHEAD, |acc, c| {
                acc + c.length.map_or(1, |[lo, hi]| lo / 2 + hi / 2)
            });
            rows.saturating_mul(per_row)
        })
        .fold(0u64, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lower_bound_that_grows_with_scale() {
        let p = Profile::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/surrogates/profiles/default.toml"
        )))
        .unwrap();
        let one = min_bytes(&p, 1.0);
        // below the real 85,581,824 bytes, but of the same order
        assert!((5_000_000..85_581_824).contains(&one), "{one}");
        assert!(min_bytes(&p, 12.0) > 10 * one);
        assert!(min_bytes(&p, 1e9) > 1_000_000_000_000_000);
        assert_eq!(min_bytes(&p, 1e300), u64::MAX);
    }
}
