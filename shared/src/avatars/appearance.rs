//! What a person looks like: a small record of choices from fixed palettes, nothing free-form.
//! Every field is an index into one of the lists here; [`Appearance::check`] refuses an index
//! past its list or a version this build does not know, with the part it is about.

use serde::{Deserialize, Serialize};

/// The version of [`Appearance`] this build writes and reads. A record of another version is
/// refused ([`super::AvatarRefusal::UnknownVersion`]); a later version adding choices bumps it.
pub const APPEARANCE_VERSION: u8 = 1;

/// A named colour of a palette, in sRGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swatch {
    pub name: &'static str,
    pub srgb: [u8; 3],
}

const fn swatch(name: &'static str, r: u8, g: u8, b: u8) -> Swatch {
    Swatch {
        name,
        srgb: [r, g, b],
    }
}

pub const SKIN_TONES: &[Swatch] = &[
    swatch("porcelain", 247, 221, 200),
    swatch("light", 236, 196, 164),
    swatch("warm beige", 224, 172, 128),
    swatch("olive", 198, 150, 104),
    swatch("golden", 176, 122, 78),
    swatch("bronze", 141, 92, 58),
    swatch("brown", 108, 68, 42),
    swatch("deep", 74, 46, 30),
];

pub const HAIR_COLOURS: &[Swatch] = &[
    swatch("black", 28, 24, 22),
    swatch("dark brown", 66, 42, 28),
    swatch("chestnut", 118, 68, 36),
    swatch("auburn", 150, 58, 30),
    swatch("blond", 214, 178, 104),
    swatch("platinum", 230, 222, 200),
    swatch("grey", 150, 150, 150),
    swatch("teal", 40, 150, 150),
];

pub const OUTFIT_COLOURS: &[Swatch] = &[
    swatch("navy", 36, 52, 104),
    swatch("sky", 96, 160, 220),
    swatch("crimson", 176, 36, 48),
    swatch("coral", 236, 112, 88),
    swatch("forest", 40, 104, 60),
    swatch("mint", 130, 210, 170),
    swatch("mustard", 214, 168, 40),
    swatch("plum", 112, 52, 112),
    swatch("charcoal", 52, 54, 60),
    swatch("white", 236, 236, 232),
    swatch("sand", 200, 176, 136),
    swatch("denim", 70, 96, 140),
];

/// Body shapes: how wide and deep the torso is, and how thick the limbs, against the average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BodyShape {
    pub name: &'static str,
    /// Torso width and depth, limb thickness (1 is average).
    pub width: f32,
    pub depth: f32,
    pub limbs: f32,
}

pub const BODY_SHAPES: &[BodyShape] = &[
    BodyShape {
        name: "slender",
        width: 0.86,
        depth: 0.86,
        limbs: 0.85,
    },
    BodyShape {
        name: "average",
        width: 1.0,
        depth: 1.0,
        limbs: 1.0,
    },
    BodyShape {
        name: "broad",
        width: 1.18,
        depth: 1.04,
        limbs: 1.12,
    },
    BodyShape {
        name: "round",
        width: 1.14,
        depth: 1.28,
        limbs: 1.06,
    },
];

/// Heights, as a scale of the whole figure (1 is 1.75 m).
pub const HEIGHTS: &[(&str, f32)] = &[
    ("short", 0.9),
    ("below average", 0.95),
    ("average", 1.0),
    ("tall", 1.05),
    ("very tall", 1.1),
];

pub const HAIR_STYLES: &[&str] = &["shaved", "short", "long", "bun", "curls"];

/// Optional things worn; the first is none.
pub const ACCESSORIES: &[&str] = &["none", "cap", "sun hat", "beanie", "glasses"];

/// One choice of an [`Appearance`], to say which one was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Part {
    Body,
    Height,
    Skin,
    Hair,
    HairColour,
    OutfitTop,
    OutfitBottom,
    Accessory,
}

