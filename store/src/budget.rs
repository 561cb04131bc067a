//! Budgets on keys, teams and organizations (LiteLLM's `max_budget`, `budget_duration`,
//! `budget_reset_at`): stored beside each record, checked here, advanced at the window
//! boundary by [`Store::advance_budget_resets`]. The spend they limit is in `spend_logs`
//! (`crate::spend`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::db::{Row, Tx, Q};
use crate::error::StoreError;
use crate::open::Store;
use crate::secret::parse_duration;
use crate::validate;

/// The three budget columns (every budgeted table has them).
pub(crate) const BUDGET_COLUMNS: &str = "max_budget, budget_duration, budget_reset_at";

/// A record's budget. `max_budget: None` = no budget. With `budget_duration`, spend
/// counts from `budget_reset_at - budget_duration` and the window moves on at
/// `budget_reset_at`; without it, spend counts for ever.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    #[serde(default)]
    pub max_budget: Option<f64>,
    #[serde(default)]
    pub budget_duration: Option<String>,
    #[serde(default)]
    pub budget_reset_at: Option<DateTime<Utc>>,
}

/// Budget fields of a create request (`/key/generate`, `/team/new`, `/organization/new`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetInput {
    #[serde(default)]
    pub max_budget: Option<f64>,
    /// LiteLLM duration (`30s`, `15m`, `1h`, `30d`, `1mo`…).
    #[serde(default)]
    pub budget_duration: Option<String>,
}

/// Budget fields of an update (`null` clears, absent keeps).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetPatch {
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_budget: Option<Option<f64>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub budget_duration: Option<Option<String>>,
}

fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl Budget {
    pub(crate) fn from_row(row: &Row) -> Result<Budget, StoreError> {
        Ok(Budget {
            max_budget: row.get("max_budget")?,
            budget_duration: row.get("budget_duration")?,
            budget_reset_at: row.get("budget_reset_at")?,
        })
    }

    /// A new record's budget: the first window ends one duration from `now`.
    pub(crate) fn create(input: BudgetInput, now: DateTime<Utc>) -> Result<Budget, StoreError> {
        let mut b = Budget {
            max_budget: input.max_budget,
            budget_duration: input.budget_duration,
            budget_reset_at: None,
        };
        b.restart(now)?;
        b.check()?;
        Ok(b)
    }

    /// Applies a patch; a new duration starts a new window at `now` (as LiteLLM's
    /// `/key/update` does).
    pub(crate) fn apply(
        &mut self,
        patch: BudgetPatch,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(max) = patch.max_budget {
            self.max_budget = max;
        }
        if let Some(duration) = patch.budget_duration {
            self.budget_duration = duration;
            self.restart(now)?;
        }
        self.check()
    }

    fn restart(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.budget_reset_at = match self.budget_duration.as_deref() {
            Some(d) => {
                let d = parse_duration(d).map_err(|_| {
                    StoreError::invalid(
                        "budget_duration",
                        format!("`{d}` is not a duration like 30s, 15m, 1h, 30d, 1mo"),
                    )
                })?;
                Some(validate::timestamp(now + d))
            }
            None => None,
        };
        Ok(())
    }

    fn check(&self) -> Result<(), StoreError> {
        if let Some(max) = self.max_budget {
            if !max.is_finite() || max < 0.0 {
                return Err(StoreError::invalid(
                    "max_budget",
                    format!("must be a finite number ≥ 0, found {max}"),
                ));
            }
        }
        Ok(())
    }

    /// Where the current window's spend starts counting (None: since ever).
    pub fn window_start(&self) -> Option<DateTime<Utc>> {
        let d = parse_duration(self.budget_duration.as_deref()?).ok()?;
        Some(self.budget_reset_at? - d)
    }

    /// Writes the budget columns of one row of `table` (inside the record's write).
    pub(crate) async fn store(
        &self,
        tx: &mut Tx,
        table: &str,
        id_column: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        tx.execute(
            Q::new(format!(
                "UPDATE {table} SET max_budget = $1, budget_duration = $2, budget_reset_at = $3 \
                 WHERE {id_column} = $4"
            ))
            .float(self.max_budget)
            .opt_text(self.budget_duration.as_deref())
            .time(self.budget_reset_at)
            .text(id),
        )
        .await?;
        Ok(())
    }
}

