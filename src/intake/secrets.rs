//! Secret detection for intake: pure functions over one text value. They say
//! which *kinds* of secret a value holds, never where or what, so no caller
//! can leak the secret by printing a finding.
//!
//! Kinds: private keys, cloud access keys (AWS, Google, Azure), service API
//! tokens (GitHub, Slack, Stripe), bearer/basic authorization values, JWTs,
//! password hashes (bcrypt, argon2, scrypt, pbkdf2, crypt `$1$/$5$/$6$/$y$`),
//! connection strings with credentials, values in credential-named columns,
//! and high-entropy tokens. The entropy rule is tuned so that UUIDs, ISO
//! timestamps and the surrogate's fake text pass (tests below and
//! tests/cli/intake.rs prove a generated surrogate scans clean).
//!
//! One exception by exact identity: the published test password's hashes
//! ([`crate::generate::make::TEST_PASSWORD_ARGON2`] and `…_BCRYPT`, of
//! `rollproof-test-password`, docs/SURFACE.md) that surrogates give their
//! users so Directus can log them in. Exactly those strings pass; any other
//! hash — the same password with another salt included — is flagged.

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// A kind of secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// `-----BEGIN … PRIVATE KEY-----` blocks (PEM, OpenSSH, PGP).
    PrivateKey,
    /// AWS access key ids, Google API keys, Azure storage account keys.
    CloudAccessKey,
    /// Service tokens with a known prefix (GitHub, Slack, Stripe live keys).
    ApiToken,
    /// `Bearer …` / `Basic …` authorization values.
    BearerToken,
    /// JSON Web Tokens (`eyJ….eyJ….…`).
    Jwt,
    /// bcrypt, argon2, scrypt, pbkdf2 and crypt(3) password hashes.
    PasswordHash,
    /// URLs or key=value strings that carry a password.
    ConnectionString,
    /// A non-empty, non-placeholder value in a column named like a credential.
    CredentialColumn,
    /// Long base64/hex runs with high Shannon entropy.
    HighEntropyToken,
}

impl SecretKind {
    /// Every kind, for documentation and `--json` consumers.
    pub const ALL: [SecretKind; 9] = [
        SecretKind::PrivateKey,
        SecretKind::CloudAccessKey,
        SecretKind::ApiToken,
        SecretKind::BearerToken,
        SecretKind::Jwt,
        SecretKind::PasswordHash,
        SecretKind::ConnectionString,
        SecretKind::CredentialColumn,
        SecretKind::HighEntropyToken,
    ];

    /// The kebab-case name used in reports and allow-lists.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::PrivateKey => "private-key",
            SecretKind::CloudAccessKey => "cloud-access-key",
            SecretKind::ApiToken => "api-token",
            SecretKind::BearerToken => "bearer-token",
            SecretKind::Jwt => "jwt",
            SecretKind::PasswordHash => "password-hash",
            SecretKind::ConnectionString => "connection-string",
            SecretKind::CredentialColumn => "credential-column",
            SecretKind::HighEntropyToken => "high-entropy-token",
        }
    }
}

impl std::fmt::Display for SecretKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pattern kinds, index-aligned with [`PATTERNS`].
const PATTERN_KINDS: &[SecretKind] = &[
    SecretKind::PrivateKey,
    SecretKind::CloudAccessKey,
    SecretKind::CloudAccessKey,
    SecretKind::CloudAccessKey,
    SecretKind::ApiToken,
    SecretKind::ApiToken,
    SecretKind::ApiToken,
    SecretKind::BearerToken,
    SecretKind::Jwt,
    SecretKind::PasswordHash,
    SecretKind::PasswordHash,
    SecretKind::PasswordHash,
    SecretKind::PasswordHash,
    SecretKind::PasswordHash,
    SecretKind::ConnectionString,
];

