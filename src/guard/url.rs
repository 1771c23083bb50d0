//! Database URLs, decided on the very configuration the client connects
//! with. There is one parser: `postgres::Config`'s. The guard inspects what
//! it parsed (hosts, host addresses, ports, database, options) and the
//! engine then connects with that same `Config` value, so a URL cannot mean
//! one server to the guard and another to the client (issue #13:
//! `…/rollproof_d1?application_name=a@10.0.0.5:5432/rollproof_d1` is, to
//! the client, user `localhost/rollproof_d1?application_name=a` at
//! 10.0.0.5 — and so it is to the guard).
//!
//! Allowed: `postgres://` or `postgresql://` URLs with exactly one host that
//! is a loopback address, a name that resolves only to loopback addresses
//! (then pinned: the client connects to the address the guard checked, not
//! to a second DNS answer), a Unix socket directory, or an explicitly allowed
//! throwaway host; a database named [`DB_PREFIX`]`<lowercase letters,
//! digits, _>`. Refused: anything the client's parser does not understand
//! (`service`, `passfile`, … — it could redirect the connection), several
//! hosts or ports, a `hostaddr` that is not loopback, `options` (they can
//! change the session's role and settings). Messages and displays are
//! rendered from the parsed configuration, never from the URL text, and
//! never hold the password.

use super::Refusal;
use postgres::config::Host;
use std::net::{IpAddr, ToSocketAddrs};
use std::str::FromStr;

/// Prefix every database rollproof may write must carry.
pub const DB_PREFIX: &str = "rollproof_";

/// Why a URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not a PostgreSQL URL, or one the client cannot parse (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// Parsed, and refused by the guard (exit 3).
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// True when `url` names a PostgreSQL server rather than a file.
pub fn is_pg_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The parser's complaint, without any text from the URL that could be a
/// secret: option names are shown only when they look like option names.
fn parse_problem(e: &postgres::Error) -> String {
    // The parser's Display is only "invalid connection string"; the reason
    // is its source.
    let text = match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    };
    match text.split_once("unknown option `") {
        Some((_, rest)) => {
            let key = rest.split('`').next().unwrap_or("");
            if !key.is_empty()
                && key.len() <= 40
                && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                format!("parameter '{key}' is not understood")
            } else {
                "a parameter is not understood (its name is not shown)".into()
            }
        }
        None => text,
    }
}

/// Parse `url` with the client's own parser. An unknown parameter is a
/// refusal (fail closed: it could redirect the connection); anything else
/// the parser rejects is invalid input.
pub fn parse(url: &str) -> Result<postgres::Config, UrlError> {
    if !is_pg_url(url) {
        let scheme = url.split_once("://").map(|(s, _)| s);
        return Err(match scheme {
            Some(s) if s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+') => {
                Refusal::new(format!(
                    "scheme '{s}' is not allowed; only postgres:// URLs to a local throwaway database"
                ))
                .into()
            }
            _ => UrlError::Invalid(
                "not a PostgreSQL URL (postgres://user@host:port/rollproof_<name>); \
                 the text is not shown, it might hold a password"
                    .into(),
            ),
        });
    }
    postgres::Config::from_str(url).map_err(|e| {
        let problem = parse_problem(&e);
        if problem.contains("not understood") {
            Refusal::new(format!(
                "{problem}; refused: rollproof accepts only host, hostaddr, port, dbname, user, password, sslmode and timeouts (it could redirect the connection)"
            ))
            .into()
        } else {
            UrlError::Invalid(format!("cannot parse the PostgreSQL URL: {problem}"))
        }
    })
}

/// Percent-encode what would end a URL part.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL a configuration stands for, rendered from the parsed values
/// (never from the text given), without the password: for messages and
/// reports.
pub fn display(config: &postgres::Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{}@", encode(u)))
        .unwrap_or_default();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
            Host::Tcp(name) => encode(name),
            Host::Unix(path) => encode(&path.display().to_string()),
        })
        .collect();
    let port = match config.get_ports() {
        [] => String::new(),
        ports => format!(
            ":{}",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    let db = config.get_dbname().map(encode).unwrap_or_default();
    let mut query = Vec::new();
    let addrs = config.get_hostaddrs();
    if !addrs.is_empty() {
        let a: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
        query.push(format!("hostaddr={}", a.join(",")));
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    format!("postgres://{user}{}{port}/{db}{query}", hosts.join(","))
}

/// Database names rollproof may create or write: `rollproof_` + lowercase
/// letters, digits and `_`, at most 63 bytes (PostgreSQL's limit).
pub fn check_name(db: &str) -> Result<(), Refusal> {
    let ok = db.starts_with(DB_PREFIX)
        && db.len() > DB_PREFIX.len()
        && db.len() <= 63
        && db
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(format!(
            "database '{db}' is not a rollproof database name; rollproof writes only to databases it creates, named {DB_PREFIX}<lowercase letters, digits, _>"
        )))
    }
}

