//! Voice in the client, without a device. What this client says ([`Mouth`]) is encoded with
//! Opus and sent a 20 ms frame at a time as the frames come due. What others say arrives per
//! speaker into a small jitter buffer; every 20 ms each stream gives one frame, decoded, or
//! rebuilt from the next frame's redundancy, or concealed, and the streams are mixed by how
//! they reach this client (the floor at full level; neighbours by distance and bearing) into
//! [`Heard`]. The speaker's sound device, a bot's recording and the tests all take it from
//! there, so they hear exactly the same.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use archipelago_shared::protocol::AvatarPose;
use archipelago_shared::voice::{
    BITRATE, FRAME_MS, FRAME_SAMPLES, MAX_FRAME_BYTES, Reach, SAMPLE_RATE, VoiceChannel, VoiceDown,
    VoiceUp, gain, pan, stereo,
};
use bevy::prelude::*;
use lightyear::prelude::client::Client;
use lightyear::prelude::*;

use crate::ClientSystems;
use crate::crowd::Crowd;
use crate::connection::{ConnectionState, Session};

/// Frames a stream holds before it starts playing: the jitter buffer, 60 ms. More would
/// draw out a speaker cut off by the chair past the 200 ms they must go silent in.
const JITTER_FRAMES: usize = 3;
/// One frame's length.
const FRAME: Duration = Duration::from_millis(FRAME_MS as u64);
/// Missing frames in a row after which a stream is taken as ended (its speaker stopped).
const END_AFTER_MISSES: u32 = 10;
/// Frames concealed when a stream runs dry, before it waits in silence: a late frame's gap
/// is filled, a speaker who stopped (or was cut off) is not drawn out.
const CONCEAL_DRY: u32 = 2;
/// A speaker is shown as speaking for this long after their last frame.
const SPEAKING_FOR: Duration = Duration::from_millis(300);
/// A stream silent this long is forgotten (its decoder with it); it starts afresh if the
/// speaker talks again.
const FORGET_AFTER: Duration = Duration::from_secs(30);
/// Latencies kept for the benchmark.
const MAX_LATENCIES: usize = 4096;

/// What this client is saying: 48 kHz mono samples waiting to be sent.
#[derive(Resource, Debug, Default)]
pub struct Mouth {
    pending: VecDeque<i16>,
}

impl Mouth {
    /// Queues samples to say after what is already queued.
    pub fn say(&mut self, samples: impl IntoIterator<Item = i16>) {
        self.pending.extend(samples);
    }

    /// Stops saying what is still queued.
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Still has something to say.
    pub fn is_talking(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// The encoder and where this client's voice is in its stream.
#[derive(Resource)]
struct Outgoing {
    encoder: Mutex<opus::Encoder>,
    seq: u16,
    /// When the current stretch of talk began, and frames sent since.
    talk: Option<(Duration, u64)>,
}

/// One speaker's stream.
struct Stream {
    decoder: Mutex<opus::Decoder>,
    reach: Reach,
    /// Frames come in, by sequence number, waiting for their turn.
    buffer: BTreeMap<u16, (u32, Vec<u8>)>,
    /// The next frame to play; none until the buffer has filled.
    next: Option<u16>,
    misses: u32,
    last_heard: Duration,
    first_waiting: Option<Duration>,
}

/// What this client hears: the mix, and who is speaking.
#[derive(Resource, Default)]
pub struct Heard {
    streams: HashMap<Entity, Stream>,
    /// Stereo frames mixed and not yet taken (left, right), oldest first.
    pub stereo: VecDeque<(f32, f32)>,
    /// The same mix in mono, kept while [`Heard::record`] is on.
    pub recording: Option<Vec<i16>>,
    /// Blocks mixed since the first update in the world.
    mixed_blocks: u64,
    mix_from: Option<Duration>,
    /// Mouth-to-ear latencies, send to decode, in milliseconds (one machine's clock).
    pub latencies_ms: Vec<u32>,
    /// Frames that arrived too late to play, or for a stream that could not be decoded.
    pub late: u64,
    /// Frames from someone the roster has not told of (yet): not played.
    pub unknown: u64,
    pub concealed: u64,
    /// Speakers this person chose not to hear (their frames are taken and dropped).
    pub muted: HashSet<Entity>,
    /// Count frames without decoding or mixing them: bots that neither play nor record, so
    /// a crowd of them measures the server, not their own decoders.
    pub count_only: bool,
    /// Voice bytes received (frames' payloads), for the benchmark.
    pub bytes: u64,
}

impl Heard {
    /// Starts (or restarts) keeping what is heard.
    pub fn record(&mut self) {
        self.recording = Some(Vec::new());
    }

    /// Who has spoken within the last moment (their avatars).
    pub fn speaking(&self, now: Duration) -> impl Iterator<Item = Entity> + '_ {
        self.streams
            .iter()
            .filter(move |(_, s)| now.saturating_sub(s.last_heard) < SPEAKING_FOR)
            .map(|(&speaker, _)| speaker)
    }
}

/// Why voice cannot run in this client at all (the codec would not start), when it cannot.
#[derive(Resource, Debug)]
pub struct VoiceOff(pub String);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Mouth>().init_resource::<Heard>();
    let encoder = match encoder() {
        Ok(encoder) => encoder,
        Err(error) => {
            error!("voice is off: {error}");
            app.insert_resource(VoiceOff(format!(
                "Voice is off: the Opus codec would not start ({error})."
            )));
            return;
        }
    };
    app.insert_resource(Outgoing {
            encoder: Mutex::new(encoder),
            seq: 0,
            talk: None,
        })
        .add_systems(
            Update,
            (
                (receive, mix).chain().in_set(ClientSystems::Receive),
                speak
                    .after(ClientSystems::Control)
                    .before(ClientSystems::Present),
            ),
        );
}

