//! Speech to test voice with, and the measures a recording is judged by: espeak-ng says a
//! sentence, sox turns it into 48 kHz mono; the envelope (loudness every 20 ms) of what a
//! listener recorded is compared with the source's.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use archipelago_shared::assembly::{AgendaItem, AssemblyRequest};
use archipelago_shared::protocol::Role;
use archipelago_shared::voice::{FRAME_SAMPLES, VoiceChannel, VoiceUp};
use bevy::math::Vec3;
use bevy::prelude::With;

use crate::TestClient;

/// A sentence spoken by espeak-ng, as 48 kHz mono samples.
pub fn speech(text: &str, dir: &Path) -> Vec<i16> {
    let said = dir.join("said.wav");
    let voice = dir.join("voice.wav");
    let spoke = Command::new("espeak-ng")
        .args(["-s", "150", "-w"])
        .arg(&said)
        .arg(text)
        .status()
        .expect("espeak-ng runs (make test installs it)");
    assert!(spoke.success(), "espeak-ng failed");
    let converted = Command::new("sox")
        .arg(&said)
        .args(["-r", "48000", "-c", "1", "-b", "16"])
        .arg(&voice)
        .status()
        .expect("sox runs (make test installs it)");
    assert!(converted.success(), "sox failed");
    archipelago_client::voice::read_wav(&voice).expect("a 48 kHz mono WAV")
}

/// Loudness (RMS, 0 to 1) of each 20 ms of `samples`.
pub fn envelope(samples: &[i16]) -> Vec<f32> {
    samples
        .chunks(FRAME_SAMPLES)
        .map(|block| {
            let power: f32 = block
                .iter()
                .map(|&s| (f32::from(s) / 32768.0).powi(2))
                .sum::<f32>()
                / block.len() as f32;
            power.sqrt()
        })
        .collect()
}

/// Seconds from the first to the last 20 ms louder than a tenth of the loudest: how long the
/// speech lasts, without the silence around it.
pub fn spoken_seconds(samples: &[i16]) -> f32 {
    let envelope = envelope(samples);
    let loudest = envelope.iter().copied().fold(0.0f32, f32::max);
    let loud = |e: &f32| *e > loudest * 0.1 && loudest > 0.0;
    let (Some(first), Some(last)) = (
        envelope.iter().position(loud),
        envelope.iter().rposition(loud),
    ) else {
        return 0.0;
    };
    (last + 1 - first) as f32 * FRAME_SAMPLES as f32 / 48_000.0
}

/// The loudest sample, 0 to 1.
pub fn peak(samples: &[i16]) -> f32 {
    samples
        .iter()
        .map(|&s| f32::from(s).abs() / 32768.0)
        .fold(0.0, f32::max)
}

/// Pearson's r between two series of the same length.
fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len()) as f32;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma) * (x - ma);
        bb += (y - mb) * (y - mb);
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    ab / (aa * bb).sqrt()
}

/// How well a recording's envelope follows the source's, aligned at the best delay: the
/// highest r over every delay of the recording behind the source. Each half of the source
/// is aligned on its own and the worse half counts: a jitter buffer that waited out a late
/// frame mid-sentence (a few tens of milliseconds later from there on, nothing lost) is
/// aligned, not scored as distortion.
pub fn envelope_correlation(source: &[i16], recording: &[i16]) -> f32 {
    let (source, recording) = (envelope(source), envelope(recording));
    let half = source.len() / 2;
    [&source[..half], &source[half..]]
        .into_iter()
        .map(|part| best_aligned(part, &recording))
        .fold(f32::MAX, f32::min)
}

/// The highest r of `part` against `recording` over every delay.
fn best_aligned(part: &[f32], recording: &[f32]) -> f32 {
    if part.is_empty() || recording.len() < part.len() {
        return 0.0;
    }
    (0..=recording.len() - part.len())
        .map(|delay| pearson(part, &recording[delay..delay + part.len()]))
        .fold(f32::MIN, f32::max)
}

