//! A display name belongs to the first key that used it. Another key logging in under it, in
//! any case or Unicode form, is refused with the reason, so nobody can take a founder's name
//! and then be handed their role by an operator who names them. The admin CLI finds people by
//! name or by key, and says which key it acted on.

use archipelago_client::identity::ephemeral;
use archipelago_shared::identity::{LoginRefusal, to_hex};
use archipelago_shared::protocol::Role;
use archipelago_tests::sim::SimServer;
use archipelago_tests::{enter_world, server_cli};

#[test]
fn a_visitor_cannot_take_a_founders_name_and_with_it_the_founders_role() {
    let server = SimServer::start();
    let data_dir = server.data_dir().clone();
    let ada_key = ephemeral();
    let ada_hex = to_hex(ada_key.verifying_key().as_bytes());
    server.register(&ada_key, "Ada", Role::Founder);

    for name in ["Ada", "ada", "Ａｄａ"] {
        let mut impostor = server.client(name, ephemeral());
        let refusal = impostor.login_refusal();
        assert!(
            matches!(refusal, Some(LoginRefusal::NameTaken(_))),
            "a login as {name:?} is refused: the name is taken; {refusal:?}"
        );
    }

    // A visitor's name is theirs too, from the first login.
    let zed_key = ephemeral();
    let zed_hex = to_hex(zed_key.verifying_key().as_bytes());
    let mut zed = server.client("Zed", zed_key.clone());
    enter_world(&mut zed);
    zed.disconnect();
    let mut other = server.client("ZED", ephemeral());
    let refusal = other.login_refusal();
    assert!(
        matches!(refusal, Some(LoginRefusal::NameTaken(_))),
        "{refusal:?}"
    );

    // The owners still log in under their names.
    let mut ada = server.client("Ada", ada_key);
    let mut zed = server.client("zed", zed_key);
    enter_world(&mut ada);
    enter_world(&mut zed);
    assert_eq!(ada.session().role, Some(Role::Founder));
    assert_eq!(zed.session().role, Some(Role::Visitor));
    drop((ada, zed));

    // The operator names Ada in another case: the CLI acts on her key and prints it.
    let granted = server_cli(&data_dir, &["admin", "grant-role", "ADA", "founder"], None);
    assert!(
        granted.contains(&ada_hex),
        "the CLI says which key it acted on: {granted}"
    );
    // A key prefix of 16 hex digits names Zed.
    let granted = server_cli(
        &data_dir,
        &["admin", "grant-role", &zed_hex[..16], "member"],
        None,
    );
    assert!(
        granted.contains(&zed_hex) && granted.contains("member"),
        "{granted}"
    );
    let members = server_cli(&data_dir, &["admin", "members"], None);
    let adas = members
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("Ada"))
        .count();
    assert_eq!(adas, 1, "one Ada in the registry:\n{members}");
}
