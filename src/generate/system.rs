//! The configuration tables: roles, policies, access, users, settings, and
//! the Directus metadata (collections, fields, relations) of the surface.
//!
//! Seats: Directus without a license key serves items only while at most
//! [`SEATS`] active users hold admin or app access (its `seats`
//! entitlement counts them through `directus_access`, nested roles
//! included). So role 0 (Administrator) and role 1 (Editor) are the only
//! roles that reach an admin or app policy, and only users 0..SEATS hold
//! them while active; every other user has an API-only role (policies
//! without admin or app access, parents among those roles) or is not
//! active. Nor does an active user sign in through SSO (a provider other
//! than `default`), which Directus allows only with a license either.
//! Passwords are the argon2id hash of the published test password
//! (docs/SURFACE.md): Directus logs in with it.

use super::sample::ascii_lower;
use super::{Generator, OBJECT_FIELDS, derived_uuid, table_rng};
use crate::generate::make::TEST_PASSWORD_ARGON2;
use crate::surface;
use fake::Fake;
use fake::faker::company::en::{Buzzword, CompanyName};
use fake::faker::job::en::Title;
use fake::faker::lorem::en::{Sentence, Word};
use fake::faker::name::en::{FirstName, LastName};
use rand::RngExt;
use rusqlite::params;

/// Active admin/app users Directus allows without a license key.
pub const SEATS: u64 = 3;
/// How long before the history starts Directus was installed (7 days).
const INSTALLED_BEFORE_MS: i64 = 7 * 86_400_000;
/// Roles that reach an admin or app policy: Administrator and Editor.
const SEAT_ROLES: u64 = 2;

