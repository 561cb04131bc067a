//! Opening the database: URL parsing, pools, migrations, transactions and the change revision.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use std::sync::Arc;

use crate::crypt::StoreKeys;
use crate::db::{Tx, Q};
use crate::error::StoreError;
use crate::migrate;

/// File name used when `open` is given a data directory.
pub const DEFAULT_DB_FILE: &str = "meshgate.db";

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Knobs for [`Store::open_with`]; the defaults suit production.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// PostgreSQL only: a schema (`[A-Za-z_][A-Za-z0-9_]*`, ≤ 63 characters) created if missing
    /// and put first on every pooled connection's `search_path`; tables and migrations live there.
    /// Lets several independent stores (tests, tenants) share one database.
    pub schema: Option<String>,
    /// Pool size (default 8 for files and PostgreSQL; an in-memory SQLite database always uses 1).
    pub max_connections: Option<u32>,
    /// How long an operation waits for a pooled connection (default 10 s).
    pub acquire_timeout: Option<Duration>,
    /// Seals credential columns (MCP server configs) at rest; without keys they are
    /// stored plain. Rows that are plain or under a previous key are re-sealed on open.
    pub keys: Option<Arc<StoreKeys>>,
}

/// The data layer: a cheap-to-clone handle on a connection pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    keys: Option<Arc<StoreKeys>>,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `url`:
    /// - `sqlite:///abs/path/meshgate.db`, `sqlite://relative.db`, `sqlite::memory:`;
    /// - `postgres://user:pass@host:port/db` (or `postgresql://`; `?options=-csearch_path%3Ds` works);
    /// - a path ending in `.db`/`.sqlite`/`.sqlite3`, or an existing file: that SQLite file;
    /// - any other path is a data directory: created if missing, database `<dir>/meshgate.db`.
    ///
    /// Errors never contain the URL's password.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, OpenOptions::default()).await
    }

    /// [`Store::open`] with options.
    pub async fn open_with(url: &str, options: OpenOptions) -> Result<Store, StoreError> {
        let secrets = url_secrets(url);
        let result = if is_postgres_url(url) {
            open_postgres(url, &options).await
        } else {
            open_sqlite(url, &options).await
        };
        let mut store = result.map_err(|e| scrub(e, &secrets))?;
        store.keys = options.keys.clone();
        if let Some(keys) = &options.keys {
            let resealed = crate::servers::reseal_all(&store, keys).await?;
            if resealed > 0 {
                tracing::info!(
                    rows = resealed,
                    key = keys.current_id(),
                    "sealed MCP server configs with the current store key"
                );
            }
        }
        Ok(store)
    }

    pub(crate) fn keys(&self) -> Option<&StoreKeys> {
        self.keys.as_deref()
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The change counter: bumped in the same transaction as every successful write, never by a
    /// read or a failed write. Poll it to learn cheaply whether anything changed since a value.
    pub async fn revision(&self) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT revision FROM store_revision WHERE id = 1";
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar(SQL).fetch_one(p).await?,
            Pool::Postgres(p) => sqlx::query_scalar(SQL).fetch_one(p).await?,
        })
    }

    /// Closes the pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// A read transaction (one consistent snapshot on both backends).
    pub(crate) async fn read(&self) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    /// A write transaction that leaves the revision alone: for bookkeeping that is not
    /// policy (session revocations), so writing it recompiles nothing anywhere.
    pub(crate) async fn write_unversioned(&self) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A write transaction. Its first statement bumps the revision, which takes the database's
    /// write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the revision row's lock): writers are
    /// serialized, so check-then-write sequences inside one transaction are race-free and the
    /// revision order is the commit order.
    pub(crate) async fn write(&self) -> Result<Tx, StoreError> {
        let mut tx = match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        };
        let bumped = tx
            .execute(Q::new(
                "UPDATE store_revision SET revision = revision + 1 WHERE id = 1",
            ))
            .await?;
        if bumped != 1 {
            return Err(StoreError::Database(
                "the store_revision row is missing".to_string(),
            ));
        }
        Ok(tx)
    }
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

async fn open_sqlite(url: &str, options: &OpenOptions) -> Result<Store, StoreError> {
    if options.schema.is_some() {
        return Err(StoreError::invalid(
            "schema",
            "only PostgreSQL supports a schema",
        ));
    }
    let connect = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::invalid("database_url", e.to_string()))?
    } else if url.contains("://") {
        let scheme = url.split("://").next().unwrap_or_default();
        return Err(StoreError::invalid(
            "database_url",
            format!("unsupported scheme `{scheme}` (use sqlite:, postgres:// or a data directory)"),
        ));
    } else {
        if url.trim().is_empty() {
            return Err(StoreError::invalid(
                "database_url",
                "must be a sqlite: or postgres:// URL or a data directory",
            ));
        }
        SqliteConnectOptions::new().filename(plain_path(url))
    };
    let in_memory = is_in_memory(url);
    let mut connect = connect
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30));
    if !in_memory {
        if let Some(parent) = connect.get_filename().parent() {
            if !parent.as_os_str().is_empty() {
                create_dir(parent)?;
            }
        }
        connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
    }
    let db_file = connect.get_filename().to_path_buf();
    if !in_memory {
        precreate_private(&db_file)?;
    }
    let mut pool = SqlitePoolOptions::new()
        .acquire_timeout(options.acquire_timeout.unwrap_or(Duration::from_secs(10)));
    pool = if in_memory {
        // One connection that never closes: the database lives as long as the pool.
        pool.max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        pool.max_connections(options.max_connections.unwrap_or(8).max(1))
    };
    let pool = pool
        .connect_with(connect)
        .await
        .map_err(|e| StoreError::Database(format!("cannot open the SQLite database: {e}")))?;
    migrate::migrator(migrate::SQLITE).await?.run(&pool).await?;
    if !in_memory {
        restrict_files(&db_file);
    }
    Ok(Store {
        pool: Pool::Sqlite(pool),
        keys: None,
    })
}

