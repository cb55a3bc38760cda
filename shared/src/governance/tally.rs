//! Counting votes: one pure function per vote type, and the shape check every ballot passes
//! before it is stored. The server counts with these, the client previews with them and
//! `archipelago-server verify` recounts an export with them, so all three always agree.
//!
//! # The published rules
//!
//! Every count first checks each ballot with [`check_choice`]. A ballot that does not fit the
//! proposal (another vote type, an option that does not exist, an option twice, a quadratic
//! ballot over budget) is left out entirely: it does not count towards turnout either.
//!
//! **Quorum.** If fewer ballots count than the proposal's quorum, the outcome is
//! [`Outcome::NoQuorum`] and nothing wins, though the counts are still shown. A turnout equal
//! to the quorum is enough. Abstentions and blank approval ballots count towards quorum.
//!
//! **Threshold.** A share reaches the threshold when it is at least `threshold_percent` percent
//! of the decisive votes, in whole numbers: `votes × 100 ≥ threshold_percent × decisive`. So
//! 2 votes of 3 (66.67 %) reach a 66 % threshold but not a 67 % one. No votes never reach it.
//! What is decisive depends on the vote type:
//!
//! - **Yes/no**: yes and no votes; abstentions count for quorum only. The proposal passes when
//!   yes outnumbers no *and* yes reaches the threshold, so a tie never passes.
//! - **Single choice** and **approval**: every ballot counted, blank approval ballots included.
//! - **Quadratic**: all the votes cast on all options (votes, not the credits they cost).
//! - **Ranked choice**: the ballots still counting for someone in the final round.
//!
//! For single choice, approval and quadratic, the one option with the most votes wins if it
//! reaches the threshold. A tie for first place means no option carries.
//!
//! **Ranked choice** is counted by instant runoff, in rounds. In each round every ballot counts
//! for its highest-ranked option still in the race; a ballot that ranks none of them is
//! exhausted and counts for no one. The count stops when an option holds more than half of the
//! round's votes, or when only one option is left; that option wins if it reaches the
//! threshold. Otherwise exactly one option is eliminated: the one with the fewest votes this
//! round. When several share the fewest, their votes in the previous round decide (the one
//! with fewer goes), then the round before that, and so on back to the first round; options
//! that tied in every round are separated by their place on the list, and the one listed last
//! (highest option number) goes. Options nobody ranked first are eliminated the same way, one
//! per round. If the last two options tie exactly, no option carries: the list order never
//! picks a winner. If every ballot is exhausted, no option carries.

use serde::{Deserialize, Serialize};

/// Most options a proposal may offer.
pub const MAX_OPTIONS: usize = 12;
/// Largest quadratic credit budget a proposal may give each voter.
pub const MAX_CREDITS: u32 = 10_000;

/// How a proposal is voted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VoteType {
    /// Yes, no or abstain. The proposal has no options of its own.
    YesNo,
    /// Exactly one of the options.
    SingleChoice,
    /// Any number of the options (none is a valid, blank ballot).
    Approval,
    /// Options in order of preference, counted by instant runoff.
    RankedChoice,
    /// Votes spread over the options; `n` votes on one option cost `n²` credits, and the
    /// voter has `credits` to spend.
    Quadratic { credits: u32 },
}

/// A yes/no/abstain answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum YesNo {
    Yes,
    No,
    Abstain,
}

/// What one ballot says. Options are indices into the proposal's option list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Choice {
    YesNo(YesNo),
    Single(u8),
    /// The approved options, each at most once.
    Approval(Vec<u8>),
    /// Options from most to least preferred, each at most once; options left out are
    /// ranked below all listed ones.
    Ranked(Vec<u8>),
    /// Votes per option, one entry per option.
    Quadratic(Vec<u32>),
}

/// What a proposal decides with: the parts of it a tally needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub vote_type: VoteType,
    /// Number of options (ignored for [`VoteType::YesNo`], which always has three answers).
    pub options: usize,
    /// Ballots needed for the result to count at all (abstentions and blank ballots count).
    pub quorum: u32,
    /// Share of the decisive votes, in percent, the winner must reach ("at least").
    pub threshold_percent: u32,
}

