use super::*;
use chrono::Utc;
use std::sync::Mutex;
use tokio::sync::Notify;

fn row(i: usize) -> SpendRow {
    SpendRow {
        request_id: format!("r{i}"),
        call_type: "call_mcp_tool".into(),
        api_key: "k".into(),
        key_alias: None,
        team_id: None,
        organization_id: None,
        user_id: None,
        end_user: None,
        model: "MCP: a-b".into(),
        mcp_server: None,
        mcp_tool: None,
        spend: 0.0,
        status: "ok".into(),
        start_time: Utc::now(),
        end_time: Utc::now(),
        latency_ms: 0,
        upstream_protocol: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
    }
}

/// A sink that holds every batch until released, and remembers what it got.
struct Gate {
    entered: Notify,
    release: Notify,
    held: std::sync::atomic::AtomicBool,
    got: Mutex<Vec<String>>,
}

fn gated() -> (Arc<Gate>, Sink) {
    let gate = Arc::new(Gate {
        entered: Notify::new(),
        release: Notify::new(),
        held: true.into(),
        got: Mutex::new(Vec::new()),
    });
    let g = Arc::clone(&gate);
    let sink: Sink = Arc::new(move |rows: Arc<Vec<SpendRow>>| {
        let g = Arc::clone(&g);
        Box::pin(async move {
            g.entered.notify_one();
            if g.held.load(Ordering::SeqCst) {
                g.release.notified().await;
            }
            g.got
                .lock()
                .unwrap()
                .extend(rows.iter().map(|r| r.request_id.clone()));
            Ok(())
        })
    });
    (gate, sink)
}

#[tokio::test]
async fn a_full_queue_waits_briefly_then_drops_and_counts() {
    let (gate, sink) = gated();
    let log = SpendLog::start(sink, 2, Duration::from_millis(20), Duration::ZERO);
    // The writer takes the first row and is held in the store…
    log.record(row(0)).await;
    gate.entered.notified().await;
    // …so two rows fill the queue and the next two find it full for the whole wait.
    for i in 1..=4 {
        log.record(row(i)).await;
    }
    assert_eq!(log.counters.dropped.load(Ordering::SeqCst), 2);
    assert_eq!(log.counters.recorded.load(Ordering::SeqCst), 5);
    assert_eq!(log.metrics()["spend_rows_dropped"], 2);
    assert_eq!(log.metrics()["spend_queue_length"], 2);
    // Released, everything queued is written, and a flush says so.
    gate.held.store(false, Ordering::SeqCst);
    gate.release.notify_one();
    assert!(log.flush(Duration::from_secs(5)).await);
    assert_eq!(*gate.got.lock().unwrap(), ["r0", "r1", "r2"]);
    assert_eq!(log.counters.written.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn flush_writes_everything_queued() {
    let (gate, sink) = gated();
    gate.held.store(false, Ordering::SeqCst);
    let log = SpendLog::start(sink, 10_000, DEFAULT_WAIT, Duration::from_secs(3600));
    for i in 0..1000 {
        log.record(row(i)).await;
    }
    assert!(log.flush(Duration::from_secs(5)).await);
    assert_eq!(gate.got.lock().unwrap().len(), 1000);
    assert_eq!(log.counters.dropped.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_failing_store_is_retried_then_counted() {
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c = Arc::clone(&calls);
    let sink: Sink = Arc::new(move |_rows| {
        let c = Arc::clone(&c);
        Box::pin(async move {
            // Fails twice, then takes the batch.
            if c.fetch_add(1, Ordering::SeqCst) < 2 {
                Err("database is locked".to_string())
            } else {
                Ok(())
            }
        })
    });
    let log = SpendLog::start(sink, 10, DEFAULT_WAIT, DEFAULT_LINGER);
    log.record(row(0)).await;
    assert!(log.flush(Duration::from_secs(5)).await);
    assert_eq!(log.counters.written.load(Ordering::SeqCst), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let sink: Sink = Arc::new(|_rows| Box::pin(async { Err("gone".to_string()) }));
    let log = SpendLog::start(sink, 10, DEFAULT_WAIT, DEFAULT_LINGER);
    log.record(row(0)).await;
    assert!(log.flush(Duration::from_secs(10)).await);
    assert_eq!(log.counters.failed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unwritten_spend_counts_and_a_crossing_wakes_the_budget_poller() {
    use super::budget::BudgetWatch;
    use meshgate_policy::budget::BudgetOwner;
    let watch = BudgetWatch::default();
    let mut charged = row(0);
    charged.api_key = "k".into();
    charged.team_id = Some("t".into());
    charged.spend = 0.5;
    // No budget known for the key yet: nothing is tracked.
    watch.charge(&charged);
    watch.stored(&[charged.clone()]);
    watch.set_known_for_tests(&[
        (BudgetOwner::Key, "k", 0.4, 1.0),
        (BudgetOwner::Team, "t", 0.0, 10.0),
    ]);
    watch.charge(&charged);
    assert!((watch.unwritten_for_tests(BudgetOwner::Key, "k") - 0.5).abs() < 1e-12);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), watch.wake.notified())
            .await
            .is_err(),
        "0.9 of 1.0: not crossed"
    );
    watch.charge(&charged);
    tokio::time::timeout(Duration::from_secs(1), watch.wake.notified())
        .await
        .expect("1.4 of 1.0 wakes the poller");
    watch.stored(&[charged.clone(), charged]);
    assert_eq!(watch.unwritten_for_tests(BudgetOwner::Key, "k"), 0.0);
    assert_eq!(watch.unwritten_for_tests(BudgetOwner::Team, "t"), 0.0);
}

#[test]
fn request_ids_are_uuid_v7_and_sort_by_time() {
    let first = record::request_id();
    std::thread::sleep(std::time::Duration::from_millis(3));
    let ids: Vec<String> = (0..1000).map(|_| record::request_id()).collect();
    for id in std::iter::once(&first).chain(&ids) {
        assert_eq!(id.len(), 36, "{id}");
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{id}"
        );
        assert!(parts[2].starts_with('7'), "version 7: {id}");
        assert!(
            matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
            "variant: {id}"
        );
    }
    // Made later, sorts later (across milliseconds); never twice the same.
    assert!(ids.iter().all(|id| id > &first));
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    // The time prefix is now.
    let ms = i64::from_str_radix(&first.replace('-', "")[..12], 16).unwrap();
    assert!((Utc::now().timestamp_millis() - ms).abs() < 60_000);
}
