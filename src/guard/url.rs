//! Database URLs: only a local throwaway PostgreSQL database may be touched.
//! Allowed: `postgres://` or `postgresql://` URLs whose every host is a
//! loopback address (`localhost`, `127.0.0.0/8`, `::1`) or a Unix socket
//! directory, and whose database name starts with [`DB_PREFIX`]. Anything
//! else — another scheme, a remote or multiple hosts, a `service` file
//! lookup, an unknown parameter — is refused. Messages never echo a password.

use super::Refusal;
use std::net::IpAddr;

/// Prefix every database rollproof may write must carry.
pub const DB_PREFIX: &str = "rollproof_";

/// Query parameters understood (and checked); any other is refused.
const KNOWN_PARAMS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "sslmode",
    "connect_timeout",
    "application_name",
];

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("truncated percent escape")?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| "bad percent escape")?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent escape is not UTF-8".to_string())
}

/// The URL with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_string();
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(auth_end);
    let auth = match auth.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or("");
            format!("{user}:***@{host}")
        }
        None => auth.to_string(),
    };
    let tail: String = match tail.split_once('?') {
        Some((path, q)) => {
            let q: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some(("password", _)) => "password=***".to_string(),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{auth}{tail}")
}

/// True for a host that can only be this machine.
fn local_host(host: &str) -> bool {
    if host.is_empty() || host.starts_with('/') || host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_host(host: &str, shown: &str) -> Result<(), Refusal> {
    if host.contains(',') {
        return Err(Refusal::new(format!(
            "{shown}: several hosts are not allowed; name one local throwaway server"
        )));
    }
    if !local_host(host) {
        return Err(Refusal::new(format!(
            "{shown}: host '{host}' is not loopback or a Unix socket; rollproof writes only to local throwaway databases"
        )));
    }
    Ok(())
}

fn check_dbname(name: &str, shown: &str) -> Result<(), Refusal> {
    let ok = name.len() > DB_PREFIX.len()
        && name.starts_with(DB_PREFIX)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(Refusal::new(format!(
            "{shown}: database '{name}' is not a rollproof throwaway (its name must start with '{DB_PREFIX}' and use only letters, digits and _)"
        )));
    }
    Ok(())
}

/// Allow `url` only if it names a local throwaway database (module docs).
pub fn authorize_url(url: &str) -> Result<(), Refusal> {
    let shown = redact(url);
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Refusal::new(format!("{shown}: only postgres:// URLs are accepted")))?;
    if !scheme.eq_ignore_ascii_case("postgres") && !scheme.eq_ignore_ascii_case("postgresql") {
        return Err(Refusal::new(format!(
            "{shown}: scheme '{scheme}' is not allowed; only postgres:// URLs to a local throwaway database"
        )));
    }
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], &before_query[i + 1..]),
        None => (before_query, ""),
    };
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if hostport.starts_with('[') {
        hostport
            .find(']')
            .map(|i| &hostport[..=i])
            .ok_or_else(|| Refusal::new(format!("{shown}: malformed IPv6 host")))?
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    let decode = |s: &str| percent_decode(s).map_err(|e| Refusal::new(format!("{shown}: {e}")));
    let mut hosts = vec![decode(host)?];
    if hostport.contains(',') {
        hosts.push(",".to_string());
    }
    let mut dbname = decode(path)?;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v)?;
        match k {
            "host" => hosts.push(v),
            "hostaddr" => {
                let ok = v
                    .split(',')
                    .all(|a| a.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()));
                if !ok {
                    return Err(Refusal::new(format!(
                        "{shown}: hostaddr '{v}' is not a loopback address"
                    )));
                }
            }
            "dbname" => dbname = v,
            k if KNOWN_PARAMS.contains(&k) => {}
            other => {
                return Err(Refusal::new(format!(
                    "{shown}: parameter '{other}' is not allowed (it could redirect the connection)"
                )));
            }
        }
    }
    for h in &hosts {
        check_host(h, &shown)?;
    }
    check_dbname(&dbname, &shown)
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
            "postgres://localhost/rollproof_x?host=db.prod",
            "postgres://localhost/rollproof_x?hostaddr=10.1.1.1",
            "postgres://localhost,db.prod/rollproof_x",
            "postgres://localhost/rollproof_x?service=prod",
            "postgres://localhost/rollproof_x?dbname=directus",
            "mysql://localhost/rollproof_x",
            "sqlite:///tmp/rollproof_x.db",
            "host=localhost dbname=rollproof_x",
        ] {
            assert!(authorize_url(u).is_err(), "{u} was allowed");
        }
    }

    #[test]
    fn passwords_never_appear_in_messages() {
        let e = authorize_url("postgres://admin:hunter2@prod.example.com/app?password=hunter3")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter"), "{e}");
        assert!(e.contains("prod.example.com"), "{e}");
    }
}
