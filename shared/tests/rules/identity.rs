//! Who is who: names compared as people read them, keys shown short but never compared short.

use archipelago_shared::identity::{
    LoginError, ServerIdentity, check_server, fingerprint, login_payload, name_key, short_key,
    to_hex, verify_login,
};
use ed25519_dalek::Signer;

#[test]
fn names_that_read_the_same_are_the_same_name() {
    assert_eq!(name_key("Ada"), name_key("ada"));
    assert_eq!(name_key("Ada"), name_key(" ADA "));
    assert_eq!(name_key("Ada"), name_key("Ａｄａ"), "fullwidth letters");
    assert_eq!(
        name_key("ﬁona"),
        name_key("fiona"),
        "a ligature is its letters"
    );
    assert_eq!(name_key("Zoë"), name_key("Zoe\u{308}"), "composed or not");
    assert_ne!(name_key("Ada"), name_key("Adam"));
    assert_ne!(name_key("Ada"), name_key("Ada B"));
}

#[test]
fn a_short_key_is_the_fingerprint_and_never_panics_on_odd_text() {
    let key = [0xabu8; 32];
    assert_eq!(short_key(&to_hex(&key)), fingerprint(&key));
    assert_eq!(short_key("abc"), "abc");
    assert_eq!(short_key("ééééééééé"), "éééééééé", "cut on a character");
}

fn server(nation: &str, certificate: &str) -> ServerIdentity {
    ServerIdentity {
        nation: nation.into(),
        certificate: certificate.into(),
    }
}

#[test]
fn a_login_signed_for_one_server_is_refused_by_any_other() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key().to_bytes();
    let nonce = [3; 32];
    let home = server("Archipelago", &"ab".repeat(32));
    let signature = key.sign(&login_payload(&home, &nonce, "Ada")).to_bytes();
    assert_eq!(
        verify_login(&home, &public, "Ada", &nonce, &signature),
        Ok("Ada".into())
    );
    // A server that relays the login to another, or a second deployment of the same nation.
    for elsewhere in [
        server("Archipelago", &"cd".repeat(32)),
        server("Other nation", &"ab".repeat(32)),
    ] {
        assert_eq!(
            verify_login(&elsewhere, &public, "Ada", &nonce, &signature),
            Err(LoginError::BadSignature),
            "{elsewhere:?}"
        );
    }
}

#[test]
fn a_client_does_not_sign_for_a_server_other_than_the_one_it_pinned() {
    let home = server("Archipelago", &"ab".repeat(32));
    assert_eq!(check_server(&"ab".repeat(32), &home), Ok(()));
    assert_eq!(check_server(&"AB".repeat(32), &home), Ok(()), "any case");
    assert_eq!(check_server("", &home), Ok(()), "nothing pinned");
    assert!(matches!(
        check_server(&"cd".repeat(32), &home),
        Err(LoginError::OtherServer { .. })
    ));
}
