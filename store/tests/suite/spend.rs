use chrono::{Duration, TimeZone, Utc};
use meshgate_store::{SpendFilter, SpendOwner, SpendRow};

use crate::harness::Harness;

fn row(i: usize, key: &str, team: Option<&str>, tool: &str, spend: f64) -> SpendRow {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(i as i64);
    SpendRow {
        request_id: format!("req-{i}"),
        call_type: "call_mcp_tool".into(),
        api_key: key.into(),
        key_alias: Some(format!("alias-{key}")),
        team_id: team.map(str::to_string),
        organization_id: team.map(|_| "org1".to_string()),
        user_id: None,
        end_user: i.is_multiple_of(2).then(|| "alice".to_string()),
        model: format!("MCP: web-{tool}"),
        mcp_server: Some("web".into()),
        mcp_tool: Some(tool.into()),
        spend,
        status: "ok".into(),
        start_time: start,
        end_time: start + Duration::milliseconds(5),
        latency_ms: 5,
        upstream_protocol: Some("http".into()),
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
    }
}

pub async fn spend_rows_batch_filter_page_and_sum(h: Harness) {
    let s = &h.store;
    let rev = s.revision().await.unwrap();
    let mut rows: Vec<SpendRow> = (0..300)
        .map(|i| {
            let (key, team) = if i < 200 {
                ("k1", Some("t1"))
            } else {
                ("k2", None)
            };
            row(
                i,
                key,
                team,
                if i.is_multiple_of(3) { "add" } else { "echo" },
                0.25,
            )
        })
        .collect();
    rows[0].spend = 1.5;
    // An LLM request's row (migration 9): its tokens round-trip.
    rows[0].call_type = "acompletion".into();
    (
        rows[0].prompt_tokens,
        rows[0].completion_tokens,
        rows[0].total_tokens,
    ) = (20, 10, 30);
    // More than one statement's batch; written once even when retried.
    assert_eq!(s.insert_spend(&rows).await.unwrap(), 300);
    assert_eq!(s.insert_spend(&rows[..10]).await.unwrap(), 0);
    // Bookkeeping, not policy: nothing recompiles.
    assert_eq!(s.revision().await.unwrap(), rev);

    let all = SpendFilter::default();
    let (page1, total) = s.spend_logs(&all, 1, 100).await.unwrap();
    assert_eq!((page1.len(), total), (100, 300));
    assert_eq!(page1[0].request_id, "req-299", "newest first");
    let (page3, _) = s.spend_logs(&all, 3, 100).await.unwrap();
    assert_eq!(page3.last().unwrap(), &rows[0], "a row round-trips exactly");
    let (empty, _) = s.spend_logs(&all, 4, 100).await.unwrap();
    assert!(empty.is_empty());

    let by_key = SpendFilter {
        api_key: Some("k2".into()),
        ..Default::default()
    };
    assert_eq!(s.spend_logs(&by_key, 1, 1000).await.unwrap().1, 100);
    let by_team_user = SpendFilter {
        team_id: Some("t1".into()),
        end_user: Some("alice".into()),
        ..Default::default()
    };
    assert_eq!(s.spend_logs(&by_team_user, 1, 1000).await.unwrap().1, 100);
    let t0 = rows[0].start_time;
    let window = SpendFilter {
        start: Some(t0 + Duration::seconds(10)),
        end: Some(t0 + Duration::seconds(20)),
        ..Default::default()
    };
    let (w, n) = s.spend_logs(&window, 1, 1000).await.unwrap();
    assert_eq!(n, 10);
    assert!(w
        .iter()
        .all(|r| r.start_time >= t0 + Duration::seconds(10)
            && r.start_time < t0 + Duration::seconds(20)));

    let k1 = s.spend_of(SpendOwner::Key, "k1", None).await.unwrap();
    assert!((k1 - (1.5 + 199.0 * 0.25)).abs() < 1e-9, "{k1}");
    let team = s.spend_of(SpendOwner::Team, "t1", None).await.unwrap();
    assert!((team - k1).abs() < 1e-9);
    let org = s
        .spend_of(SpendOwner::Organization, "org1", None)
        .await
        .unwrap();
    assert!((org - k1).abs() < 1e-9);
    let since = s
        .spend_of(SpendOwner::Key, "k1", Some(t0 + Duration::seconds(1)))
        .await
        .unwrap();
    assert!((since - 199.0 * 0.25).abs() < 1e-9, "{since}");
    assert_eq!(
        s.spend_of(SpendOwner::Key, "nobody", None).await.unwrap(),
        0.0
    );

    let summary = s.spend_summary(&by_key).await.unwrap();
    let calls: i64 = summary.iter().map(|g| g.calls).sum();
    assert_eq!(calls, 100);
    assert_eq!(summary.len(), 2);
    assert!(summary[0].spend >= summary[1].spend);
}

