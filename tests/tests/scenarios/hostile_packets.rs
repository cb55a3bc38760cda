//! A stranger who completes the handshake and then sends crafted transport packets cannot take
//! the server down: a fragment claiming 2^40 pieces, thousands of partial messages, or
//! thousands of messages ahead of a gap close that stranger's link. The server process stays up, its memory barely moves, and the people
//! already in the world notice nothing.

use std::time::Duration;

use archipelago_client::chat::{ChatLog, SendChat};
use archipelago_client::connection::ConnectionState;
use archipelago_client::identity::ephemeral;
use archipelago_shared::chat::ChatTo;
use archipelago_shared::protocol::ControlChannel;
use archipelago_tests::{ServerProcess, TestClient, enter_world, enter_world_together, wait_until};

/// A plaintext lightyear packet of type DataFragment carrying one fragment: packet id, then
/// the channel, message id, index and claimed count, each varint 8 bytes wide, and `payload`
/// bytes (the last fragment of a message may be that short).
fn fragment_packet(
    packet_id: u16,
    channel: u16,
    message: u16,
    index: u64,
    count: u64,
    payload: u8,
) -> Vec<u8> {
    let wide = |v: u64| (v | (0b11 << 62)).to_be_bytes();
    let mut bytes = vec![1];
    bytes.extend_from_slice(&packet_id.to_be_bytes());
    bytes.extend_from_slice(&[0; 10]);
    bytes.extend_from_slice(&wide(u64::from(channel)));
    bytes.extend_from_slice(&message.to_be_bytes());
    bytes.extend_from_slice(&wide(index));
    bytes.extend_from_slice(&wide(count));
    bytes.push(payload);
    bytes.extend(std::iter::repeat_n(7, usize::from(payload)));
    bytes
}

/// A plaintext Data packet with `ids.len()` one-byte messages on a channel, each with its
/// message id.
fn data_packet(packet_id: u16, channel: u8, ids: std::ops::Range<u16>) -> Vec<u8> {
    let mut bytes = vec![0];
    bytes.extend_from_slice(&packet_id.to_be_bytes());
    bytes.extend_from_slice(&[0; 10]);
    bytes.push(channel);
    bytes.push(ids.len() as u8);
    for id in ids {
        bytes.push(1);
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&[1, 42]);
    }
    bytes
}

/// Steps everyone for a while.
fn pump(clients: &mut [&mut TestClient], seconds: u64) {
    wait_until(clients, Duration::from_secs(seconds), |_| false);
}

/// Bea says something and Wes hears it: the world still works for them.
fn still_talking(bea: &mut TestClient, wes: &mut TestClient, words: &str) {
    bea.app.world_mut().write_message(SendChat {
        to: ChatTo::Place,
        text: words.to_owned(),
    });
    let heard = wait_until(&mut [bea, wes], Duration::from_secs(10), |c| {
        c[1].app
            .world()
            .resource::<ChatLog>()
            .lines
            .iter()
            .any(|(_, line)| line.text == words)
    });
    assert!(heard, "Wes hears Bea say {words:?}");
}

fn left_the_world(client: &mut TestClient, others: &mut [&mut TestClient]) -> bool {
    let mut all: Vec<&mut TestClient> = vec![client];
    all.extend(others.iter_mut().map(|c| &mut **c));
    wait_until(&mut all, Duration::from_secs(30), |c| {
        c[0].state() != ConnectionState::InWorld
    })
}

#[test]
fn crafted_fragments_close_the_senders_link_and_nobody_else_notices() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ServerProcess::start(dir.path());
    let mut bea = TestClient::new(server.client_config("Bea", ephemeral()));
    let mut wes = TestClient::new(server.client_config("Wes", ephemeral()));
    enter_world_together(&mut [&mut bea, &mut wes]);
    still_talking(&mut bea, &mut wes, "before anything");
    let rss_before = server.rss_bytes();

    // One packet claiming 2^40 pieces: today's lightyear reserves 1.2 PB for it and aborts.
    let mut hugo = TestClient::new(server.client_config("Hugo", ephemeral()));
    enter_world(&mut hugo);
    let control = hugo.channel_id::<ControlChannel>();
    hugo.send_raw_packet(fragment_packet(40_000, control, 9, 1, 1 << 40, 0));
    assert!(
        left_the_world(&mut hugo, &mut [&mut bea, &mut wes]),
        "the sender of a 2^40-piece fragment is dropped"
    );
    assert!(server.is_running(), "one packet does not abort the server");

    // Thousands of partial messages of 43 pieces each, each begun by its short last piece
    // (lightyear would keep 50 KB for every one of them, for ever, on a reliable channel).
    let mut mia = TestClient::new(server.client_config("Mia", ephemeral()));
    enter_world(&mut mia);
    let control = mia.channel_id::<ControlChannel>();
    let mut message = 100u16;
    for _ in 0..20 {
        for _ in 0..100 {
            message += 1;
            mia.send_raw_packet(fragment_packet(
                message.wrapping_add(30_000),
                control,
                message,
                42,
                43,
                10,
            ));
        }
        for client in [&mut mia, &mut bea, &mut wes] {
            client.app.update();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        left_the_world(&mut mia, &mut [&mut bea, &mut wes]),
        "the sender of thousands of partial messages is dropped"
    );
    assert!(server.is_running(), "the server is still up");

    // Thousands of small messages far ahead of the next one the ordered channel expects
    // (lightyear keeps each until the missing ones arrive, which they never do).
    let mut ola = TestClient::new(server.client_config("Ola", ephemeral()));
    enter_world(&mut ola);
    let control = ola.channel_id::<ControlChannel>() as u8;
    for round in 0..40u16 {
        let first = 20_000 + round * 50;
        ola.send_raw_packet(data_packet(50_000 + round, control, first..first + 50));
        for client in [&mut ola, &mut bea, &mut wes] {
            client.app.update();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        left_the_world(&mut ola, &mut [&mut bea, &mut wes]),
        "the sender of messages far ahead of a gap is dropped"
    );
    assert!(server.is_running(), "the server is still up");

    pump(&mut [&mut bea, &mut wes], 2);
    let grown = server.rss_bytes().saturating_sub(rss_before);
    assert!(
        grown < 50 * 1024 * 1024,
        "the server's memory grew by {} MiB",
        grown / (1024 * 1024)
    );
    for (client, name) in [(&bea, "Bea"), (&wes, "Wes")] {
        assert_eq!(
            client.state(),
            ConnectionState::InWorld,
            "{name} is still in the world"
        );
    }
    still_talking(&mut bea, &mut wes, "after the attacks");
}
