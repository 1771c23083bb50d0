//! What a column holds, guessed from its name and type: the one table of
//! rules the generic engine uses to choose realistic values. Read top to
//! bottom, first match wins; to teach the engine a new kind of column, add
//! a row here (and, for a new kind, its maker in `make.rs`).
//!
//! A rule's keys are matched against the column name's words (split at
//! `_`, `-`, spaces, digits and camelCase humps, lowercased): a key matches
//! when it equals one word, or, for keys with `_`, a run of consecutive
//! words (`first_name` matches `customer_first_name`). A rule applies only
//! to the type classes it lists.
//!
//! Credential-like columns come first and always win: they get obvious
//! placeholders (or, where the format needs a hash, a hash of the
//! published test password, see `make.rs`), never realistic secrets.

use super::types::Class;

/// The kind of value a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantic {
    /// A password or password hash: the published test password's hash or
    /// a placeholder.
    Password,
    /// Another secret (token, API key, salt, OTP/TFA secret, session):
    /// an obvious placeholder.
    Secret,
    Email,
    FirstName,
    LastName,
    FullName,
    Username,
    Company,
    JobTitle,
    Phone,
    Street,
    City,
    State,
    PostalCode,
    Country,
    CountryCode,
    Url,
    Domain,
    Ip,
    Mac,
    UserAgent,
    Uuid,
    Slug,
    Code,
    /// A short title or product-like name.
    Title,
    /// Free text: sentences.
    Prose,
    Color,
    Currency,
    Locale,
    MimeType,
    FileName,
    /// A status-like label.
    Status,
    Money,
    Quantity,
    Rating,
    Percent,
    Age,
    Year,
    Latitude,
    Longitude,
    /// A point in time (written per the column's class: text, epoch seconds).
    Moment,
    Json,
    /// No rule matched: values by type alone.
    Plain,
}

use Semantic as S;

/// Type classes a rule applies to.
#[derive(Debug, Clone, Copy)]
enum On {
    Text,
    Number,
    Int,
    Any,
}

impl On {
    fn accepts(self, c: Class) -> bool {
        match self {
            On::Text => matches!(c, Class::Text { .. }),
            On::Number => c.is_numeric(),
            On::Int => matches!(c, Class::Int { .. }),
            On::Any => true,
        }
    }
}