/// How a proposal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Outcome {
    /// Yes/no: passed. Other types: an option won.
    Passed,
    /// Yes/no: rejected. Other types: no option reached the threshold, or a tie.
    Failed,
    /// Too few ballots for a decision.
    #[default]
    NoQuorum,
}

/// The count of a set of ballots.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Ballots counted.
    pub turnout: u32,
    /// Yes/no: `[yes, no, abstain]`. Single choice: votes per option. Approval: approvals per
    /// option. Quadratic: votes (not credits) per option. Ranked: the last round's counts.
    pub counts: Vec<u64>,
    /// Ranked choice only: each instant-runoff round's count per option, `None` once the
    /// option is eliminated. Empty for the other types.
    pub rounds: Vec<Vec<Option<u64>>>,
    /// The winning option (yes/no: `Some(0)` when yes carries). `None` without quorum, when
    /// no option reaches the threshold, or on a tie.
    pub winner: Option<u8>,
    /// What the result would be if the proposal closed with these ballots.
    pub outcome: Outcome,
}

/// Why a ballot's shape does not fit the proposal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ChoiceError {
    #[error("this proposal is voted {expected}, but the ballot is {got}")]
    WrongType { expected: VoteKind, got: VoteKind },
    #[error("option {0} does not exist")]
    NoSuchOption(u8),
    #[error("option {0} appears more than once")]
    Repeated(u8),
    #[error("a quadratic ballot needs {expected} entries, one per option, not {got}")]
    WrongLength { expected: usize, got: usize },
    #[error("these votes cost {cost} credits, more than the {budget} each voter has")]
    OverBudget { cost: u64, budget: u32 },
    #[error("a ranked ballot must rank at least one option")]
    EmptyRanking,
}

/// A vote type without its parameters: what a refusal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoteKind {
    YesNo,
    SingleChoice,
    Approval,
    RankedChoice,
    Quadratic,
}

impl VoteKind {
    /// The vote type in the words voters read ("ranked choice").
    pub fn name(self) -> &'static str {
        match self {
            VoteKind::YesNo => "yes/no",
            VoteKind::SingleChoice => "single choice",
            VoteKind::Approval => "approval",
            VoteKind::RankedChoice => "ranked choice",
            VoteKind::Quadratic => "quadratic",
        }
    }
}

impl std::fmt::Display for VoteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl VoteType {
    pub fn kind(self) -> VoteKind {
        match self {
            VoteType::YesNo => VoteKind::YesNo,
            VoteType::SingleChoice => VoteKind::SingleChoice,
            VoteType::Approval => VoteKind::Approval,
            VoteType::RankedChoice => VoteKind::RankedChoice,
            VoteType::Quadratic { .. } => VoteKind::Quadratic,
        }
    }

    /// The vote type in the words voters read ("ranked choice").
    pub fn name(self) -> &'static str {
        self.kind().name()
    }
}

impl Choice {
    /// The vote type this ballot is shaped for.
    pub fn kind(&self) -> VoteKind {
        match self {
            Choice::YesNo(_) => VoteKind::YesNo,
            Choice::Single(_) => VoteKind::SingleChoice,
            Choice::Approval(_) => VoteKind::Approval,
            Choice::Ranked(_) => VoteKind::RankedChoice,
            Choice::Quadratic(_) => VoteKind::Quadratic,
        }
    }
}

/// The credits a quadratic ballot costs: the votes on each option, squared, summed.
///
/// Never overflows: a sum past `u64::MAX` stays at `u64::MAX`, which is over any budget.
pub fn quadratic_cost(votes: &[u32]) -> u64 {
    votes
        .iter()
        .map(|&v| u64::from(v) * u64::from(v))
        .fold(0, u64::saturating_add)
}

