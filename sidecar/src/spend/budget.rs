//! Budgets: which keys, teams and organizations have used up their `max_budget` in the
//! current window, read from the spend rows in the store (so every replica on one
//! database sees every replica's spend), and published in the policy snapshot
//! (`SnapshotKey::budget_exceeded`), where the filter refuses their tool calls without
//! a hop. Windows move on at `budget_reset_at` (`Store::advance_budget_resets`).
//!
//! Polled with the store (every 250 ms): a key goes over budget in the filters within
//! the writer's batch time (100 ms) + one poll + the push to the filters' long-polls.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use meshgate_policy::budget::{BudgetExceeded, BudgetOwner};
use meshgate_store::{Snapshot, SpendOwner};

use crate::state::AppState;

/// A key (by hash), team or organization with a budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Budgeted {
    pub owner: BudgetOwner,
    pub id: String,
    pub max_budget: f64,
    /// Spend counts from here (None: since ever).
    pub window_start: Option<DateTime<Utc>>,
    pub reset_at: Option<DateTime<Utc>>,
}

/// Which budgets are used up: (owner, id) → (spend, max).
pub type Exceeded = BTreeMap<(BudgetOwner, String), (f64, f64)>;

/// Every budget of the database.
pub fn budgeted(db: &Snapshot) -> Vec<Budgeted> {
    let keys = db
        .keys
        .iter()
        .map(|k| (BudgetOwner::Key, k.token.to_ascii_lowercase(), &k.budget));
    let teams = db
        .teams
        .iter()
        .map(|t| (BudgetOwner::Team, t.team_id.clone(), &t.budget));
    let orgs = db.organizations.iter().map(|o| {
        (
            BudgetOwner::Organization,
            o.organization_id.clone(),
            &o.budget,
        )
    });
    keys.chain(teams)
        .chain(orgs)
        .filter_map(|(owner, id, b)| {
            Some(Budgeted {
                owner,
                id,
                max_budget: b.max_budget?,
                window_start: b.window_start(),
                reset_at: b.budget_reset_at,
            })
        })
        .collect()
}

/// For each key hash of the database, its used-up budget: its own, else its team's,
/// else its organization's (LiteLLM checks them in this order).
pub fn per_key(db: &Snapshot, exceeded: &Exceeded) -> BTreeMap<String, BudgetExceeded> {
    let find = |owner: BudgetOwner, id: Option<&String>| {
        let id = id?;
        exceeded
            .get(&(owner, id.clone()))
            .map(|(spend, max)| BudgetExceeded {
                owner,
                id: (owner != BudgetOwner::Key).then(|| id.clone()),
                spend: *spend,
                max_budget: *max,
            })
    };
    db.keys
        .iter()
        .filter_map(|k| {
            let hash = k.token.to_ascii_lowercase();
            let over = find(BudgetOwner::Key, Some(&hash))
                .or_else(|| find(BudgetOwner::Team, k.team_id.as_ref()))
                .or_else(|| find(BudgetOwner::Organization, k.organization_id.as_ref()))?;
            Some((hash, over))
        })
        .collect()
}

fn spend_owner(o: BudgetOwner) -> SpendOwner {
    match o {
        BudgetOwner::Key => SpendOwner::Key,
        BudgetOwner::Team => SpendOwner::Team,
        BudgetOwner::Organization => SpendOwner::Organization,
    }
}

/// One round: move windows that ended, read the spend of every budget, and recompile
/// the policy when the set of used-up budgets (or their figures) changed.
pub async fn poll(state: &AppState) {
    let now = Utc::now();
    if state
        .runtime()
        .budgets
        .iter()
        .any(|b| b.reset_at.is_some_and(|r| r <= now))
    {
        match state.store.advance_budget_resets(now).await {
            Ok(moved) if moved > 0 => {
                tracing::info!(budgets = moved, "budget windows reset");
                state.refresh_from_store().await;
            }
            Ok(_) => {}
            Err(e) => {
                crate::log_limit::warn_limited!(
                    "budget",
                    "reset",
                    "cannot reset budget windows: {e}"
                );
            }
        }
    }
    let runtime = state.runtime();
    let mut exceeded = Exceeded::new();
    for b in &runtime.budgets {
        match state
            .store
            .spend_of(spend_owner(b.owner), &b.id, b.window_start)
            .await
        {
            // LiteLLM refuses once spend ≥ max_budget.
            Ok(spend) if spend >= b.max_budget => {
                exceeded.insert((b.owner, b.id.clone()), (spend, b.max_budget));
            }
            Ok(_) => {}
            Err(e) => {
                // Keep what is known: a store outage neither lifts nor imposes a budget.
                crate::log_limit::warn_limited!(
                    "budget",
                    "spend",
                    "cannot read spend for budgets: {e}"
                );
                return;
            }
        }
    }
    if state.set_budgets_exceeded(exceeded) {
        state.recompile().await;
    }
}
