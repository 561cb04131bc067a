//! Backend-specific opening behaviour (not part of the generic suite).

use std::time::Duration;

use meshgate_store::{Backend, NewKey, OpenOptions, Store, StoreError};

use crate::assert_invalid;
use crate::harness::{postgres_url, require_postgres};

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "meshgate-store-open-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

#[tokio::test]
async fn a_data_directory_is_created_with_meshgate_db_inside() {
    let dir = temp_dir().join("nested").join("data");
    let store = Store::open(dir.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(dir.join("meshgate.db").is_file());
    store.close().await;
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

#[tokio::test]
async fn a_sqlite_url_creates_the_file_and_its_directory() {
    let dir = temp_dir();
    let file = dir.join("sub").join("custom.db");
    let url = format!("sqlite://{}", file.display());
    let store = Store::open(&url).await.unwrap();
    let (plain, _) = store.generate_key(NewKey::default()).await.unwrap();
    store.close().await;
    assert!(file.is_file());
    let again = Store::open(&url).await.unwrap();
    assert!(again.key_info(&plain).await.is_ok());
    again.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_plain_file_path_is_used_as_the_database_file() {
    let dir = temp_dir();
    let file = dir.join("state.sqlite");
    let store = Store::open(file.to_str().unwrap()).await.unwrap();
    store.close().await;
    assert!(file.is_file());
    // An existing file is used as is, whatever its name.
    let renamed = dir.join("state.data");
    std::fs::rename(&file, &renamed).unwrap();
    let store = Store::open(renamed.to_str().unwrap()).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 0);
    store.close().await;
    assert!(!renamed.join("meshgate.db").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let (plain, key) = store.generate_key(NewKey::default()).await.unwrap();
    assert_eq!(store.key_info(&plain).await.unwrap(), key);
    assert_eq!(store.revision().await.unwrap(), 1);
}

#[tokio::test]
async fn bad_urls_name_the_field() {
    assert_invalid(Store::open("mysql://u:p@h/db").await, "database_url");
    assert_invalid(Store::open("").await, "database_url");
    assert_invalid(
        Store::open_with(
            "sqlite::memory:",
            OpenOptions {
                schema: Some("s".into()),
                ..Default::default()
            },
        )
        .await,
        "schema",
    );
    assert_invalid(
        Store::open_with(
            &postgres_url(),
            OpenOptions {
                schema: Some("bad;name".into()),
                ..Default::default()
            },
        )
        .await,
        "schema",
    );
}

#[tokio::test]
async fn connection_errors_never_show_the_password() {
    // Nothing listens on port 1: the connection is refused.
    let url = "postgres://meshgate:hunter2-very-secret@127.0.0.1:1/db";
    let err = Store::open_with(
        url,
        OpenOptions {
            acquire_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, StoreError::Database(_)), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
}

#[tokio::test]
async fn postgres_schema_in_the_url_options_also_works() {
    let url = postgres_url();
    require_postgres(&url).await;
    let schema = format!("meshgate_test_{}", uuid::Uuid::new_v4().simple());
    // Create the schema through OpenOptions, then reopen through the URL's `options`.
    let first = Store::open_with(
        &url,
        OpenOptions {
            schema: Some(schema.clone()),
            max_connections: Some(2),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (plain, _) = first.generate_key(NewKey::default()).await.unwrap();
    first.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let via_url = Store::open(&format!("{url}{sep}options=-csearch_path%3D{schema}"))
        .await
        .unwrap();
    assert!(via_url.key_info(&plain).await.is_ok());
    assert_eq!(via_url.revision().await.unwrap(), 1);
    via_url.close().await;

    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
}
