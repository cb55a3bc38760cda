//! A role granted in the registry shows on the next login and on the avatar's name tag, and
//! survives a server restart (more on identity and roles: tests/tests/in_process).

use std::time::Duration;

use archipelago_client::identity::ephemeral;
use archipelago_server::storage::Storage;
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::Role;
use archipelago_tests::{TestClient, TestServer, enter_world, wait_until};

#[test]
fn a_new_key_is_a_visitor_and_a_granted_role_shows_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = ephemeral();
    let server = TestServer::start(dir.path());
    let data_dir = server.data_dir.clone();
    let mut client = TestClient::new(server.client_config("Vera", key.clone()));
    enter_world(&mut client);
    assert_eq!(
        client.session().role,
        Some(Role::Visitor),
        "an unknown key is a visitor"
    );
    drop(client);
    server.stop();

    // The admin CLI's path: grant a role in the registry while the server is down.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let member = runtime.block_on(async {
        let storage = Storage::open(&data_dir).await.expect("database opens");
        let member = storage
            .grant_role(
                &to_hex(key.verifying_key().as_bytes()),
                Role::Resident,
                "test",
            )
            .await
            .expect("grant works");
        storage.close().await;
        member
    });
    assert_eq!(member.name, "Vera", "the registry remembered the name");

    let server = TestServer::start_with_data(data_dir);
    let mut client = TestClient::new(server.client_config("Vera", key));
    let mut other = TestClient::new(server.client_config("Otto", ephemeral()));
    enter_world(&mut client);
    enter_world(&mut other);
    assert_eq!(
        client.session().role,
        Some(Role::Resident),
        "the granted role survives a restart"
    );
    let tagged = wait_until(
        &mut [&mut client, &mut other],
        Duration::from_secs(5),
        |c| {
            let world = c[1].app.world_mut();
            let mut q = world.query::<&archipelago_shared::protocol::AvatarProfile>();
            q.iter(world)
                .any(|p| p.name == "Vera" && p.role == Role::Resident)
        },
    );
    assert!(tagged, "others see the role on Vera's name tag");
    server.stop();
}
