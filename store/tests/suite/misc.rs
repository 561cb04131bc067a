use meshgate_store::{
    KeyPatch, McpServerPatch, NewKey, NewMcpServer, NewOrganization, NewTeam, TeamMember,
    TeamPatch, TeamRole,
};

use crate::harness::Harness;

pub async fn migrations_are_idempotent(h: Harness) {
    let (_, key) = h.store.generate_key(NewKey::default()).await.unwrap();
    let rev = h.store.revision().await.unwrap();
    // Opening again (twice, also while the first pool is open) re-runs nothing and keeps data.
    for _ in 0..2 {
        let again = h.reopen().await;
        assert_eq!(again.revision().await.unwrap(), rev);
        assert_eq!(again.key_info(&key.token).await.unwrap(), key);
        again.close().await;
    }
    assert_eq!(h.store.list_keys().await.unwrap(), vec![key]);
}

pub async fn revision_counts_successful_writes_only(h: Harness) {
    let s = &h.store;
    let mut expected = s.revision().await.unwrap();
    assert_eq!(expected, 0);
    macro_rules! wrote {
        () => {{
            expected += 1;
            assert_eq!(s.revision().await.unwrap(), expected);
        }};
    }
    macro_rules! unchanged {
        () => {
            assert_eq!(s.revision().await.unwrap(), expected);
        };
    }

    let org = s
        .create_organization(NewOrganization {
            organization_alias: "acme".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    wrote!();
    let team = s
        .create_team(NewTeam {
            organization_id: Some(org.organization_id.clone()),
            members: vec![TeamMember {
                user_id: "ann".into(),
                role: TeamRole::Admin,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    wrote!();
    s.add_team_member(
        &team.team_id,
        TeamMember {
            user_id: "bob".into(),
            role: TeamRole::User,
        },
    )
    .await
    .unwrap();
    wrote!();
    let (plain, key) = s
        .generate_key(NewKey {
            team_id: Some(team.team_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    wrote!();
    s.update_key(
        &plain,
        KeyPatch {
            blocked: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    wrote!();
    let server = s
        .create_mcp_server(NewMcpServer {
            server_name: "github".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    wrote!();
    s.update_mcp_server(
        &server.server_id,
        McpServerPatch {
            description: Some(Some("code".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    wrote!();

    // Reads do not count.
    s.key_info(&key.token).await.unwrap();
    s.list_keys().await.unwrap();
    s.get_team(&team.team_id).await.unwrap();
    s.list_teams().await.unwrap();
    s.get_organization(&org.organization_id).await.unwrap();
    s.list_organizations().await.unwrap();
    s.get_mcp_server(&server.server_id).await.unwrap();
    s.find_mcp_server("GITHUB").await.unwrap();
    s.list_mcp_servers().await.unwrap();
    s.list_team_keys(&team.team_id).await.unwrap();
    s.snapshot().await.unwrap();
    unchanged!();

    // Failed writes do not count.
    assert!(s.delete_team(&team.team_id).await.is_err());
    assert!(s.delete_organization(&org.organization_id).await.is_err());
    assert!(s
        .create_mcp_server(NewMcpServer {
            server_name: "GitHub".into(),
            ..Default::default()
        })
        .await
        .is_err());
    assert!(s.update_team("nope", TeamPatch::default()).await.is_err());
    assert!(s.delete_keys(&["sk-unknown".into()]).await.is_err());
    assert!(s.remove_team_member(&team.team_id, "nobody").await.is_err());
    unchanged!();
    // Deleting nothing is not a write.
    assert_eq!(s.delete_keys(&[]).await.unwrap(), 0);
    unchanged!();

    s.remove_team_member(&team.team_id, "bob").await.unwrap();
    wrote!();
    assert_eq!(
        s.delete_keys(std::slice::from_ref(&key.token))
            .await
            .unwrap(),
        1
    );
    wrote!();
    s.delete_team(&team.team_id).await.unwrap();
    wrote!();
    s.delete_organization(&org.organization_id).await.unwrap();
    wrote!();
    s.delete_mcp_server(&server.server_id).await.unwrap();
    wrote!();
    // A second handle sees the same counter.
    assert_eq!(h.reopen().await.revision().await.unwrap(), expected);
}

pub async fn snapshot_is_consistent_with_its_revision(h: Harness) {
    let s = &h.store;
    let empty = s.snapshot().await.unwrap();
    assert_eq!(empty.revision, 0);
    assert!(empty.keys.is_empty() && empty.teams.is_empty());

    // While keys are being generated, every snapshot holds exactly `revision` keys.
    let writer = {
        let store = s.clone();
        tokio::spawn(async move {
            for _ in 0..30 {
                store.generate_key(NewKey::default()).await.unwrap();
            }
        })
    };
    let mut seen = 0;
    while !writer.is_finished() {
        let snap = s.snapshot().await.unwrap();
        assert_eq!(snap.keys.len() as i64, snap.revision);
        seen += 1;
    }
    writer.await.unwrap();
    assert!(seen > 0);

    let org = s
        .create_organization(NewOrganization {
            organization_alias: "o".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let team = s.create_team(NewTeam::default()).await.unwrap();
    let server = s
        .create_mcp_server(NewMcpServer {
            server_name: "srv".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let snap = s.snapshot().await.unwrap();
    assert_eq!(snap.revision, 33);
    assert_eq!(snap.revision, s.revision().await.unwrap());
    assert_eq!(snap.organizations, vec![org]);
    assert_eq!(snap.teams, vec![team]);
    assert_eq!(snap.mcp_servers, vec![server]);
    assert_eq!(snap.keys, s.list_keys().await.unwrap());
    assert_eq!(s.revision().await.unwrap(), 33, "snapshots are reads");
}