/// Whether a ballot's shape fits the proposal; only ballots that fit are stored and counted.
///
/// The ballot must be of the proposal's vote type, and name only options the proposal has.
/// Approval and ranked ballots name each option at most once; an approval ballot may name none
/// (a blank ballot), a ranked ballot must name at least one. A quadratic ballot has one entry
/// per option and costs at most the voter's credits.
pub fn check_choice(rules: &Rules, choice: &Choice) -> Result<(), ChoiceError> {
    match (rules.vote_type, choice) {
        (VoteType::YesNo, Choice::YesNo(_)) => Ok(()),
        (VoteType::SingleChoice, Choice::Single(option)) => check_option(rules, *option),
        (VoteType::Approval, Choice::Approval(options)) => check_distinct(rules, options),
        (VoteType::RankedChoice, Choice::Ranked(options)) => {
            if options.is_empty() {
                return Err(ChoiceError::EmptyRanking);
            }
            check_distinct(rules, options)
        }
        (VoteType::Quadratic { credits }, Choice::Quadratic(votes)) => {
            if votes.len() != rules.options {
                return Err(ChoiceError::WrongLength {
                    expected: rules.options,
                    got: votes.len(),
                });
            }
            let cost = quadratic_cost(votes);
            if cost > u64::from(credits) {
                return Err(ChoiceError::OverBudget {
                    cost,
                    budget: credits,
                });
            }
            Ok(())
        }
        (expected, got) => Err(ChoiceError::WrongType {
            expected: expected.kind(),
            got: got.kind(),
        }),
    }
}

fn check_option(rules: &Rules, option: u8) -> Result<(), ChoiceError> {
    if usize::from(option) < rules.options {
        Ok(())
    } else {
        Err(ChoiceError::NoSuchOption(option))
    }
}

fn check_distinct(rules: &Rules, options: &[u8]) -> Result<(), ChoiceError> {
    let mut seen = [false; 1 << u8::BITS];
    for &option in options {
        check_option(rules, option)?;
        if std::mem::replace(&mut seen[usize::from(option)], true) {
            return Err(ChoiceError::Repeated(option));
        }
    }
    Ok(())
}

/// Counts ballots by the proposal's vote type; see the module documentation for the rules.
///
/// Ballots that fail [`check_choice`] are left out and do not count towards turnout.
pub fn tally(rules: &Rules, ballots: &[Choice]) -> Tally {
    match rules.vote_type {
        VoteType::YesNo => tally_yes_no(rules, ballots),
        VoteType::SingleChoice => tally_single(rules, ballots),
        VoteType::Approval => tally_approval(rules, ballots),
        VoteType::RankedChoice => tally_ranked(rules, ballots),
        VoteType::Quadratic { .. } => tally_quadratic(rules, ballots),
    }
}

/// Counts a yes/no vote. `counts` is `[yes, no, abstain]`.
///
/// The proposal passes (winner `Some(0)`) when yes outnumbers no and yes reaches the threshold
/// of the yes and no votes together. A tie never passes, whatever the threshold; abstentions
/// count for quorum only. Ballots that are not yes/no ballots are left out.
pub fn tally_yes_no(rules: &Rules, ballots: &[Choice]) -> Tally {
    let (mut yes, mut no, mut abstain) = (0, 0, 0);
    let mut turnout = 0;
    for choice in counted(rules, ballots) {
        let Choice::YesNo(answer) = choice else {
            continue;
        };
        turnout += 1;
        match answer {
            YesNo::Yes => yes += 1,
            YesNo::No => no += 1,
            YesNo::Abstain => abstain += 1,
        }
    }
    let carried = yes > no && reaches(yes, yes + no, rules.threshold_percent);
    finish(
        rules,
        turnout,
        vec![yes, no, abstain],
        Vec::new(),
        carried.then_some(0),
    )
}

