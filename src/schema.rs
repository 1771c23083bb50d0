//! The schema model: a database's structure as plain data — tables, columns,
//! keys, checks, indexes, views, triggers, and on PostgreSQL sequences and
//! routines — with no I/O. It is read from a live database (`schema::sqlite`
//! introspects a SQLite connection; the PostgreSQL reader lives beside the
//! PostgreSQL engine), carried inside profiles, and used by the generator and
//! the migrations runner. Nothing here knows about the birth-register
//! surface: that surface is one schema among others.
//!
//! Every object keeps, where the source has one, its verbatim `sql` in the
//! source dialect, so re-creating a schema on the same backend is exact; the
//! structured fields are what generation and cross-dialect rendering use.

pub mod order;
pub mod sqlite;
pub mod tokens;

use serde::{Deserialize, Serialize};

/// The SQL dialect a schema was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A whole database's structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Dialect of every verbatim `sql` text below.
    pub dialect: Dialect,
    /// Tables, sorted by (namespace, name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    /// Indexes created by `CREATE INDEX` (not those backing a PRIMARY KEY or
    /// UNIQUE constraint, which belong to the table), sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    /// Views, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<View>,
    /// Triggers, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// Sequences (PostgreSQL), sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<Sequence>,
    /// Functions and procedures (PostgreSQL), sorted by name and signature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routines: Vec<Routine>,
}

impl Schema {
    /// An empty schema of `dialect`.
    pub fn new(dialect: Dialect) -> Schema {
        Schema {
            dialect,
            tables: Vec::new(),
            indexes: Vec::new(),
            views: Vec::new(),
            triggers: Vec::new(),
            sequences: Vec::new(),
            routines: Vec::new(),
        }
    }

    /// The table named `name` (unqualified, or `namespace.name`).
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == name || t.qualified_name() == name)
    }

    /// Indexes on `table` (by its unqualified name).
    pub fn indexes_on<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a Index> + 'a {
        self.indexes.iter().filter(move |i| i.table == table)
    }

    /// True when the schema holds no object at all.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
            && self.indexes.is_empty()
            && self.views.is_empty()
            && self.triggers.is_empty()
            && self.sequences.is_empty()
            && self.routines.is_empty()
    }
}

/// One table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// PostgreSQL namespace (e.g. `public`); absent on SQLite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Table name.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// Primary-key columns in key order; empty when the table has none
    /// (a SQLite rowid table without a declared key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// UNIQUE constraints (column-level and table-level), in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uniques: Vec<Unique>,
    /// Foreign keys, in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints (column-level and table-level), in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// SQLite `WITHOUT ROWID`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub without_rowid: bool,
    /// SQLite `STRICT`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strict: bool,
    /// Module of a virtual table (e.g. `fts5`); such tables are created, never
    /// filled row by row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_module: Option<String>,
    /// The verbatim `CREATE TABLE` statement in the schema's dialect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

impl Table {
    /// `namespace.name`, or just `name` without a namespace.
    pub fn qualified_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Declared type as written (`VARCHAR(64)`, `timestamptz`); empty when
    /// a SQLite column has none.
    #[serde(rename = "type", default)]
    pub sql_type: String,
    /// NOT NULL.
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_null: bool,
    /// DEFAULT expression, as SQL text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Expression of a generated (computed) column; never written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// How the database itself fills the column, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<AutoFill>,
    /// Collation, when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
}

/// Columns the database fills itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AutoFill {
    /// SQLite `INTEGER PRIMARY KEY` of a rowid table (an alias of the rowid).
    RowidAlias,
    /// SQLite `INTEGER PRIMARY KEY AUTOINCREMENT` (counter in `sqlite_sequence`).
    Autoincrement,
    /// PostgreSQL column whose default is `nextval(sequence)` (serial).
    Serial,
    /// PostgreSQL identity column (`GENERATED … AS IDENTITY`).
    Identity,
}

/// A UNIQUE constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unique {
    /// Constraint name, when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Columns, in constraint order.
    pub columns: Vec<String>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    /// Constraint name, when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Namespace of the referenced table (PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_namespace: Option<String>,
    /// Referenced table (unqualified).
    pub ref_table: String,
    /// Referenced columns, paired with `columns`.
    pub ref_columns: Vec<String>,
    /// ON DELETE action (`NO ACTION`, `CASCADE`, `SET NULL`, …).
    #[serde(default = "no_action")]
    pub on_delete: String,
    /// ON UPDATE action.
    #[serde(default = "no_action")]
    pub on_update: String,
    /// DEFERRABLE.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deferrable: bool,
    /// INITIALLY DEFERRED.
    #[serde(default, skip_serializing_if = "is_false")]
    pub initially_deferred: bool,
}

impl ForeignKey {
    /// True when the key points back at its own table.
    pub fn is_self_reference(&self, table: &Table) -> bool {
        self.ref_table == table.name
            && (self.ref_namespace.is_none() || self.ref_namespace == table.namespace)
    }
}

/// A CHECK constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Constraint name, when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The column a column-level check was declared on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The boolean expression inside `CHECK ( … )`, as SQL text.
    pub expr: String,
}

/// An index created by `CREATE INDEX`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Namespace (PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Index name.
    pub name: String,
    /// Indexed table (unqualified).
    pub table: String,
    /// Key parts in order: column names, or `None` for an expression part
    /// (whose text is only in `sql`).
    pub columns: Vec<Option<String>>,
    /// UNIQUE index.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// Partial index: its WHERE predicate, as SQL text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    /// The verbatim `CREATE INDEX` statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

/// A view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// Namespace (PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// View name.
    pub name: String,
    /// Materialized view (PostgreSQL).
    #[serde(default, skip_serializing_if = "is_false")]
    pub materialized: bool,
    /// The verbatim `CREATE VIEW` statement.
    pub sql: String,
}

/// A trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Namespace (PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Trigger name.
    pub name: String,
    /// Table (or view) it fires on, unqualified.
    pub table: String,
    /// The verbatim `CREATE TRIGGER` statement.
    pub sql: String,
}

/// A PostgreSQL sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Sequence name.
    pub name: String,
    /// `table.column` that owns it (serial / identity), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// START value.
    pub start: i64,
    /// INCREMENT.
    pub increment: i64,
    /// The verbatim definition (`CREATE SEQUENCE …`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

/// A PostgreSQL function or procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routine {
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Routine name.
    pub name: String,
    /// `function` or `procedure`.
    pub kind: String,
    /// Identity arguments, e.g. `p_kind text, p_key text`.
    #[serde(default)]
    pub arguments: String,
    /// The verbatim definition (`pg_get_functiondef`).
    pub sql: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn no_action() -> String {
    "NO ACTION".to_string()
}
