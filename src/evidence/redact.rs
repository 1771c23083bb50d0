//! What a report or the terminal may show of a database value: never a
//! credential. A value is replaced by a short digest (`[redacted
//! sha256:…]`, enough to tell two values apart, not to read them) when its
//! column's name says it is a credential, or when the secret scan
//! (`crate::intake::secrets`) finds a secret in it. Column names are judged
//! by their words (`password`, `token`, `secret`, `key`, `hash`,
//! `auth_data`, `tfa`, …): when unsure, redact. Free text (an object's SQL,
//! an error message) keeps every token the scan does not flag; if the
//! secret spans tokens (a PEM block), the whole text is replaced.

use crate::intake::secrets;

/// Words that make a column a credential column.
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "apikey",
    "hash",
    "salt",
    "auth",
    "authdata",
    "credential",
    "credentials",
    "tfa",
    "otp",
    "totp",
    "mfa",
    "pin",
    "session",
    "cookie",
    "signature",
    "private",
];

/// Substrings that make a column a credential column wherever they occur
/// (`user_password_v2`, `oauthtoken`, `clientsecret`).
const CREDENTIAL_PARTS: &[&str] = &["password", "passwd", "secret", "token", "apikey"];

/// The words of a column name: split on anything but letters and digits
/// and on lower→upper case changes, lowercased.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        cur.extend(ch.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// True when values of the column `name` are credentials by their name.
pub fn credential_column(name: &str) -> bool {
    let lower = name.to_lowercase();
    CREDENTIAL_PARTS.iter().any(|p| lower.contains(p))
        || words(name)
            .iter()
            .any(|w| CREDENTIAL_WORDS.contains(&w.as_str()))
}

/// The placeholder shown instead of `raw`.
pub fn placeholder(raw: &[u8]) -> String {
    let hex = crate::hash::sha256_hex(raw);
    format!("[redacted sha256:{}…]", &hex[..12])
}

/// True when the secret scan finds anything in `text`.
fn flagged(column: &str, text: &str) -> bool {
    !secrets::scan_value(column, text).is_empty()
}

/// What to show for the value `raw` of column `column`, whose display form
/// is `shown`: `shown` itself, or the placeholder.
pub fn value(column: &str, raw: &[u8], shown: String) -> String {
    if credential_column(column) || flagged(column, &String::from_utf8_lossy(raw)) {
        return placeholder(raw);
    }
    shown
}

/// True when `value` would redact this value.
pub fn is_secret(column: &str, raw: &[u8]) -> bool {
    credential_column(column) || flagged(column, &String::from_utf8_lossy(raw))
}

/// Free text with every flagged token replaced; the whole text when a
/// secret remains after that (it spanned tokens).
pub fn text(s: &str) -> String {
    if !flagged("", s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if !token.is_empty() {
            if flagged("", token) {
                out.push_str(&placeholder(token.as_bytes()));
            } else {
                out.push_str(token);
            }
            token.clear();
        }
    };
    for ch in s.chars() {
        if ch.is_whitespace() || "'\",;()[]{}=".contains(ch) {
            flush(&mut token, &mut out);
            out.push(ch);
        } else {
            token.push(ch);
        }
    }
    flush(&mut token, &mut out);
    if flagged("", &out) {
        return placeholder(s.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_columns_by_their_words() {
        for c in [
            "password",
            "tfa_secret",
            "auth_data",
            "api_key",
            "apiKey",
            "token",
            "refresh_token",
            "password_hash",
            "PasswordHash",
            "user_passwd",
            "key",
            "salt",
            "oauthtoken",
        ] {
            assert!(credential_column(c), "{c}");
        }
        for c in [
            "id",
            "email",
            "name",
            "status",
            "monkey",
            "hashtag_count",
            "created_at",
        ] {
            assert!(!credential_column(c), "{c}");
        }
    }

    #[test]
    fn secrets_in_values_and_text_are_replaced_by_a_digest() {
        let bcrypt = "$2b$12$KIXQJt0cYXpK0q5JmB8bUeqJ4zT5oFZ3yY7nq3rS1d6u9m2W3h5aS";
        assert!(is_secret("note", bcrypt.as_bytes()));
        let shown = value("note", bcrypt.as_bytes(), format!("'{bcrypt}'"));
        assert!(shown.starts_with("[redacted sha256:"), "{shown}");
        assert!(!shown.contains("KIXQ"));
        assert_eq!(value("note", b"hello", "'hello'".into()), "'hello'");
        let sql = format!("CREATE VIEW v AS SELECT '{bcrypt}' AS h, name FROM t");
        let t = text(&sql);
        assert!(
            !t.contains("KIXQ") && t.contains("CREATE VIEW v AS SELECT"),
            "{t}"
        );
        let pem = "x = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----'";
        let t = text(pem);
        assert!(!t.contains("BEGIN RSA"), "{t}");
        assert_eq!(text("SELECT 1"), "SELECT 1");
    }
}