pub async fn budgets_round_trip_and_windows_advance(h: Harness) {
    use meshgate_store::{
        BudgetInput, BudgetPatch, KeyPatch, NewKey, NewOrganization, NewTeam, TeamPatch,
    };
    let s = &h.store;
    let org = s
        .create_organization(NewOrganization {
            organization_alias: "o".into(),
            budget: BudgetInput {
                max_budget: Some(10.0),
                budget_duration: None,
            },
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(org.budget.max_budget, Some(10.0));
    assert_eq!(
        s.get_organization(&org.organization_id)
            .await
            .unwrap()
            .budget,
        org.budget
    );
    let team = s
        .create_team(NewTeam {
            team_id: Some("t".into()),
            budget: BudgetInput {
                max_budget: Some(2.5),
                budget_duration: Some("1h".into()),
            },
            ..Default::default()
        })
        .await
        .unwrap();
    let reset = team.budget.budget_reset_at.unwrap();
    assert_eq!(s.get_team("t").await.unwrap().budget, team.budget);
    let (_, key) = s
        .generate_key(NewKey {
            budget: BudgetInput {
                max_budget: Some(1.0),
                budget_duration: Some("2s".into()),
            },
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(s.key_info(&key.token).await.unwrap().budget, key.budget);
    let bad = s
        .generate_key(NewKey {
            budget: BudgetInput {
                max_budget: Some(f64::NAN),
                budget_duration: None,
            },
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("max_budget"), "{bad}");

    // Nothing due: no write, the revision stays.
    let rev = s.revision().await.unwrap();
    assert_eq!(
        s.advance_budget_resets(chrono::Utc::now()).await.unwrap(),
        0
    );
    assert_eq!(s.revision().await.unwrap(), rev);
    // The key's window ended: moved past `now`, by whole windows; the team's has not.
    let later = key.budget.budget_reset_at.unwrap() + Duration::milliseconds(4500);
    assert_eq!(s.advance_budget_resets(later).await.unwrap(), 1);
    assert!(s.revision().await.unwrap() > rev);
    let moved = s
        .key_info(&key.token)
        .await
        .unwrap()
        .budget
        .budget_reset_at
        .unwrap();
    assert_eq!(
        moved,
        key.budget.budget_reset_at.unwrap() + Duration::seconds(6)
    );
    assert_eq!(
        s.get_team("t").await.unwrap().budget.budget_reset_at,
        Some(reset)
    );

    // Updates: a new duration starts a new window; null clears.
    let k = s
        .update_key(
            &key.token,
            KeyPatch {
                budget: BudgetPatch {
                    max_budget: Some(None),
                    budget_duration: None,
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(k.budget.max_budget, None);
    assert_eq!(k.budget.budget_duration.as_deref(), Some("2s"));
    let t = s
        .update_team(
            "t",
            TeamPatch {
                budget: BudgetPatch {
                    max_budget: None,
                    budget_duration: Some(Some("30d".into())),
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(t.budget.budget_reset_at.unwrap() > reset + Duration::days(29));
    assert_eq!(t.budget.max_budget, Some(2.5));
}
