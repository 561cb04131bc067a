use meshgate_store::{AuditQuery, NewAuditRow};

use crate::assert_invalid;
use crate::harness::Harness;

fn row(at_ms: i64, principal: &str, decision: &str, team: Option<&str>) -> NewAuditRow {
    NewAuditRow {
        at_ms,
        request_id: Some(format!("r{at_ms}")),
        decision: decision.into(),
        reason: if decision == "allowed" {
            "ok"
        } else {
            "invalid_key"
        }
        .into(),
        http_status: Some(if decision == "allowed" { 200 } else { 401 }),
        principal: Some(principal.into()),
        team_id: team.map(str::to_string),
        path: Some("/mcp".into()),
        ..NewAuditRow::default()
    }
}

fn query(page: i64, page_size: i64) -> AuditQuery {
    AuditQuery {
        page,
        page_size,
        ..AuditQuery::default()
    }
}

pub async fn audit_rows_filter_page_and_leave_the_revision_alone(h: Harness) {
    let s = &h.store;
    let rev = s.revision().await.unwrap();
    let rows: Vec<NewAuditRow> = (0..7)
        .map(|i| {
            let (who, decision) = if i % 2 == 0 {
                ("key:aaaa", "allowed")
            } else {
                ("unknown:bbbb", "refused")
            };
            row(1_000 + i, who, decision, (i < 3).then_some("t1"))
        })
        .collect();
    s.insert_audit_rows(&rows).await.unwrap();
    s.insert_audit_rows(&[]).await.unwrap();
    assert_eq!(
        s.revision().await.unwrap(),
        rev,
        "audit rows are not policy"
    );

    // Newest first, paged without overlap.
    let (first, total) = s.audit_rows(&query(1, 3)).await.unwrap();
    assert_eq!(total, 7);
    let at: Vec<i64> = first.iter().map(|r| r.row.at_ms).collect();
    assert_eq!(at, vec![1_006, 1_005, 1_004]);
    let (last, _) = s.audit_rows(&query(3, 3)).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].row, rows[0]);

    let filtered = |q: AuditQuery| async move { s.audit_rows(&q).await.unwrap().1 };
    let q = |f: &dyn Fn(&mut AuditQuery)| {
        let mut q = query(1, 100);
        f(&mut q);
        q
    };
    assert_eq!(
        filtered(q(&|q| q.principal = Some("key:aaaa".into()))).await,
        4
    );
    assert_eq!(
        filtered(q(&|q| q.decision = Some("refused".into()))).await,
        3
    );
    assert_eq!(filtered(q(&|q| q.team_id = Some("t1".into()))).await, 3);
    assert_eq!(
        filtered(q(&|q| {
            q.team_id = Some("t1".into());
            q.decision = Some("refused".into());
        }))
        .await,
        1
    );
    assert_eq!(
        filtered(q(&|q| {
            q.since_ms = Some(1_002);
            q.until_ms = Some(1_005);
        }))
        .await,
        3
    );
    assert_eq!(
        filtered(q(&|q| q.request_id = Some("r1003".into()))).await,
        1
    );
    // A hostile value is a bound parameter: it matches nothing.
    assert_eq!(
        filtered(q(&|q| q.principal = Some("' OR '1'='1".into()))).await,
        0
    );

    // Batches larger than one INSERT statement: every row, each once.
    let bulk: Vec<NewAuditRow> = (0..250)
        .map(|i| row(5_000 + i, "key:bulk", "allowed", None))
        .collect();
    s.insert_audit_rows(&bulk).await.unwrap();
    let mut q = query(1, 1000);
    q.principal = Some("key:bulk".into());
    let (read, total) = s.audit_rows(&q).await.unwrap();
    assert_eq!(total, 250);
    let mut at: Vec<i64> = read.iter().map(|r| r.row.at_ms).collect();
    at.reverse();
    assert_eq!(at, (5_000..5_250).collect::<Vec<i64>>());

    assert_invalid(s.audit_rows(&query(0, 10)).await, "page");
    assert_invalid(s.audit_rows(&query(1, 0)).await, "page_size");
    assert_invalid(s.audit_rows(&query(1, 1_001)).await, "page_size");
}
