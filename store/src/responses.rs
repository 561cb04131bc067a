//! The Responses API answers the gateway returned (`previous_response_id` kept by the
//! gateway, docs/llm.md): each row is one answer — the whole conversation it was given
//! and its output items — owned by one principal, read back only by that principal and
//! only until it expires. Writes here do not move [`Store::revision`] (they are not
//! policy).

use crate::db::Q;
use crate::error::StoreError;
use crate::open::Store;
use serde_json::Value;

/// One kept answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// The gateway's response id (`resp_…`), unique.
    pub id: String,
    /// The principal that got it (`key:<id>`, `master`…); no other may read it.
    pub owner: String,
    /// The model as the client named it.
    pub model: String,
    /// The input items as sent to the model (earlier turns included): a JSON list.
    pub input: Value,
    /// The answer's output items: a JSON list.
    pub output: Value,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

impl StoredResponse {
    /// The size of its input and output as stored (JSON bytes).
    pub fn bytes(&self) -> usize {
        self.input.to_string().len() + self.output.to_string().len()
    }
}

impl Store {
    /// Keeps an answer (an id already kept is a conflict) and drops the expired ones.
    pub async fn put_response(&self, r: &StoredResponse) -> Result<(), StoreError> {
        if r.id.is_empty() || r.id.len() > 128 {
            return Err(StoreError::Invalid {
                field: "id".into(),
                message: "must be 1 to 128 characters".into(),
            });
        }
        let input = r.input.to_string();
        let output = r.output.to_string();
        let bytes = i64::try_from(input.len() + output.len()).unwrap_or(i64::MAX);
        let mut tx = self.write_unversioned().await?;
        tx.execute(
            Q::new("DELETE FROM llm_responses WHERE expires_at_ms <= $1")
                .int(Some(r.created_at_ms)),
        )
        .await?;
        let added = tx
            .execute(
                Q::new(
                    "INSERT INTO llm_responses (id, owner, model, input, output, bytes, \
                     created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .text(r.id.as_str())
                .text(r.owner.as_str())
                .text(r.model.as_str())
                .text(input)
                .text(output)
                .int(Some(bytes))
                .int(Some(r.created_at_ms))
                .int(Some(r.expires_at_ms)),
            )
            .await?;
        if added == 0 {
            return Err(StoreError::Conflict {
                message: format!("response `{}` is already kept", r.id),
            });
        }
        tx.commit().await
    }

    /// The answer `id` if `owner` got it and it has not expired by `now_ms`; None
    /// otherwise (unknown, another principal's, expired: the caller cannot tell which).
    pub async fn response_of(
        &self,
        id: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let mut tx = self.read().await?;
        let row = tx
            .fetch_optional(
                Q::new(
                    "SELECT id, owner, model, input, output, created_at_ms, expires_at_ms \
                     FROM llm_responses WHERE id = $1 AND owner = $2 AND expires_at_ms > $3",
                )
                .text(id)
                .text(owner)
                .int(Some(now_ms)),
            )
            .await?;
        tx.commit().await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let json = |column: &str| -> Result<Value, StoreError> {
            let text: String = r.get(column)?;
            serde_json::from_str(&text).map_err(|e| StoreError::Invalid {
                field: column.into(),
                message: format!("stored JSON unreadable: {e}"),
            })
        };
        Ok(Some(StoredResponse {
            id: r.get("id")?,
            owner: r.get("owner")?,
            model: r.get("model")?,
            input: json("input")?,
            output: json("output")?,
            created_at_ms: r.get("created_at_ms")?,
            expires_at_ms: r.get("expires_at_ms")?,
        }))
    }

    /// Drops the answers expired by `now_ms`; returns how many.
    pub async fn prune_responses(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.write_unversioned().await?;
        let removed = tx
            .execute(
                Q::new("DELETE FROM llm_responses WHERE expires_at_ms <= $1").int(Some(now_ms)),
            )
            .await?;
        tx.commit().await?;
        Ok(removed)
    }
}
