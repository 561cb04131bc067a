//! Versioned schema migrations, embedded in the binary (one SQL file per version and backend).
//!
//! Policy: a released migration is never edited (sqlx records its checksum and refuses a changed
//! one); changes go into a new file with the next version, added to both lists below.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::error::StoreError;

/// (version, description, SQL).
type Embedded = &'static [(i64, &'static str, &'static str)];

pub(crate) const SQLITE: Embedded = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "session revocations",
        include_str!("../migrations/sqlite/0002_session_revocations.sql"),
    ),
    (
        3,
        "key and team guardrails",
        include_str!("../migrations/sqlite/0003_guardrails.sql"),
    ),
    (
        4,
        "spend and budgets",
        include_str!("../migrations/sqlite/0004_spend.sql"),
    ),
    (
        5,
        "audit trail",
        include_str!("../migrations/sqlite/0005_audit_log.sql"),
    ),
    (
        6,
        "key models",
        include_str!("../migrations/sqlite/0006_key_models.sql"),
    ),
    (
        7,
        "audit arguments",
        include_str!("../migrations/sqlite/0007_audit_arguments.sql"),
    ),
    (
        8,
        "llm responses",
        include_str!("../migrations/sqlite/0008_llm_responses.sql"),
    ),
    (
        9,
        "spend tokens",
        include_str!("../migrations/sqlite/0009_spend_tokens.sql"),
    ),
];

pub(crate) const POSTGRES: Embedded = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "session revocations",
        include_str!("../migrations/postgres/0002_session_revocations.sql"),
    ),
    (
        3,
        "key and team guardrails",
        include_str!("../migrations/postgres/0003_guardrails.sql"),
    ),
    (
        4,
        "spend and budgets",
        include_str!("../migrations/postgres/0004_spend.sql"),
    ),
    (
        5,
        "audit trail",
        include_str!("../migrations/postgres/0005_audit_log.sql"),
    ),
    (
        6,
        "key models",
        include_str!("../migrations/postgres/0006_key_models.sql"),
    ),
    (
        7,
        "audit arguments",
        include_str!("../migrations/postgres/0007_audit_arguments.sql"),
    ),
    (
        8,
        "llm responses",
        include_str!("../migrations/postgres/0008_llm_responses.sql"),
    ),
    (
        9,
        "spend tokens",
        include_str!("../migrations/postgres/0009_spend_tokens.sql"),
    ),
];

#[derive(Debug)]
struct Source(Embedded);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(crate) async fn migrator(migrations: Embedded) -> Result<Migrator, StoreError> {
    Ok(Migrator::new(Source(migrations)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |m: Embedded| m.iter().map(|(v, d, _)| (*v, *d)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        assert!(versions(SQLITE).windows(2).all(|w| w[0].0 < w[1].0));
    }
}
