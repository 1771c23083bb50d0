//! The guard for PostgreSQL targets, fail-closed like the file guard:
//!
//! - the server must be reached over loopback or a Unix socket, unless its
//!   host is explicitly allowed as a throwaway host (`--allow-host` or
//!   `ROLLPROOF_PG_ALLOW_HOSTS`, comma-separated);
//! - every database rollproof writes to is named `rollproof_…` and carries a
//!   provenance record bound to it (`rollproof_meta.provenance`: MAC'd under
//!   the workspace key, naming the server's system identifier, the
//!   database's OID and name; [`super::provenance`]); a database without one
//!   was not created by rollproof and is never written or dropped;
//! - rollproof drops only its own databases: the bound record *and* the
//!   workspace's ledger entry must prove it.
//!
//! Refusals are [`crate::guard::Refusal`]s, so commands exit with code 3.

use super::{PgError, sql_err};
use crate::guard::Refusal;
use postgres::{Client, NoTls};

/// Environment variable listing extra allowed (throwaway) server hosts.
pub const ALLOW_HOSTS_ENV: &str = "ROLLPROOF_PG_ALLOW_HOSTS";
/// Schema holding rollproof's own bookkeeping (outside the logical hash).
pub const SCHEMA: &str = "rollproof_meta";

/// A parsed, checked PostgreSQL target.
#[derive(Debug, Clone)]
pub struct Target {
    /// Connection settings (database name included).
    pub config: postgres::Config,
    /// The database the URL names.
    pub dbname: String,
    /// The URL without any password, for messages and reports.
    pub display: String,
}

impl Target {
    /// The same server (the same checked, pinned configuration), another
    /// database.
    pub fn with_db(&self, db: &str) -> Target {
        let mut config = self.config.clone();
        config.dbname(db);
        Target {
            display: crate::guard::url::display(&config),
            config,
            dbname: db.to_string(),
        }
    }

    /// Connect to this target's database, with the session settings every
    /// rollproof connection uses (UTC, ISO dates, hex bytea).
    pub fn connect(&self) -> Result<Client, PgError> {
        let mut client = self.config.connect(NoTls).map_err(|e| PgError::Connect {
            target: self.display.clone(),
            message: super::message(&e),
        })?;
        client
            .batch_execute(
                "SET search_path = public; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
                 SET extra_float_digits = 1; SET bytea_output = 'hex'; SET client_encoding = 'UTF8';",
            )
            .map_err(sql_err("session setup", &self.dbname))?;
        Ok(client)
    }

    /// Connect to the server's maintenance database `postgres` (for
    /// CREATE/DROP DATABASE).
    pub fn connect_maintenance(&self) -> Result<Client, PgError> {
        self.with_db("postgres").connect()
    }
}

pub use crate::guard::url::{DB_PREFIX, check_name, is_pg_url};

/// Parse a `postgres://` URL that names a database, with the one parser
/// (`crate::guard::url::parse`), without checking it.
pub fn parse_url(url: &str) -> Result<Target, PgError> {
    let config = crate::guard::url::parse(url).map_err(url_error)?;
    let dbname = config
        .get_dbname()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            PgError::Invalid(format!(
                "PostgreSQL URL {} names no database; add /rollproof_<name>",
                crate::guard::url::display(&config)
            ))
        })?
        .to_string();
    Ok(Target {
        display: crate::guard::url::display(&config),
        config,
        dbname,
    })
}

fn url_error(e: crate::guard::url::UrlError) -> PgError {
    match e {
        crate::guard::url::UrlError::Invalid(m) => PgError::Invalid(m),
        crate::guard::url::UrlError::Refused(r) => r.into(),
    }
}

/// Hosts allowed besides loopback: `extra` plus `ROLLPROOF_PG_ALLOW_HOSTS`.
pub fn allowed_hosts(extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = extra.iter().map(|h| h.trim().to_string()).collect();
    if let Ok(env) = std::env::var(ALLOW_HOSTS_ENV) {
        hosts.extend(env.split(',').map(|h| h.trim().to_string()));
    }
    hosts.retain(|h| !h.is_empty());
    hosts
}