/// A plain path: an existing file, or a name ending in `.db`, `.sqlite` or `.sqlite3`, is the
/// database file itself; anything else is a data directory holding `meshgate.db`.
fn plain_path(path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    let is_file_name = p
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "db" | "sqlite" | "sqlite3"));
    if p.is_file() || (is_file_name && !p.is_dir()) {
        p
    } else {
        p.join(DEFAULT_DB_FILE)
    }
}

fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"))
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        StoreError::Database(format!("cannot create directory {}: {e}", dir.display()))
    })
}

/// Creates the database file readable by its owner only before SQLite opens it (SQLite
/// gives its `-wal` and `-shm` files the database file's mode).
fn precreate_private(db: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(db).map(|_| ()).map_err(|e| {
        StoreError::Database(format!(
            "cannot create the SQLite database {}: {e}",
            db.display()
        ))
    })
}

/// Files of a database made before this rule (0644) are narrowed to 0600 on open.
fn restrict_files(db: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let name = db.as_os_str().to_string_lossy().to_string();
        for path in [name.clone(), format!("{name}-wal"), format!("{name}-shm")] {
            if let Ok(meta) = std::fs::metadata(&path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
}

async fn open_postgres(url: &str, options: &OpenOptions) -> Result<Store, StoreError> {
    let mut connect = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::invalid("database_url", e.to_string()))?;
    let target = redact(url);
    if let Some(schema) = &options.schema {
        validate_schema(schema)?;
        // Create the schema with a throwaway connection, then make it the only search_path entry
        // of every pooled connection (a startup parameter: no round trip per connection).
        let mut conn = sqlx::ConnectOptions::connect(&connect)
            .await
            .map_err(|e| StoreError::Database(format!("cannot connect to {target}: {e}")))?;
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut conn)
            .await;
        if let Err(e) = created {
            // Two processes creating the same schema at once: the loser sees a unique violation.
            let exists = sqlx::query("SELECT 1 FROM pg_namespace WHERE nspname = $1")
                .bind(schema)
                .fetch_optional(&mut conn)
                .await?
                .is_some();
            if !exists {
                return Err(e.into());
            }
        }
        sqlx::Connection::close(conn).await?;
        connect = connect.options([("search_path", schema.as_str())]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(8).max(1))
        .acquire_timeout(options.acquire_timeout.unwrap_or(Duration::from_secs(10)))
        .connect_with(connect)
        .await
        .map_err(|e| StoreError::Database(format!("cannot connect to {target}: {e}")))?;
    migrate::migrator(migrate::POSTGRES)
        .await?
        .run(&pool)
        .await?;
    Ok(Store {
        pool: Pool::Postgres(pool),
        keys: None,
    })
}

fn validate_schema(schema: &str) -> Result<(), StoreError> {
    let mut chars = schema.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && schema.len() <= 63;
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "schema",
            "must match [A-Za-z_][A-Za-z0-9_]* and be at most 63 characters",
        ))
    }
}

/// The URL with its password replaced by `***` (for messages).
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable database URL>".to_string(),
    }
}

/// The password of `url` in every form it might be echoed in.
fn url_secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    let Some(raw) = parsed.password() else {
        return Vec::new();
    };
    let mut out = vec![raw.to_string()];
    if let Ok(decoded) = percent_encoding::percent_decode_str(raw).decode_utf8() {
        out.push(decoded.into_owned());
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Removes any occurrence of the secrets from an error's text.
fn scrub(err: StoreError, secrets: &[String]) -> StoreError {
    let clean = |s: String| {
        secrets
            .iter()
            .fold(s, |acc, secret| acc.replace(secret.as_str(), "***"))
    };
    match err {
        StoreError::Invalid { field, message } => StoreError::Invalid {
            field,
            message: clean(message),
        },
        StoreError::Conflict { message } => StoreError::Conflict {
            message: clean(message),
        },
        StoreError::Database(message) => StoreError::Database(clean(message)),
        other @ StoreError::NotFound { .. } => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:s3cret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        let err = scrub(
            StoreError::Database("bad s3cr%21t and s3cr!t".into()),
            &url_secrets("postgres://u:s3cr%21t@h/db"),
        );
        assert_eq!(err.to_string(), "database error: bad *** and ***");
    }

    #[test]
    fn schema_names() {
        assert!(validate_schema("t_abc123").is_ok());
        assert!(validate_schema("1x").is_err());
        assert!(validate_schema("a\"b").is_err());
        assert!(validate_schema("").is_err());
    }
}
