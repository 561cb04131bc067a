#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The store's test suite, run once against SQLite and once against PostgreSQL.
//!
//! `cargo test -p meshgate-store sqlite::` or `… postgres::` runs one backend. PostgreSQL must be
//! reachable (see `scripts/setup-postgres.sh`); if it is not, the PostgreSQL tests fail.

mod audit;
mod harness;
mod keys;
mod misc;
mod open;
mod orgs;
mod responses;
mod servers;
mod sessions;
mod spend;
mod teams;

macro_rules! suite {
    ($( $module:ident : [ $($name:ident),* $(,)? ] ),* $(,)?) => {
        mod sqlite {
            $( mod $module {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        crate::harness::run(crate::harness::Kind::Sqlite, crate::$module::$name).await;
                    }
                )*
            } )*
        }
        mod postgres {
            $( mod $module {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        crate::harness::run(crate::harness::Kind::Postgres, crate::$module::$name).await;
                    }
                )*
            } )*
        }
    };
}

suite! {
    misc: [
        migrations_are_idempotent,
        revision_counts_successful_writes_only,
        snapshot_is_consistent_with_its_revision,
    ],
    keys: [
        generate_returns_plaintext_once_and_stores_only_the_hash,
        key_info_by_plaintext_hash_and_id,
        caller_chosen_key,
        update_patch_semantics,
        permissions_none_and_empty_round_trip,
        blocked_and_expiry,
        invalid_key_input_names_the_field,
        delete_keys_is_all_or_nothing,
        concurrent_generate_key,
        key_links_to_team_and_organization,
    ],
    teams: [
        team_crud_and_membership,
        deleting_a_team_with_keys_conflicts,
        team_permissions_and_patch,
        invalid_team_input_names_the_field,
        keys_and_teams_carry_guardrail_names,
    ],
    orgs: [
        organization_crud,
        deleting_a_referenced_organization_conflicts,
    ],
    servers: [
        mcp_server_crud,
        mcp_server_names_are_unique,
        invalid_mcp_server_input_names_the_field,
        credentials_are_sealed_at_rest_and_keys_rotate,
    ],
    sessions: [
        revocations_are_shared_bounded_and_pruned,
    ],
    responses: [
        responses_are_read_by_their_owner_only_until_they_expire,
    ],
    spend: [
        spend_rows_batch_filter_page_and_sum,
        budgets_round_trip_and_windows_advance,
    ],
    audit: [
        audit_rows_filter_page_and_leave_the_revision_alone,
    ],
}

/// Asserts `result` is `StoreError::Invalid` about `field`.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, meshgate_store::StoreError>, field: &str) {
    match result {
        Err(meshgate_store::StoreError::Invalid { field: f, message }) => {
            assert_eq!(f, field, "message: {message}");
        }
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

/// Asserts `result` is `StoreError::Conflict` and returns its message.
#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, meshgate_store::StoreError>) -> String {
    match result {
        Err(meshgate_store::StoreError::Conflict { message }) => message,
        other => panic!("expected Conflict, got {other:?}"),
    }
}

/// Asserts `result` is `StoreError::NotFound` of `kind`.
#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: Result<T, meshgate_store::StoreError>, kind: &str) {
    match result {
        Err(meshgate_store::StoreError::NotFound { kind: k, .. }) => assert_eq!(k, kind),
        other => panic!("expected NotFound {{ kind: {kind} }}, got {other:?}"),
    }
}