fn encoder() -> anyhow::Result<opus::Encoder> {
    let mut encoder =
        opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)?;
    encoder.set_bitrate(opus::Bitrate::Bits(BITRATE))?;
    encoder.set_inband_fec(true)?;
    encoder.set_packet_loss_perc(10)?;
    Ok(encoder)
}

/// Milliseconds on this machine's clock, wrapping: the timestamps frames carry.
fn clock_ms() -> u32 {
    archipelago_shared::clock::unix_millis() as u32
}

/// Sends the frames that have come due since the talk began, one per 20 ms.
fn speak(
    mut mouth: ResMut<Mouth>,
    mut outgoing: ResMut<Outgoing>,
    mut senders: Query<&mut MessageSender<VoiceUp>, With<Client>>,
    state: Res<ConnectionState>,
    time: Res<Time>,
) {
    if *state != ConnectionState::InWorld || !mouth.is_talking() {
        outgoing.talk = None;
        return;
    }
    let Ok(mut sender) = senders.single_mut() else {
        return;
    };
    let now = time.elapsed();
    let (started, sent) = *outgoing.talk.get_or_insert((now, 0));
    let due = (now - started).as_millis() as u64 / u64::from(FRAME_MS) + 1;
    let mut sent_now = 0;
    let mut pcm = [0i16; FRAME_SAMPLES];
    let mut out = [0u8; MAX_FRAME_BYTES];
    while sent + sent_now < due && mouth.is_talking() {
        let take = mouth.pending.len().min(FRAME_SAMPLES);
        pcm.fill(0);
        for (slot, sample) in pcm.iter_mut().zip(mouth.pending.drain(..take)) {
            *slot = sample;
        }
        let encoded = outgoing
            .encoder
            .get_mut()
            .map_err(|_| anyhow::anyhow!("the encoder's lock is poisoned"))
            .and_then(|e| Ok(e.encode(&pcm, &mut out)?));
        match encoded {
            Ok(len) => {
                let seq = outgoing.seq;
                outgoing.seq = seq.wrapping_add(1);
                sender.send::<VoiceChannel>(VoiceUp {
                    seq,
                    at_ms: clock_ms(),
                    frame: out[..len].to_vec(),
                });
            }
            Err(error) => warn!("a voice frame could not be encoded: {error}"),
        }
        sent_now += 1;
    }
    if let Some((_, sent)) = outgoing.talk.as_mut() {
        *sent += sent_now;
    }
}

