//! Certificates a long-running public server can live with: a self-signed one is replaced
//! before it runs out without dropping anyone, and a CA-issued one is checked against
//! certificate authorities instead of a pinned digest.

use std::path::Path;
use std::time::{Duration, Instant};

use archipelago_client::ClientConfig;
use archipelago_client::connection::ConnectionState;
use archipelago_client::identity::ephemeral;
use archipelago_tests::{ServerProcess, TestClient, enter_world, wait_until};

fn failure_of(client: &mut TestClient, within: Duration) -> String {
    let failed = wait_until(&mut [client], within, |c| c[0].state().is_failed());
    assert!(failed, "the client gives up; state is {:?}", client.state());
    match client.state() {
        ConnectionState::Failed { reason } => reason,
        _ => unreachable!(),
    }
}

fn digest_in(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("cert-digest.txt"))
        .map(|text| text.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn a_self_signed_certificate_is_renewed_in_place_and_newcomers_get_in_after_the_old_one_expired() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Valid 16 s: the next one is made at 12 s, the first runs out at 16 s, the one after
    // comes at 24 s.
    let validity = Duration::from_secs(16);
    let started = Instant::now();
    let server = ServerProcess::start_with_args(
        dir.path(),
        &["--self-signed-validity", &validity.as_secs().to_string()],
    );
    let first = server.digest.clone();
    let mut early = TestClient::new(server.client_config("Early", ephemeral()));
    enter_world(&mut early);

    let renewed = wait_until(&mut [&mut early], Duration::from_secs(20), |_| {
        let now = digest_in(dir.path());
        !now.is_empty() && now != first
    });
    assert!(
        renewed,
        "a new certificate's digest is written before the first one runs out"
    );
    let second = digest_in(dir.path());
    assert_eq!(second.len(), 64);

    // Past the first certificate's end: a server that kept presenting it would let nobody in.
    let expired = started + validity + Duration::from_millis(500);
    wait_until(&mut [&mut early], Duration::from_secs(20), |_| {
        Instant::now() >= expired
    });
    assert_eq!(
        early.state(),
        ConnectionState::InWorld,
        "who was in before the renewal stays in"
    );

    let mut config = server.client_config("Late", ephemeral());
    config.cert_digest = second.clone();
    let mut late = TestClient::new(config);
    enter_world(&mut late);

    let mut stale = TestClient::new(server.client_config("Stale", ephemeral()));
    assert_eq!(
        stale.app.world().resource::<ClientConfig>().cert_digest,
        first
    );
    let reason = failure_of(&mut stale, Duration::from_secs(15));
    assert!(
        reason.contains("does not match the digest"),
        "the old digest no longer gets in, in words: {reason}"
    );
    assert_eq!(early.state(), ConnectionState::InWorld);
    server.kill();
}

/// A certificate authority of the test's own and a certificate from it for `localhost`,
/// valid for decades (far past the 14 days a pinned certificate may last), as PEM files.
struct Authority {
    ca: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

fn issue_certificate(dir: &Path) -> Authority {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("a key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Archipelago test authority");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params
        .self_signed(&ca_key)
        .expect("the authority signs itself");

    let key = KeyPair::generate().expect("a key");
    let params = CertificateParams::new(vec!["localhost".to_owned()]).expect("parameters");
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .expect("the authority signs");
    let paths = Authority {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&paths.ca, ca.pem()).expect("write");
    std::fs::write(&paths.cert, format!("{}{}", cert.pem(), ca.pem())).expect("write");
    std::fs::write(&paths.key, key.serialize_pem()).expect("write");
    paths
}

#[test]
fn a_ca_issued_certificate_is_trusted_by_its_authority_without_a_digest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let authority = issue_certificate(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let server = ServerProcess::start_with_args(
        &data,
        &[
            "--cert",
            authority.cert.to_str().expect("utf-8 path"),
            "--key",
            authority.key.to_str().expect("utf-8 path"),
        ],
    );

    let by_name = |name: &str| {
        let mut config = ClientConfig::new(server.addr, String::new(), name.into(), ephemeral());
        config.server_name = Some("localhost".into());
        config
    };

    let mut trusting = by_name("Trusting");
    trusting
        .trust_ca_file(&authority.ca)
        .expect("the authority's certificate reads");
    let mut client = TestClient::new(trusting);
    enter_world(&mut client);

    // Without the authority (only the system's), the certificate is refused, in words.
    let mut stranger = TestClient::new(by_name("Stranger"));
    let reason = failure_of(&mut stranger, Duration::from_secs(15));
    assert!(
        reason.contains("--ca-file") && reason.contains("localhost"),
        "the message says what to do: {reason}"
    );

    // Asked for under a name the certificate does not carry, it is refused too.
    let mut misnamed = by_name("Misnamed");
    misnamed.server_name = Some("127.0.0.1".into());
    misnamed
        .trust_ca_file(&authority.ca)
        .expect("the authority's certificate reads");
    let mut misnamed = TestClient::new(misnamed);
    let reason = failure_of(&mut misnamed, Duration::from_secs(15));
    assert!(reason.contains("certificate"), "{reason}");

    assert_eq!(client.state(), ConnectionState::InWorld);
    server.kill();
}
