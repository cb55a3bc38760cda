//! The nation's standing: the stages a network state grows through, the relations existing
//! states and international bodies hold with it, and its census per protocity over time.
//! Founders record changes; each is checked here (dates between the founding and today,
//! stages in order, figures that add up), kept as history, and summed here, so the server,
//! the client's window and the admin CLI read the same numbers.

use serde::{Deserialize, Serialize};

use crate::parcels::{Owner, ParcelInfo};

/// Longest source (a document's title or address) a change may cite.
pub const MAX_SOURCE_CHARS: usize = 200;
/// Longest reason for skipping a stage or going back.
pub const MAX_REASON_CHARS: usize = 300;
/// Longest name of a recognizing state or body.
pub const MAX_RECOGNIZER_CHARS: usize = 64;
/// Largest census figure accepted, far above any real one: sums of many never overflow.
pub const MAX_CENSUS_FIGURE: i64 = 1_000_000_000_000_000;

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
    /// Who recorded it; set by the server, whatever a client sends.
    #[serde(default)]
    pub recorded_by: String,
}

impl Stage {
    /// Stable name for storage and the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::StartupSociety => "startup-society",
            Stage::NetworkUnion => "network-union",
            Stage::NetworkArchipelago => "network-archipelago",
            Stage::NetworkState => "network-state",
        }
    }

    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl Relation {
    pub const ALL: [Relation; 4] = [
        Relation::Talks,
        Relation::Memorandum,
        Relation::DeFacto,
        Relation::DeJure,
    ];

    /// Stable name for storage and the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Talks => "talks",
            Relation::Memorandum => "memorandum",
            Relation::DeFacto => "de-facto",
            Relation::DeJure => "de-jure",
        }
    }

    pub fn parse(text: &str) -> Option<Relation> {
        Relation::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// How a person reads it.
    pub fn title(self) -> &'static str {
        match self {
            Relation::Talks => "in talks",
            Relation::Memorandum => "memorandum of understanding",
            Relation::DeFacto => "de facto recognition",
            Relation::DeJure => "de jure recognition",
        }
    }
}

/// Who a recognizer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecognizerKind {
    /// An existing state.
    State,
    /// An international body (a union, a forum, an organisation of states).
    Body,
}

impl RecognizerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecognizerKind::State => "state",
            RecognizerKind::Body => "body",
        }
    }

    pub fn parse(text: &str) -> Option<RecognizerKind> {
        [RecognizerKind::State, RecognizerKind::Body]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A state or body entering a relation with the nation (a first contact, or a change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationChange {
    pub recognizer: String,
    pub kind: RecognizerKind,
    pub relation: Relation,
    /// Unix seconds.
    pub at: i64,
    pub source: String,
    #[serde(default)]
    pub recorded_by: String,
}

/// One protocity's census at a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CensusRecord {
    pub protocity: String,
    /// Unix seconds.
    pub at: i64,
    pub census: Census,
    pub source: String,
    #[serde(default)]
    pub recorded_by: String,
}

/// A protocity's real-estate footprint, computed from the parcel registry whenever it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FootprintRecord {
    pub protocity: String,
    /// Unix seconds.
    pub at: i64,
    pub area_m2: i64,
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

/// Why a change to the nation's standing was refused. It goes to whoever asked as it is
/// ([`RecognitionNews::Answer`]); its `Display` is the one place that puts it into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RecognitionRefusal {
    #[error("the date is in the future")]
    FutureDate,
    #[error("the date is before the nation's founding")]
    BeforeFounding,
    #[error("the date is before the last recorded change")]
    OutOfOrder,
    #[error("the nation is already a {}", .0.title())]
    SameStage(Stage),
    #[error("going from {} to {} skips a stage: give a reason", .from.title(), .to.title())]
    SkipsWithoutReason { from: Stage, to: Stage },
    #[error(
        "a nation starts as a {}; starting as a {} skips stages: give a reason",
        .first.title(),
        .to.title()
    )]
    FirstSkipsWithoutReason { first: Stage, to: Stage },
    #[error("going back from {} to {} needs a reason", .from.title(), .to.title())]
    BackwardsWithoutReason { from: Stage, to: Stage },
    #[error("{0} cannot be negative")]
    Negative(CensusFigure),
    #[error("residents and online members ({0}) do not add up to the population ({1})")]
    PopulationMismatch(i64, i64),
    #[error("a source is needed for every change")]
    NoSource,
    #[error("{what} is too long (at most {max} characters)")]
    TooLong { what: RecordText, max: usize },
    #[error("{0} is far too large for a census")]
    TooLarge(CensusFigure),
    #[error("there is no protocity `{0}`")]
    UnknownProtocity(String),
    #[error("the recognizer needs a name")]
    NoName,
    #[error("{0} already holds that relation")]
    SameRelation(String),
    #[error("a change to {0} is dated before its last recorded one")]
    RelationOutOfOrder(String),
    #[error(
        "a network state needs a state's de jure recognition first (the bootstrap \
         recognizer): record it, or give a reason"
    )]
    NoBootstrapRecognizer,
    #[error("only founders record the nation's recognition and census")]
    NotFounder,
    #[error("too many requests; wait a moment")]
    TooFast,
    #[error("the records are unavailable right now; try again")]
    Unavailable,
    #[error("the server is busy; try again in a moment")]
    Busy,
}

