//! A column's [`Shape`] from its type, name, statistics and CHECK hints.
//! Hard limits (type length, CHECK bounds and lists) always win over
//! statistics, which win over the engine's defaults.

use crate::generate::check::Hints;
use crate::generate::check::parse::Lit;
use crate::generate::make::{self, Cat, PasswordForm, Shape};
use crate::generate::stats::ColumnStats;
use crate::generate::types::Class;
use crate::generate::values::{self, Semantic};
use crate::schema::Column;

/// The shape of `col` in `table`.
pub fn shape(table: &str, col: &Column, stats: Option<&ColumnStats>, hints: &Hints) -> Shape {
    let mut class = super::super::types::classify(&col.sql_type);
    if hints.json && class.is_textual() {
        class = Class::Json;
    }
    let sem = values::semantic(table, &col.name, class);
    let mut s = Shape::new(&col.name, class, sem);
    if let Class::Text { max: Some(n) } = class {
        s.max_len = Some(n as u64);
    }
    if let Some(m) = hints.max_len {
        s.max_len = Some(s.max_len.map_or(m, |n| n.min(m)));
    }
    s.min_len = hints.min_len.unwrap_or(0);
    s.lower = hints.lower;
    s.upper = hints.upper;
    if class.is_textual()
        && let Some((p, _)) = &hints.pattern
    {
        s.pattern = crate::generate::check::regex::Pattern::anchored(p);
    }
    if let Some(st) = stats {
        s.len = st.length.map(|[a, b]| (a, b));
        s.range = st.range.map(|[a, b]| (a, b));
    }
    // Lengths stay inside the hard limits.
    if let Some((lo, hi)) = s.len {
        let hi = s.max_len.map_or(hi, |m| hi.min(m));
        let lo = lo.max(s.min_len).min(hi);
        s.len = Some((lo, hi.max(lo)));
    }
    apply_bounds(&mut s, hints);
    s.cats = categories(class, stats, hints);
    s.cat_total = s.cats.iter().map(|(_, w)| w).sum();
    if sem == Semantic::Password {
        s.password = password_form(&col.name, s.len, s.max_len);
    }
    s
}

/// CHECK bounds narrow (or replace) the statistics' range.
fn apply_bounds(s: &mut Shape, h: &Hints) {
    let text_bound =
        |t: &Option<String>| t.as_deref().and_then(make::parse_moment).map(|v| v as f64);
    let lo_b = h.min.or_else(|| text_bound(&h.text_min));
    let hi_b = h.max.or_else(|| text_bound(&h.text_max));
    if lo_b.is_none() && hi_b.is_none() {
        return;
    }
    let step = match s.class {
        Class::Int { .. } => 1.0,
        Class::Decimal { scale, .. } => 1.0 / 10f64.powi(scale as i32),
        Class::Date => 86_400.0,
        c if c.is_temporal() => 1.0,
        _ => 1e-6,
    };
    let (dlo, dhi) = make::range(s);
    let mut lo = lo_b.map_or(dlo, |v| if h.min_strict { v + step } else { v });
    let mut hi = hi_b.map_or(dhi, |v| if h.max_strict { v - step } else { v });
    // Keep the default span's width on the side the CHECK leaves open.
    if lo_b.is_some() && hi_b.is_none() && hi < lo {
        hi = lo + (dhi - dlo).max(step);
    }
    if hi_b.is_some() && lo_b.is_none() && lo > hi {
        lo = hi - (dhi - dlo).max(step);
    }
    // Statistics inside the bounds keep their narrower range.
    if let Some((slo, shi)) = s.range {
        lo = lo.max(slo.min(hi));
        hi = hi.min(shi.max(lo));
    }
    s.range = Some((lo, hi.max(lo)));
    s.bounded = true;
}

fn cat_of(l: &Lit) -> Option<Cat> {
    Some(match l {
        Lit::Text(t) => Cat::Text(t.clone()),
        Lit::Int(i) => Cat::Int(*i),
        Lit::Real(f) => Cat::Real(*f),
        Lit::Bool(b) => Cat::Bool(*b),
        Lit::Null => return None,
    })
}

