//! The crate's one error type.

/// Everything a store operation can fail with. Messages never contain a database password or a
/// plaintext key (the store never sees plaintext keys after hashing them, and connection errors
/// are scrubbed of the URL's password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Input refused before touching the database; `field` names the offending field
    /// (dotted for nested ones, e.g. `object_permission.mcp_servers`).
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// The record `id` of kind `kind` (`key`, `team`, `organization`, `mcp_server`, `team_member`)
    /// does not exist.
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    /// The write would break a uniqueness or reference rule (duplicate alias, deleting a team that
    /// still has keys, …).
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// The database failed (connection, I/O, unexpected constraint, migration).
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            kind,
            id: id.into(),
        }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        StoreError::Conflict {
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            // The constraint (PostgreSQL) or SQLite's `table.column` message; never the values.
            let constraint = db
                .constraint()
                .map(str::to_owned)
                .unwrap_or_else(|| db.message().to_owned());
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    return StoreError::conflict(format!("already exists ({constraint})"));
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::conflict(format!(
                        "a referenced record is missing or still referenced ({constraint})"
                    ));
                }
                _ => {}
            }
        }
        StoreError::Database(err.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration failed: {err}"))
    }
}
