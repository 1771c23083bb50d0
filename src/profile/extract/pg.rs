//! Profiles of PostgreSQL databases. The schema comes from the catalog
//! ([`crate::schema::postgres`]); the numbers from statistics only
//! ([`crate::profile::pgstats`]) — never from scanning rows — so the same
//! code serves a live database (read-only session) and a schema-only dump
//! restored into a private throwaway cluster (with the operator's
//! statistics file).
//!
//! What statistics give: row counts (`reltuples`, else `n_live_tup`), null
//! fractions, distinct ratios, mean widths, and per single-column foreign
//! key the share of childless parents, the mean fan-out and an estimated
//! maximum. Length ranges and fan-out quantiles need the rows, so a
//! PostgreSQL profile has none.

use super::{
    ExtractError, ExtractOptions, Extracted, K_MIN, MAX_DISTINCT, MAX_LABEL_BYTES,
    category_candidate, date_like, finish, fraction, range_candidate, round_outward,
    widen_to_month,
};
use crate::profile::pgstats::{ColumnStat, PgStats, StatsFileError};
use crate::profile::stats::ColumnInfo;
use crate::profile::{ColumnProfile, FanOut, TableProfile};
use crate::schema::postgres::{ReadError, Unmodelled};
use crate::schema::{Schema, Table};
use std::collections::BTreeMap;
use std::path::Path;