/// The addresses `name` resolves to right now (empty if it does not).
fn resolve(name: &str, port: u16) -> Vec<IpAddr> {
    (name, port)
        .to_socket_addrs()
        .map(|a| a.map(|s| s.ip()).collect())
        .unwrap_or_default()
}

/// Check the server of `config` and return the configuration to connect
/// with: the same one, with a host name pinned to the loopback address it
/// was checked at (`hostaddr`), so no second DNS answer is ever used.
/// `allow` names extra throwaway hosts (exactly as given in the URL).
pub fn check_server(
    config: &postgres::Config,
    allow: &[String],
) -> Result<postgres::Config, Refusal> {
    let shown = display(config);
    let hosts = config.get_hosts();
    let host = match hosts {
        [] => {
            return Err(Refusal::new(format!(
                "{shown} names no host; give the server explicitly (loopback or a Unix socket)"
            )));
        }
        [h] => h,
        _ => {
            return Err(Refusal::new(format!(
                "{shown}: several hosts are not allowed; name one local throwaway server"
            )));
        }
    };
    if config.get_ports().len() > 1 {
        return Err(Refusal::new(format!(
            "{shown}: several ports are not allowed"
        )));
    }
    if config.get_options().is_some_and(|o| !o.trim().is_empty()) {
        return Err(Refusal::new(format!(
            "{shown}: the 'options' parameter is not allowed (it can change the session's role and settings)"
        )));
    }
    let allowed = |s: &str| allow.iter().any(|a| a == s);
    let addrs = config.get_hostaddrs();
    if addrs.len() > 1 {
        return Err(Refusal::new(format!(
            "{shown}: several host addresses are not allowed"
        )));
    }
    if let Some(a) = addrs.first()
        && !a.is_loopback()
        && !allowed(&a.to_string())
    {
        return Err(Refusal::new(format!(
            "{shown}: hostaddr {a} is not a loopback address; rollproof writes only to local throwaway databases"
        )));
    }
    let Host::Tcp(name) = host else {
        // A Unix socket directory: this machine (a hostaddr, which the
        // client would use instead, was checked above).
        return Ok(config.clone());
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    let literal = bare.parse::<IpAddr>().ok();
    if !addrs.is_empty() || literal.is_some() {
        // The client connects to hostaddr (or to the literal address); the
        // name must still be local or allowed, so the two tell one story.
        let local = allowed(name)
            || literal.is_some_and(|ip| ip.is_loopback())
            || (literal.is_none() && {
                let r = resolve(name, port);
                !r.is_empty() && r.iter().all(IpAddr::is_loopback)
            });
        return if local {
            Ok(config.clone())
        } else {
            Err(not_local(&shown, name))
        };
    }
    let resolved = resolve(name, port);
    if !allowed(name) && (resolved.is_empty() || !resolved.iter().all(IpAddr::is_loopback)) {
        return Err(not_local(&shown, name));
    }
    // Pin the name to the address just checked (IPv4 loopback first, as
    // servers listen there by default).
    let mut pinned = config.clone();
    if let Some(a) = resolved.iter().find(|a| a.is_ipv4()).or(resolved.first()) {
        pinned.hostaddr(*a);
    }
    Ok(pinned)
}

fn not_local(shown: &str, name: &str) -> Refusal {
    Refusal::new(format!(
        "{shown}: server host '{name}' is not loopback or a Unix socket; rollproof rehearses only on a local server or an explicitly allowed throwaway host (--allow-host {name} or ROLLPROOF_PG_ALLOW_HOSTS)"
    ))
}

/// A parsed and checked URL: the configuration to connect with (pinned),
/// its database and its display form.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What the client connects with (its `Debug` hides the password).
    pub config: postgres::Config,
    /// The database the URL names.
    pub dbname: String,
    /// The URL rendered without password.
    pub display: String,
}

/// Parse `url` once, check server and database name, and return what to
/// connect with.
pub fn check(url: &str, allow: &[String]) -> Result<Checked, UrlError> {
    let parsed = parse(url)?;
    let dbname = parsed
        .get_dbname()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            UrlError::Invalid(format!(
                "PostgreSQL URL {} names no database; add /rollproof_<name>",
                display(&parsed)
            ))
        })?
        .to_string();
    let config = check_server(&parsed, allow)?;
    check_name(&dbname).map_err(|r| Refusal::new(format!("{}: {}", display(&parsed), r.reason)))?;
    Ok(Checked {
        display: display(&config),
        config,
        dbname,
    })
}

/// `rollproof guard url`: allow `url` only if it names a local throwaway
/// database (module docs). Every problem is a refusal here: the question is
/// "may rollproof write this?".
pub fn authorize_url(url: &str) -> Result<(), Refusal> {
    match check(url, &[]) {
        Ok(_) => Ok(()),
        Err(UrlError::Refused(r)) => Err(r),
        Err(UrlError::Invalid(m)) => Err(Refusal::new(m)),
    }
}