/// The rules: (keys, classes, semantic). First match wins.
const RULES: &[(&[&str], On, Semantic)] = &[
    // Secrets first: whatever else the name says.
    (
        &["password", "passwd", "pwd", "pass_hash", "password_hash"],
        On::Text,
        S::Password,
    ),
    (
        &[
            "secret",
            "token",
            "api_key",
            "apikey",
            "key_hash",
            "salt",
            "tfa",
            "otp",
            "auth",
            "private_key",
            "secret_key",
            "access_key",
            "session_key",
            "credential",
            "credentials",
            "nonce",
            "hmac",
            "signature",
            "jwt",
            "refresh",
            "totp",
            "mfa",
            "pin",
        ],
        On::Any,
        S::Secret,
    ),
    (&["email", "mail", "e_mail"], On::Text, S::Email),
    (
        &["first_name", "firstname", "given_name", "forename", "fname"],
        On::Text,
        S::FirstName,
    ),
    (
        &["last_name", "lastname", "surname", "family_name", "lname"],
        On::Text,
        S::LastName,
    ),
    (
        &[
            "full_name",
            "fullname",
            "display_name",
            "contact_name",
            "author_name",
        ],
        On::Text,
        S::FullName,
    ),
    (
        &[
            "username",
            "user_name",
            "login",
            "handle",
            "nickname",
            "screen_name",
        ],
        On::Text,
        S::Username,
    ),
    (
        &[
            "company",
            "company_name",
            "organization",
            "organisation",
            "employer",
            "supplier_name",
            "vendor",
        ],
        On::Text,
        S::Company,
    ),
    (
        &["job_title", "profession", "occupation", "position_title"],
        On::Text,
        S::JobTitle,
    ),
    (
        &[
            "phone",
            "telephone",
            "tel",
            "mobile",
            "fax",
            "cell",
            "msisdn",
        ],
        On::Text,
        S::Phone,
    ),
    (
        &[
            "address",
            "street",
            "address_line",
            "address1",
            "address2",
            "line1",
            "line2",
        ],
        On::Text,
        S::Street,
    ),
    (&["city", "town", "locality"], On::Text, S::City),
    (
        &["state", "province", "region", "county"],
        On::Text,
        S::State,
    ),
    (
        &["zip", "zipcode", "postal_code", "postcode", "postal"],
        On::Text,
        S::PostalCode,
    ),
    (
        &["country_code", "iso2", "iso_code", "country_iso"],
        On::Text,
        S::CountryCode,
    ),
    (&["country", "nation"], On::Text, S::Country),
    (
        &[
            "url",
            "uri",
            "link",
            "href",
            "website",
            "homepage",
            "avatar",
            "image",
            "photo",
            "picture",
            "thumbnail",
        ],
        On::Text,
        S::Url,
    ),
    (&["domain", "hostname", "host"], On::Text, S::Domain),
    (
        &[
            "ip",
            "ip_address",
            "ipv4",
            "ipv6",
            "remote_addr",
            "client_ip",
        ],
        On::Text,
        S::Ip,
    ),
    (&["mac", "mac_address"], On::Text, S::Mac),
    (
        &["user_agent", "useragent", "agent", "browser"],
        On::Text,
        S::UserAgent,
    ),
    (&["uuid", "guid"], On::Text, S::Uuid),
    (&["slug", "permalink"], On::Text, S::Slug),
    (
        &[
            "sku",
            "code",
            "ref",
            "reference",
            "serial",
            "barcode",
            "ean",
            "isbn",
            "number",
            "no",
        ],
        On::Text,
        S::Code,
    ),
    (&["colour", "color", "hex_color"], On::Text, S::Color),
    (&["currency", "currency_code"], On::Text, S::Currency),
    (
        &["locale", "language", "lang", "language_code"],
        On::Text,
        S::Locale,
    ),
    (
        &["mime", "mime_type", "content_type", "media_type"],
        On::Text,
        S::MimeType,
    ),
    (
        &[
            "file",
            "filename",
            "file_name",
            "path",
            "filepath",
            "attachment",
        ],
        On::Text,
        S::FileName,
    ),
    (
        &[
            "status",
            "state_code",
            "kind",
            "type",
            "category",
            "role",
            "level",
            "tier",
            "priority",
            "stage",
            "gender",
        ],
        On::Text,
        S::Status,
    ),
    (
        &[
            "title", "subject", "headline", "caption", "label", "name", "heading",
        ],
        On::Text,
        S::Title,
    ),
    (
        &[
            "description",
            "desc",
            "body",
            "content",
            "text",
            "notes",
            "note",
            "comment",
            "comments",
            "summary",
            "bio",
            "about",
            "message",
            "details",
            "remarks",
            "review",
            "excerpt",
        ],
        On::Text,
        S::Prose,
    ),
    (
        &[
            "price", "amount", "total", "subtotal", "cost", "balance", "salary", "fee", "tax",
            "discount", "revenue", "charge", "paid", "refund", "budget", "wage", "payment",
            "credit", "debit",
        ],
        On::Number,
        S::Money,
    ),
    (
        &[
            "quantity",
            "qty",
            "count",
            "stock",
            "units",
            "items",
            "inventory",
            "copies",
            "seats",
        ],
        On::Int,
        S::Quantity,
    ),
    (
        &["rating", "stars", "score", "grade"],
        On::Number,
        S::Rating,
    ),
    (
        &["percent", "percentage", "pct", "ratio", "rate"],
        On::Number,
        S::Percent,
    ),
    (&["age"], On::Int, S::Age),
    (&["year", "yr"], On::Int, S::Year),
    (&["lat", "latitude"], On::Number, S::Latitude),
    (
        &["lng", "lon", "long", "longitude"],
        On::Number,
        S::Longitude,
    ),
    (
        &[
            "at",
            "on",
            "date",
            "time",
            "timestamp",
            "created",
            "updated",
            "modified",
            "deleted",
            "expires",
            "expiry",
            "birthday",
            "birthdate",
            "dob",
            "since",
            "until",
            "when",
            "last_login",
        ],
        On::Any,
        S::Moment,
    ),
    (
        &[
            "json",
            "metadata",
            "meta",
            "settings",
            "options",
            "config",
            "attributes",
            "payload",
            "extra",
            "data",
            "properties",
        ],
        On::Text,
        S::Json,
    ),
];

/// Table-name words that make a bare `name` column a person's name.
const PERSON_TABLES: &[&str] = &[
    "user",
    "users",
    "customer",
    "customers",
    "person",
    "people",
    "persons",
    "employee",
    "employees",
    "staff",
    "author",
    "authors",
    "artist",
    "artists",
    "contact",
    "contacts",
    "member",
    "members",
    "actor",
    "actors",
    "student",
    "students",
    "patient",
    "patients",
    "client",
    "clients",
    "account",
    "accounts",
    "owner",
    "owners",
    "driver",
    "drivers",
];
/// Table-name words that make a bare `name` column a company's name.
const COMPANY_TABLES: &[&str] = &[
    "company",
    "companies",
    "supplier",
    "suppliers",
    "vendor",
    "vendors",
    "publisher",
    "publishers",
    "shipper",
    "shippers",
    "organization",
    "organizations",
    "brand",
    "brands",
    "manufacturer",
    "manufacturers",
    "carrier",
    "carriers",
    "label",
    "labels",
];