/// Puts each frame that came into its speaker's buffer.
fn receive(
    mut receivers: Query<&mut MessageReceiver<VoiceDown>, With<Client>>,
    mut heard: ResMut<Heard>,
    crowd: Res<Crowd>,
    time: Res<Time>,
) {
    let Ok(mut receiver) = receivers.single_mut() else {
        return;
    };
    let now = time.elapsed();
    for down in receiver.receive() {
        let heard = &mut *heard;
        let Some(speaker) = crowd.avatar(down.speaker) else {
            heard.unknown += 1;
            continue;
        };
        let stream = match heard.streams.entry(speaker) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let Ok(decoder) = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono) else {
                    heard.late += 1;
                    continue;
                };
                entry.insert(Stream {
                    decoder: Mutex::new(decoder),
                    reach: down.reach,
                    buffer: BTreeMap::new(),
                    next: None,
                    misses: 0,
                    last_heard: now,
                    first_waiting: None,
                })
            }
        };
        stream.reach = down.reach;
        stream.last_heard = now;
        heard.bytes += down.frame.len() as u64;
        if heard.count_only {
            heard.latencies_ms.push(clock_ms().wrapping_sub(down.at_ms));
            continue;
        }
        let behind = stream
            .next
            .is_some_and(|next| (down.seq.wrapping_sub(next) as i16) < 0);
        if behind || down.frame.len() > MAX_FRAME_BYTES {
            heard.late += 1;
            continue;
        }
        stream.first_waiting.get_or_insert(now);
        stream.buffer.insert(down.seq, (down.at_ms, down.frame));
    }
}

/// Mixes the 20 ms blocks that have come due.
fn mix(
    mut heard: ResMut<Heard>,
    poses: Query<&AvatarPose>,
    session: Res<Session>,
    state: Res<ConnectionState>,
    time: Res<Time>,
) {
    let forget_before = time.elapsed().saturating_sub(FORGET_AFTER);
    heard
        .streams
        .retain(|_, stream| stream.last_heard >= forget_before);
    if *state != ConnectionState::InWorld || heard.count_only {
        heard.mix_from = None;
        let excess = heard.latencies_ms.len().saturating_sub(MAX_LATENCIES);
        heard.latencies_ms.drain(..excess);
        return;
    }
    let now = time.elapsed();
    let heard = &mut *heard;
    let from = *heard.mix_from.get_or_insert(now);
    let due = (now - from).as_millis() as u64 / u64::from(FRAME_MS);
    let me = session.own_avatar.and_then(|a| poses.get(a).ok()).copied();
    let mut pcm = [0i16; FRAME_SAMPLES];
    while heard.mixed_blocks < due {
        heard.mixed_blocks += 1;
        let mut block = [(0.0f32, 0.0f32); FRAME_SAMPLES];
        let mut mono = [0.0f32; FRAME_SAMPLES];
        for (speaker, stream) in heard.streams.iter_mut() {
            let Some(decoded) = next_frame(stream, now, &mut pcm, &mut heard.latencies_ms) else {
                continue;
            };
            if decoded.concealed {
                heard.concealed += 1;
            }
            if heard.muted.contains(speaker) {
                continue;
            }
            let (level, side) = placement(stream.reach, me, poses.get(*speaker).ok());
            let (left, right) = stereo(level, side);
            for (i, &sample) in pcm.iter().enumerate() {
                let s = f32::from(sample) / 32768.0;
                block[i].0 += s * left;
                block[i].1 += s * right;
                mono[i] += s * level;
            }
        }
        heard.stereo.extend(block);
        // The device takes what it needs; keep at most a second for it.
        let excess = heard.stereo.len().saturating_sub(SAMPLE_RATE as usize);
        heard.stereo.drain(..excess);
        if let Some(recording) = heard.recording.as_mut() {
            recording.extend(mono.iter().map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16));
        }
    }
    if heard.latencies_ms.len() > MAX_LATENCIES {
        let excess = heard.latencies_ms.len() - MAX_LATENCIES;
        heard.latencies_ms.drain(..excess);
    }
}

/// A frame decoded into the buffer given.
struct Decoded {
    concealed: bool,
}