/// The URL for display in `guard url`'s answer: parsed and rendered, or a
/// placeholder when it cannot be parsed (its text might hold a password).
pub fn shown(url: &str) -> String {
    match parse(url) {
        Ok(c) => display(&c),
        Err(_) => "<URL not shown: it could not be parsed and might hold a password>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_throwaways_are_allowed() {
        for u in [
            "postgres://rp:pw@localhost:5432/rollproof_rehearsal",
            "postgresql://127.0.0.1/rollproof_x",
            "postgres://[::1]:5433/rollproof_x",
            "postgres:///rollproof_x?host=/var/run/postgresql",
            "postgres://%2Ftmp%2Fpg/rollproof_x",
            "postgres://localhost/other?dbname=rollproof_x&sslmode=disable",
            "postgres://u@127.0.0.1/rollproof_x?hostaddr=127.0.0.1&application_name=a",
        ] {
            authorize_url(u).unwrap_or_else(|e| panic!("{u}: {e}"));
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for u in [
            "postgres://rp:pw@db.prod.internal/rollproof_x",
            "postgres://10.0.0.5/rollproof_x",
            "postgres://localhost/directus",
            "postgres://localhost/rollproof_",
            "postgres://localhost/rollproof_X",
            "postgres://localhost/rollproof_x?host=db.prod",
            "postgres://localhost/rollproof_x?hostaddr=10.1.1.1",
            "postgres://localhost,db.prod/rollproof_x",
            "postgres://localhost/rollproof_x?service=prod",
            "postgres://localhost/rollproof_x?passfile=/tmp/p",
            "postgres://localhost/rollproof_x?options=-c%20role%3Dadmin",
            "postgres://localhost/rollproof_x?dbname=directus",
            "postgres://localhost:5432,5433/rollproof_x",
            "mysql://localhost/rollproof_x",
            "sqlite:///tmp/rollproof_x.db",
            "host=localhost dbname=rollproof_x",
            // The two-parser trick of issue #13: the client's parser takes
            // everything up to the last '@' as user info, so the server is
            // 10.0.0.5 — and the guard sees exactly that.
            "postgres://localhost/rollproof_d1?application_name=a@10.0.0.5:5432/rollproof_d1",
        ] {
            assert!(authorize_url(u).is_err(), "{u} was allowed");
        }
    }

    #[test]
    fn the_guard_sees_the_host_the_client_connects_to() {
        let u = "postgres://localhost/rollproof_d1?application_name=a@10.0.0.5:5432/rollproof_d1";
        let c = parse(u).unwrap();
        assert_eq!(c.get_hosts(), [Host::Tcp("10.0.0.5".into())]);
        let e = authorize_url(u).unwrap_err();
        assert!(e.reason.contains("10.0.0.5"), "{e}");
    }

    #[test]
    fn names_are_pinned_to_the_checked_address() {
        let c = check("postgres://u@localhost:5999/rollproof_a", &[]).unwrap();
        assert_eq!(c.config.get_hostaddrs().len(), 1);
        assert!(c.config.get_hostaddrs()[0].is_loopback());
        assert!(c.display.contains("hostaddr="), "{}", c.display);
        // An IP literal needs no pin.
        let c = check("postgres://u@127.0.0.1:5999/rollproof_a", &[]).unwrap();
        assert!(c.config.get_hostaddrs().is_empty());
    }

    #[test]
    fn passwords_never_appear_in_messages_displays_or_debug() {
        for u in [
            "postgres://admin:hunter2@prod.example.com/app?password=hunter3",
            "postgres://admin:hunter2@localhost/rollproof_x?password=hunter3&service=x",
            "postgres://admin:hunter2@localhost:notaport/rollproof_x",
            "postgres://admin@localhost/rollproof_x?password=hunter3&port=x",
            "postgres://admin@localhost/rollproof_x?hunter3=1",
            "mysql://admin:hunter2@localhost/x",
            "admin:hunter2@localhost",
        ] {
            let e = authorize_url(u).unwrap_err().to_string();
            assert!(!e.contains("hunter"), "{u}: {e}");
            assert!(!shown(u).contains("hunter"), "{u}: {}", shown(u));
        }
        let c = check(
            "postgres://admin:hunter2@127.0.0.1/rollproof_x?password=hunter3",
            &[],
        )
        .unwrap();
        assert!(!c.display.contains("hunter"), "{}", c.display);
        assert!(!format!("{c:?}").contains("hunter"), "{c:?}");
        assert_eq!(c.config.get_password(), Some(&b"hunter3"[..]));
    }
}

#[cfg(test)]
#[path = "url_pins.rs"]
mod pins;