/// Parse a URL once (unusable: bad input), check its server and database
/// name (no connection) and return the target to connect with: the very
/// configuration the guard checked ([`crate::guard::url::check`]: loopback,
/// a Unix socket or an allowed throwaway host, one host, a name pinned to
/// its checked address, no parameter the client would read differently).
pub fn authorize_url(url: &str, allow: &[String]) -> Result<Target, PgError> {
    let c = crate::guard::url::check(url, allow).map_err(|e| match e {
        crate::guard::url::UrlError::Refused(r) => server_refusal(r, allow),
        other => url_error(other),
    })?;
    Ok(Target {
        config: c.config,
        dbname: c.dbname,
        display: c.display,
    })
}

/// Like [`authorize_url`] for a database rollproof only reads (`hash`):
/// the same server rule, any database name, and the session is made
/// read-only from its first statement (`default_transaction_read_only`),
/// so not even a bug could write through it.
pub fn authorize_read_url(url: &str, allow: &[String]) -> Result<Target, PgError> {
    let parsed = parse_url(url)?;
    let config = crate::guard::url::check_server(&parsed.config, allow)
        .map_err(|r| server_refusal(r, allow))?;
    let mut t = Target {
        display: crate::guard::url::display(&config),
        config,
        dbname: parsed.dbname,
    };
    // check_server refuses any `options` of the URL's own: these are ours.
    t.config.options("-c default_transaction_read_only=on");
    Ok(t)
}

/// A server refusal, with the hint for throwaway servers elsewhere.
fn server_refusal(r: Refusal, allow: &[String]) -> PgError {
    if allow.is_empty() {
        Refusal::new(format!(
            "{}; a throwaway server elsewhere must be allowed explicitly (--allow-host HOST or {ALLOW_HOSTS_ENV})",
            r.reason
        ))
        .into()
    } else {
        r.into()
    }
}

/// Refuse unless the connected database `db` is one rollproof created: its
/// provenance record verifies under this workspace's key and names this
/// very server, OID and database ([`super::provenance::verify`]).
pub fn authorize_existing(client: &mut Client, db: &str) -> Result<(), PgError> {
    super::provenance::verify(client, db).map(drop)
}

/// Write the provenance record into a database rollproof just created
/// (or, for a template clone or a rename, this database's own record), and
/// its entry in the workspace's ledger. `t` is any target on its server.
/// Every database starts as scratch: owned by this
/// process and removed by a later run or `clean` once it is dead, unless
/// [`super::provenance::keep`] marks it kept.
pub fn record_provenance(
    client: &mut Client,
    t: &Target,
    db: &str,
    purpose: &str,
    source: &str,
) -> Result<(), PgError> {
    let on = t.with_db(db);
    super::provenance::record(client, db, purpose, source, true, &on.display)?;
    super::provenance::drop_on_interrupt(&on);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_checked() {
        let t = authorize_url("postgres://u:secret@127.0.0.1:5999/rollproof_a", &[]).unwrap();
        assert_eq!(t.dbname, "rollproof_a");
        assert!(!t.display.contains("secret"), "{}", t.display);
        assert_eq!(t.with_db("postgres").dbname, "postgres");
        assert!(matches!(
            authorize_url("postgres://u@10.1.2.3:5432/rollproof_a", &[]),
            Err(PgError::Refused(_))
        ));
        assert!(
            authorize_url(
                "postgres://u@10.1.2.3:5432/rollproof_a",
                &["10.1.2.3".into()]
            )
            .is_ok()
        );
        assert!(matches!(
            authorize_url("postgres://u@127.0.0.1/production", &[]),
            Err(PgError::Refused(_))
        ));
        assert!(matches!(
            authorize_url("postgres://u@127.0.0.1/rollproof_A;drop", &[]),
            Err(PgError::Refused(_))
        ));
        assert!(matches!(
            authorize_url("postgres://u@127.0.0.1", &[]),
            Err(PgError::Invalid(_))
        ));
        assert!(matches!(
            authorize_url("x.db", &[]),
            Err(PgError::Invalid(_))
        ));
        assert!(authorize_url("postgres://u@%2Ftmp%2Fsock/rollproof_a", &[]).is_ok());
        assert!(authorize_url("postgres://u@[::1]:5432/rollproof_a", &[]).is_ok());
    }
}