static PATTERNS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[0-9A-Z]{16}\b",
        r"\bAIza[0-9A-Za-z_\-]{35}",
        r"(?i)AccountKey=[A-Za-z0-9+/]{40,}={0,2}",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{40,}",
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        r"\b[sr]k_live_[A-Za-z0-9]{16,}",
        r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9\-._~+/]{16,}=*",
        r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        r"\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}",
        r"\$argon2(?:id|i|d)\$",
        r"\$(?:scrypt|7)\$[^\s$]*\$|\bscrypt:[0-9]+:[0-9]+:[0-9]+\$",
        r"\$pbkdf2(?:-sha[0-9]+)?\$|\bpbkdf2_sha[0-9]+\$[0-9]+\$|\bpbkdf2:sha[0-9]+:[0-9]+\$",
        r"\$(?:1|5|6|y|gy|md5)\$[^\s$]{1,32}\$[./A-Za-z0-9]{22,}",
        r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:[^\s@/]+@[^\s/]+",
    ])
    .unwrap_or_else(|e| panic!("secret patterns must compile: {e}"))
});

/// ADO/JDBC-style `…;Password=…;` with a server or user named alongside.
static KV_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[;\s])(?:password|pwd)\s*=\s*[^;\s]+")
        .unwrap_or_else(|e| panic!("pattern must compile: {e}"))
});
static KV_PEER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[;\s])(?:server|host|data source|user id|uid|user)\s*=")
        .unwrap_or_else(|e| panic!("pattern must compile: {e}"))
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
        .unwrap_or_else(|e| panic!("pattern must compile: {e}"))
});
/// Values a sanitizer leaves in a credential column.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:|\*+|x+|-+|redacted|\[redacted\]|<redacted>|removed|null|none|n/a|sanitized|placeholder.*|rollproof-surrogate-placeholder-not-a-password)\s*$",
    )
    .unwrap_or_else(|e| panic!("pattern must compile: {e}"))
});

/// Column names (lowercase) whose values are credentials by definition.
const CREDENTIAL_COLUMNS: &[&str] = &[
    "password",
    "passwd",
    "password_hash",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "access_token",
    "refresh_token",
    "auth_token",
    "token",
    "private_key",
    "tfa_secret",
];

/// Shortest run considered for the entropy rule.
const MIN_TOKEN: usize = 20;
/// Shortest all-hex run considered (shorter hex is ids and colours).
const MIN_HEX_TOKEN: usize = 32;

/// Shannon entropy of `s` in bits per character.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-' | b'=')
}

/// True when one run of token characters looks like a random secret: long
/// enough, mixed character classes, and entropy close to the maximum for
/// its length (random base64 of length n scores about log2(n) - 0.4).
fn high_entropy_run(run: &[u8]) -> bool {
    let trimmed: &[u8] = {
        let end = run.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
        &run[..end]
    };
    let n = trimmed.len();
    if n < MIN_TOKEN {
        return false;
    }
    let e = shannon_entropy(trimmed);
    if trimmed.iter().all(u8::is_ascii_hexdigit) {
        let letters = trimmed.iter().any(u8::is_ascii_alphabetic);
        let digits = trimmed.iter().any(u8::is_ascii_digit);
        return n >= MIN_HEX_TOKEN && letters && digits && e >= 3.0;
    }
    let upper = trimmed.iter().any(u8::is_ascii_uppercase);
    let lower = trimmed.iter().any(u8::is_ascii_lowercase);
    let digit = trimmed.iter().any(u8::is_ascii_digit);
    if !(upper && lower && digit) {
        return false;
    }
    let ceiling = (n.min(64) as f64).log2();
    e >= (ceiling * 0.83).min(4.3)
}

/// True when `text` holds a high-entropy token (UUIDs are masked first).
pub fn has_high_entropy_token(text: &str) -> bool {
    let masked = UUID.replace_all(text, " ");
    masked
        .as_bytes()
        .split(|&b| !is_token_byte(b))
        .any(high_entropy_run)
}