impl Generator<'_> {
    pub(super) fn roles_policies_access(&mut self) -> rusqlite::Result<()> {
        let mut rng = table_rng(self.seed, "directus_roles");
        let mut ins = self.conn.prepare(
            "INSERT INTO directus_roles (id, name, icon, description, parent) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let desc = self.col("directus_roles", "description", &[]);
        for i in 0..self.counts.roles {
            let name = if i == 0 {
                "Administrator".to_string()
            } else {
                format!(
                    "{} {}",
                    Buzzword().fake_with_rng::<String, _>(&mut rng),
                    Title().fake_with_rng::<String, _>(&mut rng)
                )
            };
            let description = desc.text(&mut rng, |r| Sentence(4..10).fake_with_rng(r));
            // Only API-only roles nest, under API-only parents: a child
            // inherits its parent's policies, and so its seats.
            let parent = (i > SEAT_ROLES && rng.random_bool(0.2)).then(|| {
                derived_uuid(self.seed, "directus_roles", rng.random_range(SEAT_ROLES..i))
            });
            ins.execute(params![
                derived_uuid(self.seed, "directus_roles", i),
                name,
                "supervised_user_circle",
                description,
                parent
            ])?;
        }
        self.bar.inc(self.counts.roles);

        let mut ins = self.conn.prepare(
            "INSERT INTO directus_policies (id, name, icon, description, enforce_tfa, admin_access, app_access) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut rng = table_rng(self.seed, "directus_policies");
        for i in 0..self.counts.policies {
            let (name, admin, app) = match i {
                0 => ("$t:public_label".to_string(), false, false),
                1 => ("Administrator".to_string(), true, true),
                2 => ("Editor".to_string(), false, true),
                _ => (
                    format!("{} API", Buzzword().fake_with_rng::<String, _>(&mut rng)),
                    false,
                    false,
                ),
            };
            ins.execute(params![
                derived_uuid(self.seed, "directus_policies", i),
                name,
                "badge",
                Option::<String>::None,
                rng.random_bool(0.1),
                admin,
                app
            ])?;
        }
        self.bar.inc(self.counts.policies);

        let mut ins = self.conn.prepare(
            "INSERT INTO directus_access (id, role, \"user\", policy, sort) VALUES (?1, ?2, NULL, ?3, ?4)",
        )?;
        let mut rng = table_rng(self.seed, "directus_access");
        for i in 0..self.counts.access {
            let (roles, policies) = (self.counts.roles, self.counts.policies);
            let (role, policy) = match i {
                0 => (None, 0), // the public policy hangs off no role
                1 => (Some(0), 1),
                2 if roles > 1 && policies > 2 => (Some(1), 2),
                // API-only roles get API-only policies (or the public one).
                _ if roles > SEAT_ROLES => (
                    Some(rng.random_range(SEAT_ROLES..roles)),
                    if policies > 3 {
                        rng.random_range(3..policies)
                    } else {
                        0
                    },
                ),
                _ => (Some(0), 1), // no other role: one more admin link
            };
            let role = role.map(|r| derived_uuid(self.seed, "directus_roles", r));
            ins.execute(params![
                derived_uuid(self.seed, "directus_access", i),
                role,
                derived_uuid(self.seed, "directus_policies", policy),
                i as i64 + 1
            ])?;
        }
        self.bar.inc(self.counts.access);
        Ok(())
    }

    pub(super) fn users(&mut self) -> rusqlite::Result<()> {
        let mut rng = table_rng(self.seed, "directus_users");
        let t = "directus_users";
        let status = self.col(
            t,
            "status",
            &[
                ("active", 0.9),
                ("suspended", 0.04),
                ("invited", 0.03),
                ("archived", 0.03),
            ],
        );
        let location = self.col(t, "location", &[]);
        let title = self.col(t, "title", &[]);
        let language = self.col(
            t,
            "language",
            &[
                ("en-US", 0.7),
                ("de-DE", 0.15),
                ("fr-FR", 0.1),
                ("nl-NL", 0.05),
            ],
        );
        let provider = self.col(t, "provider", &[("default", 0.85), ("keycloak", 0.15)]);
        let mut ins = self.conn.prepare(
            "INSERT INTO directus_users (id, first_name, last_name, email, password, location, title, status, role, provider, external_identifier, language, email_notifications)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let domains = ["example.com", "example.org", "example.net"];
        for i in 0..self.counts.users {
            let first: String = FirstName().fake_with_rng(&mut rng);
            let last: String = LastName().fake_with_rng(&mut rng);
            let email = format!(
                "{}.{}.{}@{}",
                ascii_lower(&first),
                ascii_lower(&last),
                i,
                domains[rng.random_range(0..domains.len())]
            );
            let (status_v, role) = self.user_status_role(i, status.category(&mut rng), &mut rng);
            let provider_v = provider.category(&mut rng);
            // Without a license Directus locks every item while an active
            // user signs in through SSO: such users are never active, and
            // the Administrator logs in with the test password.
            let provider_v = if i == 0 {
                "default".to_string()
            } else {
                provider_v
            };
            let status_v = if provider_v != "default" && status_v == "active" {
                "suspended".to_string()
            } else {
                status_v
            };
            let external = (provider_v != "default")
                .then(|| format!("ext-{}", derived_uuid(self.seed, "external_identifier", i)));
            let loc = location.text(&mut rng, |r| CompanyName().fake_with_rng(r));
            let title_v = title.text(&mut rng, |r| Title().fake_with_rng(r));
            ins.execute(params![
                self.user_id(i),
                first,
                last,
                email,
                TEST_PASSWORD_ARGON2,
                loc,
                title_v,
                status_v,
                derived_uuid(self.seed, "directus_roles", role),
                provider_v,
                external,
                language.category(&mut rng),
                rng.random_bool(0.8),
            ])?;
        }
        self.bar.inc(self.counts.users);
        Ok(())
    }

    /// User `i`'s status and role under the seat limit (module header):
    /// user 0 the active Administrator, users below [`SEATS`] Editors (or
    /// Administrators without an Editor role), the rest API-only roles, or
    /// not active when the profile has no API-only role.
    fn user_status_role(
        &self,
        i: u64,
        drawn: String,
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> (String, u64) {
        let roles = self.counts.roles;
        if i == 0 {
            ("active".to_string(), 0)
        } else if i < SEATS {
            (drawn, u64::from(roles > 1))
        } else if roles > SEAT_ROLES {
            (drawn, rng.random_range(SEAT_ROLES..roles))
        } else {
            let status = if drawn == "active" {
                "suspended".to_string()
            } else {
                drawn
            };
            (status, u64::from(roles > 1))
        }
    }

    /// `last_access` is the time of each user's last `login` activity
    /// (Directus sets it on every login), NULL for users who never logged in.
    pub(super) fn last_access(&mut self) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE directus_users SET last_access = l.at FROM
               (SELECT \"user\" AS id, max(\"timestamp\") AS at FROM directus_activity
                WHERE action = 'login' GROUP BY \"user\") AS l
             WHERE directus_users.id = l.id",
            [],
        )?;
        Ok(())
    }

    /// The settings row. Directus sets `project_id` when it bootstraps.
    pub(super) fn settings(&mut self) -> rusqlite::Result<()> {
        if self.counts.settings == 1 {
            self.conn.execute(
                "INSERT INTO directus_settings (project_name, project_url, project_id) VALUES ('Object Registry', 'https://cms.example.com', ?1)",
                [derived_uuid(self.seed, "directus_settings.project_id", 0)],
            )?;
            self.bar.inc(1);
        }
        Ok(())
    }

    /// Every migration Directus checks on start, as its bootstrap records
    /// them: oldest first, a few milliseconds apart, [`INSTALLED_BEFORE_MS`]
    /// before the generated history starts.
    pub(super) fn migrations(&mut self) -> rusqlite::Result<()> {
        let mut ins = self.conn.prepare(
            "INSERT INTO directus_migrations (version, name, \"timestamp\") VALUES (?1, ?2, ?3)",
        )?;
        let mut rng = table_rng(self.seed, "directus_migrations");
        let mut at = self.start_ms - INSTALLED_BEFORE_MS;
        for (version, name) in surface::directus::migrations() {
            at += rng.random_range(2..40);
            ins.execute(params![version, name, crate::util::timefmt::iso_millis(at)])?;
        }
        Ok(())
    }

    pub(super) fn collections_fields_relations(&mut self) -> rusqlite::Result<()> {
        let mut rng = table_rng(self.seed, "directus_collections");
        let mut coll = self.conn.prepare(
            "INSERT INTO directus_collections (collection, icon, note, hidden, singleton, accountability, sort) VALUES (?1, ?2, ?3, ?4, 0, 'all', ?5)",
        )?;
        coll.execute(params![
            surface::COLLECTION,
            "category",
            "Registered objects (born through fn_birth_register)",
            false,
            1
        ])?;
        // The other collections are folders (no table of their own).
        for i in 1..self.counts.collections {
            let name = format!(
                "{}_{}",
                ascii_lower(&Word().fake_with_rng::<String, _>(&mut rng)),
                i
            );
            let note = Sentence(3..8).fake_with_rng::<String, _>(&mut rng);
            coll.execute(params![
                name,
                "folder",
                note,
                rng.random_bool(0.1),
                i as i64 + 1
            ])?;
        }
        self.bar.inc(self.counts.collections);

        let mut field = self.conn.prepare(
            "INSERT INTO directus_fields (collection, field, special, interface, readonly, hidden, sort, width, required, searchable)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
        )?;
        for (i, (name, special, interface)) in OBJECT_FIELDS.iter().enumerate() {
            let system = special.is_some();
            field.execute(params![
                surface::COLLECTION,
                name,
                special,
                interface,
                system,
                *name == "id",
                i as i64 + 1,
                if system { "half" } else { "full" },
                *name == "kind" || *name == "key"
            ])?;
        }
        // Every other field is an alias on `objects` (a presentation field,
        // no column): the other collections are folders, and a folder has
        // no fields or relations; a collection with fields has its table.
        let mut rng = table_rng(self.seed, "directus_fields");
        let extra = self.counts.fields - OBJECT_FIELDS.len() as u64;
        for i in 0..extra {
            let name = format!(
                "{}_{}",
                ascii_lower(&Word().fake_with_rng::<String, _>(&mut rng)),
                i
            );
            let interface = ["presentation-divider", "presentation-notice"][rng.random_range(0..2)];
            field.execute(params![
                surface::COLLECTION,
                name,
                "alias,no-data",
                interface,
                false,
                false,
                i as i64 + 10,
                "full",
                false
            ])?;
        }
        self.bar.inc(self.counts.fields);

        // The collection's only relations: its user fields.
        let mut rel = self.conn.prepare(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, one_deselect_action) VALUES (?1, ?2, 'directus_users', 'nullify')",
        )?;
        rel.execute(params![surface::COLLECTION, "user_created"])?;
        rel.execute(params![surface::COLLECTION, "user_updated"])?;
        self.bar.inc(self.counts.relations);
        Ok(())
    }
}
