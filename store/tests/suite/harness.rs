//! Runs one test body against a fresh database of either backend.
//!
//! SQLite: a new temporary directory per test. PostgreSQL: a new schema (random name) in the
//! database at `MESHGATE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped afterwards, so tests are isolated from each other and from parallel runs.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use meshgate_store::{Backend, OpenOptions, Store};
use sqlx::{Column, Connection, Row};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Harness {
    pub store: Store,
    place: Place,
}

#[derive(Clone, Debug)]
enum Place {
    Sqlite { dir: PathBuf },
    Postgres { url: String, schema: String },
}

pub fn postgres_url() -> String {
    std::env::var("MESHGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string())
}

/// Fails (never skips) when PostgreSQL cannot be reached.
pub async fn require_postgres(url: &str) {
    let attempt =
        tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(url)).await;
    let err = match attempt {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return;
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out after 5 s".to_string(),
    };
    panic!(
        "PostgreSQL is unreachable at {}: {err}. Run scripts/setup-postgres.sh \
         (or set MESHGATE_TEST_POSTGRES_URL to a database this user may create schemas in).",
        meshgate_store::redact(url)
    );
}

impl Harness {
    async fn new(kind: Kind) -> Harness {
        match kind {
            Kind::Sqlite => {
                let dir = std::env::temp_dir().join(format!(
                    "meshgate-store-test-{}",
                    uuid::Uuid::new_v4().simple()
                ));
                let store = Store::open(dir.to_str().unwrap()).await.unwrap();
                assert_eq!(store.backend(), Backend::Sqlite);
                Harness {
                    store,
                    place: Place::Sqlite { dir },
                }
            }
            Kind::Postgres => {
                let url = postgres_url();
                require_postgres(&url).await;
                let schema = format!("meshgate_test_{}", uuid::Uuid::new_v4().simple());
                let store = Store::open_with(&url, Self::pg_options(&schema))
                    .await
                    .unwrap();
                assert_eq!(store.backend(), Backend::Postgres);
                Harness {
                    store,
                    place: Place::Postgres { url, schema },
                }
            }
        }
    }

    fn pg_options(schema: &str) -> OpenOptions {
        OpenOptions {
            schema: Some(schema.to_string()),
            max_connections: Some(5),
            ..OpenOptions::default()
        }
    }

    /// Opens the same database again (runs the migrations again).
    pub async fn reopen(&self) -> Store {
        match &self.place {
            Place::Sqlite { dir } => Store::open(dir.to_str().unwrap()).await.unwrap(),
            Place::Postgres { url, schema } => Store::open_with(url, Self::pg_options(schema))
                .await
                .unwrap(),
        }
    }

    /// Opens the same database again with these options (keys, …).
    pub async fn reopen_with(
        &self,
        options: OpenOptions,
    ) -> Result<Store, meshgate_store::StoreError> {
        match &self.place {
            Place::Sqlite { dir } => Store::open_with(dir.to_str().unwrap(), options).await,
            Place::Postgres { url, schema } => {
                Store::open_with(
                    url,
                    OpenOptions {
                        schema: Some(schema.clone()),
                        ..options
                    },
                )
                .await
            }
        }
    }

    /// SQLite only: the data directory.
    pub fn sqlite_dir(&self) -> Option<&std::path::Path> {
        match &self.place {
            Place::Sqlite { dir } => Some(dir),
            Place::Postgres { .. } => None,
        }
    }

    /// Every row of `table`, each rendered as text, read without the store's code.
    pub async fn raw_rows(&self, table: &str) -> Vec<String> {
        match &self.place {
            Place::Sqlite { dir } => {
                let url = format!("sqlite://{}?mode=ro", dir.join("meshgate.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let rows = sqlx::query(&format!("SELECT * FROM {table}"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                let out = rows
                    .iter()
                    .map(|row| {
                        row.columns()
                            .iter()
                            .map(|c| {
                                let i = c.ordinal();
                                if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                                    format!("{}={}", c.name(), v.unwrap_or_default())
                                } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                                    format!("{}={:?}", c.name(), v)
                                } else {
                                    format!("{}=<other>", c.name())
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect();
                conn.close().await.unwrap();
                out
            }
            Place::Postgres { url, schema } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let out = sqlx::query_scalar::<_, String>(&format!(
                    "SELECT row_to_json(t)::text FROM \"{schema}\".{table} t"
                ))
                .fetch_all(&mut conn)
                .await
                .unwrap();
                conn.close().await.unwrap();
                out
            }
        }
    }

    /// SQLite only: whether `needle` occurs anywhere in the database files (main file and WAL).
    pub fn files_contain(&self, needle: &str) -> Option<bool> {
        let Place::Sqlite { dir } = &self.place else {
            return None;
        };
        let mut found = false;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            found |= bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        }
        Some(found)
    }

    async fn cleanup(&self) {
        self.store.close().await;
        match &self.place {
            Place::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::Postgres { url, schema } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            }
        }
    }
}

/// Runs `test` on a fresh database of `kind`, cleaning up even when the test panics.
pub async fn run<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let h = Harness::new(kind).await;
    let result = tokio::spawn(test(h.clone())).await;
    h.cleanup().await;
    if let Err(e) = result {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}