/// A figure of a census, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CensusFigure {
    Residents,
    OnlineMembers,
    Population,
    YearlyIncome,
    ParcelsCrowdfunded,
}

impl std::fmt::Display for CensusFigure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CensusFigure::Residents => "the residents",
            CensusFigure::OnlineMembers => "the online members",
            CensusFigure::Population => "the population",
            CensusFigure::YearlyIncome => "the yearly income",
            CensusFigure::ParcelsCrowdfunded => "the parcels crowdfunded",
        })
    }
}

/// A text of a record, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordText {
    Source,
    Reason,
    RecognizerName,
}

impl std::fmt::Display for RecordText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordText::Source => "the source",
            RecordText::Reason => "the reason",
            RecordText::RecognizerName => "the recognizer's name",
        })
    }
}

/// What the server tells clients about the nation's standing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RecognitionNews {
    /// The nation's whole standing: sent after login and whenever it changes.
    Standing(Standing),
    /// The outcome of this client's recognition request: what was recorded, or why not.
    Answer {
        outcome: Result<String, RecognitionRefusal>,
    },
}

fn check_text(text: &str, what: RecordText, max: usize) -> Result<(), RecognitionRefusal> {
    if text.chars().count() > max {
        return Err(RecognitionRefusal::TooLong { what, max });
    }
    Ok(())
}

fn check_date(at: i64, founded: i64, now: i64) -> Result<(), RecognitionRefusal> {
    if at > now {
        return Err(RecognitionRefusal::FutureDate);
    }
    if at < founded {
        return Err(RecognitionRefusal::BeforeFounding);
    }
    Ok(())
}

fn check_source(source: &str) -> Result<(), RecognitionRefusal> {
    if source.trim().is_empty() {
        return Err(RecognitionRefusal::NoSource);
    }
    check_text(source, RecordText::Source, MAX_SOURCE_CHARS)
}

/// Checks a proposed stage change against the history (oldest first), the founding date and
/// the clock.
pub fn check_stage_change(
    history: &[StageChange],
    change: &StageChange,
    founded: i64,
    now: i64,
) -> Result<(), RecognitionRefusal> {
    check_source(&change.source)?;
    if let Some(reason) = &change.reason {
        check_text(reason, RecordText::Reason, MAX_REASON_CHARS)?;
    }
    check_date(change.at, founded, now)?;
    let has_reason = change.reason.as_ref().is_some_and(|r| !r.trim().is_empty());
    let Some(last) = history.last() else {
        let first = Stage::ALL[0];
        if change.stage != first && !has_reason {
            return Err(RecognitionRefusal::FirstSkipsWithoutReason {
                first,
                to: change.stage,
            });
        }
        return Ok(());
    };
    if change.at < last.at {
        return Err(RecognitionRefusal::OutOfOrder);
    }
    let (from, to) = (last.stage, change.stage);
    if to == from {
        return Err(RecognitionRefusal::SameStage(from));
    }
    if to < from && !has_reason {
        return Err(RecognitionRefusal::BackwardsWithoutReason { from, to });
    }
    if to > from && from.next() != Some(to) && !has_reason {
        return Err(RecognitionRefusal::SkipsWithoutReason { from, to });
    }
    Ok(())
}

