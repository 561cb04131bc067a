//! A tiny dialect-neutral layer over the two sqlx drivers, so every query is written once.
//!
//! SQL uses `$1, $2, …` placeholders, which both SQLite and PostgreSQL accept. Values are bound
//! through [`Arg`] and read back through [`Row::get`], which compiles for both drivers.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{Decode, Postgres, Row as _, Sqlite, Transaction, Type};

use crate::error::StoreError;

/// One bound parameter.
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(bool),
    Json(Option<Value>),
    Time(Option<DateTime<Utc>>),
}

/// A query and its parameters.
pub(crate) struct Q {
    sql: String,
    args: Vec<Arg>,
}

impl Q {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Q {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    /// The same parameters under another statement (a filter's clause reused).
    pub(crate) fn with_sql(mut self, sql: impl Into<String>) -> Self {
        self.sql = sql.into();
        self
    }

    pub(crate) fn text(mut self, value: impl Into<String>) -> Self {
        self.args.push(Arg::Text(Some(value.into())));
        self
    }

    pub(crate) fn opt_text(mut self, value: Option<&str>) -> Self {
        self.args.push(Arg::Text(value.map(str::to_owned)));
        self
    }

    pub(crate) fn int(mut self, value: Option<i64>) -> Self {
        self.args.push(Arg::Int(value));
        self
    }

    pub(crate) fn float(mut self, value: Option<f64>) -> Self {
        self.args.push(Arg::Float(value));
        self
    }

    pub(crate) fn bool(mut self, value: bool) -> Self {
        self.args.push(Arg::Bool(value));
        self
    }

    pub(crate) fn json(mut self, value: Option<Value>) -> Self {
        self.args.push(Arg::Json(value));
        self
    }

    pub(crate) fn time(mut self, value: Option<DateTime<Utc>>) -> Self {
        self.args.push(Arg::Time(value));
        self
    }
}

macro_rules! build_query {
    ($q:expr) => {{
        let mut query = sqlx::query(&$q.sql);
        for arg in $q.args {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
                Arg::Float(v) => query.bind(v),
                Arg::Bool(v) => query.bind(v),
                Arg::Json(v) => query.bind(v.map(Json)),
                Arg::Time(v) => query.bind(v),
            };
        }
        query
    }};
}

/// An open transaction on either backend. Dropping it without [`Tx::commit`] rolls back.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// Runs a statement; returns the number of rows affected.
    pub(crate) async fn execute(&mut self, q: Q) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => build_query!(q).execute(&mut **tx).await?.rows_affected(),
            Tx::Postgres(tx) => build_query!(q).execute(&mut **tx).await?.rows_affected(),
        })
    }

    pub(crate) async fn fetch_optional(&mut self, q: Q) -> Result<Option<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => build_query!(q)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Sqlite),
            Tx::Postgres(tx) => build_query!(q)
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Postgres),
        })
    }

    pub(crate) async fn fetch_one(&mut self, q: Q) -> Result<Row, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => Row::Sqlite(build_query!(q).fetch_one(&mut **tx).await?),
            Tx::Postgres(tx) => Row::Postgres(build_query!(q).fetch_one(&mut **tx).await?),
        })
    }

    pub(crate) async fn fetch_all(&mut self, q: Q) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => build_query!(q)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Tx::Postgres(tx) => build_query!(q)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }

    /// Whether a row matches (the query should select one constant column).
    pub(crate) async fn exists(&mut self, q: Q) -> Result<bool, StoreError> {
        Ok(self.fetch_optional(q).await?.is_some())
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// A result row from either backend.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    /// Reads column `column` as `T` (any type both drivers can decode).
    pub(crate) fn get<T>(&self, column: &str) -> Result<T, StoreError>
    where
        T: for<'r> Decode<'r, Sqlite>
            + Type<Sqlite>
            + for<'r> Decode<'r, Postgres>
            + Type<Postgres>,
    {
        Ok(match self {
            Row::Sqlite(row) => row.try_get(column)?,
            Row::Postgres(row) => row.try_get(column)?,
        })
    }

    /// Reads a JSON column (TEXT on SQLite, JSONB on PostgreSQL); NULL is `None`.
    pub(crate) fn json(&self, column: &str) -> Result<Option<Value>, StoreError> {
        Ok(self.get::<Option<Json<Value>>>(column)?.map(|j| j.0))
    }
}