/// Category values: the CHECK's list (weighted by the statistics where
/// they agree), else the statistics' mix.
fn categories(class: Class, stats: Option<&ColumnStats>, h: &Hints) -> Vec<(Cat, f64)> {
    let profiled: Vec<(String, f64)> = stats
        .and_then(|s| s.categories.as_ref())
        .map(|c| c.iter().map(|(k, w)| (k.clone(), *w)).collect())
        .unwrap_or_default();
    if let Some(allowed) = &h.allowed {
        let cats: Vec<Cat> = allowed.iter().filter_map(cat_of).collect();
        let weight = |c: &Cat| {
            let key = match c {
                Cat::Text(t) => t.clone(),
                Cat::Int(i) => i.to_string(),
                Cat::Real(f) => f.to_string(),
                Cat::Bool(b) => b.to_string(),
            };
            profiled.iter().find(|(k, _)| *k == key).map(|(_, w)| *w)
        };
        let any_profiled = cats.iter().any(|c| weight(c).is_some());
        return cats
            .into_iter()
            .map(|c| {
                let w = if any_profiled {
                    weight(&c).unwrap_or(0.0)
                } else {
                    1.0
                };
                (c, w)
            })
            .filter(|(_, w)| *w > 0.0)
            .collect();
    }
    profiled
        .into_iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(k, w)| {
            let cat = match class {
                Class::Int { .. } | Class::Bool => k.parse().map(Cat::Int).unwrap_or(Cat::Text(k)),
                Class::Real | Class::Decimal { .. } => {
                    k.parse().map(Cat::Real).unwrap_or(Cat::Text(k))
                }
                _ => Cat::Text(k),
            };
            (cat, w)
        })
        .collect()
}

/// A password column holds the test password's hash when its name or its
/// lengths say a hash is stored, else a placeholder.
fn password_form(name: &str, len: Option<(u64, u64)>, max: Option<u64>) -> PasswordForm {
    let words = values::words(name);
    let named_hash = words.iter().any(|w| {
        ["hash", "hashed", "digest", "crypt", "encrypted", "bcrypt"].contains(&w.as_str())
    });
    let fits = |n: usize| max.is_none_or(|m| m as usize >= n);
    match len {
        Some((lo, _)) if lo >= 90 && fits(make::TEST_PASSWORD_ARGON2.len()) => PasswordForm::Argon2,
        Some((lo, _)) if lo >= 50 && fits(make::TEST_PASSWORD_BCRYPT.len()) => PasswordForm::Bcrypt,
        _ if named_hash && fits(make::TEST_PASSWORD_BCRYPT.len()) => PasswordForm::Bcrypt,
        _ => PasswordForm::Placeholder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            sql_type: ty.into(),
            not_null: false,
            default: None,
            generated: None,
            auto: None,
            collation: None,
        }
    }

    #[test]
    fn check_bounds_and_lists_win_over_statistics() {
        let stats = ColumnStats {
            range: Some([-5.0, 50.0]),
            ..Default::default()
        };
        let h = Hints {
            min: Some(0.0),
            min_strict: true,
            ..Default::default()
        };
        let s = shape("t", &column("qty", "INTEGER"), Some(&stats), &h);
        assert_eq!(s.range, Some((1.0, 50.0)));
        let h = Hints {
            allowed: Some(vec![Lit::Text("a".into()), Lit::Text("b".into())]),
            ..Default::default()
        };
        let mut cats = std::collections::BTreeMap::new();
        cats.insert("a".to_string(), 3.0);
        cats.insert("zzz".to_string(), 1.0);
        let stats = ColumnStats {
            categories: Some(cats),
            ..Default::default()
        };
        let s = shape("t", &column("status", "TEXT"), Some(&stats), &h);
        assert_eq!(s.cats, vec![(Cat::Text("a".into()), 3.0)]);
    }

    #[test]
    fn passwords_hash_only_when_the_format_needs_it() {
        assert_eq!(
            password_form("password", None, None),
            PasswordForm::Placeholder
        );
        assert_eq!(
            password_form("password_hash", None, None),
            PasswordForm::Bcrypt
        );
        assert_eq!(
            password_form("password", Some((60, 60)), None),
            PasswordForm::Bcrypt
        );
        assert_eq!(
            password_form("password", Some((97, 101)), Some(255)),
            PasswordForm::Argon2
        );
        assert_eq!(
            password_form("password_hash", None, Some(20)),
            PasswordForm::Placeholder
        );
    }
}
