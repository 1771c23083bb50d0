//! Rehearse a whole migrations folder, step by step, on data: for every
//! migration N, start from the database at N−1, snapshot, run up, measure,
//! run down, measure, prove the down restored schema, rows and settings
//! exactly, run up again and check the schema equals the first up's, and
//! say in words what a failing down did. docs/MIGRATIONS.md is the
//! user-facing description.
//!
//! - [`layout`]: the folder layouts (diesel, sqlx, golang-migrate, dbmate,
//!   Flyway, plain), detection and per-tool version order ([`version`]);
//! - [`tool`]: foreign keys and bookkeeping tables as each tool keeps them;
//! - [`engine`]: what the loop needs from a database, implemented by
//!   [`sqlite`] (file copies) and `postgres` (template clones); user SQL
//!   reaches a database only through [`runner`];
//! - [`data`]: data first, every empty table filled before each step
//!   (SQLite; [`data_pg`] on PostgreSQL);
//! - [`step`]: the loop; [`report`]: the sealed folder report. The rules
//!   that judge a step are pure, in `crate::proof::migrations`.

pub mod data;
pub mod data_pg;
pub mod engine;
pub mod junit;
pub mod layout;
pub mod postgres;
pub mod render;
pub mod report;
pub mod run;
pub mod runner;
pub mod select;
pub mod sqlite;
pub mod step;
pub mod tool;
pub mod verify;
pub mod version;

pub use layout::{Down, Folder, Layout, LayoutError, Migration, Script};
