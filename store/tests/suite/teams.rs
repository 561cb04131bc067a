use std::collections::BTreeMap;

use meshgate_store::{
    KeyPatch, NewKey, NewOrganization, NewTeam, ObjectPermission, TeamMember, TeamPatch,
    TeamRecord, TeamRole,
};
use serde_json::json;

use crate::harness::Harness;
use crate::{assert_conflict, assert_invalid, assert_not_found};

fn member(user: &str, role: TeamRole) -> TeamMember {
    TeamMember {
        user_id: user.into(),
        role,
    }
}

pub async fn team_crud_and_membership(h: Harness) {
    let s = &h.store;
    let team = s
        .create_team(NewTeam {
            team_alias: Some("Platform".into()),
            members: vec![
                member("zoe", TeamRole::User),
                member("ann", TeamRole::Admin),
            ],
            rpm_limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(team.team_id.len(), 36, "a UUID: {}", team.team_id);
    assert_eq!(
        team.members,
        vec![
            member("ann", TeamRole::Admin),
            member("zoe", TeamRole::User)
        ]
    );
    assert_eq!(s.get_team(&team.team_id).await.unwrap(), team);

    let t = s
        .add_team_member(&team.team_id, member("bob", TeamRole::User))
        .await
        .unwrap();
    assert_eq!(
        t.members
            .iter()
            .map(|m| m.user_id.as_str())
            .collect::<Vec<_>>(),
        ["ann", "bob", "zoe"]
    );
    assert!(t.updated_at >= team.updated_at);
    assert_conflict(
        s.add_team_member(&team.team_id, member("bob", TeamRole::Admin))
            .await,
    );
    let t = s
        .update_team_member(&team.team_id, member("bob", TeamRole::Admin))
        .await
        .unwrap();
    assert!(t.members.contains(&member("bob", TeamRole::Admin)));
    assert_not_found(
        s.update_team_member(&team.team_id, member("carl", TeamRole::User))
            .await,
        "team_member",
    );
    let t = s.remove_team_member(&team.team_id, "zoe").await.unwrap();
    assert_eq!(t.members.len(), 2);
    assert_not_found(
        s.remove_team_member(&team.team_id, "zoe").await,
        "team_member",
    );
    assert_not_found(
        s.add_team_member("ghost", member("x", TeamRole::User))
            .await,
        "team",
    );

    let second = s
        .create_team(NewTeam {
            team_id: Some("second".into()),
            members: vec![member("ann", TeamRole::User)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_conflict(
        s.create_team(NewTeam {
            team_id: Some("second".into()),
            ..Default::default()
        })
        .await,
    );
    let msg = assert_conflict(
        s.create_team(NewTeam {
            team_alias: Some("Platform".into()),
            ..Default::default()
        })
        .await,
    );
    assert!(msg.contains("team_alias"), "{msg}");
    let listed = s.list_teams().await.unwrap();
    assert_eq!(
        listed,
        vec![s.get_team(&team.team_id).await.unwrap(), second.clone()]
    );

    // Deleting a team removes its memberships (and nothing else).
    let deleted = s.delete_team("second").await.unwrap();
    assert_eq!(deleted, second);
    assert_not_found(s.get_team("second").await, "team");
    assert_not_found(s.delete_team("second").await, "team");
    let rows = h.raw_rows("team_members").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains(&team.team_id)));

    // LiteLLM's JSON names.
    let v = serde_json::to_value(s.get_team(&team.team_id).await.unwrap()).unwrap();
    assert_eq!(
        v["members_with_roles"][0],
        json!({"user_id": "ann", "role": "admin"})
    );
    let from_json: NewTeam = serde_json::from_value(json!({
        "team_alias": "x", "members_with_roles": [{"user_id": "u1"}]
    }))
    .unwrap();
    assert_eq!(from_json.members, vec![member("u1", TeamRole::User)]);
    let from_json: NewTeam =
        serde_json::from_value(json!({"members": [{"user_id": "u2", "role": "admin"}]})).unwrap();
    assert_eq!(from_json.members, vec![member("u2", TeamRole::Admin)]);
}

pub async fn deleting_a_team_with_keys_conflicts(h: Harness) {
    let s = &h.store;
    let team = s
        .create_team(NewTeam {
            team_id: Some("t1".into()),
            members: vec![member("ann", TeamRole::Admin)],
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, key) = s
        .generate_key(NewKey {
            team_id: Some("t1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let msg = assert_conflict(s.delete_team("t1").await);
    assert!(msg.contains("t1") && msg.contains("1 key"), "{msg}");
    // Nothing changed: team, members and key are intact.
    assert_eq!(s.get_team("t1").await.unwrap(), team);
    assert_eq!(s.key_info(&key.token).await.unwrap(), key);

    // Move the key out, then the team can go.
    s.update_key(
        &key.token,
        KeyPatch {
            team_id: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.delete_team("t1").await.unwrap();
    assert!(h.raw_rows("team_members").await.is_empty());
    assert_eq!(s.key_info(&key.token).await.unwrap().team_id, None);
}

pub async fn team_permissions_and_patch(h: Harness) {
    let s = &h.store;
    let org = s
        .create_organization(NewOrganization {
            organization_id: Some("org1".into()),
            organization_alias: "Org One".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let perm = ObjectPermission {
        mcp_servers: Some(vec![]),
        mcp_access_groups: Some(vec!["dev".into()]),
        mcp_tool_permissions: Some(BTreeMap::from([("github".into(), vec!["search".into()])])),
    };
    let team = s
        .create_team(NewTeam {
            team_id: Some("t".into()),
            team_alias: Some("T".into()),
            organization_id: Some(org.organization_id.clone()),
            metadata: Some(json!({"k": "v"}).as_object().unwrap().clone()),
            blocked: Some(true),
            object_permission: perm.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(s.get_team("t").await.unwrap().object_permission, perm);

    let patch: TeamPatch = serde_json::from_value(json!({
        "team_alias": null, "blocked": false, "rpm_limit": 7,
        "object_permission": {"mcp_servers": null}
    }))
    .unwrap();
    let t: TeamRecord = s.update_team("t", patch).await.unwrap();
    assert_eq!(t.team_alias, None);
    assert!(!t.blocked);
    assert_eq!(t.rpm_limit, Some(7));
    assert_eq!(t.organization_id, team.organization_id);
    assert_eq!(t.metadata, team.metadata);
    assert_eq!(t.object_permission.mcp_servers, None);
    assert_eq!(
        t.object_permission.mcp_access_groups,
        perm.mcp_access_groups
    );
    assert_eq!(
        t.object_permission.mcp_tool_permissions,
        perm.mcp_tool_permissions
    );
    assert_eq!(s.get_team("t").await.unwrap(), t);

    assert_invalid(
        s.update_team(
            "t",
            TeamPatch {
                organization_id: Some(Some("nope".into())),
                ..Default::default()
            },
        )
        .await,
        "organization_id",
    );
    assert_not_found(s.update_team("nope", TeamPatch::default()).await, "team");

    // A team cannot move to another organization while its keys belong to the current one.
    let other = s
        .create_organization(NewOrganization {
            organization_alias: "Other".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    s.generate_key(NewKey {
        team_id: Some("t".into()),
        organization_id: Some("org1".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_conflict(
        s.update_team(
            "t",
            TeamPatch {
                organization_id: Some(Some(other.organization_id)),
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(s.get_team("t").await.unwrap(), t);
}

pub async fn invalid_team_input_names_the_field(h: Harness) {
    let s = &h.store;
    assert_invalid(
        s.create_team(NewTeam {
            team_id: Some(String::new()),
            ..Default::default()
        })
        .await,
        "team_id",
    );
    assert_invalid(
        s.create_team(NewTeam {
            team_alias: Some("  ".into()),
            ..Default::default()
        })
        .await,
        "team_alias",
    );
    assert_invalid(
        s.create_team(NewTeam {
            members: vec![member("", TeamRole::User)],
            ..Default::default()
        })
        .await,
        "members.user_id",
    );
    assert_invalid(
        s.create_team(NewTeam {
            members: vec![member("a", TeamRole::User), member("a", TeamRole::Admin)],
            ..Default::default()
        })
        .await,
        "members",
    );
    assert_invalid(
        s.create_team(NewTeam {
            rpm_limit: Some(-1),
            ..Default::default()
        })
        .await,
        "rpm_limit",
    );
    assert_invalid(
        s.create_team(NewTeam {
            organization_id: Some("missing".into()),
            ..Default::default()
        })
        .await,
        "organization_id",
    );
    assert_invalid(
        s.create_team(NewTeam {
            object_permission: ObjectPermission {
                mcp_tool_permissions: Some(BTreeMap::from([(String::new(), vec![])])),
                ..Default::default()
            },
            ..Default::default()
        })
        .await,
        "object_permission.mcp_tool_permissions",
    );
    let t = s.create_team(NewTeam::default()).await.unwrap();
    assert_invalid(
        s.add_team_member(&t.team_id, member("bad\u{0}", TeamRole::User))
            .await,
        "member.user_id",
    );
    assert!(
        serde_json::from_value::<TeamMember>(json!({"user_id": "x", "role": "owner"})).is_err()
    );
    assert_eq!(s.list_teams().await.unwrap(), vec![t]);
    assert_eq!(s.revision().await.unwrap(), 1);
}

/// Guardrail names on keys and teams: stored as given, replaced by an update, removed
/// by `null`, left alone when absent, seen by the snapshot the sidecar compiles.
pub async fn keys_and_teams_carry_guardrail_names(h: Harness) {
    let s = &h.store;
    let team = s
        .create_team(NewTeam {
            team_alias: Some("guarded".into()),
            guardrails: Some(vec!["no-cards".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(team.guardrails, ["no-cards"]);
    let (_, key) = s
        .generate_key(NewKey {
            team_id: Some(team.team_id.clone()),
            guardrails: Some(vec!["secrets".into(), "mask-mail".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        s.key_info(&key.token).await.unwrap().guardrails,
        ["secrets", "mask-mail"]
    );
    assert_eq!(
        s.get_team(&team.team_id).await.unwrap().guardrails,
        ["no-cards"]
    );
    let snapshot = s.snapshot().await.unwrap();
    assert_eq!(snapshot.keys[0].guardrails, ["secrets", "mask-mail"]);
    assert_eq!(snapshot.teams[0].guardrails, ["no-cards"]);

    let key = s
        .update_key(
            &key.token,
            KeyPatch {
                rpm_limit: Some(Some(5)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        key.guardrails,
        ["secrets", "mask-mail"],
        "absent: unchanged"
    );
    let patch: KeyPatch = serde_json::from_value(json!({"guardrails": ["only"]})).unwrap();
    let key = s.update_key(&key.token, patch).await.unwrap();
    assert_eq!(key.guardrails, ["only"]);
    let patch: KeyPatch = serde_json::from_value(json!({"guardrails": null})).unwrap();
    let key = s.update_key(&key.token, patch).await.unwrap();
    assert!(key.guardrails.is_empty());
    assert!(s.key_info(&key.token).await.unwrap().guardrails.is_empty());

    let patch: TeamPatch = serde_json::from_value(json!({"guardrails": ["a", "b"]})).unwrap();
    let team = s.update_team(&team.team_id, patch).await.unwrap();
    assert_eq!(team.guardrails, ["a", "b"]);
    assert_eq!(
        s.get_team(&team.team_id).await.unwrap().guardrails,
        ["a", "b"]
    );

    assert_invalid(
        s.generate_key(NewKey {
            guardrails: Some(vec![String::new()]),
            ..Default::default()
        })
        .await,
        "guardrails",
    );
}
