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
            row(i, key, team, if i.is_multiple_of(3) { "add" } else { "echo" }, 0.25)
        })
        .collect();
    rows[0].spend = 1.5;
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
