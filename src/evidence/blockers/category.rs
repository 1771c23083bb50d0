//! Blocker categories, in the map's own words, and the closure rule.
//!
//! The seed map declares its allowed terminal set in prose, in
//! `allowed_remaining_categories_check`: "(real production data / production
//! credentials-access / production CI adoption / owner-operator production
//! decision / REAL_RUN-QT001-cutover grants)". Each blocker's `category` says
//! the same things in slightly different words ("requires live production
//! read", "requires QT001/cutover grants"), so a category is matched to a
//! terminal class by the key phrases below, taken from the seed map.
//!
//! Terminal classes are what code cannot close: no surrogate or clone
//! evidence ever closes them. Only a category that says `engineering` (and
//! matches no terminal class) can be closed by evidence — fail closed: an
//! unrecognised category closes nothing.

/// The terminal classes a remaining blocker may belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminal {
    /// Needs real production data.
    RealProductionData,
    /// Needs production credentials or access (including a live read).
    ProductionAccess,
    /// Needs production CI adoption.
    ProductionCiAdoption,
    /// Needs an owner/operator production decision.
    OwnerDecision,
    /// Needs a REAL_RUN, QT001 or cutover grant.
    Grants,
}

impl Terminal {
    /// All classes, in the order the seed map lists them.
    pub const ALL: [Terminal; 5] = [
        Terminal::RealProductionData,
        Terminal::ProductionAccess,
        Terminal::ProductionCiAdoption,
        Terminal::OwnerDecision,
        Terminal::Grants,
    ];

    /// The class exactly as the seed's `allowed_remaining_categories_check`
    /// names it.
    pub fn words(self) -> &'static str {
        match self {
            Terminal::RealProductionData => "real production data",
            Terminal::ProductionAccess => "production credentials-access",
            Terminal::ProductionCiAdoption => "production CI adoption",
            Terminal::OwnerDecision => "owner-operator production decision",
            Terminal::Grants => "REAL_RUN-QT001-cutover grants",
        }
    }

    /// Why evidence from a rehearsal cannot close a blocker of this class.
    pub fn why_not_closable(self) -> &'static str {
        match self {
            Terminal::RealProductionData => {
                "it needs real production data, which no surrogate or clone rehearsal provides"
            }
            Terminal::ProductionAccess => {
                "it needs production credentials/access, which rollproof never uses"
            }
            Terminal::ProductionCiAdoption => {
                "it needs a production CI adoption, an act only the owner and operator can take"
            }
            Terminal::OwnerDecision => "it needs an owner/operator production decision",
            Terminal::Grants => "it needs an explicit owner grant (REAL_RUN/QT001/cutover)",
        }
    }

    /// Does the (normalised) category text belong to this class?
    fn matches(self, norm: &str, words: &[&str]) -> bool {
        let has = |w: &str| words.contains(&w);
        let starts = |p: &str| words.iter().any(|w| w.starts_with(p));
        match self {
            Terminal::RealProductionData => norm.contains("real production data"),
            Terminal::ProductionAccess => {
                norm.contains("production access")
                    || norm.contains("production credentials")
                    || norm.contains("production read")
                    || norm.contains("live production")
            }
            Terminal::ProductionCiAdoption => has("ci") && has("adoption"),
            Terminal::OwnerDecision => (has("owner") || has("operator")) && has("decision"),
            Terminal::Grants => {
                starts("grant") && (has("real_run") || has("qt001") || has("cutover"))
            }
        }
    }
}

