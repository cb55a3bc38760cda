//! Voice at the keyboard: the microphone and the speakers (cpal), push-to-talk on V or an
//! open microphone that opens on speech, and the Voice window (level meter, devices, volume,
//! who is heard, with a local mute for each). With no sound device (a server room, Xvfb)
//! voice turns itself off with one notice, and everything else works as before.
//!
//! The devices run on cpal's own threads; they meet the app in two rings of samples: what
//! the microphone took (48 kHz mono) and what the speakers are to play (48 kHz stereo).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archipelago_shared::protocol::AvatarProfile;
use archipelago_shared::voice::SAMPLE_RATE;
use bevy::prelude::*;
use bevy_egui::input::{EguiWantsInput, egui_wants_any_keyboard_input};
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use crate::connection::Session;
use crate::voice::{Heard, Mouth};

/// The most the speakers' ring holds: more means the device stopped taking, and old sound is
/// dropped rather than played late.
const PLAYBACK_MAX: usize = SAMPLE_RATE as usize / 5;
/// The microphone's ring, likewise.
const CAPTURE_MAX: usize = SAMPLE_RATE as usize / 2;
/// An open microphone opens above this level (RMS of 20 ms, 0 to 1)...
const OPEN_MIC_THRESHOLD: f32 = 0.02;
/// ...and stays open this long after the last loud frame.
const OPEN_MIC_HANG: Duration = Duration::from_millis(400);

type Ring<T> = Arc<Mutex<VecDeque<T>>>;

/// The rings the devices share with the app, and the flag that stops them.
struct Devices {
    capture: Ring<f32>,
    playback: Ring<(f32, f32)>,
    stop: Arc<AtomicBool>,
    input: String,
    output: String,
}

