use crate::harness::Harness;
use meshgate_store::{StoreError, StoredResponse};
use serde_json::json;

fn answer(id: &str, owner: &str, created: i64, expires: i64) -> StoredResponse {
    StoredResponse {
        id: id.into(),
        owner: owner.into(),
        model: "m".into(),
        input: json!([{"type": "message", "role": "user", "content": "é ünïcode 'quoted'"}]),
        output: json!([{"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": "hi"}]}]),
        created_at_ms: created,
        expires_at_ms: expires,
    }
}

pub async fn responses_are_read_by_their_owner_only_until_they_expire(h: Harness) {
    let s = &h.store;
    let rev = s.revision().await.unwrap();
    let a = answer("resp_a", "key:a", 1_000, 10_000);
    s.put_response(&a).await.unwrap();
    s.put_response(&answer("resp_old", "key:a", 1_000, 2_000))
        .await
        .unwrap();
    // Not policy: nothing recompiles.
    assert_eq!(s.revision().await.unwrap(), rev);
    // Its owner reads it back whole.
    assert_eq!(
        s.response_of("resp_a", "key:a", 5_000).await.unwrap(),
        Some(a.clone())
    );
    // Another principal, an unknown id, an expired one: nothing, alike.
    assert_eq!(s.response_of("resp_a", "key:b", 5_000).await.unwrap(), None);
    assert_eq!(
        s.response_of("resp_nosuch", "key:a", 5_000).await.unwrap(),
        None
    );
    assert_eq!(
        s.response_of("resp_a", "key:a", 10_000).await.unwrap(),
        None
    );
    assert_eq!(
        s.response_of("resp_old", "key:a", 2_000).await.unwrap(),
        None
    );
    // An id is kept once: another principal cannot overwrite it.
    let err = s
        .put_response(&answer("resp_a", "key:b", 3_000, 10_000))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(s.response_of("resp_a", "key:b", 5_000).await.unwrap(), None);
    assert!(s.put_response(&answer("", "key:a", 1, 2)).await.is_err());
    // Expired rows go (a write prunes them too).
    assert_eq!(s.prune_responses(9_000).await.unwrap(), 1, "resp_old");
    assert_eq!(s.prune_responses(20_000).await.unwrap(), 1, "resp_a");
    assert_eq!(s.response_of("resp_a", "key:a", 5_000).await.unwrap(), None);
}