/// The semantic of `column` in `table`, of class `class`.
pub fn semantic(table: &str, column: &str, class: Class) -> Semantic {
    let words = words(column);
    if class == Class::Bool {
        return S::Plain;
    }
    // `*_at`, `*_date`, … name a moment whatever precedes them
    // (`password_changed_at` is a time, not a secret).
    let temporal_tail = words.last().is_some_and(|w| {
        ["at", "on", "date", "time", "timestamp", "datetime"].contains(&w.as_str())
    });
    if class.is_temporal() || (temporal_tail && (class.is_numeric() || class.is_textual())) {
        return S::Moment;
    }
    let found = RULES
        .iter()
        .find(|(keys, on, _)| on.accepts(class) && keys.iter().any(|k| matches_key(&words, k)))
        .map(|r| r.2);
    let sem = match found {
        Some(s) => s,
        None => return by_class(class),
    };
    match sem {
        // A bare `name` names whatever the table holds.
        S::Title if words == ["name"] => {
            let t = self::words(table);
            if t.iter().any(|w| PERSON_TABLES.contains(&w.as_str())) {
                S::FullName
            } else if t.iter().any(|w| COMPANY_TABLES.contains(&w.as_str())) {
                S::Company
            } else if t.iter().any(|w| w == "city" || w == "cities") {
                S::City
            } else if t.iter().any(|w| w == "country" || w == "countries") {
                S::Country
            } else {
                S::Title
            }
        }
        // `uuid`/`guid` in a UUID-typed column is just a UUID; a Moment on a
        // non-temporal, non-number, non-text class falls back to the class.
        S::Moment if !(class.is_temporal() || class.is_numeric() || class.is_textual()) => {
            by_class(class)
        }
        s => s,
    }
}

fn by_class(class: Class) -> Semantic {
    match class {
        Class::Uuid => S::Uuid,
        Class::Json => S::Json,
        Class::Inet => S::Ip,
        Class::Mac => S::Mac,
        c if c.is_temporal() => S::Moment,
        _ => S::Plain,
    }
}

/// True when a secret-like semantic (never realistic values).
pub fn is_secret(s: Semantic) -> bool {
    matches!(s, S::Password | S::Secret)
}

fn matches_key(words: &[String], key: &str) -> bool {
    let parts: Vec<&str> = key.split('_').collect();
    if parts.len() == 1 {
        return words.iter().any(|w| w == key);
    }
    words
        .windows(parts.len())
        .any(|w| w.iter().zip(&parts).all(|(a, b)| a == b))
}

/// A name split into lowercase words: `createdAt` → [created, at],
/// `address_line2` → [address, line].
pub fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if ch.is_ascii_alphabetic() || !ch.is_ascii() {
            if ch.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = ch.is_lowercase();
            cur.extend(ch.to_lowercase());
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: Class = Class::Text { max: None };
    const INT: Class = Class::Int { max: i64::MAX };

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("createdAt"), vec!["created", "at"]);
        assert_eq!(words("address_line2"), vec!["address", "line"]);
        assert_eq!(words("API-Key"), vec!["api", "key"]);
    }

    #[test]
    fn rules_pick_by_name_type_and_table() {
        assert_eq!(semantic("users", "password", TEXT), S::Password);
        assert_eq!(semantic("users", "tfa_secret", TEXT), S::Secret);
        assert_eq!(semantic("keys", "api_key", TEXT), S::Secret);
        assert_eq!(semantic("users", "auth_data", TEXT), S::Secret);
        assert_eq!(semantic("books", "author_id", INT), S::Plain);
        assert_eq!(semantic("users", "email", TEXT), S::Email);
        assert_eq!(semantic("users", "email_verified", Class::Bool), S::Plain);
        assert_eq!(semantic("customers", "name", TEXT), S::FullName);
        assert_eq!(semantic("suppliers", "name", TEXT), S::Company);
        assert_eq!(semantic("products", "name", TEXT), S::Title);
        assert_eq!(
            semantic("orders", "created_at", Class::Timestamp { tz: false }),
            S::Moment
        );
        assert_eq!(semantic("orders", "createdAt", INT), S::Moment);
        assert_eq!(
            semantic(
                "orders",
                "total",
                Class::Decimal {
                    precision: 10,
                    scale: 2
                }
            ),
            S::Money
        );
        assert_eq!(semantic("order_items", "quantity", INT), S::Quantity);
        assert_eq!(semantic("t", "customer_first_name", TEXT), S::FirstName);
        assert_eq!(semantic("t", "id", Class::Uuid), S::Uuid);
        assert_eq!(semantic("t", "misc", TEXT), S::Plain);
        assert_eq!(semantic("objects", "key", TEXT), S::Plain);
    }
}