/// Every kind of secret `text` holds, found in the column named `column`.
pub fn scan_value(column: &str, text: &str) -> BTreeSet<SecretKind> {
    if is_published_test_hash(text) {
        return BTreeSet::new();
    }
    let mut kinds: BTreeSet<SecretKind> = PATTERNS
        .matches(text)
        .into_iter()
        .map(|i| PATTERN_KINDS[i])
        .collect();
    if KV_PASSWORD.is_match(text) && KV_PEER.is_match(text) {
        kinds.insert(SecretKind::ConnectionString);
    }
    if CREDENTIAL_COLUMNS.contains(&column.to_ascii_lowercase().as_str())
        && !PLACEHOLDER.is_match(text)
    {
        kinds.insert(SecretKind::CredentialColumn);
    }
    if has_high_entropy_token(text) {
        kinds.insert(SecretKind::HighEntropyToken);
    }
    kinds
}

/// True for exactly the published test password's hashes (module header).
pub fn is_published_test_hash(text: &str) -> bool {
    use crate::generate::make::{TEST_PASSWORD_ARGON2, TEST_PASSWORD_BCRYPT};
    text == TEST_PASSWORD_ARGON2 || text == TEST_PASSWORD_BCRYPT
}

/// One secret found: where it is and what kind it is — never its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    /// Table holding the value.
    pub table: String,
    /// Column holding the value.
    pub column: String,
    /// The row's key: primary-key values joined with ",", `rowid=N` without
    /// a primary key, or `sha256:<16 hex>` when the key itself is secret.
    pub row: String,
    /// What kind of secret it is.
    pub kind: SecretKind,
}

/// An explicit decision that one finding is a false positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// Table of the finding.
    pub table: String,
    /// Column of the finding.
    pub column: String,
    /// Row key of the finding, exactly as intake reported it.
    pub row: String,
    /// Kind of the finding.
    pub kind: SecretKind,
    /// Why this is not a secret.
    pub reason: String,
    /// Who decided.
    pub by: String,
}

impl AllowEntry {
    /// True when this entry covers `f`.
    pub fn covers(&self, f: &Finding) -> bool {
        self.table == f.table && self.column == f.column && self.row == f.row && self.kind == f.kind
    }
}

/// An allow-list file: `[[allow]]` entries (TOML).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowList {
    /// The decisions.
    #[serde(default)]
    pub allow: Vec<AllowEntry>,
}