/// Lowercase, every run of characters other than letters, digits and `_`
/// turned into one space: "REAL_RUN-QT001-cutover grants" and "REAL_RUN /
/// QT001 / cutover grants" compare equal.
pub fn normalize(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The terminal class a category belongs to, if any (first match in
/// [`Terminal::ALL`] order).
pub fn classify(category: &str) -> Option<Terminal> {
    let norm = normalize(category);
    let words: Vec<&str> = norm.split(' ').collect();
    Terminal::ALL.into_iter().find(|t| t.matches(&norm, &words))
}

/// The terminal set a map declares: the ` / `-separated list inside the
/// first parentheses of `allowed_remaining_categories_check`. `None` when
/// the text has no such list.
pub fn declared_set(check: &str) -> Option<Vec<String>> {
    let open = check.find('(')?;
    let close = open + check[open..].find(')')?;
    let items: Vec<String> = check[open + 1..close]
        .split(" / ")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

/// Is `class` in the declared set (compared after [`normalize`])?
pub fn is_declared(class: Terminal, declared: &[String]) -> bool {
    let want = normalize(class.words());
    declared.iter().any(|d| normalize(d) == want)
}

/// What evidence may do to a blocker of a given category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closure {
    /// Only production, an adoption or an owner can close it.
    Terminal(Terminal),
    /// An engineering blocker: passing, byte-exact evidence of a rehearsal
    /// leg can close it.
    Engineering,
    /// Neither: an unrecognised category, which nothing closes.
    Unrecognised,
}

/// Classify a category for the closure rule.
pub fn closure(category: &str) -> Closure {
    match classify(category) {
        Some(t) => Closure::Terminal(t),
        None if normalize(category).split(' ').any(|w| w == "engineering") => Closure::Engineering,
        None => Closure::Unrecognised,
    }
}

/// Evidence legs (the report's `leg`, `crate::evidence::report::Report::leg`) whose
/// passing, byte-exact report can close an engineering blocker: a rehearsal
/// on a generated surrogate or on an operator's isolated real-dump clone.
pub const CLOSING_LEGS: &[&str] = &["surrogate", "operator real-dump clone"];

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_CHECK: &str = "every remaining blocker is in the macro's allowed terminal set (real production data / production credentials-access / production CI adoption / owner-operator production decision / REAL_RUN-QT001-cutover grants); NO safely-self-resolvable item remains";

    #[test]
    fn every_seed_category_is_terminal_and_declared() {
        let declared = declared_set(SEED_CHECK).unwrap();
        assert_eq!(declared.len(), 5);
        let cases = [
            ("requires live production read", Terminal::ProductionAccess),
            (
                "requires CI production adoption",
                Terminal::ProductionCiAdoption,
            ),
            (
                "requires real production data / production access",
                Terminal::RealProductionData,
            ),
            ("requires REAL_RUN grant", Terminal::Grants),
            ("requires QT001/cutover grants", Terminal::Grants),
            (
                "requires owner production decision",
                Terminal::OwnerDecision,
            ),
            (
                "requires real production data handoff",
                Terminal::RealProductionData,
            ),
        ];
        for (cat, want) in cases {
            assert_eq!(classify(cat), Some(want), "{cat}");
            assert!(is_declared(want, &declared), "{cat}");
            assert_eq!(closure(cat), Closure::Terminal(want));
        }
        for t in Terminal::ALL {
            assert!(is_declared(t, &declared), "{t:?}");
        }
    }

    #[test]
    fn engineering_and_unknown_categories() {
        assert_eq!(classify("engineering: rollback harness"), None);
        assert_eq!(
            closure("engineering: rollback harness"),
            Closure::Engineering
        );
        assert_eq!(closure("needs more thought"), Closure::Unrecognised);
        // Terminal words win over "engineering": fail closed.
        assert_eq!(
            closure("engineering, then production access"),
            Closure::Terminal(Terminal::ProductionAccess)
        );
        // "ci" must be a word, not a fragment of another word.
        assert_eq!(classify("special adoption"), None);
    }

    #[test]
    fn declared_set_needs_a_parenthesised_list() {
        assert_eq!(declared_set("no list here"), None);
        assert_eq!(declared_set("empty ()"), None);
        let shorter = declared_set("set (real production data)").unwrap();
        assert!(is_declared(Terminal::RealProductionData, &shorter));
        assert!(!is_declared(Terminal::Grants, &shorter));
    }
}
