use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use meshgate_store::{
    hash_key, KeyPatch, NewKey, NewOrganization, NewTeam, ObjectPermission, StoreError,
};
use serde_json::json;

use crate::harness::Harness;
use crate::{assert_conflict, assert_invalid, assert_not_found};

pub async fn generate_returns_plaintext_once_and_stores_only_the_hash(h: Harness) {
    let (plain, key) = h
        .store
        .generate_key(NewKey {
            key_alias: Some("ci".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(plain.starts_with("sk-"), "{plain}");
    assert_eq!(plain.len(), 46);
    assert_eq!(key.token, hash_key(&plain));
    assert_eq!(key.token.len(), 64);
    assert_eq!(key.key_name, format!("sk-...{}", &plain[plain.len() - 4..]));
    assert!(!key.blocked);
    assert_eq!(key.expires, None);
    assert_eq!(key.created_at, key.updated_at);

    // The record, its JSON and every stored row carry the hash, never the plaintext.
    let secret_part = &plain[3..];
    assert!(!serde_json::to_string(&key).unwrap().contains(secret_part));
    let listed = serde_json::to_string(&h.store.list_keys().await.unwrap()).unwrap();
    assert!(!listed.contains(secret_part));
    let rows = h.raw_rows("api_keys").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains(&key.token), "{}", rows[0]);
    assert!(!rows[0].contains(secret_part), "{}", rows[0]);
    if let Some(found) = h.files_contain(secret_part) {
        assert!(!found, "the plaintext key is in the SQLite files");
        assert_eq!(h.files_contain(&key.token), Some(true));
    }

    // Every call makes a different key.
    let (plain2, key2) = h.store.generate_key(NewKey::default()).await.unwrap();
    assert_ne!(plain, plain2);
    assert_ne!(key.token, key2.token);
}

pub async fn key_info_by_plaintext_hash_and_id(h: Harness) {
    let (plain, key) = h.store.generate_key(NewKey::default()).await.unwrap();
    assert_eq!(h.store.key_info(&plain).await.unwrap(), key);
    assert_eq!(h.store.key_info(&key.token).await.unwrap(), key);
    assert_eq!(
        h.store.key_info(&key.token.to_uppercase()).await.unwrap(),
        key
    );
    assert_eq!(h.store.key_info(&format!(" {plain} ")).await.unwrap(), key);

    assert_not_found(h.store.key_info("sk-not-a-key").await, "key");
    assert_not_found(h.store.key_info(&hash_key("sk-other")).await, "key");
    assert_not_found(h.store.key_info("team-1").await, "key");
    assert_not_found(h.store.key_info("").await, "key");
    // A NotFound for a plaintext never repeats the plaintext.
    let err = h
        .store
        .key_info("sk-this-is-secret-abcd")
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("this-is-secret"), "{err}");
    assert!(err.contains("sk-...abcd"), "{err}");
}

pub async fn caller_chosen_key(h: Harness) {
    let chosen = "sk-imported-from-litellm-0001";
    let (plain, key) = h
        .store
        .generate_key(NewKey {
            key: Some(chosen.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(plain, chosen);
    assert_eq!(key.token, hash_key(chosen));
    assert_eq!(key.key_name, "sk-...0001");
    assert!(!format!(
        "{:?}",
        NewKey {
            key: Some(chosen.into()),
            ..Default::default()
        }
    )
    .contains("imported"));

    let msg = assert_conflict(
        h.store
            .generate_key(NewKey {
                key: Some(chosen.into()),
                ..Default::default()
            })
            .await,
    );
    assert!(!msg.contains("imported"), "{msg}");
    assert_invalid(
        h.store
            .generate_key(NewKey {
                key: Some("not-sk-prefixed-key-000".into()),
                ..Default::default()
            })
            .await,
        "key",
    );
    assert_invalid(
        h.store
            .generate_key(NewKey {
                key: Some("sk-short".into()),
                ..Default::default()
            })
            .await,
        "key",
    );
}

pub async fn update_patch_semantics(h: Harness) {
    let expires = Utc::now() + Duration::days(3);
    let (plain, key) = h
        .store
        .generate_key(NewKey {
            key_alias: Some("alias".into()),
            metadata: Some(json!({"owner": "ann"}).as_object().unwrap().clone()),
            user_id: Some("ann".into()),
            expires: Some(expires),
            rpm_limit: Some(60),
            ..Default::default()
        })
        .await
        .unwrap();
    // Stored at microsecond precision, identical on both backends.
    assert_eq!(
        key.expires.unwrap().timestamp_micros(),
        expires.timestamp_micros()
    );

    // Absent fields stay as they are.
    let blocked = h
        .store
        .update_key(
            &plain,
            KeyPatch {
                blocked: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(blocked.blocked);
    assert_eq!(blocked.key_alias, key.key_alias);
    assert_eq!(blocked.metadata, key.metadata);
    assert_eq!(blocked.user_id, key.user_id);
    assert_eq!(blocked.expires, key.expires);
    assert_eq!(blocked.rpm_limit, key.rpm_limit);
    assert_eq!(blocked.created_at, key.created_at);
    assert!(blocked.updated_at >= key.updated_at);
    assert_eq!(h.store.key_info(&key.token).await.unwrap(), blocked);

    // An empty JSON patch changes nothing (but the timestamp).
    let patch: KeyPatch = serde_json::from_str("{}").unwrap();
    assert_eq!(patch, KeyPatch::default());
    let same = h.store.update_key(&key.token, patch).await.unwrap();
    assert_eq!(same.key_alias, blocked.key_alias);
    assert_eq!(same.rpm_limit, blocked.rpm_limit);

    // Explicit nulls clear.
    let patch: KeyPatch = serde_json::from_value(json!({
        "key_alias": null, "metadata": null, "user_id": null, "expires": null, "rpm_limit": null
    }))
    .unwrap();
    let cleared = h.store.update_key(&key.token, patch).await.unwrap();
    assert_eq!(cleared.key_alias, None);
    assert!(cleared.metadata.is_empty());
    assert_eq!(cleared.user_id, None);
    assert_eq!(cleared.expires, None);
    assert_eq!(cleared.rpm_limit, None);
    assert!(cleared.blocked, "not in the patch, so unchanged");
    assert_eq!(cleared.token, key.token);
    assert_eq!(cleared.key_name, key.key_name);

    // Values set.
    let patch: KeyPatch = serde_json::from_value(json!({
        "key_alias": "renamed", "metadata": {"a": 1}, "rpm_limit": 5, "duration": "1h", "blocked": false
    }))
    .unwrap();
    let set = h.store.update_key(&key.token, patch).await.unwrap();
    assert_eq!(set.key_alias.as_deref(), Some("renamed"));
    assert_eq!(
        serde_json::Value::Object(set.metadata.clone()),
        json!({"a": 1})
    );
    assert_eq!(set.rpm_limit, Some(5));
    assert!(!set.blocked);
    let exp = set.expires.unwrap();
    assert!(exp > Utc::now() + Duration::minutes(59) && exp <= Utc::now() + Duration::hours(1));
    assert_eq!(h.store.key_info(&plain).await.unwrap(), set);

    assert_not_found(
        h.store
            .update_key(&hash_key("sk-missing"), KeyPatch::default())
            .await,
        "key",
    );
    assert_invalid(
        h.store
            .update_key(
                &key.token,
                KeyPatch {
                    expires: Some(None),
                    duration: Some("1d".into()),
                    ..Default::default()
                },
            )
            .await,
        "duration",
    );
}

pub async fn permissions_none_and_empty_round_trip(h: Harness) {
    let cases = [
        ObjectPermission::default(),
        ObjectPermission {
            mcp_servers: Some(vec![]),
            mcp_access_groups: Some(vec![]),
            mcp_tool_permissions: Some(BTreeMap::new()),
        },
        ObjectPermission {
            mcp_servers: Some(vec!["github".into(), "Zapier".into()]),
            mcp_access_groups: None,
            mcp_tool_permissions: Some(BTreeMap::from([
                ("github".to_string(), vec![]),
                (
                    "zapier".to_string(),
                    vec!["send_email".into(), "list".into()],
                ),
            ])),
        },
    ];
    for perm in cases {
        let (_, key) = h
            .store
            .generate_key(NewKey {
                object_permission: perm.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(key.object_permission, perm);
        assert_eq!(
            h.store
                .key_info(&key.token)
                .await
                .unwrap()
                .object_permission,
            perm
        );
    }

    // JSON: null and [] stay distinct.
    let (_, key) = h
        .store
        .generate_key(
            serde_json::from_value(json!({
                "object_permission": {"mcp_servers": [], "mcp_access_groups": null}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let stored = h.store.key_info(&key.token).await.unwrap();
    let v = serde_json::to_value(&stored).unwrap();
    assert_eq!(v["object_permission"]["mcp_servers"], json!([]));
    assert_eq!(v["object_permission"]["mcp_access_groups"], json!(null));
    assert_eq!(v["object_permission"]["mcp_tool_permissions"], json!(null));

    // Field-wise patch: set one, clear one, keep one.
    let patch: KeyPatch = serde_json::from_value(json!({
        "object_permission": {"mcp_access_groups": ["dev"], "mcp_servers": null}
    }))
    .unwrap();
    let mut full = h
        .store
        .update_key(
            &key.token,
            KeyPatch {
                object_permission: Some(Some(meshgate_store::ObjectPermissionPatch {
                    mcp_tool_permissions: Some(Some(BTreeMap::from([("s".into(), vec![])]))),
                    ..Default::default()
                })),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(full.object_permission.mcp_servers, Some(vec![]));
    full = h.store.update_key(&key.token, patch).await.unwrap();
    assert_eq!(
        full.object_permission,
        ObjectPermission {
            mcp_servers: None,
            mcp_access_groups: Some(vec!["dev".into()]),
            mcp_tool_permissions: Some(BTreeMap::from([("s".into(), vec![])])),
        }
    );
    // `object_permission: null` clears everything.
    let patch: KeyPatch = serde_json::from_value(json!({"object_permission": null})).unwrap();
    let none = h.store.update_key(&key.token, patch).await.unwrap();
    assert_eq!(none.object_permission, ObjectPermission::default());
    assert_eq!(
        h.store
            .key_info(&key.token)
            .await
            .unwrap()
            .object_permission,
        ObjectPermission::default()
    );
}

pub async fn blocked_and_expiry(h: Harness) {
    let now = Utc::now();
    let (_, key) = h
        .store
        .generate_key(NewKey {
            duration: Some("1h".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(key.is_usable(now));
    assert!(!key.is_usable(now + Duration::hours(2)));
    assert!(key.is_expired(now + Duration::hours(2)));

    let (_, past) = h
        .store
        .generate_key(NewKey {
            expires: Some(now - Duration::seconds(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!h.store.key_info(&past.token).await.unwrap().is_usable(now));

    let (_, forever) = h
        .store
        .generate_key(NewKey {
            blocked: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!forever.is_usable(now));
    let unblocked = h
        .store
        .update_key(
            &forever.token,
            KeyPatch {
                blocked: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(unblocked.is_usable(now + Duration::days(10_000)));

    assert_invalid(
        h.store
            .generate_key(NewKey {
                expires: Some(now),
                duration: Some("1d".into()),
                ..Default::default()
            })
            .await,
        "duration",
    );
    assert_invalid(
        h.store
            .generate_key(NewKey {
                duration: Some("soon".into()),
                ..Default::default()
            })
            .await,
        "duration",
    );
}

pub async fn invalid_key_input_names_the_field(h: Harness) {
    let s = &h.store;
    let bad = |f: fn(&mut NewKey)| {
        let mut k = NewKey::default();
        f(&mut k);
        k
    };
    assert_invalid(
        s.generate_key(bad(|k| k.key_alias = Some(String::new())))
            .await,
        "key_alias",
    );
    assert_invalid(
        s.generate_key(bad(|k| k.key_alias = Some("a\u{7}".into())))
            .await,
        "key_alias",
    );
    assert_invalid(
        s.generate_key(bad(|k| k.rpm_limit = Some(-1))).await,
        "rpm_limit",
    );
    assert_invalid(
        s.generate_key(bad(|k| k.team_id = Some(" t".into()))).await,
        "team_id",
    );
    assert_invalid(
        s.generate_key(bad(|k| k.user_id = Some("x".repeat(300))))
            .await,
        "user_id",
    );
    assert_invalid(
        s.generate_key(bad(|k| k.team_id = Some("no-such-team".into())))
            .await,
        "team_id",
    );
    assert_invalid(
        s.generate_key(bad(|k| k.organization_id = Some("no-such-org".into())))
            .await,
        "organization_id",
    );
    assert_invalid(
        s.generate_key(bad(|k| {
            k.object_permission.mcp_servers = Some(vec![String::new()])
        }))
        .await,
        "object_permission.mcp_servers",
    );
    assert_invalid(
        s.generate_key(bad(|k| {
            k.object_permission.mcp_access_groups = Some(vec!["\n".into()])
        }))
        .await,
        "object_permission.mcp_access_groups",
    );
    assert_invalid(
        s.generate_key(bad(|k| {
            k.object_permission.mcp_tool_permissions =
                Some(BTreeMap::from([("gh".into(), vec![String::new()])]))
        }))
        .await,
        "object_permission.mcp_tool_permissions.gh",
    );
    assert_invalid(
        s.generate_key(bad(|k| {
            let mut big = serde_json::Map::new();
            big.insert("blob".into(), json!("x".repeat(300 * 1024)));
            k.metadata = Some(big);
        }))
        .await,
        "metadata",
    );
    let (_, key) = s.generate_key(NewKey::default()).await.unwrap();
    assert_invalid(
        s.update_key(
            &key.token,
            KeyPatch {
                rpm_limit: Some(Some(-5)),
                ..Default::default()
            },
        )
        .await,
        "rpm_limit",
    );
    assert_invalid(
        s.update_key(
            &key.token,
            KeyPatch {
                team_id: Some(Some("ghost".into())),
                ..Default::default()
            },
        )
        .await,
        "team_id",
    );
    // Nothing was written by any of the failures.
    assert_eq!(s.list_keys().await.unwrap(), vec![key]);
    assert_eq!(s.revision().await.unwrap(), 1);

    // Duplicate aliases conflict.
    s.generate_key(NewKey {
        key_alias: Some("dup".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let msg = assert_conflict(
        s.generate_key(NewKey {
            key_alias: Some("dup".into()),
            ..Default::default()
        })
        .await,
    );
    assert!(msg.contains("key_alias"), "{msg}");
}

pub async fn delete_keys_is_all_or_nothing(h: Harness) {
    let (plain_a, a) = h.store.generate_key(NewKey::default()).await.unwrap();
    let (_, b) = h.store.generate_key(NewKey::default()).await.unwrap();
    let rev = h.store.revision().await.unwrap();

    // The first two deletions happen inside the transaction, the third fails: all roll back.
    let missing = hash_key("sk-missing");
    let err = h
        .store
        .delete_keys(&[a.token.clone(), b.token.clone(), missing.clone()])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::NotFound {
            kind: "key",
            id: missing
        }
    );
    assert_eq!(h.store.list_keys().await.unwrap().len(), 2);
    assert_eq!(h.store.revision().await.unwrap(), rev);
    assert_eq!(h.raw_rows("api_keys").await.len(), 2);

    // Plaintext and hash forms of the same key count once.
    assert_eq!(
        h.store
            .delete_keys(&[plain_a.clone(), a.token.clone(), b.token.clone()])
            .await
            .unwrap(),
        2
    );
    assert!(h.store.list_keys().await.unwrap().is_empty());
    assert_not_found(h.store.key_info(&plain_a).await, "key");
    assert_not_found(h.store.delete_keys(&[a.token]).await, "key");
}

pub async fn concurrent_generate_key(h: Harness) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .generate_key(NewKey {
                    key_alias: Some(format!("parallel-{i}")),
                    ..Default::default()
                })
                .await
        }));
    }
    let mut plaintexts = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    for t in tasks {
        let (plain, key) = t.await.unwrap().unwrap();
        plaintexts.insert(plain);
        tokens.insert(key.token);
    }
    assert_eq!(plaintexts.len(), 20);
    assert_eq!(tokens.len(), 20);
    let listed: BTreeSet<String> = h
        .store
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.token)
        .collect();
    assert_eq!(listed, tokens);
    assert_eq!(h.store.revision().await.unwrap(), 20);
}

pub async fn key_links_to_team_and_organization(h: Harness) {
    let s = &h.store;
    let acme = s
        .create_organization(NewOrganization {
            organization_alias: "acme".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let other = s
        .create_organization(NewOrganization {
            organization_alias: "other".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let team = s
        .create_team(NewTeam {
            team_id: Some("eng".into()),
            organization_id: Some(acme.organization_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, key) = s
        .generate_key(NewKey {
            team_id: Some(team.team_id.clone()),
            organization_id: Some(acme.organization_id.clone()),
            user_id: Some("ann".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(key.team_id.as_deref(), Some("eng"));
    assert_eq!(s.list_team_keys("eng").await.unwrap(), vec![key.clone()]);
    assert!(s.list_team_keys("nobody").await.unwrap().is_empty());

    // A key cannot sit in a team of another organization.
    assert_invalid(
        s.generate_key(NewKey {
            team_id: Some("eng".into()),
            organization_id: Some(other.organization_id.clone()),
            ..Default::default()
        })
        .await,
        "organization_id",
    );
    assert_invalid(
        s.update_key(
            &key.token,
            KeyPatch {
                organization_id: Some(Some(other.organization_id.clone())),
                ..Default::default()
            },
        )
        .await,
        "organization_id",
    );
    // Leaving the team, the key may move organizations.
    let moved = s
        .update_key(
            &key.token,
            KeyPatch {
                team_id: Some(None),
                organization_id: Some(Some(other.organization_id.clone())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.team_id, None);
    assert_eq!(moved.organization_id, Some(other.organization_id));
}