impl AllowList {
    /// Parse allow-list TOML; every entry needs a non-empty reason and author.
    pub fn parse(text: &str) -> Result<AllowList, String> {
        let list: AllowList =
            toml::from_str(text).map_err(|e| crate::util::tomlerr::describe(text, &e))?;
        for (i, e) in list.allow.iter().enumerate() {
            if e.reason.trim().is_empty() || e.by.trim().is_empty() {
                return Err(format!(
                    "allow entry {} ({}.{} row {}) needs a non-empty reason and by",
                    i + 1,
                    e.table,
                    e.column,
                    e.row
                ));
            }
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn kinds(col: &str, s: &str) -> Vec<SecretKind> {
        scan_value(col, s).into_iter().collect()
    }

    #[test]
    fn each_kind_is_found() {
        use SecretKind::*;
        let cases: &[(&str, &str, SecretKind)] = &[
            (
                "note",
                "x -----BEGIN RSA PRIVATE KEY-----\nMIIE",
                PrivateKey,
            ),
            ("note", "-----BEGIN OPENSSH PRIVATE KEY-----", PrivateKey),
            ("note", "key AKIAIOSFODNN7EXAMPLE here", CloudAccessKey),
            (
                "note",
                "AIzaSyA-1234567890abcdefghijklmnopqrstu",
                CloudAccessKey,
            ),
            ("note", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", ApiToken),
            (
                "note",
                "Authorization: Bearer abc.def-ghi_jkl~mnopq",
                BearerToken,
            ),
            (
                "note",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                Jwt,
            ),
            (
                "note",
                "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                PasswordHash,
            ),
            (
                "note",
                "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
                PasswordHash,
            ),
            ("note", "pbkdf2_sha256$260000$salt$hash", PasswordHash),
            (
                "note",
                "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
                PasswordHash,
            ),
            (
                "note",
                "postgres://app:s3cr3t@db.internal:5432/prod",
                ConnectionString,
            ),
            (
                "note",
                "Server=db;User Id=sa;Password=hunter2;",
                ConnectionString,
            ),
            ("password", "hunter2", CredentialColumn),
            (
                "note",
                "tok 9fK2mQ7xLp4Rz8WvT1nB6cYh3JdG5sA0",
                HighEntropyToken,
            ),
        ];
        for (col, text, kind) in cases {
            assert!(
                kinds(col, text).contains(kind),
                "{kind:?} not found in {text}"
            );
        }
    }

    #[test]
    fn ordinary_values_are_clean() {
        for s in [
            "3f2a9c1e-7b4d-4e8f-9a2b-1c3d5e7f9a0b",
            "ext-3f2a9c1e-7b4d-4e8f-9a2b-1c3d5e7f9a0b",
            "2026-06-12T10:00:00.123Z",
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "https://cms.example.com/admin/content/objects",
            "jane.doe.3@example.org",
            "{\"kind\":\"sensor\",\"key\":\"OBJ-000123\",\"notes\":\"quia et voluptas\"}",
            "rollproof-surrogate-placeholder-not-a-password",
            "select-dropdown-m2o",
        ] {
            assert!(kinds("note", s).is_empty(), "{s}: {:?}", kinds("note", s));
        }
        assert!(kinds("password", "rollproof-surrogate-placeholder-not-a-password").is_empty());
        assert!(kinds("password", "REDACTED").is_empty());
        // The published test hashes, exactly; the same password under
        // another salt, or one byte changed, is a hash like any other.
        let argon = crate::generate::make::TEST_PASSWORD_ARGON2;
        assert!(kinds("password", argon).is_empty());
        assert!(kinds("password", crate::generate::make::TEST_PASSWORD_BCRYPT).is_empty());
        let other_salt = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0$v8CHZwbmn93tiVfTnU9H3pALZSUgaW92zAEvrNm92Lg";
        assert!(kinds("password", other_salt).contains(&SecretKind::PasswordHash));
        let tweaked = format!("{}A", &argon[..argon.len() - 1]);
        assert!(kinds("password", &tweaked).contains(&SecretKind::PasswordHash));
        assert!(kinds("note", &format!(" {argon}")).contains(&SecretKind::PasswordHash));
        assert!(kinds("password", "").is_empty());
        assert!(kinds("url", "https://user@example.com/").is_empty());
    }

    #[test]
    fn random_tokens_are_caught_almost_always() {
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut caught = 0;
        for _ in 0..1000 {
            let tok: String = (0..32)
                .map(|_| B64[rng.random_range(0..64)] as char)
                .collect();
            caught += has_high_entropy_token(&tok) as u32;
        }
        assert!(
            caught >= 950,
            "caught only {caught}/1000 random 32-char tokens"
        );
        let mut hex_caught = 0;
        for _ in 0..1000 {
            let tok: String = (0..40)
                .map(|_| b"0123456789abcdef"[rng.random_range(0..16)] as char)
                .collect();
            hex_caught += has_high_entropy_token(&tok) as u32;
        }
        assert!(
            hex_caught >= 990,
            "caught only {hex_caught}/1000 hex tokens"
        );
    }

    #[test]
    fn entropy_is_exact_for_simple_strings() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-12);
    }

    #[test]
    fn allow_list_needs_reason_and_author() {
        let ok =
            "[[allow]]\ntable='t'\ncolumn='c'\nrow='1'\nkind='jwt'\nreason='fixture'\nby='op'\n";
        let l = AllowList::parse(ok).unwrap();
        assert!(l.allow[0].covers(&Finding {
            table: "t".into(),
            column: "c".into(),
            row: "1".into(),
            kind: SecretKind::Jwt
        }));
        assert!(AllowList::parse(&ok.replace("reason='fixture'", "reason=''")).is_err());
        assert!(AllowList::parse(&ok.replace("jwt", "nope")).is_err());
    }
}
