//! A UDP relay that makes a bad network between clients and a server: it loses, delays
//! (and so reorders) and duplicates datagrams, and can go silent for a while.

use std::collections::{BinaryHeap, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How bad the network is.
#[derive(Debug, Clone, Copy)]
pub struct Impairment {
    /// Share of datagrams lost, each way.
    pub loss: f64,
    /// Share of datagrams delivered twice.
    pub duplicate: f64,
    /// Each datagram waits between these two; with a spread, later ones overtake earlier.
    pub delay: (Duration, Duration),
    /// Largest UDP payload the path carries; larger datagrams are dropped, as a router drops
    /// a packet too big for the next hop (QUIC sets "don't fragment").
    pub path_mtu: usize,
}

impl Impairment {
    /// A clean network: everything passes at once, in order.
    pub fn none() -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            delay: (Duration::ZERO, Duration::ZERO),
            path_mtu: usize::MAX,
        }
    }

    /// Nothing lost, but every datagram 10-70 ms late, so reordered, and 5 % duplicated.
    pub fn reordering() -> Self {
        Self {
            loss: 0.0,
            ..Self::bad()
        }
    }

    /// A clean network whose path carries UDP payloads of 1232 bytes at most: IPv6's minimum
    /// MTU of 1280, as through many tunnels and VPNs. QUIC works there (it needs 1200).
    pub fn narrow() -> Self {
        Self {
            path_mtu: 1232,
            ..Self::none()
        }
    }

    /// 20 % loss, 5 % duplicates, 10-70 ms of delay.
    pub fn bad() -> Self {
        Self {
            loss: 0.2,
            duplicate: 0.05,
            delay: (Duration::from_millis(10), Duration::from_millis(70)),
            path_mtu: usize::MAX,
        }
    }
}

/// A datagram waiting for its time.
#[derive(PartialEq, Eq)]
struct Due {
    at: Instant,
    order: u64,
    /// Towards the server (from this client) or back to this client.
    client: SocketAddr,
    to_server: bool,
    bytes: Vec<u8>,
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // The earliest first out of the max-heap.
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The relay, running in its own thread until dropped.
pub struct LossyRelay {
    /// Where clients connect instead of the server.
    pub addr: SocketAddr,
    impairment: Arc<Mutex<Impairment>>,
    silent_until: Arc<Mutex<Option<Instant>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LossyRelay {
    pub fn start(server: SocketAddr, impairment: Impairment) -> Self {
        let front = UdpSocket::bind("127.0.0.1:0").expect("a relay port");
        front
            .set_read_timeout(Some(Duration::from_millis(1)))
            .expect("a read timeout");
        let addr = front.local_addr().expect("the relay's address");
        let impairment = Arc::new(Mutex::new(impairment));
        let silent_until = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let impairment = impairment.clone();
            let silent_until = silent_until.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("lossy-relay".into())
                .spawn(move || relay(front, server, &impairment, &silent_until, &stop))
                .expect("the relay thread")
        };
        Self {
            addr,
            impairment,
            silent_until,
            stop,
            thread: Some(thread),
        }
    }

    /// Makes the network this bad from now on.
    pub fn impair(&self, impairment: Impairment) {
        *self.impairment.lock().expect("the relay's lock") = impairment;
    }

    /// Drops everything, both ways, for `length` from now.
    pub fn blackout(&self, length: Duration) {
        *self.silent_until.lock().expect("the relay's lock") = Some(Instant::now() + length);
    }

    pub fn is_silent(&self) -> bool {
        self.silent_until
            .lock()
            .expect("the relay's lock")
            .is_some_and(|until| Instant::now() < until)
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A small deterministic generator (xorshift), so a run can be repeated.
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn relay(
    front: UdpSocket,
    server: SocketAddr,
    impairment: &Mutex<Impairment>,
    silent_until: &Mutex<Option<Instant>>,
    stop: &AtomicBool,
) {
    // One socket towards the server per client address, as a NAT would keep.
    let mut upstream: HashMap<SocketAddr, UdpSocket> = HashMap::new();
    let mut waiting = BinaryHeap::new();
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let mut order = 0;
    let mut buffer = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let impairment = *impairment.lock().expect("the relay's lock");
        let (low, high) = impairment.delay;
        let silent = silent_until
            .lock()
            .expect("the relay's lock")
            .is_some_and(|until| Instant::now() < until);
        let mut arrived = Vec::new();
        if let Ok((len, client)) = front.recv_from(&mut buffer) {
            arrived.push((client, true, buffer[..len].to_vec()));
        }
        for (client, socket) in &upstream {
            while let Ok(len) = socket.recv(&mut buffer) {
                arrived.push((*client, false, buffer[..len].to_vec()));
            }
        }
        for (client, to_server, bytes) in arrived {
            if silent || bytes.len() > impairment.path_mtu || dice.roll() < impairment.loss {
                continue;
            }
            let copies = if dice.roll() < impairment.duplicate {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let delay = low + (high - low).mul_f64(dice.roll());
                order += 1;
                waiting.push(Due {
                    at: Instant::now() + delay,
                    order,
                    client,
                    to_server,
                    bytes: bytes.clone(),
                });
            }
        }
        while waiting
            .peek()
            .is_some_and(|due: &Due| due.at <= Instant::now())
        {
            let due = waiting.pop().expect("peeked");
            if due.to_server {
                let socket = upstream.entry(due.client).or_insert_with(|| {
                    let socket = UdpSocket::bind("127.0.0.1:0").expect("an upstream port");
                    socket.connect(server).expect("the server's address");
                    socket.set_nonblocking(true).expect("non-blocking");
                    socket
                });
                let _ = socket.send(&due.bytes);
            } else {
                let _ = front.send_to(&due.bytes, due.client);
            }
        }
    }
}
