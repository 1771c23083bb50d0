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

/// Format-1 profiles carry per-column shapes too: turn them into
/// statistics so the generic engine can follow them.
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
                                distinct_ratio: None,
                                length: cp.length,
                                range: cp.range,
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
                        fanout: BTreeMap::new(),
                    },
                )
            })
            .collect();
        FillStats { tables }
    }
}