impl TestClient {
    /// Queues samples for this client to say.
    pub fn speak(&mut self, samples: &[i16]) {
        let mut mouth = self
            .app
            .world_mut()
            .resource_mut::<archipelago_client::voice::Mouth>();
        mouth.say(samples.iter().copied());
    }

    /// Starts keeping what this client hears.
    pub fn record_voice(&mut self) {
        self.app
            .world_mut()
            .resource_mut::<archipelago_client::voice::Heard>()
            .record();
    }

    /// Sends one voice frame as it is, however malformed.
    pub fn send_voice(&mut self, frame: VoiceUp) {
        let world = self.app.world_mut();
        let mut senders = world.query_filtered::<
            &mut lightyear::prelude::MessageSender<VoiceUp>,
            With<lightyear::prelude::client::Client>,
        >();
        senders
            .single_mut(world)
            .expect("a connected client")
            .send::<VoiceChannel>(frame);
    }

    /// Frames that came too late to play, and frames concealed, so far.
    pub fn voice_losses(&self) -> (u64, u64) {
        let heard = self
            .app
            .world()
            .resource::<archipelago_client::voice::Heard>();
        (heard.late, heard.concealed)
    }

    /// What this client heard since [`TestClient::record_voice`].
    pub fn recording(&self) -> Vec<i16> {
        self.app
            .world()
            .resource::<archipelago_client::voice::Heard>()
            .recording
            .clone()
            .unwrap_or_default()
    }
}

/// A sentence long enough to judge a recording by (about four seconds).
const SENTENCE: &str = "The harbour needs a second pier before the winter storms arrive.";

/// Someone joining the server under test: `SimServer::join` or `TestServer::join`.
pub trait Join: Fn(&str, Option<Role>) -> TestClient {}
impl<F: Fn(&str, Option<Role>) -> TestClient> Join for F {}

/// A member speaks on the floor of a hall in session: a listener in the hall and one in its
/// overflow each hear the whole sentence, following it closely; someone on the grounds
/// outside hears nothing.
pub fn the_floor_is_heard_in_the_hall_and_its_overflow(join: impl Join, scratch: &Path) {
    let source = speech(SENTENCE, scratch);
    let spoken = spoken_seconds(&source);
    let (capital, _) = crate::capital_hall();
    let mut fay = join("Fay", Some(Role::Founder));
    let mut bo = join("Bo", Some(Role::Member));
    let mut ada = join("Ada", Some(Role::Member));
    let mut cy = join("Cy", Some(Role::Member));
    let mut dan = join("Dan", Some(Role::Member));
    crate::enter_world_together(&mut [&mut fay, &mut bo, &mut ada, &mut cy, &mut dan]);
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: capital.clone(),
        title: "Harbour assembly".into(),
        agenda: vec![AgendaItem {
            title: "A second pier".into(),
            proposal: None,
        }],
        chair: None,
        capacity: Some(3),
    });
    assert!(opened.is_ok(), "{opened:?}");
    crate::enter_hall(&mut [&mut fay, &mut bo, &mut ada], &capital);
    crate::enter_hall(&mut [&mut cy], &capital);
    assert!(
        crate::wait_until(&mut [&mut cy], Duration::from_secs(5), |c| c[0]
            .in_overflow()),
        "Cy, the fourth in a hall for three, follows from the overflow"
    );
    let given = fay.ask(AssemblyRequest::GiveFloor {
        protocity: capital.clone(),
        to: Some(bo.key_hex()),
        seconds: 120,
    });
    assert!(given.is_ok(), "{given:?}");
    let mut everyone = [&mut fay, &mut bo, &mut ada, &mut cy, &mut dan];
    assert!(
        crate::wait_until(&mut everyone, Duration::from_secs(3), |c| {
            c[2].hall_session(&capital)
                .and_then(|s| s.floor)
                .is_some_and(|f| f.speaker.name == "Bo")
        }),
        "Bo holds the floor"
    );

    for listener in [2, 3, 4] {
        everyone[listener].record_voice();
    }
    everyone[1].speak(&source);
    let length = Duration::from_secs_f32(source.len() as f32 / 48_000.0);
    crate::pass_time(&mut everyone, length + Duration::from_millis(1500));

    for (listener, name) in [(2, "Ada, in the hall"), (3, "Cy, in the overflow")] {
        let heard = everyone[listener].recording();
        let seconds = spoken_seconds(&heard);
        assert!(
            (seconds - spoken).abs() <= spoken * 0.1,
            "{name} heard {seconds:.2} s of a {spoken:.2} s sentence"
        );
        let r = envelope_correlation(&source, &heard);
        let (late, concealed) = everyone[listener].voice_losses();
        eprintln!(
            "{name}: {seconds:.2} s of {spoken:.2} s, r = {r:.3} ({late} frames late, \
             {concealed} concealed)"
        );
        assert!(r >= 0.8, "{name} heard the sentence as said: r = {r:.3}");
    }
    let outside = peak(&everyone[4].recording());
    assert!(
        outside < 0.001,
        "Dan, on the grounds outside, hears nothing of the floor: peak {outside}"
    );
}