/// Why a PostgreSQL source could not be profiled.
#[derive(Debug, thiserror::Error)]
pub enum PgSourceError {
    /// The URL is unusable or the server is not allowed.
    #[error(transparent)]
    Pg(#[from] crate::engine::postgres::PgError),
    /// The catalog could not be read.
    #[error("{target}: {source}")]
    Catalog {
        target: String,
        #[source]
        source: ReadError,
    },
    /// The statistics file is unusable.
    #[error(transparent)]
    Stats(#[from] StatsFileError),
    /// The dump could not be restored.
    #[error(transparent)]
    Dump(#[from] crate::profile::dump::DumpError),
}

/// A guard refusal stays a refusal (exit 3) through the error chain.
impl From<crate::guard::Refusal> for PgSourceError {
    fn from(r: crate::guard::Refusal) -> Self {
        PgSourceError::Pg(r.into())
    }
}

/// Profile the live database at `url` through a read-only session. The
/// server must be loopback, a Unix socket or an allowed host (the guard's
/// server rule); any database name may be read, since nothing is written.
pub fn from_url(
    url: &str,
    allow_hosts: &[String],
    opts: &ExtractOptions,
) -> Result<Extracted, ExtractError> {
    use crate::engine::postgres::guard;
    let allow = guard::allowed_hosts(allow_hosts);
    let target = guard::authorize_read_url(url, &allow).map_err(PgSourceError::from)?;
    let mut client = target.connect().map_err(PgSourceError::from)?;
    let catalog = |source| PgSourceError::Catalog {
        target: target.display.clone(),
        source,
    };
    let mut tx = crate::schema::postgres::read_only(&mut client).map_err(catalog)?;
    let read = crate::schema::postgres::read(&mut tx).map_err(catalog)?;
    let with_values = opts.allow_categories || opts.allow_ranges;
    let text: String = tx
        .query_one(&crate::profile::pgstats::query(with_values), &[])
        .map_err(|e| {
            catalog(ReadError::Sql {
                what: "statistics",
                message: crate::engine::postgres::message(&e),
            })
        })?
        .get(0);
    let _ = tx.commit();
    let stats = PgStats::parse(&text, Path::new(&target.display)).map_err(PgSourceError::from)?;
    build(
        read.schema,
        &read.unmodelled,
        Some(&stats),
        "postgres",
        &target.display,
        opts,
    )
}

/// Profile a schema-only dump: restored into a private throwaway cluster
/// for its schema ([`crate::profile::dump`]), numbers from `stats`.
pub fn from_dump(
    dump: &Path,
    stats: Option<&Path>,
    opts: &ExtractOptions,
) -> Result<Extracted, ExtractError> {
    let stats = stats
        .map(PgStats::load)
        .transpose()
        .map_err(PgSourceError::from)?;
    let read = crate::profile::dump::read_schema(dump).map_err(PgSourceError::from)?;
    let mut ex = build(
        read.schema,
        &read.unmodelled,
        stats.as_ref(),
        "postgres-dump",
        &dump.display().to_string(),
        opts,
    )?;
    if stats.is_none() {
        ex.warnings.push(
            "no --stats given: every row count is 0 (run the query of `rollproof profile --stats-query` on the database and pass its output with --stats)".into(),
        );
    }
    ex.warnings.extend(read.notes);
    Ok(ex)
}

fn build(
    schema: Schema,
    unmodelled: &[Unmodelled],
    stats: Option<&PgStats>,
    source: &str,
    name: &str,
    opts: &ExtractOptions,
) -> Result<Extracted, ExtractError> {
    let mut warnings: Vec<String> = unmodelled
        .iter()
        .map(|u| {
            format!(
                "{} {} is not part of the profile (not modelled)",
                u.kind, u.name
            )
        })
        .collect();
    let mut tables = BTreeMap::new();
    for t in &schema.tables {
        let ns = t.namespace.as_deref().unwrap_or("public");
        let rows = match stats.and_then(|s| s.table(ns, &t.name)) {
            Some(ts) if ts.reltuples >= 0.0 => ts.reltuples.round() as u64,
            Some(ts) if ts.n_live_tup.is_some_and(|n| n >= 0) => {
                ts.n_live_tup.unwrap_or(0).max(0) as u64
            }
            Some(_) => {
                warnings.push(format!(
                    "table {} has never been analyzed: its row count is 0 (run ANALYZE, then take the statistics again)",
                    t.key()
                ));
                0
            }
            None => 0,
        };
        let mut columns = BTreeMap::new();
        if let Some(stats) = stats {
            for info in ColumnInfo::of(t) {
                if let Some(cs) = stats.column(ns, &t.name, &info.name) {
                    columns.insert(info.name.clone(), column_profile(&info, cs, rows, opts));
                }
            }
        }
        tables.insert(
            t.key(),
            TableProfile {
                rows,
                columns,
                fanout: Vec::new(),
            },
        );
    }
    if let Some(stats) = stats {
        for t in &schema.tables {
            let fanouts = fanouts(&schema, t, stats, &tables);
            if let Some(tp) = tables.get_mut(&t.key()) {
                tp.fanout = fanouts;
            }
        }
    }
    let profile = finish(schema, tables, source, name, opts)?;
    Ok(Extracted { profile, warnings })
}

/// Distinct non-NULL values of a column by its statistics.
fn distinct_count(cs: &ColumnStat, rows: u64) -> Option<f64> {
    match cs.n_distinct {
        n if n > 0.0 => Some(n),
        n if n < 0.0 => Some(-n * rows as f64),
        _ => None,
    }
}

fn variable_width(pg_type: &str) -> bool {
    let t = pg_type.to_ascii_lowercase();
    ["char", "text", "bytea", "json", "xml", "[]"]
        .iter()
        .any(|w| t.contains(w))
}

fn column_profile(
    info: &ColumnInfo,
    cs: &ColumnStat,
    rows: u64,
    opts: &ExtractOptions,
) -> ColumnProfile {
    let mut cp = ColumnProfile::default();
    if rows == 0 {
        return cp;
    }
    let nulls = (cs.null_frac * rows as f64).round() as u64;
    cp.null_fraction = Some(fraction(nulls, rows));
    let non_null = rows.saturating_sub(nulls);
    if let Some(d) = distinct_count(cs, rows)
        && non_null > 0
    {
        cp.distinct_ratio = Some(fraction((d.round() as u64).min(non_null), non_null));
    }
    if variable_width(&info.decl_type) && cs.avg_width > 0 {
        cp.mean_length = Some(cs.avg_width as f64);
    }
    let values = cs.common_values.as_deref().unwrap_or_default();
    let freqs = cs.common_freqs.as_deref().unwrap_or_default();
    if opts.allow_ranges && range_candidate(info) && non_null >= K_MIN {
        let mut seen: Vec<&str> = values.iter().map(String::as_str).collect();
        seen.extend(cs.bounds.iter().flatten().map(String::as_str));
        let nums: Vec<f64> = seen.iter().filter_map(|v| v.parse::<f64>().ok()).collect();
        if date_like(&info.decl_type) {
            let lo = seen.iter().filter_map(|v| widen_to_month(v, false)).min();
            let hi = seen.iter().filter_map(|v| widen_to_month(v, true)).max();
            if let (Some(lo), Some(hi)) = (lo, hi) {
                cp.date_range = Some([lo, hi]);
            }
        } else if !nums.is_empty() && nums.len() == seen.len() {
            let lo = nums.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            cp.range = Some([round_outward(lo, false), round_outward(hi, true)]);
        }
    }
    // Categories only when the common values are all the values there are.
    let covered: f64 = freqs.iter().sum();
    if opts.allow_categories
        && category_candidate(info)
        && !values.is_empty()
        && values.len() <= MAX_DISTINCT
        && values.len() == freqs.len()
        && covered + 1e-3 >= 1.0 - cs.null_frac
        && values.iter().all(|v| v.len() <= MAX_LABEL_BYTES)
        && freqs
            .iter()
            .all(|f| (f * rows as f64).round() as u64 >= K_MIN)
    {
        cp.categories = Some(
            values
                .iter()
                .zip(freqs)
                .map(|(v, f)| (v.clone(), (f / covered * 1e4).round() / 1e4))
                .collect(),
        );
    }
    cp
}

/// Fan-out of each foreign key of `t`, from the child column's statistics.
fn fanouts(
    schema: &Schema,
    t: &Table,
    stats: &PgStats,
    tables: &BTreeMap<String, TableProfile>,
) -> Vec<FanOut> {
    let ns = t.namespace.as_deref().unwrap_or("public");
    let child_rows = tables.get(&t.key()).map_or(0, |p| p.rows);
    let mut out = Vec::new();
    for fk in &t.foreign_keys {
        let Some(parent) = schema.referenced(fk) else {
            continue;
        };
        let parents = tables.get(&parent.key()).map_or(0, |p| p.rows);
        let mut f = FanOut {
            columns: fk.columns.clone(),
            references: parent.key(),
            ..FanOut::default()
        };
        if parents > 0 {
            let cs = match fk.columns.as_slice() {
                [one] => stats.column(ns, &t.name, one),
                _ => None,
            };
            let nf = cs.map_or(0.0, |c| c.null_frac);
            let children = child_rows as f64 * (1.0 - nf);
            f.mean = (children / parents as f64 * 1e4).round() / 1e4;
            if let Some(cs) = cs
                && let Some(d) = distinct_count(cs, child_rows)
                && d >= 1.0
            {
                let with = (d.round() as u64).min(parents);
                f.childless = fraction(parents - with, parents);
                f.max = Some(match cs.max_freq {
                    Some(mf) => (mf * child_rows as f64).round().max(1.0) as u64,
                    None => (children / d).ceil() as u64,
                });
            }
        }
        out.push(f);
    }
    out
}
