//! Pins the guard's URL decisions (issue #18): what is refused (exit 3)
//! and what is bad input (exit 2), the messages `guard url` prints, the
//! display form every message and report uses, the database-name rule
//! from both sides, and the allow list.

use super::*;

fn refused(u: &str, allow: &[&str]) -> String {
    let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
    match check(u, &allow) {
        Err(UrlError::Refused(r)) => r.reason,
        other => panic!("{u}: not refused: {other:?}"),
    }
}

fn invalid(u: &str) -> String {
    match check(u, &[]) {
        Err(UrlError::Invalid(m)) => m,
        other => panic!("{u}: not invalid: {other:?}"),
    }
}

fn allowed(u: &str, allow: &[&str]) -> Checked {
    let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
    check(u, &allow).unwrap_or_else(|e| panic!("{u}: {e}"))
}

#[test]
fn only_postgres_schemes_are_urls_and_other_schemes_are_refused() {
    assert!(is_pg_url("postgres://x"));
    assert!(is_pg_url("postgresql://x"));
    assert!(!is_pg_url("postgre://x"));
    assert!(!is_pg_url("/tmp/a.db"));
    for (u, scheme) in [
        ("mysql://localhost/rollproof_x", "mysql"),
        ("git+ssh://host/x", "git+ssh"),
        ("sqlite:///tmp/rollproof_x.db", "sqlite"),
    ] {
        assert_eq!(
            refused(u, &[]),
            format!(
                "scheme '{scheme}' is not allowed; only postgres:// URLs to a local throwaway database"
            )
        );
    }
    let not_url = "not a PostgreSQL URL (postgres://user@host:port/rollproof_<name>); \
                   the text is not shown, it might hold a password";
    for u in [
        "admin:hunter2@localhost",
        "my sql://x",
        "host=localhost dbname=rollproof_x",
    ] {
        assert_eq!(invalid(u), not_url, "{u}");
    }
}

#[test]
fn an_unknown_parameter_is_refused_and_named_only_when_it_looks_like_one() {
    let tail = "; refused: rollproof accepts only host, hostaddr, port, dbname, user, password, \
                sslmode and timeouts (it could redirect the connection)";
    let forty = "a".repeat(40);
    let (q40, q41) = (format!("{forty}=1"), format!("{forty}b=1"));
    let shown40 = format!("parameter '{forty}' is not understood");
    let hidden = "a parameter is not understood (its name is not shown)";
    for (query, shown) in [
        ("service=prod", "parameter 'service' is not understood"),
        ("pass_file=x", "parameter 'pass_file' is not understood"),
        (q40.as_str(), shown40.as_str()),
        (q41.as_str(), hidden),
        ("hunter3=1", hidden),
        ("Service=1", hidden),
    ] {
        let u = format!("postgres://localhost/rollproof_x?{query}");
        assert_eq!(refused(&u, &[]), format!("{shown}{tail}"), "{u}");
    }
    // What the parser rejects otherwise is bad input, named by the parser.
    let m = invalid("postgres://admin@localhost:notaport/rollproof_x");
    assert!(m.starts_with("cannot parse the PostgreSQL URL: "), "{m}");
    assert!(!m.contains("notaport") || !m.contains("admin"), "{m}");
}

