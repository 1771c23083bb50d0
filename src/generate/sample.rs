//! Sampling rules: a column's profile (null fraction, length, range,
//! categories) turned into values drawn from a seeded stream.

use crate::profile::ColumnProfile;
use fake::Fake;
use fake::faker::lorem::en::{Sentence, Word, Words};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// A column's profile, turned into sampling rules.
pub(super) struct Col {
    pub(super) null: f64,
    pub(super) length: Option<(u64, u64)>,
    pub(super) range: Option<(f64, f64)>,
    pub(super) cats: Vec<(String, f64)>,
    pub(super) total: f64,
}

impl Col {
    pub(super) fn new(p: ColumnProfile, default_cats: &[(&str, f64)]) -> Col {
        let cats: Vec<(String, f64)> = match p.categories {
            Some(c) => c.into_iter().collect(),
            None => default_cats
                .iter()
                .map(|(k, w)| (k.to_string(), *w))
                .collect(),
        };
        Col {
            null: p.null_fraction.unwrap_or(0.0),
            length: p.length.map(|[a, b]| (a, b)),
            range: p.range.map(|[a, b]| (a, b)),
            total: cats.iter().map(|(_, w)| w).sum(),
            cats,
        }
    }

    pub(super) fn is_null(&self, rng: &mut ChaCha8Rng) -> bool {
        self.null > 0.0 && rng.random_bool(self.null.min(1.0))
    }

    /// A nullable text value: NULL at the profiled rate, else `make`'s
    /// output fitted to the profiled length.
    pub(super) fn text(
        &self,
        rng: &mut ChaCha8Rng,
        make: impl FnOnce(&mut ChaCha8Rng) -> String,
    ) -> Option<String> {
        if self.is_null(rng) {
            return None;
        }
        let base = make(rng);
        Some(self.fit(rng, base))
    }

    pub(super) fn category(&self, rng: &mut ChaCha8Rng) -> String {
        let mut x = rng.random::<f64>() * self.total;
        for (k, w) in &self.cats {
            if x < *w {
                return k.clone();
            }
            x -= w;
        }
        self.cats.last().map(|(k, _)| k.clone()).unwrap_or_default()
    }

    /// Fit `base` to the profiled length: pad with lorem words, then cut at
    /// a character boundary.
    pub(super) fn fit(&self, rng: &mut ChaCha8Rng, base: String) -> String {
        let Some((lo, hi)) = self.length else {
            return base;
        };
        let target = rng.random_range(lo..=hi) as usize;
        let mut s = base;
        while s.len() < target {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&Word().fake_with_rng::<String, _>(rng));
        }
        truncate_chars(&mut s, target);
        s
    }

    pub(super) fn number(&self, rng: &mut ChaCha8Rng, default: (f64, f64)) -> f64 {
        let (lo, hi) = self.range.unwrap_or(default);
        if hi > lo {
            rng.random_range(lo..=hi)
        } else {
            lo
        }
    }
}

pub(super) fn truncate_chars(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// An object's JSON payload, padded to the profiled length.
pub(super) fn make_payload(rng: &mut ChaCha8Rng, col: &Col, kind: &str) -> Value {
    let tags: Vec<String> = Words(1..4).fake_with_rng(rng);
    let lat = (col.number(rng, (-60.0, 70.0)) * 1e5).round() / 1e5;
    let lon = (rng.random_range(-180.0..180.0_f64) * 1e5).round() / 1e5;
    let mut body = json!({
        "title": Sentence(2..6).fake_with_rng::<String, _>(rng),
        "serial": format!("SN-{}-{:06}", kind.to_uppercase(), rng.random_range(0..1_000_000u32)),
        "location": {"lat": lat, "lon": lon},
        "tags": tags,
        "notes": "",
    });
    let target = match col.length {
        Some((lo, hi)) => rng.random_range(lo..=hi) as usize,
        None => 0,
    };
    let len = body.to_string().len();
    if target > len {
        let notes = col_fit_words(rng, target - len);
        body["notes"] = Value::String(notes);
    }
    body
}

pub(super) fn col_fit_words(rng: &mut ChaCha8Rng, target: usize) -> String {
    let mut s = String::with_capacity(target + 16);
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&Word().fake_with_rng::<String, _>(rng));
    }
    truncate_chars(&mut s, target);
    s
}

pub(super) fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