impl Drop for Devices {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How voice stands and what the person chose.
#[derive(Resource)]
pub struct VoiceControls {
    devices: Option<Devices>,
    /// Why voice is off, when it is.
    pub off: Option<String>,
    /// Talk whenever speech is heard, instead of while V is held.
    pub open_mic: bool,
    /// The speakers' level, 0 to 2.
    pub volume: f32,
    /// The microphone's level now (RMS, 0 to 1), for the meter.
    pub level: f32,
    /// This client is sending its voice now.
    pub talking: bool,
    last_loud: Option<Duration>,
    pub window_open: bool,
    inputs: Vec<String>,
    outputs: Vec<String>,
    chosen_input: Option<String>,
    chosen_output: Option<String>,
}

pub(crate) fn plugin(app: &mut App) {
    let mut controls = VoiceControls {
        devices: None,
        off: None,
        open_mic: false,
        volume: 1.0,
        level: 0.0,
        talking: false,
        last_loud: None,
        window_open: false,
        inputs: Vec::new(),
        outputs: Vec::new(),
        chosen_input: None,
        chosen_output: None,
    };
    controls.off = Some("Voice is starting.".into());
    app.insert_resource(controls)
        .add_systems(Startup, open_at_start)
        .add_systems(
            Update,
            (
                toggle_window.run_if(not(egui_wants_any_keyboard_input)),
                (capture, play).after(crate::ClientSystems::Receive),
            ),
        )
        .add_systems(EguiPrimaryContextPass, window);
}

/// Opens the chosen (or default) devices, or says why voice is off.
fn open_devices(controls: &mut VoiceControls) {
    controls.devices = None;
    let host = cpal::default_host();
    controls.inputs = names(host.input_devices());
    controls.outputs = names(host.output_devices());
    match start(
        &host,
        controls.chosen_input.as_deref(),
        controls.chosen_output.as_deref(),
    ) {
        Ok(devices) => {
            info!(
                "voice: microphone {}, speakers {}",
                devices.input, devices.output
            );
            controls.off = None;
            controls.devices = Some(devices);
        }
        Err(why) => {
            warn!("voice is off: {why}");
            let why = why.trim_end_matches('.');
            controls.off = Some(format!(
                "Voice is off (no sound device: {why}). Everything else works."
            ));
        }
    }
}

fn names(devices: Result<impl Iterator<Item = cpal::Device>, cpal::DevicesError>) -> Vec<String> {
    devices
        .map(|devices| devices.filter_map(|d| d.name().ok()).collect())
        .unwrap_or_default()
}

fn find(
    devices: Result<impl Iterator<Item = cpal::Device>, cpal::DevicesError>,
    name: &str,
) -> Option<cpal::Device> {
    devices
        .ok()?
        .find(|d| d.name().is_ok_and(|n| n == name))
}

/// Starts both devices on a thread of their own (cpal's streams stay on the thread that made
/// them), and waits for it to say whether they run.
fn start(
    host: &cpal::Host,
    input: Option<&str>,
    output: Option<&str>,
) -> Result<Devices, String> {
    let input = match input {
        Some(name) => find(host.input_devices(), name),
        None => host.default_input_device(),
    }
    .ok_or("no microphone was found")?;
    let output = match output {
        Some(name) => find(host.output_devices(), name),
        None => host.default_output_device(),
    }
    .ok_or("no speakers were found")?;
    let capture: Ring<f32> = Arc::default();
    let playback: Ring<(f32, f32)> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let names = (
        input.name().unwrap_or_else(|_| "microphone".into()),
        output.name().unwrap_or_else(|_| "speakers".into()),
    );
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (ring_in, ring_out, stopped) = (capture.clone(), playback.clone(), stop.clone());
    std::thread::Builder::new()
        .name("voice-devices".into())
        .spawn(move || {
            let streams = input_stream(&input, ring_in).and_then(|i| {
                let o = output_stream(&output, ring_out)?;
                i.play().map_err(|e| e.to_string())?;
                o.play().map_err(|e| e.to_string())?;
                Ok((i, o))
            });
            let running = streams.is_ok();
            let _ = ready_tx.send(streams.as_ref().map(|_| ()).map_err(Clone::clone));
            if running {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
        .map_err(|e| e.to_string())?;
    match ready_rx.recv_timeout(Duration::from_secs(3)) {
        Ok(Ok(())) => Ok(Devices {
            capture,
            playback,
            stop,
            input: names.0,
            output: names.1,
        }),
        Ok(Err(why)) => Err(why),
        Err(_) => {
            stop.store(true, Ordering::Relaxed);
            Err("the sound devices did not start".into())
        }
    }
}

/// A config at 48 kHz if the device has one, else its default (resampled here).
fn config(
    supported: Result<impl Iterator<Item = cpal::SupportedStreamConfigRange>, String>,
    default: Result<cpal::SupportedStreamConfig, String>,
) -> Result<cpal::SupportedStreamConfig, String> {
    let rate = cpal::SampleRate(SAMPLE_RATE);
    supported?
        .filter(|c| c.sample_format() == cpal::SampleFormat::F32)
        .find(|c| c.min_sample_rate() <= rate && rate <= c.max_sample_rate())
        .map(|c| c.with_sample_rate(rate))
        .map_or(default, Ok)
}

fn input_stream(device: &cpal::Device, ring: Ring<f32>) -> Result<cpal::Stream, String> {
    let config = config(
        device.supported_input_configs().map_err(|e| e.to_string()),
        device.default_input_config().map_err(|e| e.to_string()),
    )?;
    if config.sample_format() != cpal::SampleFormat::F32 {
        return Err(format!(
            "the microphone gives {} samples; voice takes 32-bit float",
            config.sample_format()
        ));
    }
    let channels = usize::from(config.channels().max(1));
    let step = config.sample_rate().0 as f32 / SAMPLE_RATE as f32;
    let mut at = 0.0f32;
    device
        .build_input_stream(
            &config.config(),
            move |data: &[f32], _| {
                let Ok(mut ring) = ring.lock() else {
                    return;
                };
                let frames: Vec<f32> = data
                    .chunks(channels)
                    .map(|f| f.iter().sum::<f32>() / channels as f32)
                    .collect();
                // Nearest-sample resampling to 48 kHz: speech does not mind.
                while (at as usize) < frames.len() {
                    ring.push_back(frames[at as usize]);
                    at += step;
                }
                at -= frames.len() as f32;
                let excess = ring.len().saturating_sub(CAPTURE_MAX);
                ring.drain(..excess);
            },
            |error| warn!("microphone: {error}"),
            None,
        )
        .map_err(|e| e.to_string())
}

fn output_stream(device: &cpal::Device, ring: Ring<(f32, f32)>) -> Result<cpal::Stream, String> {
    let config = config(
        device.supported_output_configs().map_err(|e| e.to_string()),
        device.default_output_config().map_err(|e| e.to_string()),
    )?;
    if config.sample_format() != cpal::SampleFormat::F32 {
        return Err(format!(
            "the speakers take {} samples; voice gives 32-bit float",
            config.sample_format()
        ));
    }
    let channels = usize::from(config.channels().max(1));
    let step = SAMPLE_RATE as f32 / config.sample_rate().0 as f32;
    let mut at = 0.0f32;
    let mut current = (0.0, 0.0);
    device
        .build_output_stream(
            &config.config(),
            move |data: &mut [f32], _| {
                let mut ring = ring.lock().ok();
                for frame in data.chunks_mut(channels) {
                    at += step;
                    while at >= 1.0 {
                        at -= 1.0;
                        current = ring
                            .as_mut()
                            .and_then(|r| r.pop_front())
                            .unwrap_or((0.0, 0.0));
                    }
                    match frame {
                        [mono] => *mono = (current.0 + current.1) * 0.5,
                        [left, right, rest @ ..] => {
                            *left = current.0;
                            *right = current.1;
                            rest.fill(0.0);
                        }
                        [] => {}
                    }
                }
            },
            |error| warn!("speakers: {error}"),
            None,
        )
        .map_err(|e| e.to_string())
}

/// Opens the default devices, or tells the person once why voice is off.
fn open_at_start(
    mut controls: ResMut<VoiceControls>,
    off: Option<Res<crate::voice::VoiceOff>>,
    mut session: ResMut<Session>,
    time: Res<Time>,
) {
    match off {
        Some(off) => controls.off = Some(off.0.clone()),
        None => open_devices(&mut controls),
    }
    if let Some(why) = &controls.off {
        session.notices.push((time.elapsed_secs_f64(), why.clone()));
    }
}

fn toggle_window(keys: Res<ButtonInput<KeyCode>>, mut controls: ResMut<VoiceControls>) {
    if keys.just_pressed(KeyCode::KeyO) {
        controls.window_open = !controls.window_open;
    }
}

/// Takes what the microphone heard: into the mouth while talking, else only into the meter.
fn capture(
    mut controls: ResMut<VoiceControls>,
    mut mouth: ResMut<Mouth>,
    keys: Res<ButtonInput<KeyCode>>,
    egui_input: Res<EguiWantsInput>,
    time: Res<Time>,
) {
    let Some(devices) = &controls.devices else {
        return;
    };
    let samples: Vec<f32> = match devices.capture.lock() {
        Ok(mut ring) => ring.drain(..).collect(),
        Err(_) => return,
    };
    if samples.is_empty() {
        return;
    }
    let level = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    controls.level = level;
    let now = time.elapsed();
    if level > OPEN_MIC_THRESHOLD {
        controls.last_loud = Some(now);
    }
    // V is a letter while a text field has the keyboard.
    let held = keys.pressed(KeyCode::KeyV) && !egui_input.wants_any_keyboard_input();
    let open = controls.open_mic
        && controls
            .last_loud
            .is_some_and(|at| now.saturating_sub(at) < OPEN_MIC_HANG);
    controls.talking = held || open;
    if controls.talking {
        mouth.say(
            samples
                .iter()
                .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16),
        );
    }
}

/// Hands the mix to the speakers.
fn play(controls: Res<VoiceControls>, mut heard: ResMut<Heard>) {
    let Some(devices) = &controls.devices else {
        heard.stereo.clear();
        return;
    };
    let Ok(mut ring) = devices.playback.lock() else {
        return;
    };
    let volume = controls.volume;
    ring.extend(heard.stereo.drain(..).map(|(l, r)| (l * volume, r * volume)));
    let excess = ring.len().saturating_sub(PLAYBACK_MAX);
    ring.drain(..excess);
}

fn window(
    mut contexts: EguiContexts,
    mut controls: ResMut<VoiceControls>,
    mut heard: ResMut<Heard>,
    people: Query<(Entity, &AvatarProfile)>,
    time: Res<Time>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    if !controls.window_open {
        return Ok(());
    }
    let mut open = true;
    let mut reopen = false;
    egui::Window::new("Voice")
        .open(&mut open)
        // Bottom centre: the hall panel holds the right, the chat the bottom left.
        .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(60.0, -40.0))
        .resizable(false)
        .default_width(260.0)
        .show(ctx, |ui| {
            if let Some(why) = &controls.off {
                ui.colored_label(egui::Color32::from_rgb(230, 150, 60), why);
            }
            ui.horizontal(|ui| {
                ui.label(if controls.talking {
                    "Talking"
                } else if controls.open_mic {
                    "Open mic"
                } else {
                    "Hold V to talk"
                });
                ui.add(
                    egui::ProgressBar::new((controls.level * 8.0).min(1.0))
                        .desired_width(120.0)
                        .fill(if controls.talking {
                            egui::Color32::from_rgb(90, 190, 110)
                        } else {
                            egui::Color32::GRAY
                        }),
                );
            });
            ui.checkbox(&mut controls.open_mic, "Open mic (talk when I speak)");
            ui.horizontal(|ui| {
                ui.label("Volume");
                ui.add(egui::Slider::new(&mut controls.volume, 0.0..=2.0).show_value(false));
            });
            let mut input = controls.chosen_input.clone();
            let mut output = controls.chosen_output.clone();
            device_choice(ui, "Microphone", &controls.inputs, &mut input);
            device_choice(ui, "Speakers", &controls.outputs, &mut output);
            if input != controls.chosen_input || output != controls.chosen_output {
                controls.chosen_input = input;
                controls.chosen_output = output;
                reopen = true;
            }
            ui.separator();
            ui.label("Heard now (untick to mute for yourself)");
            let now = time.elapsed();
            let speaking: Vec<Entity> = heard.speaking(now).collect();
            let mut any = false;
            for (entity, profile) in &people {
                let muted = heard.muted.contains(&entity);
                if !speaking.contains(&entity) && !muted {
                    continue;
                }
                any = true;
                let mut hear = !muted;
                ui.checkbox(&mut hear, format!("{} · {}", profile.name, profile.role));
                if hear {
                    heard.muted.remove(&entity);
                } else {
                    heard.muted.insert(entity);
                }
            }
            if !any {
                ui.weak("Nobody is speaking.");
            }
        });
    if reopen {
        open_devices(&mut controls);
    }
    controls.window_open = open;
    Ok(())
}

fn device_choice(ui: &mut egui::Ui, label: &str, names: &[String], chosen: &mut Option<String>) {
    ui.horizontal(|ui| {
        ui.label(label);
        egui::ComboBox::from_id_salt(label)
            .selected_text(chosen.as_deref().unwrap_or("default"))
            .show_ui(ui, |ui| {
                ui.selectable_value(chosen, None, "default");
                for name in names {
                    ui.selectable_value(chosen, Some(name.clone()), name);
                }
            });
    });
}
