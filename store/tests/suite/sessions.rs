use crate::harness::Harness;

pub async fn revocations_are_shared_bounded_and_pruned(h: Harness) {
    let s = &h.store;
    let rev = s.revision().await.unwrap();
    s.revoke_session("a", 1_000, 5_000).await.unwrap();
    s.revoke_session("b", 2_000, 9_000).await.unwrap();
    // Twice is harmless and keeps the first record.
    s.revoke_session("a", 3_000, 7_000).await.unwrap();
    // Not policy: nothing recompiles.
    assert_eq!(s.revision().await.unwrap(), rev);

    let keys = |v: Vec<meshgate_store::SessionRevocation>| {
        v.into_iter()
            .map(|r| (r.session_key, r.revoked_at_ms, r.expires_at_ms))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(s.session_revocations_since(0, 0).await.unwrap()),
        vec![("a".into(), 1_000, 5_000), ("b".into(), 2_000, 9_000)]
    );
    assert_eq!(
        keys(s.session_revocations_since(1_500, 0).await.unwrap()),
        vec![("b".into(), 2_000, 9_000)]
    );
    // Expired ids need no revocation: not returned, then pruned.
    assert_eq!(
        keys(s.session_revocations_since(0, 6_000).await.unwrap()),
        vec![("b".into(), 2_000, 9_000)]
    );
    assert_eq!(s.prune_session_revocations(6_000).await.unwrap(), 1);
    assert_eq!(s.prune_session_revocations(6_000).await.unwrap(), 0);
    assert_eq!(
        keys(s.session_revocations_since(0, 0).await.unwrap()),
        vec![("b".into(), 2_000, 9_000)]
    );
    // Another connection (another replica) sees the same set.
    let again = h.reopen().await;
    assert_eq!(
        again.session_revocations_since(0, 0).await.unwrap().len(),
        1
    );
    again.close().await;
    crate::assert_invalid(s.revoke_session("", 0, 1).await, "session_key");
}
