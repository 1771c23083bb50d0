//! Row counts: the profile's counts after `--scale`, checked against the
//! surface's invariants before anything is written.

use crate::profile::Profile;
use crate::surface;
use std::collections::BTreeMap;

use super::OBJECT_FIELDS;

/// Row counts after scaling, with the surface's invariants checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub roles: u64,
    pub policies: u64,
    pub access: u64,
    pub users: u64,
    pub settings: u64,
    pub collections: u64,
    pub fields: u64,
    pub relations: u64,
    pub objects: u64,
    pub births: u64,
    pub revisions: u64,
    pub activity: u64,
}

/// Tables whose row counts grow with `--scale`; the rest is configuration.
pub const SCALED_TABLES: &[&str] = &[
    "directus_users",
    "objects",
    "birth_registry",
    "directus_revisions",
    "directus_activity",
];

impl Counts {
    /// Scale the profile's counts and check they can coexist: every birth
    /// is an object, every object has a create revision, every revision an
    /// activity row.
    pub fn from_profile(p: &Profile, scale: f64) -> Result<Counts, String> {
        if !scale.is_finite() || scale <= 0.0 {
            return Err(format!("scale {scale} must be a positive number"));
        }
        let scaled = |t: &str| {
            let n = p.rows(t);
            if SCALED_TABLES.contains(&t) {
                (n as f64 * scale).round() as u64
            } else {
                n
            }
        };
        let c = Counts {
            roles: scaled("directus_roles"),
            policies: scaled("directus_policies"),
            access: scaled("directus_access"),
            users: scaled("directus_users"),
            settings: scaled("directus_settings"),
            collections: scaled("directus_collections"),
            fields: scaled("directus_fields"),
            relations: scaled("directus_relations"),
            objects: scaled("objects"),
            births: scaled("birth_registry"),
            revisions: scaled("directus_revisions"),
            activity: scaled("directus_activity"),
        };
        let need = |ok: bool, msg: &str| if ok { Ok(()) } else { Err(msg.to_string()) };
        if let Some(unknown) = p
            .tables
            .keys()
            .find(|t| !surface::FILLED.contains(&t.as_str()))
        {
            return Err(format!(
                "table '{unknown}' is not one the birth-register surface's generator fills ({})",
                surface::FILLED.join(", ")
            ));
        }
        need(
            c.roles >= 1,
            "directus_roles needs at least 1 row (Administrator)",
        )?;
        need(
            c.policies >= 2,
            "directus_policies needs at least 2 rows (public, admin)",
        )?;
        need(c.access >= 2, "directus_access needs at least 2 rows")?;
        need(
            c.users >= 1,
            "directus_users needs at least 1 row (the admin)",
        )?;
        need(c.settings <= 1, "directus_settings holds at most 1 row")?;
        need(
            c.collections >= 1,
            "directus_collections needs at least 1 row (objects)",
        )?;
        need(
            c.fields >= OBJECT_FIELDS.len() as u64,
            "directus_fields needs at least 9 rows (the objects collection's fields)",
        )?;
        need(
            c.relations == 2,
            "directus_relations has exactly 2 rows (objects.user_created, objects.user_updated): the other collections are folders, which have no relations",
        )?;
        need(
            c.births <= c.objects,
            "birth_registry cannot have more rows than objects",
        )?;
        need(
            c.revisions >= c.objects,
            "directus_revisions needs at least one (create) revision per object",
        )?;
        need(
            c.activity >= c.revisions,
            "directus_activity needs at least one activity row per revision",
        )?;
        Ok(c)
    }

    /// All rows this generation writes.
    pub fn total(&self) -> u64 {
        self.roles
            + self.policies
            + self.access
            + self.users
            + self.settings
            + self.collections
            + self.fields
            + self.relations
            + self.objects
            + self.births
            + self.revisions
            + self.activity
    }
}

pub(super) fn counts_by_table(c: &Counts) -> BTreeMap<String, u64> {
    [
        ("directus_roles", c.roles),
        ("directus_policies", c.policies),
        ("directus_access", c.access),
        ("directus_users", c.users),
        ("directus_settings", c.settings),
        ("directus_collections", c.collections),
        ("directus_fields", c.fields),
        ("directus_relations", c.relations),
        ("objects", c.objects),
        ("birth_registry", c.births),
        ("directus_revisions", c.revisions),
        ("directus_activity", c.activity),
        (
            "directus_migrations",
            crate::surface::directus::migrations().count() as u64,
        ),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_string(), n))
    .collect()
}