impl Part {
    pub const ALL: [Part; 8] = [
        Part::Body,
        Part::Height,
        Part::Skin,
        Part::Hair,
        Part::HairColour,
        Part::OutfitTop,
        Part::OutfitBottom,
        Part::Accessory,
    ];

    /// How many choices this part has.
    pub fn choices(self) -> usize {
        match self {
            Part::Body => BODY_SHAPES.len(),
            Part::Height => HEIGHTS.len(),
            Part::Skin => SKIN_TONES.len(),
            Part::Hair => HAIR_STYLES.len(),
            Part::HairColour => HAIR_COLOURS.len(),
            Part::OutfitTop | Part::OutfitBottom => OUTFIT_COLOURS.len(),
            Part::Accessory => ACCESSORIES.len(),
        }
    }

    /// The name of choice `index`, or `None` past the list.
    pub fn choice_name(self, index: u8) -> Option<&'static str> {
        let i = usize::from(index);
        match self {
            Part::Body => BODY_SHAPES.get(i).map(|s| s.name),
            Part::Height => HEIGHTS.get(i).map(|h| h.0),
            Part::Skin => SKIN_TONES.get(i).map(|s| s.name),
            Part::Hair => HAIR_STYLES.get(i).copied(),
            Part::HairColour => HAIR_COLOURS.get(i).map(|s| s.name),
            Part::OutfitTop | Part::OutfitBottom => OUTFIT_COLOURS.get(i).map(|s| s.name),
            Part::Accessory => ACCESSORIES.get(i).copied(),
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Body => "body shape",
            Part::Height => "height",
            Part::Skin => "skin tone",
            Part::Hair => "hair style",
            Part::HairColour => "hair colour",
            Part::OutfitTop => "top colour",
            Part::OutfitBottom => "trousers colour",
            Part::Accessory => "accessory",
        })
    }
}

/// A person's look: one index per [`Part`], and the record's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Appearance {
    pub version: u8,
    pub body: u8,
    pub height: u8,
    pub skin: u8,
    pub hair: u8,
    pub hair_colour: u8,
    /// Top, then trousers.
    pub outfit: [u8; 2],
    /// 0: none.
    pub accessory: u8,
}

/// Why an appearance was refused: a part out of its palette, or a version not known here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum BadAppearance {
    #[error("appearance version {version} is not known here (this server reads version {supported})")]
    UnknownVersion { version: u8, supported: u8 },
    #[error("{part} {value} is not one of the {choices} offered")]
    OutOfPalette { part: Part, value: u8, choices: u8 },
}

impl Appearance {
    /// The choice made for `part`.
    pub fn get(&self, part: Part) -> u8 {
        match part {
            Part::Body => self.body,
            Part::Height => self.height,
            Part::Skin => self.skin,
            Part::Hair => self.hair,
            Part::HairColour => self.hair_colour,
            Part::OutfitTop => self.outfit[0],
            Part::OutfitBottom => self.outfit[1],
            Part::Accessory => self.accessory,
        }
    }

    /// Makes choice `value` for `part`.
    pub fn set(&mut self, part: Part, value: u8) {
        let field = match part {
            Part::Body => &mut self.body,
            Part::Height => &mut self.height,
            Part::Skin => &mut self.skin,
            Part::Hair => &mut self.hair,
            Part::HairColour => &mut self.hair_colour,
            Part::OutfitTop => &mut self.outfit[0],
            Part::OutfitBottom => &mut self.outfit[1],
            Part::Accessory => &mut self.accessory,
        };
        *field = value;
    }

    /// Whether every choice is on its list and the version is this build's.
    pub fn check(&self) -> Result<(), BadAppearance> {
        if self.version != APPEARANCE_VERSION {
            return Err(BadAppearance::UnknownVersion {
                version: self.version,
                supported: APPEARANCE_VERSION,
            });
        }
        for part in Part::ALL {
            let value = self.get(part);
            if usize::from(value) >= part.choices() {
                return Err(BadAppearance::OutOfPalette {
                    part,
                    value,
                    choices: part.choices() as u8,
                });
            }
        }
        Ok(())
    }

