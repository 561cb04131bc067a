use std::collections::BTreeMap;

use meshgate_store::{
    KeyPatch, NewKey, NewOrganization, NewTeam, ObjectPermission, OrganizationPatch, TeamPatch,
};
use serde_json::json;

use crate::harness::Harness;
use crate::{assert_conflict, assert_invalid, assert_not_found};

pub async fn organization_crud(h: Harness) {
    let s = &h.store;
    let perm = ObjectPermission {
        mcp_servers: Some(vec!["github".into()]),
        mcp_access_groups: None,
        mcp_tool_permissions: Some(BTreeMap::new()),
    };
    let org = s
        .create_organization(NewOrganization {
            organization_alias: "Acme".into(),
            metadata: Some(json!({"tier": "gold"}).as_object().unwrap().clone()),
            object_permission: perm.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(org.organization_id.len(), 36);
    assert_eq!(s.get_organization(&org.organization_id).await.unwrap(), org);
    assert_eq!(org.object_permission, perm);

    let b = s
        .create_organization(
            serde_json::from_value(json!({"organization_id": "b", "organization_alias": "Beta"}))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        s.list_organizations().await.unwrap(),
        vec![org.clone(), b.clone()]
    );

    let msg = assert_conflict(
        s.create_organization(NewOrganization {
            organization_alias: "Acme".into(),
            ..Default::default()
        })
        .await,
    );
    assert!(msg.contains("organization_alias"), "{msg}");
    assert_conflict(
        s.create_organization(NewOrganization {
            organization_id: Some("b".into()),
            organization_alias: "Gamma".into(),
            ..Default::default()
        })
        .await,
    );
    assert_conflict(
        s.update_organization(
            "b",
            OrganizationPatch {
                organization_alias: Some("Acme".into()),
                ..Default::default()
            },
        )
        .await,
    );

    let patch: OrganizationPatch = serde_json::from_value(json!({
        "organization_alias": "Acme Inc", "metadata": null,
        "object_permission": {"mcp_access_groups": []}
    }))
    .unwrap();
    let updated = s
        .update_organization(&org.organization_id, patch)
        .await
        .unwrap();
    assert_eq!(updated.organization_alias, "Acme Inc");
    assert!(updated.metadata.is_empty());
    assert_eq!(updated.object_permission.mcp_servers, perm.mcp_servers);
    assert_eq!(updated.object_permission.mcp_access_groups, Some(vec![]));
    assert_eq!(updated.created_at, org.created_at);
    assert_eq!(
        s.get_organization(&org.organization_id).await.unwrap(),
        updated
    );

    assert_invalid(
        s.create_organization(NewOrganization::default()).await,
        "organization_alias",
    );
    assert_invalid(
        s.update_organization(
            "b",
            OrganizationPatch {
                organization_alias: Some(String::new()),
                ..Default::default()
            },
        )
        .await,
        "organization_alias",
    );
    assert!(serde_json::from_value::<NewOrganization>(json!({})).is_err());

    assert_eq!(s.delete_organization("b").await.unwrap(), b);
    assert_not_found(s.get_organization("b").await, "organization");
    assert_not_found(s.delete_organization("b").await, "organization");
    assert_not_found(
        s.update_organization("b", OrganizationPatch::default())
            .await,
        "organization",
    );
}

pub async fn deleting_a_referenced_organization_conflicts(h: Harness) {
    let s = &h.store;
    s.create_organization(NewOrganization {
        organization_id: Some("o".into()),
        organization_alias: "O".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    s.create_team(NewTeam {
        team_id: Some("t".into()),
        organization_id: Some("o".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, key) = s
        .generate_key(NewKey {
            organization_id: Some("o".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let msg = assert_conflict(s.delete_organization("o").await);
    assert!(msg.contains("1 team(s) and 1 key(s)"), "{msg}");

    s.update_team(
        "t",
        TeamPatch {
            organization_id: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let msg = assert_conflict(s.delete_organization("o").await);
    assert!(msg.contains("0 team(s) and 1 key(s)"), "{msg}");

    s.update_key(
        &key.token,
        KeyPatch {
            organization_id: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.delete_organization("o").await.unwrap();
    assert!(s.list_organizations().await.unwrap().is_empty());
}
