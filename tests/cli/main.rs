//! End-to-end tests: every test runs the built `rollproof` binary on
//! temporary directories, as a user would. One module per feature.

mod util;

mod attach;
mod blockers;
mod clean;
mod contract;
mod directus_history;
mod directus_schema;
mod examples;
mod generate;
mod grants;
mod guard;
mod inputs;
mod intake;
mod intake_pg;
mod logical;
mod migrations;
mod migrations_data;
mod migrations_evidence;
mod migrations_pg;
mod open_profile;
mod postgres;
mod postgres_api_delete;
mod postgres_guard;
mod postgres_sandbox;
mod profile;
mod rehearse;
mod report;
mod sandbox;
mod schemas;
mod scripts;
mod seal;
mod virtual_tables;
mod workspace;