#[test]
fn urls_are_displayed_from_what_was_parsed_without_the_password() {
    for (u, shown_as) in [
        (
            "postgres://rp:pw@localhost:5432/rollproof_rehearsal",
            "postgres://rp@localhost:5432/rollproof_rehearsal",
        ),
        (
            "postgresql://127.0.0.1/rollproof_x",
            "postgres://127.0.0.1:5432/rollproof_x",
        ),
        (
            "postgres://[::1]:5433/rollproof_x",
            "postgres://[::1]:5433/rollproof_x",
        ),
        (
            "postgres:///rollproof_x?host=/var/run/postgresql",
            "postgres://%2Fvar%2Frun%2Fpostgresql/rollproof_x",
        ),
        (
            "postgres://a%40b:pw@localhost/rollproof_x?hostaddr=127.0.0.1&password=x",
            "postgres://a%40b@localhost:5432/rollproof_x?hostaddr=127.0.0.1",
        ),
        ("postgres://h1:1,h2:2/d", "postgres://h1,h2:1,2/d"),
        ("postgres://localhost", "postgres://localhost:5432/"),
        (
            "postgres://my-host.example_1~x/db",
            "postgres://my-host.example_1~x:5432/db",
        ),
    ] {
        assert_eq!(display(&parse(u).unwrap()), shown_as, "{u}");
        assert_eq!(shown(u), shown_as, "{u}");
    }
    assert_eq!(
        shown("postgres://admin:hunter2@localhost:notaport/x"),
        "<URL not shown: it could not be parsed and might hold a password>"
    );
    assert_eq!(encode("a b/c:d@é"), "a%20b%2Fc%3Ad%40%C3%A9");
    assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
}

