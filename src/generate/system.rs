//! The configuration tables: roles, policies, access, users, settings, and
//! the Directus metadata (collections, fields, relations) of the surface.

use super::sample::ascii_lower;
use super::{
    Generator, HISTORY_SPAN_MS, HISTORY_START_MS, OBJECT_FIELDS, PASSWORD_PLACEHOLDER,
    derived_uuid, table_rng,
};
use crate::surface;
use crate::util::timefmt::iso_millis;
use fake::Fake;
use fake::faker::company::en::{Buzzword, CompanyName};
use fake::faker::job::en::Title;
use fake::faker::lorem::en::{Sentence, Word};
use fake::faker::name::en::{FirstName, LastName};
use rand::RngExt;
use rusqlite::params;

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
            let parent = (i > 1 && rng.random_bool(0.2))
                .then(|| derived_uuid(self.seed, "directus_roles", rng.random_range(1..i)));
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
                _ => (
                    format!("{} access", Buzzword().fake_with_rng::<String, _>(&mut rng)),
                    false,
                    rng.random_bool(0.7),
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
            let (role, policy) = match i {
                0 => (None, 0), // the public policy hangs off no role
                1 => (Some(0), 1),
                _ => (
                    Some(rng.random_range(0..self.counts.roles)),
                    rng.random_range(2..self.counts.policies.max(3)) % self.counts.policies,
                ),
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
        let last_access = self.col(t, "last_access", &[]);
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
            "INSERT INTO directus_users (id, first_name, last_name, email, password, location, title, status, role, last_access, provider, external_identifier, language, email_notifications)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
            let (status_v, role) = if i == 0 {
                ("active".to_string(), 0)
            } else {
                (
                    status.category(&mut rng),
                    rng.random_range(0..self.counts.roles),
                )
            };
            let provider_v = provider.category(&mut rng);
            let external = (provider_v != "default")
                .then(|| format!("ext-{}", derived_uuid(self.seed, "external_identifier", i)));
            let loc = location.text(&mut rng, |r| CompanyName().fake_with_rng(r));
            let title_v = title.text(&mut rng, |r| Title().fake_with_rng(r));
            let access = (!last_access.is_null(&mut rng))
                .then(|| iso_millis(HISTORY_START_MS + rng.random_range(0..HISTORY_SPAN_MS)));
            ins.execute(params![
                self.user_id(i),
                first,
                last,
                email,
                PASSWORD_PLACEHOLDER,
                loc,
                title_v,
                status_v,
                derived_uuid(self.seed, "directus_roles", role),
                access,
                provider_v,
                external,
                language.category(&mut rng),
                rng.random_bool(0.8),
            ])?;
        }
        self.bar.inc(self.counts.users);
        Ok(())
    }

    pub(super) fn settings(&mut self) -> rusqlite::Result<()> {
        if self.counts.settings == 1 {
            self.conn.execute(
                "INSERT INTO directus_settings (project_name, project_url) VALUES ('Object Registry', 'https://cms.example.com')",
                [],
            )?;
            self.bar.inc(1);
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
        let mut names = vec![surface::COLLECTION.to_string()];
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
            names.push(name);
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
        let mut rng = table_rng(self.seed, "directus_fields");
        let extra = self.counts.fields - OBJECT_FIELDS.len() as u64;
        let others = &names[1..];
        for i in 0..extra {
            let owner = if others.is_empty() {
                surface::COLLECTION
            } else {
                others[(i as usize) % others.len()].as_str()
            };
            let name = format!(
                "{}_{}",
                ascii_lower(&Word().fake_with_rng::<String, _>(&mut rng)),
                i
            );
            let interface = [
                "input",
                "input-multiline",
                "boolean",
                "datetime",
                "select-dropdown",
            ][rng.random_range(0..5)];
            field.execute(params![
                owner,
                name,
                Option::<String>::None,
                interface,
                false,
                false,
                i as i64 + 10,
                "full",
                rng.random_bool(0.2)
            ])?;
        }
        self.bar.inc(self.counts.fields);

        let mut rel = self.conn.prepare(
            "INSERT INTO directus_relations (many_collection, many_field, one_collection, one_deselect_action) VALUES (?1, ?2, 'directus_users', 'nullify')",
        )?;
        rel.execute(params![surface::COLLECTION, "user_created"])?;
        rel.execute(params![surface::COLLECTION, "user_updated"])?;
        for i in 2..self.counts.relations {
            let owner = if others.is_empty() {
                surface::COLLECTION
            } else {
                others[(i as usize) % others.len()].as_str()
            };
            rel.execute(params![owner, format!("owner_{i}")])?;
        }
        self.bar.inc(self.counts.relations);
        Ok(())
    }
}
