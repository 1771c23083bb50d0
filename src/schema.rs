//! The schema model: a database's structure as plain data — tables, columns,
//! keys, checks, indexes, views, triggers, and on PostgreSQL sequences and
//! routines — with no I/O. It is read from a live database (`schema::sqlite`
//! introspects a SQLite connection, `schema::postgres` a PostgreSQL
//! catalog), carried inside profiles, written out per dialect
//! (`schema::render`), and used by the generator and the migrations runner.
//! Nothing here knows about the birth-register surface: that surface is one
//! schema among others.
//!
//! Every object keeps, where the source has one, its verbatim `sql` in the
//! source dialect, so re-creating a schema on the same backend is exact; the
//! structured fields are what generation and cross-dialect rendering use.

pub mod order;
pub mod postgres;
pub mod render;
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
    /// Namespaces other than `public` that hold objects (PostgreSQL),
    /// sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Extensions (PostgreSQL), sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
    /// User-defined types: enums, domains, composites (PostgreSQL),
    /// sorted by (namespace, name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<TypeDef>,
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
            namespaces: Vec::new(),
            extensions: Vec::new(),
            types: Vec::new(),
            tables: Vec::new(),
            indexes: Vec::new(),
            views: Vec::new(),
            triggers: Vec::new(),
            sequences: Vec::new(),
            routines: Vec::new(),
        }
    }

    /// The table whose [`Table::key`] is `key`; failing that, the one
    /// table whose unqualified name or `namespace.name` is `key`.
    pub fn table(&self, key: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.key() == key).or_else(|| {
            self.tables
                .iter()
                .find(|t| t.name == key || t.qualified_name() == key)
        })
    }

    /// Indexes on `table` (a [`Table::key`]).
    pub fn indexes_on<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a Index> + 'a {
        self.indexes
            .iter()
            .filter(move |i| key_of(i.namespace.as_deref(), &i.table) == table)
    }

    /// The table a foreign key of `table` points at.
    pub fn referenced(&self, fk: &ForeignKey) -> Option<&Table> {
        self.table(&fk.ref_key())
    }

    /// True when the schema holds no object at all.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
            && self.types.is_empty()
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
    /// Name of the primary-key constraint (PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key_name: Option<String>,
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

/// A table's key: its name, qualified as `namespace.name` only outside
/// PostgreSQL's default namespace `public`.
pub fn key_of(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if ns != "public" => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

impl Table {
    /// How profiles, fill orders and generators name this table: `name`
    /// in SQLite and in PostgreSQL's `public`, `namespace.name` elsewhere.
    pub fn key(&self) -> String {
        key_of(self.namespace.as_deref(), &self.name)
    }

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
    /// PostgreSQL identity column `GENERATED BY DEFAULT AS IDENTITY`.
    Identity,
    /// PostgreSQL identity column `GENERATED ALWAYS AS IDENTITY`: an
    /// explicit value needs `OVERRIDING SYSTEM VALUE`.
    IdentityAlways,
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

    /// The [`Table::key`] of the referenced table.
    pub fn ref_key(&self) -> String {
        key_of(self.ref_namespace.as_deref(), &self.ref_table)
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
    /// Key parts in order.
    pub columns: Vec<IndexKey>,
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

/// One key part of an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum IndexKey {
    /// A column, by name.
    Column(String),
    /// An expression, as SQL text of the schema's dialect (`lower(email)`).
    Expr(String),
}

impl IndexKey {
    /// The column, for a plain column part.
    pub fn column(&self) -> Option<&str> {
        match self {
            IndexKey::Column(c) => Some(c),
            IndexKey::Expr(_) => None,
        }
    }
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
    /// `table.column` that owns it (serial / identity), if any; the table
    /// as its [`Table::key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// The sequence of an identity column: created with its column, not
    /// on its own.
    #[serde(default, skip_serializing_if = "is_false")]
    pub identity: bool,
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

/// A PostgreSQL extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Extension name (`pgcrypto`).
    pub name: String,
    /// Namespace its objects live in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// What a user-defined type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    /// `CREATE TYPE … AS ENUM`.
    Enum,
    /// `CREATE DOMAIN`.
    Domain,
    /// `CREATE TYPE … AS (…)`.
    Composite,
}

/// A PostgreSQL user-defined type. Enum labels and domain checks are DDL
/// literals: a profile carries them as the schema does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeDef {
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Type name.
    pub name: String,
    /// Enum, domain or composite.
    pub kind: TypeKind,
    /// Enum labels in sort order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Domain base type, as `format_type` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Domain NOT NULL.
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_null: bool,
    /// Domain DEFAULT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Domain checks (the expression inside `CHECK (…)`, `VALUE` for the value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The statement that creates it.
    pub sql: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn no_action() -> String {
    "NO ACTION".to_string()
}