/// Checks one protocity's census figures.
pub fn check_census(census: &Census) -> Result<(), RecognitionRefusal> {
    let fields = [
        (CensusFigure::Residents, census.residents),
        (CensusFigure::OnlineMembers, census.online_members),
        (CensusFigure::Population, census.population),
        (CensusFigure::YearlyIncome, census.yearly_income),
        (CensusFigure::ParcelsCrowdfunded, census.parcels_crowdfunded),
    ];
    if let Some((name, _)) = fields.iter().find(|(_, value)| *value < 0) {
        return Err(RecognitionRefusal::Negative(*name));
    }
    if let Some((name, _)) = fields.iter().find(|(_, value)| *value > MAX_CENSUS_FIGURE) {
        return Err(RecognitionRefusal::TooLarge(*name));
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
            population: total.population.saturating_add(c.population),
            residents: total.residents.saturating_add(c.residents),
            online_members: total.online_members.saturating_add(c.online_members),
            yearly_income: total.yearly_income.saturating_add(c.yearly_income),
            parcels_crowdfunded: total
                .parcels_crowdfunded
                .saturating_add(c.parcels_crowdfunded),
        })
}

/// Checks a relation change against the relations recorded so far (oldest first).
pub fn check_relation_change(
    history: &[RelationChange],
    change: &RelationChange,
    founded: i64,
    now: i64,
) -> Result<(), RecognitionRefusal> {
    let name = change.recognizer.trim();
    if name.is_empty() {
        return Err(RecognitionRefusal::NoName);
    }
    check_text(name, RecordText::RecognizerName, MAX_RECOGNIZER_CHARS)?;
    check_source(&change.source)?;
    check_date(change.at, founded, now)?;
    let last = history
        .iter()
        .filter(|r| same_recognizer(&r.recognizer, name))
        .max_by_key(|r| r.at);
    if let Some(last) = last {
        if change.at < last.at {
            return Err(RecognitionRefusal::RelationOutOfOrder(
                last.recognizer.clone(),
            ));
        }
        if last.relation == change.relation {
            return Err(RecognitionRefusal::SameRelation(last.recognizer.clone()));
        }
    }
    Ok(())
}

/// Checks a census record: a known protocity, a date between the founding and today, and
/// figures that pass [`check_census`]. Earlier dates are accepted, to fill in the past.
pub fn check_census_record(
    record: &CensusRecord,
    protocities: &[&str],
    founded: i64,
    now: i64,
) -> Result<(), RecognitionRefusal> {
    if !protocities.contains(&record.protocity.as_str()) {
        // Echo a bounded id back, cut on a character boundary.
        let id = record
            .protocity
            .chars()
            .take(crate::protocol::MAX_ID_CHARS)
            .collect();
        return Err(RecognitionRefusal::UnknownProtocity(id));
    }
    check_source(&record.source)?;
    check_date(record.at, founded, now)?;
    check_census(&record.census)
}

fn same_recognizer(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// A protocity's real-estate footprint: the area of every parcel in the registry that has
/// an owner (the treasury, a group or a member). Parcels still crowdfunding or unowned do not
/// count until they are bought.
pub fn footprint_m2<'a>(parcels: impl IntoIterator<Item = &'a ParcelInfo>, protocity: &str) -> i64 {
    parcels
        .into_iter()
        .filter(|p| p.protocity == protocity && p.owner != Owner::Unowned)
        .map(|p| i64::from(p.area_m2))
        .sum()
}

/// What a founder asks to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecognitionRequest {
    Stage(StageChange),
    Relation(RelationChange),
    Census(CensusRecord),
}

