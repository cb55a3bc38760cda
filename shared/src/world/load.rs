//! Reading `assets/world/*.ron`: `nation.ron` plus one file per protocity.

use std::path::{Path, PathBuf};

use super::validate::{Problem, validate};
use super::{Nation, Protocity, World};

/// Why the world data could not be used. Every variant names the file; parse and validation
/// errors also name the line and the field.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: field `{field}`: {problem}")]
    Invalid {
        file: PathBuf,
        line: usize,
        field: String,
        problem: Problem,
    },
    #[error("{dir}: no nation.ron found")]
    MissingNation { dir: PathBuf },
}

/// A parsed file and its text, kept so validation can point at lines.
pub(super) struct Source<T> {
    pub file: PathBuf,
    pub text: String,
    pub value: T,
}

impl<T> Source<T> {
    /// An error at the first line that mentions `needle` (usually a quoted id), or line 1.
    pub fn error(&self, needle: &str, field: &str, problem: Problem) -> WorldError {
        let line = self
            .text
            .lines()
            .position(|l| l.contains(needle))
            .map_or(1, |i| i + 1);
        WorldError::Invalid {
            file: self.file.clone(),
            line,
            field: field.to_owned(),
            problem,
        }
    }

    /// An error at the first line mentioning `needle` at or after the first line mentioning
    /// `anchor` (a field inside one list entry), else at the anchor.
    pub fn error_in(
        &self,
        anchor: &str,
        needle: &str,
        field: &str,
        problem: Problem,
    ) -> WorldError {
        let lines: Vec<&str> = self.text.lines().collect();
        let start = lines.iter().position(|l| l.contains(anchor)).unwrap_or(0);
        let line = lines[start..]
            .iter()
            .position(|l| l.contains(needle))
            .map_or(start + 1, |i| start + i + 1);
        WorldError::Invalid {
            file: self.file.clone(),
            line,
            field: field.to_owned(),
            problem,
        }
    }
}

/// Parses RON text; an error names the file (only used in errors), the line and the column.
pub fn parse_ron<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T, WorldError> {
    ron::from_str(text).map_err(|e| WorldError::Parse {
        file: file.to_owned(),
        line: e.position.line,
        column: e.position.col,
        message: e.code.to_string(),
    })
}

/// Parses `nation.ron` text (the file name is only used in errors).
pub fn parse_nation(file: impl AsRef<Path>, text: &str) -> Result<Nation, WorldError> {
    parse_ron(file.as_ref(), text)
}

/// Parses one protocity file's text (the file name is only used in errors).
pub fn parse_protocity(file: impl AsRef<Path>, text: &str) -> Result<Protocity, WorldError> {
    parse_ron(file.as_ref(), text)
}

/// Every `*.ron` file in `dir` with its text, sorted by file name: how the world and the tours
/// are read from disk.
pub fn read_ron_dir(dir: &Path) -> Result<Vec<(PathBuf, String)>, WorldError> {
    let entries = std::fs::read_dir(dir).map_err(|source| WorldError::Io {
        file: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| match std::fs::read_to_string(&file) {
            Ok(text) => Ok((file, text)),
            Err(source) => Err(WorldError::Io { file, source }),
        })
        .collect()
}

/// This checkout's `assets/world`: the world data the tests, benchmarks and `make run` use.
pub fn checkout_world_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/world")
}

/// This checkout's world data, loaded: the one fixture of every test that needs a world.
/// Panics when the data does not load, since it is part of the repository.
pub fn checkout_world() -> World {
    load_world_dir(checkout_world_dir())
        .unwrap_or_else(|e| panic!("the checkout's assets/world is invalid: {e}"))
}

/// Loads and validates every `*.ron` file in `dir`.
pub fn load_world_dir(dir: impl AsRef<Path>) -> Result<World, WorldError> {
    let dir = dir.as_ref();
    let mut nation = None;
    let mut protocities = Vec::new();
    for (file, text) in read_ron_dir(dir)? {
        if file.file_name().is_some_and(|n| n == "nation.ron") {
            let value = parse_nation(&file, &text)?;
            nation = Some(Source { file, text, value });
        } else {
            let value = parse_protocity(&file, &text)?;
            protocities.push(Source { file, text, value });
        }
    }
    let nation = nation.ok_or_else(|| WorldError::MissingNation {
        dir: dir.to_owned(),
    })?;
    load_sources(nation, protocities)
}

/// Validates parsed sources and assembles the world, capital first.
pub(super) fn load_sources(
    nation: Source<Nation>,
    protocities: Vec<Source<Protocity>>,
) -> Result<World, WorldError> {
    validate(&nation, &protocities)?;
    let mut list: Vec<Protocity> = protocities.into_iter().map(|s| s.value).collect();
    let capital = nation.value.capital.clone();
    list.sort_by(|a, b| (a.id != capital, &a.id).cmp(&(b.id != capital, &b.id)));
    Ok(World {
        nation: nation.value,
        protocities: list,
    })
}

/// Builds a world from in-memory texts: `(file name, text)` pairs, one of them `nation.ron`.
/// Used by tests that check how bad data is reported.
pub fn load_world_texts(files: &[(&str, &str)]) -> Result<World, WorldError> {
    let mut nation = None;
    let mut protocities = Vec::new();
    for (name, text) in files {
        let file = PathBuf::from(name);
        if *name == "nation.ron" {
            let value = parse_nation(&file, text)?;
            nation = Some(Source {
                file,
                text: text.to_string(),
                value,
            });
        } else {
            let value = parse_protocity(&file, text)?;
            protocities.push(Source {
                file,
                text: text.to_string(),
                value,
            });
        }
    }
    let nation = nation.ok_or_else(|| WorldError::MissingNation {
        dir: PathBuf::from("."),
    })?;
    load_sources(nation, protocities)
}