/// Counts a single-choice vote: one vote per ballot for the option it names.
///
/// The one option with the most votes wins if it reaches the threshold of all ballots
/// counted. A tie for first place, or a leader short of the threshold, means no option carries.
pub fn tally_single(rules: &Rules, ballots: &[Choice]) -> Tally {
    let mut counts = vec![0; rules.options];
    let mut turnout = 0;
    for choice in counted(rules, ballots) {
        let Choice::Single(option) = choice else {
            continue;
        };
        turnout += 1;
        add(&mut counts, *option, 1);
    }
    let winner = sole_leader(&counts, u64::from(turnout), rules.threshold_percent);
    finish(rules, turnout, counts, Vec::new(), winner)
}

/// Counts an approval vote: one approval for each option a ballot names.
///
/// The one option with the most approvals wins if it reaches the threshold of all ballots
/// counted, blank ballots included. A tie for first place, or a leader short of the threshold,
/// means no option carries.
pub fn tally_approval(rules: &Rules, ballots: &[Choice]) -> Tally {
    let mut counts = vec![0; rules.options];
    let mut turnout = 0;
    for choice in counted(rules, ballots) {
        let Choice::Approval(options) = choice else {
            continue;
        };
        turnout += 1;
        for &option in options {
            add(&mut counts, option, 1);
        }
    }
    let winner = sole_leader(&counts, u64::from(turnout), rules.threshold_percent);
    finish(rules, turnout, counts, Vec::new(), winner)
}

/// Counts a quadratic vote: each option gets the votes cast on it (votes, not credits).
///
/// The one option with the most votes wins if it reaches the threshold of all votes cast on
/// all options. A tie for first place, or a leader short of the threshold, means no option
/// carries. Ballots over the credit budget are left out.
pub fn tally_quadratic(rules: &Rules, ballots: &[Choice]) -> Tally {
    let mut counts = vec![0; rules.options];
    let mut turnout = 0;
    for choice in counted(rules, ballots) {
        let Choice::Quadratic(votes) = choice else {
            continue;
        };
        turnout += 1;
        for (count, &v) in counts.iter_mut().zip(votes) {
            *count += u64::from(v);
        }
    }
    let cast = counts.iter().sum();
    let winner = sole_leader(&counts, cast, rules.threshold_percent);
    finish(rules, turnout, counts, Vec::new(), winner)
}

/// Counts a ranked-choice vote by instant runoff.
///
/// In each round every ballot counts for its highest-ranked option still in the race; a
/// ballot ranking none of them is exhausted and counts for no one. Each round is recorded in
/// `rounds`, one entry per option, `None` for options already eliminated. The count stops when
/// an option holds more than half of the round's votes, or only one option is left; that
/// option wins if it reaches the threshold of the round's votes (exhausted ballots left out).
///
/// Otherwise one option is eliminated: the one with the fewest votes this round. If several
/// share the fewest, the one with fewer votes in the previous round goes; if they tied there
/// too, the round before decides, and so on back to the first round. If they tied in every
/// round, the one listed last (highest option number) goes. Options nobody ranked first are
/// eliminated the same way, one per round.
///
/// If the last two options tie exactly, no option carries (the list order never picks a
/// winner); nor does any when every ballot is exhausted. `counts` holds the final round's
/// counts, 0 for eliminated options.
pub fn tally_ranked(rules: &Rules, ballots: &[Choice]) -> Tally {
    let rankings: Vec<&[u8]> = counted(rules, ballots)
        .filter_map(|choice| match choice {
            Choice::Ranked(ranking) => Some(ranking.as_slice()),
            _ => None,
        })
        .collect();
    let turnout = u32::try_from(rankings.len()).unwrap_or(u32::MAX);
    let mut in_race = vec![true; rules.options];
    let mut rounds: Vec<Vec<Option<u64>>> = Vec::new();
    let winner = loop {
        let round = count_round(&rankings, &in_race);
        let standing: Vec<(usize, u64)> = round
            .iter()
            .enumerate()
            .filter_map(|(option, votes)| votes.map(|v| (option, v)))
            .collect();
        rounds.push(round);
        let live: u64 = standing.iter().map(|&(_, votes)| votes).sum();
        if live == 0 {
            break None;
        }
        // An option left alone holds every live vote, so this also ends a one-option race.
        if let Some(&(option, votes)) = standing.iter().find(|&&(_, votes)| votes * 2 > live) {
            break reaches(votes, live, rules.threshold_percent)
                .then(|| u8::try_from(option).ok())
                .flatten();
        }
        if let [(_, first), (_, second)] = standing[..]
            && first == second
        {
            break None;
        }
        let Some(out) = to_eliminate(&rounds, &standing) else {
            break None;
        };
        if let Some(running) = in_race.get_mut(out) {
            *running = false;
        }
    };
    let counts = rounds
        .last()
        .map(|round| round.iter().map(|votes| votes.unwrap_or(0)).collect())
        .unwrap_or_default();
    finish(rules, turnout, counts, rounds, winner)
}

