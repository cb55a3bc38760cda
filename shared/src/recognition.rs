//! The nation's standing (issue 6, started): the stages a network state grows through, the
//! relations other states and bodies hold with it, and its census. Only the rules are here
//! so far: which stage changes and census figures are acceptable, and the census sums. The
//! data, storage, window and embassy row are still to come.

use serde::{Deserialize, Serialize};

/// The stages of Balaji Srinivasan's model, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Stage {
    StartupSociety,
    NetworkUnion,
    NetworkArchipelago,
    NetworkState,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::StartupSociety,
        Stage::NetworkUnion,
        Stage::NetworkArchipelago,
        Stage::NetworkState,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Stage::StartupSociety => "Startup society",
            Stage::NetworkUnion => "Network union",
            Stage::NetworkArchipelago => "Network archipelago",
            Stage::NetworkState => "Network state",
        }
    }

    /// The stage after this one, if any.
    pub fn next(self) -> Option<Stage> {
        Stage::ALL.get(self as usize + 1).copied()
    }

    /// What reaching the next stage takes, in a sentence.
    pub fn next_requires(self) -> &'static str {
        match self {
            Stage::StartupSociety => {
                "organise for collective action: members who act together, with a leader and a purpose"
            }
            Stage::NetworkUnion => {
                "crowdfund land: physical outposts, protocities, in more than one country"
            }
            Stage::NetworkArchipelago => {
                "diplomatic recognition by at least one existing state, the bootstrap recognizer"
            }
            Stage::NetworkState => "none: the last stage; recognition by more states follows",
        }
    }
}

/// How an existing state or body relates to the nation, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Relation {
    Talks,
    Memorandum,
    DeFacto,
    DeJure,
}

/// A stage reached, with when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    pub stage: Stage,
    /// Unix seconds.
    pub at: i64,
    /// Needed when a stage is skipped or the nation moves back.
    pub reason: Option<String>,
    pub source: String,
}

/// One protocity's census figures at a date. Signed, so that bad input (a negative number
/// from a file or the command line) is caught by [`check_census`] rather than by a parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Census {
    /// Everyone counted: residents and online members.
    pub population: i64,
    pub residents: i64,
    pub online_members: i64,
    /// Yearly income, in whole dollars.
    pub yearly_income: i64,
    pub parcels_crowdfunded: i64,
}

/// Why a change to the nation's standing was refused; the words go to whoever asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecognitionRefusal {
    #[error("the date is in the future")]
    FutureDate,
    #[error("the date is before the nation's founding")]
    BeforeFounding,
    #[error("the date is before the last recorded change")]
    OutOfOrder,
    #[error("the nation is already a {0}")]
    SameStage(&'static str),
    #[error("going from {from} to {to} skips a stage: give a reason")]
    SkipsWithoutReason {
        from: &'static str,
        to: &'static str,
    },
    #[error("going back from {from} to {to} needs a reason")]
    BackwardsWithoutReason {
        from: &'static str,
        to: &'static str,
    },
    #[error("{0} cannot be negative")]
    Negative(&'static str),
    #[error("residents and online members ({0}) do not add up to the population ({1})")]
    PopulationMismatch(i64, i64),
    #[error("a source is needed for every change")]
    NoSource,
}

/// Checks a proposed stage change against the history (oldest first), the founding date and
/// the clock.
pub fn check_stage_change(
    history: &[StageChange],
    change: &StageChange,
    founded: i64,
    now: i64,
) -> Result<(), RecognitionRefusal> {
    if change.source.trim().is_empty() {
        return Err(RecognitionRefusal::NoSource);
    }
    if change.at > now {
        return Err(RecognitionRefusal::FutureDate);
    }
    if change.at < founded {
        return Err(RecognitionRefusal::BeforeFounding);
    }
    let Some(last) = history.last() else {
        return Ok(());
    };
    if change.at < last.at {
        return Err(RecognitionRefusal::OutOfOrder);
    }
    let has_reason = change.reason.as_ref().is_some_and(|r| !r.trim().is_empty());
    let (from, to) = (last.stage, change.stage);
    if to == from {
        return Err(RecognitionRefusal::SameStage(from.title()));
    }
    if to < from && !has_reason {
        return Err(RecognitionRefusal::BackwardsWithoutReason {
            from: from.title(),
            to: to.title(),
        });
    }
    if to > from && from.next() != Some(to) && !has_reason {
        return Err(RecognitionRefusal::SkipsWithoutReason {
            from: from.title(),
            to: to.title(),
        });
    }
    Ok(())
}

/// Checks one protocity's census figures.
pub fn check_census(census: &Census) -> Result<(), RecognitionRefusal> {
    let fields = [
        ("the population", census.population),
        ("the residents", census.residents),
        ("the online members", census.online_members),
        ("the yearly income", census.yearly_income),
        ("the parcels crowdfunded", census.parcels_crowdfunded),
    ];
    if let Some((name, _)) = fields.iter().find(|(_, value)| *value < 0) {
        return Err(RecognitionRefusal::Negative(name));
    }
    let counted = census.residents + census.online_members;
    if counted != census.population {
        return Err(RecognitionRefusal::PopulationMismatch(
            counted,
            census.population,
        ));
    }
    Ok(())
}

/// The nation's totals: the sum of every protocity's figures.
pub fn census_total<'a>(per_protocity: impl IntoIterator<Item = &'a Census>) -> Census {
    per_protocity
        .into_iter()
        .fold(Census::default(), |total, c| Census {
            population: total.population + c.population,
            residents: total.residents + c.residents,
            online_members: total.online_members + c.online_members,
            yearly_income: total.yearly_income + c.yearly_income,
            parcels_crowdfunded: total.parcels_crowdfunded + c.parcels_crowdfunded,
        })
}