/// The next window end after `now`: `reset_at` moved on by whole durations.
fn next_reset(
    reset_at: DateTime<Utc>,
    duration: chrono::Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    if reset_at > now || duration <= chrono::Duration::zero() {
        return reset_at;
    }
    let behind = (now - reset_at).num_milliseconds();
    let step = duration.num_milliseconds().max(1);
    let windows = behind / step + 1;
    reset_at + chrono::Duration::milliseconds(step.saturating_mul(windows))
}

impl Store {
    /// Moves every budget window that ended by `now` on to the next boundary after `now`
    /// (the spend in the new window starts at 0). One write, which moves the revision
    /// (the policy's budget windows change); returns how many records moved.
    pub async fn advance_budget_resets(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let mut moved = 0;
        for (table, id_column) in [
            ("api_keys", "token"),
            ("teams", "team_id"),
            ("organizations", "organization_id"),
        ] {
            let rows = tx
                .fetch_all(
                    Q::new(format!(
                        "SELECT {id_column} AS id, {BUDGET_COLUMNS} FROM {table} \
                         WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= $1"
                    ))
                    .time(Some(now)),
                )
                .await?;
            for row in rows {
                let id: String = row.get("id")?;
                let mut b = Budget::from_row(&row)?;
                let (Some(reset), Some(d)) = (
                    b.budget_reset_at,
                    b.budget_duration
                        .as_deref()
                        .and_then(|d| parse_duration(d).ok()),
                ) else {
                    continue;
                };
                b.budget_reset_at = Some(validate::timestamp(next_reset(reset, d, now)));
                b.store(&mut tx, table, id_column, &id).await?;
                moved += 1;
            }
        }
        if moved == 0 {
            // Nothing due: dropping the transaction rolls the revision bump back.
            return Ok(0);
        }
        tx.commit().await?;
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn resets_move_by_whole_windows_past_now() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let d = chrono::Duration::hours(1);
        assert_eq!(next_reset(t0, d, t0 - d), t0, "not due");
        assert_eq!(next_reset(t0, d, t0), t0 + d);
        assert_eq!(
            next_reset(t0, d, t0 + chrono::Duration::minutes(150)),
            t0 + chrono::Duration::hours(3)
        );
    }

    #[test]
    fn budgets_are_checked_and_windows_start_at_create() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let b = Budget::create(
            BudgetInput {
                max_budget: Some(5.0),
                budget_duration: Some("30d".into()),
            },
            now,
        )
        .unwrap();
        assert_eq!(b.budget_reset_at, Some(now + chrono::Duration::days(30)));
        assert_eq!(b.window_start(), Some(now));
        let e = Budget::create(
            BudgetInput {
                max_budget: Some(-1.0),
                budget_duration: None,
            },
            now,
        )
        .unwrap_err();
        assert!(e.to_string().contains("max_budget"), "{e}");
        let e = Budget::create(
            BudgetInput {
                max_budget: None,
                budget_duration: Some("soon".into()),
            },
            now,
        )
        .unwrap_err();
        assert!(e.to_string().contains("budget_duration"), "{e}");
        let mut b = Budget::default();
        b.apply(
            BudgetPatch {
                max_budget: Some(Some(1.0)),
                budget_duration: Some(Some("2s".into())),
            },
            now,
        )
        .unwrap();
        assert_eq!(b.budget_reset_at, Some(now + chrono::Duration::seconds(2)));
        b.apply(
            BudgetPatch {
                max_budget: None,
                budget_duration: Some(None),
            },
            now,
        )
        .unwrap();
        assert_eq!((b.max_budget, b.budget_reset_at), (Some(1.0), None));
    }
}