/// The stream's next 20 ms, or `None` while it is silent (not started, or ended).
fn next_frame(
    stream: &mut Stream,
    now: Duration,
    pcm: &mut [i16; FRAME_SAMPLES],
    latencies: &mut Vec<u32>,
) -> Option<Decoded> {
    let next = match stream.next {
        Some(next) => next,
        None => {
            let waited = stream
                .first_waiting
                .is_some_and(|at| now.saturating_sub(at) >= FRAME * JITTER_FRAMES as u32);
            if stream.buffer.len() < JITTER_FRAMES && !waited {
                return None;
            }
            // The oldest waiting frame starts the stream.
            *stream.buffer.keys().next()?
        }
    };
    let decoder = stream.decoder.get_mut().ok()?;
    // Played in turn; a frame missing while later ones wait was lost, and is rebuilt from the
    // redundancy the following frame carries, or concealed. With nothing waiting at all the
    // stream has run dry (the network held its frames back): it is concealed without moving
    // on, so the frame that was due still plays when it comes, a little later.
    let (decoded, concealed, advance) = if let Some((at_ms, frame)) = stream.buffer.remove(&next) {
        latencies.push(clock_ms().wrapping_sub(at_ms));
        (decoder.decode(&frame, pcm, false), false, true)
    } else if let Some((_, following)) = stream.buffer.get(&next.wrapping_add(1)) {
        (decoder.decode(following, pcm, true), true, true)
    } else if !stream.buffer.is_empty() {
        (decoder.decode(&[], pcm, false), true, true)
    } else {
        (decoder.decode(&[], pcm, false), true, false)
    };
    if decoded.is_err() {
        pcm.fill(0);
    }
    stream.misses = if advance { 0 } else { stream.misses + 1 };
    if stream.misses >= END_AFTER_MISSES {
        // The speaker stopped: silence until they start again.
        stream.next = None;
        stream.first_waiting = None;
        stream.misses = 0;
        return None;
    }
    if advance {
        stream.next = Some(next.wrapping_add(1));
    } else if stream.misses > CONCEAL_DRY {
        return None;
    }
    Some(Decoded { concealed })
}

/// The level and side of a voice, from how it reaches this client and where both stand.
fn placement(reach: Reach, me: Option<AvatarPose>, speaker: Option<&AvatarPose>) -> (f32, f32) {
    match (reach, me, speaker) {
        (Reach::Floor, _, _) => (gain(Reach::Floor, 0.0), 0.0),
        (reach, Some(me), Some(speaker)) => (
            gain(reach, me.position.distance(speaker.position)),
            pan(me.position, me.yaw, speaker.position),
        ),
        // The server heard it in range; where exactly is not known here yet.
        (reach, _, _) => (gain(reach, reach.range().unwrap_or(0.0) * 0.5), 0.0),
    }
}

/// One frame of 48 kHz mono samples (padded with silence) as a fresh encoder codes it.
pub fn encode_frame(samples: &[i16]) -> anyhow::Result<Vec<u8>> {
    let mut pcm = [0i16; FRAME_SAMPLES];
    for (slot, &sample) in pcm.iter_mut().zip(samples) {
        *slot = sample;
    }
    let mut out = [0u8; MAX_FRAME_BYTES];
    let len = encoder()?.encode(&pcm, &mut out)?;
    Ok(out[..len].to_vec())
}

/// A WAV file's samples, if it is 48 kHz mono 16-bit, as voice is.
pub fn read_wav(path: &Path) -> anyhow::Result<Vec<i16>> {
    let mut reader =
        hound::WavReader::open(path).with_context(|| format!("reading {}", path.display()))?;
    let spec = reader.spec();
    if spec.sample_rate != SAMPLE_RATE || spec.channels != 1 || spec.bits_per_sample != 16 {
        bail!(
            "{} is {} Hz, {} channel(s), {} bits; voice is {SAMPLE_RATE} Hz mono 16-bit \
             (sox IN.wav -r {SAMPLE_RATE} -c 1 -b 16 OUT.wav converts it)",
            path.display(),
            spec.sample_rate,
            spec.channels,
            spec.bits_per_sample
        );
    }
    reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", path.display()))
}

/// Writes 48 kHz mono samples as a 16-bit WAV file.
pub fn write_wav(path: &Path, samples: &[i16]) -> anyhow::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)
        .with_context(|| format!("writing {}", path.display()))?;
    for &sample in samples {
        writer.write_sample(sample)?;
    }
    writer.finalize()?;
    Ok(())
}
