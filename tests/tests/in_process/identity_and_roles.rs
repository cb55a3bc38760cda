//! Who a key is: the database's file kept to its owner, a role changed in the registry taking
//! effect on the live link, returning visitors costing nothing, and founders named in the
//! world data taking their names back.

use std::time::Duration;

use archipelago_client::identity::ephemeral;
use archipelago_server::storage::Storage;
use archipelago_shared::assembly::AssemblyRefusal;
use archipelago_shared::protocol::Role;
use archipelago_tests::sim::SimServer;
use archipelago_tests::wait_until;

#[cfg(unix)]
#[test]
fn the_database_is_readable_and_writable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(archipelago_server::storage::DATABASE_FILE);
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("the file exists")
            .permissions()
            .mode()
            & 0o777
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let storage = Storage::open(dir.path()).await.expect("database opens");
        storage
            .login(&"ab".repeat(32), "Vera")
            .await
            .expect("a login is stored");
        storage.close().await;
    });
    assert_eq!(mode(&file), 0o600, "a new database is created 0600");

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    runtime.block_on(async {
        Storage::open(dir.path())
            .await
            .expect("database opens")
            .close()
            .await;
    });
    assert_eq!(
        mode(&file),
        0o600,
        "an older, readable database is closed to others"
    );
}

#[test]
fn a_role_changed_in_the_registry_takes_effect_on_the_live_link() {
    use archipelago_shared::assembly::{AgendaItem, AssemblyRequest};
    let server = SimServer::start();
    let fay_key = ephemeral();
    let max_key = ephemeral();
    server.register(&fay_key, "Fay", Role::Founder);
    server.register(&max_key, "Max", Role::Member);
    let mut fay = server.client("Fay", fay_key.clone());
    let mut max = server.client("Max", max_key.clone());
    archipelago_tests::enter_world_together(&mut [&mut fay, &mut max]);
    let open = |title: &str| AssemblyRequest::Open {
        protocity: "meridian".into(),
        title: title.into(),
        agenda: vec![AgendaItem {
            title: "Any other business".into(),
            proposal: None,
        }],
        chair: None,
        capacity: None,
    };

    // Fay is demoted while online: the server stops treating her as a founder at once.
    server.grant(&fay_key, Role::Member);
    let told = wait_until(&mut [&mut fay, &mut max], Duration::from_secs(5), |c| {
        c[0].session().role == Some(Role::Member)
    });
    assert!(told, "Fay is told she is now a member");
    assert!(
        fay.session()
            .notices
            .iter()
            .any(|(_, text)| text.contains("now a member")),
        "in words: {:?}",
        fay.session().notices
    );
    let refused = fay.ask(open("Fay's session"));
    assert!(
        refused
            .as_ref()
            .is_err_and(|reason| matches!(reason, AssemblyRefusal::NotFounder)),
        "a demoted founder cannot open a session: {refused:?}"
    );
    let tagged = wait_until(&mut [&mut fay, &mut max], Duration::from_secs(5), |c| {
        let world = c[1].app.world_mut();
        let mut q = world.query::<&archipelago_shared::protocol::AvatarProfile>();
        q.iter(world)
            .any(|p| p.name == "Fay" && p.role == Role::Member)
    });
    assert!(tagged, "others see Fay's new role on her name tag");

    // Max is made a founder while online and may open one straight away.
    server.grant(&max_key, Role::Founder);
    let promoted = wait_until(&mut [&mut fay, &mut max], Duration::from_secs(5), |c| {
        c[1].session().role == Some(Role::Founder)
    });
    assert!(promoted, "Max is told he is a founder");
    let opened = max.ask(open("Max's session"));
    assert!(
        opened.is_ok(),
        "the new founder opens a session: {opened:?}"
    );
}

#[test]
fn a_returning_visitor_costs_no_write_and_long_gone_visitors_free_their_names() {
    use archipelago_server::members::storage::{LAST_SEEN_STEP, VISITOR_RETENTION_DAYS};
    use archipelago_shared::clock::unix_seconds as unix_now;
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let storage = Storage::open(dir.path()).await.expect("database opens");
        let (vera, otto, newcomer) = ("ab".repeat(32), "cd".repeat(32), "ef".repeat(32));
        let set_last_seen = |key: &str, at: i64| {
            let file = dir.path().join(archipelago_server::storage::DATABASE_FILE);
            let key = key.to_owned();
            async move {
                use sqlx::Connection;
                let mut db =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                        .await
                        .expect("a second connection");
                sqlx::query("UPDATE members SET last_seen = ? WHERE public_key = ?")
                    .bind(at)
                    .bind(&key)
                    .execute(&mut db)
                    .await
                    .expect("last_seen set");
            }
        };
        storage.login(&vera, "Vera").await.expect("first login");
        let recent = unix_now() - LAST_SEEN_STEP / 2;
        set_last_seen(&vera, recent).await;
        let again = storage.login(&vera, "Vera").await.expect("second login");
        assert_eq!(
            again.last_seen, recent,
            "coming back within the hour writes nothing"
        );
        set_last_seen(&vera, unix_now() - 2 * LAST_SEEN_STEP).await;
        let later = storage.login(&vera, "Vera").await.expect("later login");
        assert!(
            later.last_seen >= unix_now() - 5,
            "an hour later, last_seen moves"
        );

        storage.login(&otto, "Otto").await.expect("Otto visits");
        let long_ago = unix_now() - (VISITOR_RETENTION_DAYS + 1) * 24 * 3600;
        set_last_seen(&otto, long_ago).await;
        assert!(
            storage.login(&newcomer, "otto").await.is_err(),
            "Otto's name is still his"
        );
        let pruned = storage.prune_visitors(unix_now()).await.expect("pruned");
        assert_eq!(pruned, 1, "only the visitor gone for months is forgotten");
        let names: Vec<String> = storage
            .members()
            .await
            .expect("members")
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, vec!["Vera".to_owned()]);
        storage
            .login(&newcomer, "otto")
            .await
            .expect("the forgotten visitor's name is free again");
        storage.close().await;
    });
}

#[test]
fn a_founder_named_in_the_world_data_takes_their_name_back_from_whoever_held_it() {
    use archipelago_shared::world::FounderSeed;
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (ada, impostor) = ("ad".repeat(32), "ee".repeat(32));
    runtime.block_on(async {
        let storage = Storage::open(dir.path()).await.expect("database opens");
        // Ada ran the client once under its default name; someone else took "Ada".
        storage
            .login(&ada, "Traveller")
            .await
            .expect("Ada's first visit");
        storage
            .login(&impostor, "Ada")
            .await
            .expect("the impostor's visit");
        let seeds = [FounderSeed {
            name: "Ada".into(),
            public_key: ada.clone(),
        }];
        storage.seed_founders(&seeds).await.expect("seeded");
        storage.close().await;
        // A restart (which gives old rows their names back) and a second seeding change
        // nothing.
        let storage = Storage::open(dir.path())
            .await
            .expect("database opens again");
        storage.seed_founders(&seeds).await.expect("seeded again");
        assert!(
            storage.login(&impostor, "Ada").await.is_err(),
            "the impostor no longer logs in as Ada"
        );
        let founder = storage
            .login(&ada, "Ada")
            .await
            .expect("Ada logs in as Ada");
        assert_eq!(founder.role, Role::Founder);
        storage.close().await;
    });
}