    /// A look picked from `seed`: the same seed, the same look. Someone who has not chosen
    /// yet wears the one their key picks, so a crowd of newcomers is not a crowd of twins.
    pub fn from_seed(seed: u64) -> Self {
        // splitmix64: every bit of the seed reaches every choice.
        let mut state = seed;
        let mut next = |choices: usize| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z % choices as u64) as u8
        };
        let mut look = Appearance {
            version: APPEARANCE_VERSION,
            body: next(BODY_SHAPES.len()),
            height: next(HEIGHTS.len()),
            skin: next(SKIN_TONES.len()),
            hair: next(HAIR_STYLES.len()),
            hair_colour: next(HAIR_COLOURS.len()),
            outfit: [next(OUTFIT_COLOURS.len()), next(OUTFIT_COLOURS.len())],
            accessory: next(ACCESSORIES.len()),
        };
        // Half wear nothing on their head: hats everywhere look like a uniform.
        if next(2) == 0 {
            look.accessory = 0;
        }
        if look.outfit[1] == look.outfit[0] {
            look.outfit[1] = (look.outfit[0] + 1) % OUTFIT_COLOURS.len() as u8;
        }
        look
    }

    /// The look a key wears until its owner chooses one.
    pub fn for_key(key: &[u8]) -> Self {
        let mut seed = [0u8; 8];
        for (i, byte) in key.iter().enumerate() {
            seed[i % 8] ^= byte;
        }
        Self::from_seed(u64::from_le_bytes(seed))
    }

    pub fn body_shape(&self) -> BodyShape {
        BODY_SHAPES[usize::from(self.body) % BODY_SHAPES.len()]
    }

    pub fn height_scale(&self) -> f32 {
        HEIGHTS[usize::from(self.height) % HEIGHTS.len()].1
    }

    pub fn skin_tone(&self) -> Swatch {
        SKIN_TONES[usize::from(self.skin) % SKIN_TONES.len()]
    }

    pub fn hair_swatch(&self) -> Swatch {
        HAIR_COLOURS[usize::from(self.hair_colour) % HAIR_COLOURS.len()]
    }

    /// The top's colour (0) or the trousers' (1).
    pub fn outfit_swatch(&self, piece: usize) -> Swatch {
        OUTFIT_COLOURS[usize::from(self.outfit[piece.min(1)]) % OUTFIT_COLOURS.len()]
    }
}

impl Default for Appearance {
    fn default() -> Self {
        Self::from_seed(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seeded_look_is_valid_and_seeds_differ() {
        let looks: Vec<Appearance> = (0..500).map(Appearance::from_seed).collect();
        for look in &looks {
            assert_eq!(look.check(), Ok(()), "{look:?}");
            assert_ne!(look.outfit[0], look.outfit[1]);
        }
        let distinct: std::collections::HashSet<_> = looks.iter().collect();
        assert!(distinct.len() > 490, "only {} distinct looks", distinct.len());
        assert_eq!(Appearance::from_seed(7), Appearance::from_seed(7));
    }

    #[test]
    fn out_of_palette_and_unknown_versions_are_refused_naming_the_part() {
        let good = Appearance::from_seed(1);
        for part in Part::ALL {
            let mut bad = good;
            bad.set(part, part.choices() as u8);
            assert_eq!(
                bad.check(),
                Err(BadAppearance::OutOfPalette {
                    part,
                    value: part.choices() as u8,
                    choices: part.choices() as u8,
                })
            );
            assert!(bad.check().unwrap_err().to_string().contains(&part.to_string()));
            assert_eq!(part.choice_name(part.choices() as u8), None);
            assert!(part.choice_name(0).is_some());
        }
        let newer = Appearance {
            version: APPEARANCE_VERSION + 1,
            ..good
        };
        assert!(matches!(
            newer.check(),
            Err(BadAppearance::UnknownVersion { .. })
        ));
    }
}
