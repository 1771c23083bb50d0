//! The value-free statistics the generic engine follows: per table a row
//! count, per column a null fraction, distinct ratio, length range, numeric
//! range and category mix, per foreign key the distribution of children per
//! parent. Every field is optional: absent means "the engine's default for
//! this column's name and type".
//!
//! This is the engine's own input, deliberately small and plain, so that
//! any profile format (today's format 1, format 2 with a schema) can be
//! turned into it, and so that library callers (the migrations runner) can
//! build one by hand.

use std::collections::BTreeMap;

/// Statistics for a whole schema, by table name (unqualified).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FillStats {
    /// Per-table statistics; a table without an entry gets defaults.
    pub tables: BTreeMap<String, TableStats>,
}

/// One table's statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableStats {
    /// Rows the table has (before `--scale`).
    pub rows: u64,
    /// Per-column statistics, by column name.
    pub columns: BTreeMap<String, ColumnStats>,
    /// Children per parent, by the foreign key's columns joined with `,`
    /// (e.g. `"order_id"` or `"a,b"`).
    pub fanout: BTreeMap<String, FanOut>,
}

/// One column's statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnStats {
    /// Fraction of rows where the column is NULL (0..=1).
    pub null_fraction: Option<f64>,
    /// Distinct non-NULL values / non-NULL rows (0..=1).
    pub distinct_ratio: Option<f64>,
    /// Inclusive [min, max] length in bytes of text and blob values.
    pub length: Option<[u64; 2]>,
    /// Inclusive [min, max] of numeric values; for date and time columns,
    /// seconds since 1970-01-01T00:00:00Z.
    pub range: Option<[f64; 2]>,
    /// Category → weight (low-cardinality columns only).
    pub categories: Option<BTreeMap<String, f64>>,
}

/// How many children a parent row has, as a histogram over parents:
/// `(children, share of parents)`. Shares need not sum to 1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FanOut {
    /// (children per parent, weight) pairs.
    pub buckets: Vec<(u64, f64)>,
}

impl FillStats {
    /// Statistics of `table` (the empty default when absent).
    pub fn table(&self, table: &str) -> Option<&TableStats> {
        self.tables.get(table)
    }

    /// Statistics of one column, when known.
    pub fn column(&self, table: &str, column: &str) -> Option<&ColumnStats> {
        self.tables.get(table)?.columns.get(column)
    }

    /// Row counts after multiplying by `scale` (rounded to the nearest row).
    pub fn row_counts(&self, scale: f64) -> RowCounts {
        self.tables
            .iter()
            .map(|(t, s)| (t.clone(), (s.rows as f64 * scale).round() as u64))
            .collect()
    }
}

/// Rows to write per table (unqualified name); tables absent get none.
pub type RowCounts = BTreeMap<String, u64>;

/// Turn a profile's per-column shapes (both formats) and, in format 2,
/// its distinct ratios, date ranges and fan-outs into statistics the
/// generic engine follows.
impl From<&crate::profile::Profile> for FillStats {
    fn from(p: &crate::profile::Profile) -> FillStats {
        let tables = p
            .tables
            .iter()
            .map(|(name, t)| {
                let columns = t
                    .columns
                    .iter()
                    .map(|(c, cp)| {
                        (
                            c.clone(),
                            ColumnStats {
                                null_fraction: cp.null_fraction,
                                distinct_ratio: cp.distinct_ratio,
                                length: cp.length,
                                range: cp.range.or_else(|| {
                                    cp.date_range.as_ref().and_then(date_range_seconds)
                                }),
                                categories: cp.categories.clone(),
                            },
                        )
                    })
                    .collect();
                (
                    name.clone(),
                    TableStats {
                        rows: t.rows,
                        columns,
                        fanout: t
                            .fanout
                            .iter()
                            .map(|f| (f.columns.join(","), fanout_buckets(f)))
                            .collect(),
                    },
                )
            })
            .collect();
        FillStats { tables }
    }
}

/// A profile's `[first, last]` days as seconds since 1970 (the last day
/// through its final second).
fn date_range_seconds(r: &[String; 2]) -> Option<[f64; 2]> {
    let day = |s: &str| crate::util::timefmt::parse_day(s).map(|d| (d * 86_400) as f64);
    Some([day(&r[0])?, day(&r[1])? + 86_399.0])
}

/// A profile's children-per-parent summary as a histogram: the childless
/// share at 0, and each quantile band of the parents at the middle of its
/// band (median, 90th, 99th percentile, maximum). Without quantiles (a
/// profile from PostgreSQL statistics) the parents with children share
/// the mean among them.
fn fanout_buckets(f: &crate::profile::FanOut) -> FanOut {
    let childless = f.childless.clamp(0.0, 1.0);
    let mut buckets = vec![(0, childless)];
    match (f.p50, f.p90, f.p99, f.max) {
        (Some(p50), Some(p90), Some(p99), Some(max)) => {
            let mid = |a: u64, b: u64| a.midpoint(b).max(1);
            // Quantile bands over all parents, minus the childless share.
            let bands = [
                (0.5, p50.max(1)),
                (0.9, mid(p50, p90)),
                (0.99, mid(p90, p99)),
                (1.0, mid(p99, max)),
            ];
            let mut from = childless;
            for (to, children) in bands {
                if to > from {
                    buckets.push((children, to - from));
                    from = to;
                }
            }
        }
        _ if childless < 1.0 => {
            let per = (f.mean / (1.0 - childless)).round().max(1.0) as u64;
            buckets.push((per, 1.0 - childless));
        }
        _ => {}
    }
    FanOut { buckets }
}