impl RecognitionRequest {
    /// The request as it is checked, stored and shown: names, sources and reasons trimmed,
    /// a blank reason none.
    pub fn normalized(mut self) -> Self {
        let trim = |text: &mut String| *text = text.trim().to_owned();
        match &mut self {
            RecognitionRequest::Stage(c) => {
                trim(&mut c.source);
                c.reason = c
                    .reason
                    .take()
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty());
            }
            RecognitionRequest::Relation(c) => {
                trim(&mut c.recognizer);
                trim(&mut c.source);
            }
            RecognitionRequest::Census(c) => trim(&mut c.source),
        }
        self
    }

    /// Signs the request with who recorded it.
    pub fn signed(mut self, by: &str) -> Self {
        match &mut self {
            RecognitionRequest::Stage(c) => c.recorded_by = by.to_owned(),
            RecognitionRequest::Relation(c) => c.recorded_by = by.to_owned(),
            RecognitionRequest::Census(c) => c.recorded_by = by.to_owned(),
        }
        self
    }

    /// What was recorded, in a sentence for whoever asked and for the log.
    pub fn describe(&self) -> String {
        match self {
            RecognitionRequest::Stage(c) => format!(
                "recorded: the nation became a {} on {}",
                c.stage.title(),
                date_words(c.at)
            ),
            RecognitionRequest::Relation(c) => format!(
                "recorded: {}, {} since {}",
                c.recognizer.trim(),
                c.relation.title(),
                date_words(c.at)
            ),
            RecognitionRequest::Census(c) => format!(
                "recorded: the census of {} on {}, population {}",
                c.protocity,
                date_words(c.at),
                c.census.population
            ),
        }
    }
}

/// Everything known about the nation's standing, every list oldest first: what the server
/// stores and sends whole to every client when it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The nation's founding (unix seconds).
    pub founded: i64,
    pub stages: Vec<StageChange>,
    pub relations: Vec<RelationChange>,
    pub census: Vec<CensusRecord>,
    pub footprints: Vec<FootprintRecord>,
}

/// A figure of the census that can be charted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Population,
    YearlyIncome,
    Footprint,
}

/// One entry of the nation's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Milestone {
    pub at: i64,
    pub words: String,
    pub source: String,
}

impl Standing {
    /// The stage reached last.
    pub fn stage(&self) -> Option<Stage> {
        self.stages.last().map(|s| s.stage)
    }

    /// Checks a founder's request against the standing; `protocities` are the known ids.
    pub fn check(
        &self,
        request: &RecognitionRequest,
        protocities: &[&str],
        now: i64,
    ) -> Result<(), RecognitionRefusal> {
        match request {
            RecognitionRequest::Stage(change) => {
                check_stage_change(&self.stages, change, self.founded, now)?;
                let has_reason = change.reason.as_ref().is_some_and(|r| !r.trim().is_empty());
                // Recognized by then: a de jure recognition dated later does not count.
                let bootstrapped = self
                    .recognizers_at(change.at)
                    .iter()
                    .any(|r| r.kind == RecognizerKind::State && r.relation == Relation::DeJure);
                if change.stage == Stage::NetworkState && !bootstrapped && !has_reason {
                    return Err(RecognitionRefusal::NoBootstrapRecognizer);
                }
                Ok(())
            }
            RecognitionRequest::Relation(change) => {
                check_relation_change(&self.relations, change, self.founded, now)
            }
            RecognitionRequest::Census(record) => {
                check_census_record(record, protocities, self.founded, now)
            }
        }
    }

    /// Adds a recorded change, keeping every list in date order.
    pub fn apply(&mut self, request: RecognitionRequest) {
        match request {
            RecognitionRequest::Stage(change) => insert_by(&mut self.stages, change, |c| c.at),
            RecognitionRequest::Relation(change) => {
                insert_by(&mut self.relations, change, |c| c.at)
            }
            RecognitionRequest::Census(record) => insert_by(&mut self.census, record, |c| c.at),
        }
    }

    /// Each recognizer's present relation (its latest change): strongest first, then the
    /// earliest.
    pub fn recognizers(&self) -> Vec<&RelationChange> {
        self.recognizers_at(i64::MAX)
    }

    /// Each recognizer's relation as it stood at a date (changes dated later ignored).
    pub fn recognizers_at(&self, at: i64) -> Vec<&RelationChange> {
        let mut latest: Vec<&RelationChange> = Vec::new();
        for change in self.relations.iter().filter(|c| c.at <= at) {
            match latest
                .iter_mut()
                .find(|r| same_recognizer(&r.recognizer, &change.recognizer))
            {
                Some(known) if known.at <= change.at => *known = change,
                Some(_) => {}
                None => latest.push(change),
            }
        }
        latest.sort_by(|a, b| b.relation.cmp(&a.relation).then(a.at.cmp(&b.at)));
        latest
    }

    /// A protocity's latest census.
    pub fn census_of(&self, protocity: &str) -> Option<&CensusRecord> {
        self.census.iter().rev().find(|c| c.protocity == protocity)
    }

