//! The nation's standing on screen: the recognition window (R) with the stage ladder,
//! recognizers, timeline and census charts, and founders' controls; the embassy row in the
//! capital; and the welcome card that greets everyone arriving.

pub mod embassy;
pub mod welcome;
pub mod window;

use bevy::prelude::*;

pub use embassy::EmbassyPlaque;
pub use welcome::WelcomeCard;
pub use window::RecognitionWindow;

pub(crate) fn plugin(app: &mut App) {
    app.add_plugins((window::plugin, embassy::plugin, welcome::plugin));
}

/// Thousands separated by thin spaces: 12 400 rather than 12400.
pub fn grouped(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if value < 0 { format!("-{out}") } else { out }
}

/// Dollars, shortened: $2.7 M, $830 k, $900.
pub fn dollars(value: i64) -> String {
    let v = value as f64;
    if v.abs() >= 1e6 {
        format!("${:.1} M", v / 1e6)
    } else if v.abs() >= 1e3 {
        format!("${:.0} k", v / 1e3)
    } else {
        format!("${value}")
    }
}
