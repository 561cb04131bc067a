//! Budgets: which keys, teams and organizations have used up their `max_budget` in the
//! current window, read from the spend rows in the store (so every replica on one
//! database sees every replica's spend), and published in the policy snapshot
//! (`SnapshotKey::budget_exceeded`), where the filter refuses their tool calls without
//! a hop. Windows move on at `budget_reset_at` (`Store::advance_budget_resets`).
//!
//! Polled every 250 ms, and at once when this replica records a charge that takes a
//! budget past its maximum ([`BudgetWatch`]: spend recorded here but not yet stored
//! counts too). So a key calling through this replica goes over budget in the filters
//! within one store read + the push to the filters' long-polls; spend made through
//! another replica counts once that replica has stored it (its batch time, 100 ms) and
//! this one has polled (≤ 250 ms).

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio::sync::Notify;

use meshgate_policy::budget::{BudgetExceeded, BudgetOwner};
use meshgate_store::{Snapshot, SpendOwner, SpendRow};

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

/// This replica's view between polls: spend recorded but not yet stored, the last
/// window spend read per budget, and the poller's wake-up.
#[derive(Default)]
pub struct BudgetWatch {
    unwritten: Mutex<HashMap<(BudgetOwner, String), f64>>,
    /// (owner, id) → (window spend as last read, max_budget), every budget.
    known: Mutex<HashMap<(BudgetOwner, String), (f64, f64)>>,
    pub wake: Notify,
}

fn owners(row: &SpendRow) -> impl Iterator<Item = (BudgetOwner, &str)> {
    [
        (BudgetOwner::Key, Some(row.api_key.as_str())),
        (BudgetOwner::Team, row.team_id.as_deref()),
        (BudgetOwner::Organization, row.organization_id.as_deref()),
    ]
    .into_iter()
    .filter_map(|(o, id)| Some((o, id?)))
}

impl BudgetWatch {
    /// Whether any key, team or organization has a budget (else rows need no charging).
    pub fn watches_any(&self) -> bool {
        !self
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// A row was queued: its cost counts towards its budgets until it is stored; a
    /// budget it takes to its maximum wakes the poller.
    pub fn charge(&self, row: &SpendRow) {
        if row.spend <= 0.0 {
            return;
        }
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let mut unwritten = self.unwritten.lock().unwrap_or_else(|e| e.into_inner());
        let mut crossed = false;
        for (owner, id) in owners(row) {
            let key = (owner, id.to_string());
            let Some((spend, max)) = known.get(&key) else {
                continue;
            };
            let pending = unwritten.entry(key).or_default();
            *pending += row.spend;
            crossed |= spend + *pending >= *max;
        }
        if crossed {
            self.wake.notify_one();
        }
    }

    /// Rows are stored: they count through the store from now on.
    pub fn stored(&self, rows: &[SpendRow]) {
        let mut unwritten = self.unwritten.lock().unwrap_or_else(|e| e.into_inner());
        if unwritten.is_empty() {
            return;
        }
        for row in rows.iter().filter(|r| r.spend > 0.0) {
            for (owner, id) in owners(row) {
                if let Some(pending) = unwritten.get_mut(&(owner, id.to_string())) {
                    *pending = (*pending - row.spend).max(0.0);
                }
            }
        }
        unwritten.retain(|_, v| *v > 1e-12);
    }

    fn unwritten(&self, owner: BudgetOwner, id: &str) -> f64 {
        let unwritten = self.unwritten.lock().unwrap_or_else(|e| e.into_inner());
        unwritten
            .get(&(owner, id.to_string()))
            .copied()
            .unwrap_or(0.0)
    }

    fn set_known(&self, known: HashMap<(BudgetOwner, String), (f64, f64)>) {
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = known;
    }

    /// (owner, id, window spend, max) per budget.
    #[cfg(test)]
    pub fn set_known_for_tests(&self, known: &[(BudgetOwner, &str, f64, f64)]) {
        self.set_known(
            known
                .iter()
                .map(|(o, id, spend, max)| ((*o, id.to_string()), (*spend, *max)))
                .collect(),
        );
    }

    #[cfg(test)]
    pub fn unwritten_for_tests(&self, owner: BudgetOwner, id: &str) -> f64 {
        self.unwritten(owner, id)
    }
}

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
    let mut known = HashMap::new();
    for b in &runtime.budgets {
        match state
            .store
            .spend_of(spend_owner(b.owner), &b.id, b.window_start)
            .await
        {
            Ok(stored) => {
                let spend = stored + state.budget_watch.unwritten(b.owner, &b.id);
                known.insert((b.owner, b.id.clone()), (spend, b.max_budget));
                // LiteLLM refuses once spend ≥ max_budget.
                if spend >= b.max_budget {
                    exceeded.insert((b.owner, b.id.clone()), (spend, b.max_budget));
                }
            }
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
    state.budget_watch.set_known(known);
    if state.set_budgets_exceeded(exceeded) {
        state.recompile().await;
    }
}