/// The ballots that fit the proposal.
fn counted<'a>(rules: &'a Rules, ballots: &'a [Choice]) -> impl Iterator<Item = &'a Choice> {
    ballots
        .iter()
        .filter(move |choice| check_choice(rules, choice).is_ok())
}

fn add(counts: &mut [u64], option: u8, votes: u64) {
    if let Some(count) = counts.get_mut(usize::from(option)) {
        *count += votes;
    }
}

/// "At least" the threshold, in whole numbers; widened so no count can overflow it.
fn reaches(votes: u64, decisive: u64, threshold_percent: u32) -> bool {
    votes > 0 && u128::from(votes) * 100 >= u128::from(threshold_percent) * u128::from(decisive)
}

/// The option with strictly the most votes, if it reaches the threshold.
fn sole_leader(counts: &[u64], decisive: u64, threshold_percent: u32) -> Option<u8> {
    let top = *counts.iter().max()?;
    let mut leaders = counts
        .iter()
        .enumerate()
        .filter(|&(_, &votes)| votes == top);
    let (option, _) = leaders.next()?;
    if leaders.next().is_some() || !reaches(top, decisive, threshold_percent) {
        return None;
    }
    u8::try_from(option).ok()
}

/// Applies the quorum and names the outcome.
fn finish(
    rules: &Rules,
    turnout: u32,
    counts: Vec<u64>,
    rounds: Vec<Vec<Option<u64>>>,
    winner: Option<u8>,
) -> Tally {
    let (winner, outcome) = match winner {
        _ if turnout < rules.quorum => (None, Outcome::NoQuorum),
        Some(option) => (Some(option), Outcome::Passed),
        None => (None, Outcome::Failed),
    };
    Tally {
        turnout,
        counts,
        rounds,
        winner,
        outcome,
    }
}

/// One instant-runoff round: each ballot for its highest-ranked option still in the race.
fn count_round(rankings: &[&[u8]], in_race: &[bool]) -> Vec<Option<u64>> {
    let mut round: Vec<Option<u64>> = in_race
        .iter()
        .map(|&running| running.then_some(0))
        .collect();
    for ranking in rankings {
        let choice = ranking
            .iter()
            .map(|&option| usize::from(option))
            .find(|&option| in_race.get(option) == Some(&true));
        if let Some(Some(votes)) = choice.and_then(|option| round.get_mut(option)) {
            *votes += 1;
        }
    }
    round
}

/// The option to eliminate after the last of `rounds`, whose standing options are given.
fn to_eliminate(rounds: &[Vec<Option<u64>>], standing: &[(usize, u64)]) -> Option<usize> {
    let fewest = standing.iter().map(|&(_, votes)| votes).min()?;
    let mut tied: Vec<usize> = standing
        .iter()
        .filter(|&&(_, votes)| votes == fewest)
        .map(|&(option, _)| option)
        .collect();
    // Back through the earlier rounds, latest first, keeping those with the fewest votes.
    for round in rounds.iter().rev().skip(1) {
        if tied.len() <= 1 {
            break;
        }
        let votes = |option: usize| round.get(option).copied().flatten().unwrap_or(0);
        let fewest = tied.iter().map(|&option| votes(option)).min()?;
        tied.retain(|&option| votes(option) == fewest);
    }
    // `tied` is in option order: the last is the one listed last.
    tied.last().copied()
}