#[test]
fn database_names_are_rollproof_plus_lowercase_digits_and_underscores_up_to_63_bytes() {
    let longest = format!("rollproof_{}", "a".repeat(53));
    assert_eq!(longest.len(), 63);
    for ok in [
        "rollproof_a",
        "rollproof_0",
        "rollproof__",
        "rollproof_d1_x",
        &longest,
    ] {
        assert!(check_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "rollproof_",
        "rollproof_X",
        "rollproof_a-b",
        "rollproof_a b",
        "directus_database_name",
        "xrollproof_a",
        &format!("{longest}a"),
    ] {
        assert_eq!(
            check_name(bad).unwrap_err().reason,
            format!(
                "database '{bad}' is not a rollproof database name; rollproof writes only to databases it creates, named rollproof_<lowercase letters, digits, _>"
            )
        );
    }
    // In a URL the refusal is prefixed with the URL as displayed.
    assert_eq!(
        refused("postgres://u:pw@localhost/directus", &[]),
        "postgres://u@localhost:5432/directus: database 'directus' is not a rollproof database name; rollproof writes only to databases it creates, named rollproof_<lowercase letters, digits, _>"
    );
    assert_eq!(
        invalid("postgres://localhost"),
        "PostgreSQL URL postgres://localhost:5432/ names no database; add /rollproof_<name>"
    );
    assert_eq!(
        invalid("postgres://localhost/"),
        "PostgreSQL URL postgres://localhost:5432/ names no database; add /rollproof_<name>"
    );
}

#[test]
fn one_server_one_port_one_address_and_no_options() {
    assert_eq!(
        refused("postgres:///rollproof_x", &[]),
        "postgres:///rollproof_x names no host; give the server explicitly (loopback or a Unix socket)"
    );
    assert_eq!(
        refused("postgres://localhost,127.0.0.1/rollproof_x", &[]),
        "postgres://localhost,127.0.0.1:5432,5432/rollproof_x: several hosts are not allowed; name one local throwaway server"
    );
    assert_eq!(
        refused("postgres://localhost/rollproof_x?port=5432,5433", &[]),
        "postgres://localhost:5432,5432,5433/rollproof_x: several ports are not allowed"
    );
    assert_eq!(
        refused(
            "postgres://localhost/rollproof_x?options=-c%20role%3Dadmin",
            &[]
        ),
        "postgres://localhost:5432/rollproof_x: the 'options' parameter is not allowed (it can change the session's role and settings)"
    );
    // Blank options change nothing.
    allowed("postgres://localhost/rollproof_x?options=%20", &[]);
    assert_eq!(
        refused(
            "postgres://localhost/rollproof_x?hostaddr=127.0.0.1,127.0.0.2",
            &[]
        ),
        "postgres://localhost:5432/rollproof_x?hostaddr=127.0.0.1,127.0.0.2: several host addresses are not allowed"
    );
    assert_eq!(
        refused("postgres://localhost/rollproof_x?hostaddr=10.1.1.1", &[]),
        "postgres://localhost:5432/rollproof_x?hostaddr=10.1.1.1: hostaddr 10.1.1.1 is not a loopback address; rollproof writes only to local throwaway databases"
    );
    // A Unix socket is this machine, and is used as it is.
    let c = allowed("postgres:///rollproof_x?host=/tmp", &[]);
    assert!(c.config.get_hostaddrs().is_empty());
    assert_eq!(c.display, "postgres://%2Ftmp/rollproof_x");
}

#[test]
fn a_host_name_with_a_hostaddr_must_itself_be_local_or_allowed() {
    let not_local = |shown: &str, name: &str| {
        format!(
            "{shown}: server host '{name}' is not loopback or a Unix socket; rollproof rehearses only on a local server or an explicitly allowed throwaway host (--allow-host {name} or ROLLPROOF_PG_ALLOW_HOSTS)"
        )
    };
    // The client would connect to 127.0.0.1, but the name says elsewhere:
    // the two must tell one story.
    let u = "postgres://db.prod.invalid/rollproof_x?hostaddr=127.0.0.1";
    assert_eq!(
        refused(u, &[]),
        not_local(
            "postgres://db.prod.invalid:5432/rollproof_x?hostaddr=127.0.0.1",
            "db.prod.invalid"
        )
    );
    let c = allowed(u, &["db.prod.invalid"]);
    assert_eq!(c.config.get_hostaddrs().len(), 1);
    allowed("postgres://localhost/rollproof_x?hostaddr=127.0.0.1", &[]);
    // An IP literal is judged as itself.
    assert_eq!(
        refused("postgres://10.0.0.5/rollproof_x?hostaddr=127.0.0.1", &[]),
        not_local(
            "postgres://10.0.0.5:5432/rollproof_x?hostaddr=127.0.0.1",
            "10.0.0.5"
        )
    );
    assert_eq!(
        refused("postgres://10.0.0.5/rollproof_x", &[]),
        not_local("postgres://10.0.0.5:5432/rollproof_x", "10.0.0.5")
    );
    // A non-loopback hostaddr passes only when allowed as written.
    allowed(
        "postgres://10.0.0.5/rollproof_x?hostaddr=10.0.0.5",
        &["10.0.0.5"],
    );
    refused(
        "postgres://10.0.0.5/rollproof_x?hostaddr=10.0.0.5",
        &["10.0.0.6"],
    );
}

#[test]
fn a_host_name_must_resolve_only_to_loopback_unless_allowed() {
    let u = "postgres://db.prod.invalid/rollproof_x";
    assert!(refused(u, &[]).starts_with(
        "postgres://db.prod.invalid:5432/rollproof_x: server host 'db.prod.invalid' is not loopback"
    ));
    assert!(refused(u, &["other.invalid"]).contains("server host 'db.prod.invalid'"));
    // Allowed as written: it resolves to nothing, so nothing is pinned.
    let c = allowed(u, &["db.prod.invalid"]);
    assert!(c.config.get_hostaddrs().is_empty());
    assert_eq!(c.display, "postgres://db.prod.invalid:5432/rollproof_x");
    assert_eq!(c.dbname, "rollproof_x");
    // A local name is pinned to the IPv4 loopback it was checked at.
    let c = allowed("postgres://localhost:5999/rollproof_a", &[]);
    assert_eq!(
        c.config.get_hostaddrs(),
        ["127.0.0.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        c.display,
        "postgres://localhost:5999/rollproof_a?hostaddr=127.0.0.1"
    );
    assert!(resolve("localhost", 5432).iter().all(IpAddr::is_loopback));
    assert!(!resolve("localhost", 5432).is_empty());
    assert!(resolve("db.prod.invalid", 5432).is_empty());
}

#[test]
fn guard_url_turns_every_problem_into_a_refusal() {
    assert!(authorize_url("postgres://localhost/rollproof_x").is_ok());
    assert_eq!(
        authorize_url("admin:hunter2@localhost").unwrap_err().reason,
        "not a PostgreSQL URL (postgres://user@host:port/rollproof_<name>); \
         the text is not shown, it might hold a password"
    );
    assert_eq!(
        authorize_url("mysql://x/y").unwrap_err().reason,
        "scheme 'mysql' is not allowed; only postgres:// URLs to a local throwaway database"
    );
}