/// On an island's grounds a voice carries about 20 m: a neighbour 5 m away hears the
/// sentence; someone 30 m away hears nothing.
pub fn on_the_grounds_a_voice_carries_twenty_metres(join: impl Join, scratch: &Path) {
    grounds(join, scratch, 0.8, || {});
}

/// As [`on_the_grounds_a_voice_carries_twenty_metres`], with `before_speaking` run once all
/// stand in place (to make Eve's network worse, say), and the neighbour's recording judged by
/// `min_r`.
pub fn grounds(join: impl Join, scratch: &Path, min_r: f32, before_speaking: impl FnOnce()) {
    let source = speech(SENTENCE, scratch);
    let spoken = spoken_seconds(&source);
    let mut bo = join("Bo", Some(Role::Member));
    let mut eve = join("Eve", None);
    let mut dan = join("Dan", Some(Role::Member));
    crate::enter_world_together(&mut [&mut bo, &mut eve, &mut dan]);
    let ground = |x: f32, z: f32| Vec3::new(x, 0.0, z);
    assert!(
        crate::walk_together(
            &mut [&mut bo, &mut eve, &mut dan],
            &[ground(-8.0, 22.0), ground(-3.0, 22.0), ground(-8.0, 52.0)],
            Duration::from_secs(30),
        ),
        "everyone reaches their spot on the capital's grounds"
    );
    before_speaking();
    let mut everyone = [&mut bo, &mut eve, &mut dan];
    for listener in [1, 2] {
        everyone[listener].record_voice();
    }
    everyone[0].speak(&source);
    let length = Duration::from_secs_f32(source.len() as f32 / 48_000.0);
    crate::pass_time(&mut everyone, length + Duration::from_millis(1500));

    let near = everyone[1].recording();
    let seconds = spoken_seconds(&near);
    assert!(
        (seconds - spoken).abs() <= spoken * 0.1,
        "Eve, 5 m away, heard {seconds:.2} s of a {spoken:.2} s sentence"
    );
    let r = envelope_correlation(&source, &near);
    let (late, concealed) = everyone[1].voice_losses();
    eprintln!(
        "Eve, 5 m away: {seconds:.2} s of {spoken:.2} s, r = {r:.3} ({late} frames late, \
         {concealed} concealed)"
    );
    assert!(r >= min_r, "Eve heard the sentence as said: r = {r:.3}");
    let far = peak(&everyone[2].recording());
    assert!(far < 0.001, "Dan, 30 m away, hears nothing: peak {far}");
}