    /// A protocity's present footprint, as last computed from the registry.
    pub fn footprint_of(&self, protocity: &str) -> i64 {
        self.footprints
            .iter()
            .rev()
            .find(|f| f.protocity == protocity)
            .map_or(0, |f| f.area_m2)
    }

    /// The nation's latest figures: each protocity's latest census, summed.
    pub fn total(&self) -> Census {
        census_total(self.latest_by_protocity(i64::MAX).into_values())
    }

    /// The nation's present footprint.
    pub fn total_footprint(&self) -> i64 {
        self.footprint_series(None).last().map_or(0, |(_, v)| *v)
    }

    fn latest_by_protocity(&self, until: i64) -> std::collections::BTreeMap<&str, &Census> {
        self.census
            .iter()
            .filter(|c| c.at <= until)
            .map(|c| (c.protocity.as_str(), &c.census))
            .collect()
    }

    /// A figure over time, for one protocity or (with `None`) the whole nation: one point at
    /// each date something was recorded, the nation's being the sum of each protocity's
    /// latest figure at that date.
    pub fn series(&self, figure: Figure, protocity: Option<&str>) -> Vec<(i64, i64)> {
        if figure == Figure::Footprint {
            return self.footprint_series(protocity);
        }
        let pick = |c: &Census| match figure {
            Figure::Population => c.population,
            _ => c.yearly_income,
        };
        match protocity {
            Some(id) => self
                .census
                .iter()
                .filter(|c| c.protocity == id)
                .map(|c| (c.at, pick(&c.census)))
                .collect(),
            None => {
                let mut dates: Vec<i64> = self.census.iter().map(|c| c.at).collect();
                dates.dedup();
                dates
                    .into_iter()
                    .map(|at| {
                        (
                            at,
                            pick(&census_total(self.latest_by_protocity(at).into_values())),
                        )
                    })
                    .collect()
            }
        }
    }

    fn footprint_series(&self, protocity: Option<&str>) -> Vec<(i64, i64)> {
        let mut dates: Vec<i64> = self
            .footprints
            .iter()
            .filter(|f| protocity.is_none_or(|id| f.protocity == id))
            .map(|f| f.at)
            .collect();
        dates.dedup();
        dates
            .into_iter()
            .map(|at| {
                let latest: std::collections::BTreeMap<&str, i64> = self
                    .footprints
                    .iter()
                    .filter(|f| f.at <= at && protocity.is_none_or(|id| f.protocity == id))
                    .map(|f| (f.protocity.as_str(), f.area_m2))
                    .collect();
                (at, latest.values().fold(0i64, |a, b| a.saturating_add(*b)))
            })
            .collect()
    }

    /// Stages reached and relations entered, in date order.
    pub fn timeline(&self) -> Vec<Milestone> {
        let mut milestones: Vec<Milestone> = self
            .stages
            .iter()
            .map(|s| Milestone {
                at: s.at,
                words: match &s.reason {
                    Some(reason) => format!("became a {} ({reason})", s.stage.title()),
                    None => format!("became a {}", s.stage.title()),
                },
                source: s.source.clone(),
            })
            .chain(self.relations.iter().map(|r| Milestone {
                at: r.at,
                words: format!("{}: {}", r.recognizer, r.relation.title()),
                source: r.source.clone(),
            }))
            .collect();
        milestones.sort_by_key(|m| m.at);
        milestones
    }
}

/// Inserts after every element not later than `value`, so equal dates keep arrival order.
fn insert_by<T>(list: &mut Vec<T>, value: T, key: impl Fn(&T) -> i64) {
    let at = key(&value);
    let index = list.partition_point(|v| key(v) <= at);
    list.insert(index, value);
}

/// Midnight UTC of a `YYYY-MM-DD` date, in unix seconds.
pub fn parse_date(date: &str) -> Option<i64> {
    if !crate::world::valid_date(date) {
        return None;
    }
    let mut parts = date.split('-').map(|p| p.parse::<i64>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    // Howard Hinnant's days-from-civil algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let at = (era * 146_097 + doe - 719_468) * 86_400;
    // 2025-02-31 would otherwise become 3 March.
    (date_words(at) == date).then_some(at)
}

/// Unix seconds as `YYYY-MM-DD`.
pub fn date_words(at: i64) -> String {
    crate::parcels::utc_date_time(at)[..10].to_owned()
}
