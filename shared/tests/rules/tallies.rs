//! The vote-counting rules, each worked by hand: ballot shapes, quorum, thresholds, ties and
//! instant-runoff rounds.

use archipelago_shared::governance::tally::*;

/// Options of ranked-choice examples, by letter.
const A: u8 = 0;
const B: u8 = 1;
const C: u8 = 2;
const D: u8 = 3;

fn rules(vote_type: VoteType, options: usize, quorum: u32, threshold_percent: u32) -> Rules {
    Rules {
        vote_type,
        options,
        quorum,
        threshold_percent,
    }
}

/// `n` copies of each ballot.
fn ballots(groups: &[(usize, Choice)]) -> Vec<Choice> {
    groups
        .iter()
        .flat_map(|(n, choice)| std::iter::repeat_n(choice.clone(), *n))
        .collect()
}

fn yes_no(yes: usize, no: usize, abstain: usize) -> Vec<Choice> {
    ballots(&[
        (yes, Choice::YesNo(YesNo::Yes)),
        (no, Choice::YesNo(YesNo::No)),
        (abstain, Choice::YesNo(YesNo::Abstain)),
    ])
}

fn singles(options: &[u8]) -> Vec<Choice> {
    options.iter().map(|&o| Choice::Single(o)).collect()
}

/// `n` copies of each ranking.
fn ranked(groups: &[(usize, &[u8])]) -> Vec<Choice> {
    groups
        .iter()
        .flat_map(|&(n, ranking)| std::iter::repeat_n(Choice::Ranked(ranking.to_vec()), n))
        .collect()
}

// --- names --------------------------------------------------------------------------------

#[test]
fn vote_types_and_ballots_are_named_in_the_same_words() {
    let pairs = [
        (VoteType::YesNo, Choice::YesNo(YesNo::Yes), "yes/no"),
        (VoteType::SingleChoice, Choice::Single(0), "single choice"),
        (VoteType::Approval, Choice::Approval(vec![]), "approval"),
        (
            VoteType::RankedChoice,
            Choice::Ranked(vec![0]),
            "ranked choice",
        ),
        (
            VoteType::Quadratic { credits: 9 },
            Choice::Quadratic(vec![]),
            "quadratic",
        ),
    ];
    for (vote_type, choice, words) in pairs {
        assert_eq!(
            vote_type.name(),
            words,
            "{vote_type:?} should read `{words}`"
        );
        assert_eq!(
            choice.kind().name(),
            words,
            "{choice:?} should read `{words}`"
        );
    }
}

// --- ballot shapes ------------------------------------------------------------------------

#[test]
fn ballots_that_fit_the_proposal_are_accepted() {
    let fitting = [
        (
            rules(VoteType::YesNo, 0, 0, 50),
            Choice::YesNo(YesNo::Abstain),
        ),
        (rules(VoteType::SingleChoice, 3, 0, 50), Choice::Single(2)),
        (
            rules(VoteType::Approval, 3, 0, 50),
            Choice::Approval(vec![2, 0]),
        ),
        (
            rules(VoteType::Approval, 3, 0, 50),
            Choice::Approval(vec![]),
        ),
        (
            rules(VoteType::RankedChoice, 3, 0, 50),
            Choice::Ranked(vec![1]),
        ),
        (
            rules(VoteType::RankedChoice, 3, 0, 50),
            Choice::Ranked(vec![2, 0, 1]),
        ),
        (
            rules(VoteType::Quadratic { credits: 25 }, 3, 0, 50),
            Choice::Quadratic(vec![3, 4, 0]),
        ),
    ];
    for (rules, choice) in fitting {
        assert_eq!(
            check_choice(&rules, &choice),
            Ok(()),
            "{choice:?} should fit a {} proposal with {} options",
            rules.vote_type.name(),
            rules.options
        );
    }
}

#[test]
fn a_ballot_of_another_vote_type_is_refused_as_wrong_type() {
    let error = check_choice(&rules(VoteType::YesNo, 0, 0, 50), &Choice::Single(0));
    assert_eq!(
        error,
        Err(ChoiceError::WrongType {
            expected: VoteKind::YesNo,
            got: VoteKind::SingleChoice,
        }),
        "a single-choice ballot on a yes/no proposal should be the wrong type"
    );
    let words = error.map_err(|e| e.to_string());
    assert_eq!(
        words,
        Err("this proposal is voted yes/no, but the ballot is single choice".to_owned()),
        "the refusal should name both vote types in users' words"
    );
    assert_eq!(
        check_choice(
            &rules(VoteType::Quadratic { credits: 9 }, 2, 0, 50),
            &Choice::Ranked(vec![0]),
        ),
        Err(ChoiceError::WrongType {
            expected: VoteKind::Quadratic,
            got: VoteKind::RankedChoice,
        }),
        "a ranked ballot on a quadratic proposal should be the wrong type"
    );
}

#[test]
fn an_option_past_the_end_of_the_list_does_not_exist() {
    let cases = [
        (VoteType::SingleChoice, Choice::Single(3), 3),
        (VoteType::Approval, Choice::Approval(vec![0, 5]), 5),
        (VoteType::RankedChoice, Choice::Ranked(vec![1, 3]), 3),
    ];
    for (vote_type, choice, missing) in cases {
        assert_eq!(
            check_choice(&rules(vote_type, 3, 0, 50), &choice),
            Err(ChoiceError::NoSuchOption(missing)),
            "{choice:?} names option {missing}, but only options 0 to 2 exist"
        );
    }
}

#[test]
fn an_option_named_twice_is_refused_as_repeated() {
    assert_eq!(
        check_choice(
            &rules(VoteType::Approval, 3, 0, 50),
            &Choice::Approval(vec![1, 1]),
        ),
        Err(ChoiceError::Repeated(1)),
        "approving option 1 twice should be refused"
    );
    assert_eq!(
        check_choice(
            &rules(VoteType::RankedChoice, 3, 0, 50),
            &Choice::Ranked(vec![0, 2, 0]),
        ),
        Err(ChoiceError::Repeated(0)),
        "ranking option 0 twice should be refused"
    );
}

#[test]
fn a_ranked_ballot_must_rank_at_least_one_option() {
    assert_eq!(
        check_choice(
            &rules(VoteType::RankedChoice, 3, 0, 50),
            &Choice::Ranked(vec![]),
        ),
        Err(ChoiceError::EmptyRanking),
        "an empty ranking should be refused (unlike a blank approval ballot)"
    );
}

#[test]
fn a_quadratic_ballot_needs_one_entry_per_option() {
    let quadratic = rules(VoteType::Quadratic { credits: 25 }, 3, 0, 50);
    assert_eq!(
        check_choice(&quadratic, &Choice::Quadratic(vec![1, 2])),
        Err(ChoiceError::WrongLength {
            expected: 3,
            got: 2
        }),
        "two entries on a three-option proposal should be the wrong length"
    );
    assert_eq!(
        check_choice(&quadratic, &Choice::Quadratic(vec![0, 0, 0, 1])),
        Err(ChoiceError::WrongLength {
            expected: 3,
            got: 4
        }),
        "four entries on a three-option proposal should be the wrong length"
    );
}

// --- quadratic budget ---------------------------------------------------------------------

#[test]
fn quadratic_cost_is_the_sum_of_squared_votes() {
    // 3² + 4² + 0² = 9 + 16 + 0 = 25.
    assert_eq!(quadratic_cost(&[3, 4, 0]), 25, "3, 4 and 0 votes cost 25");
    assert_eq!(quadratic_cost(&[]), 0, "no votes cost nothing");
    // (2³² − 1)² = 18 446 744 065 119 617 025 still fits in a u64.
    assert_eq!(
        quadratic_cost(&[u32::MAX]),
        18_446_744_065_119_617_025,
        "the largest single entry should be squared exactly"
    );
    // Twice that is past u64::MAX, so the sum stops there instead of wrapping.
    assert_eq!(
        quadratic_cost(&[u32::MAX, u32::MAX]),
        u64::MAX,
        "a cost past u64::MAX should saturate, not wrap to something affordable"
    );
}

#[test]
fn a_quadratic_ballot_over_budget_is_refused_and_not_counted() {
    let quadratic = rules(VoteType::Quadratic { credits: 25 }, 3, 0, 50);
    // 5² + 1² = 26 credits, one more than the 25 each voter has.
    assert_eq!(
        check_choice(&quadratic, &Choice::Quadratic(vec![5, 1, 0])),
        Err(ChoiceError::OverBudget {
            cost: 26,
            budget: 25
        }),
        "a ballot costing 26 of 25 credits should be over budget"
    );
    // Exactly the budget is fine: 3² + 4² = 25.
    assert_eq!(
        check_choice(&quadratic, &Choice::Quadratic(vec![3, 4, 0])),
        Ok(()),
        "a ballot costing exactly the budget should fit"
    );
    // An entry whose square alone overflows u32 must not sneak under the budget.
    assert_eq!(
        check_choice(&quadratic, &Choice::Quadratic(vec![65_536, 0, 0])),
        Err(ChoiceError::OverBudget {
            cost: 4_294_967_296,
            budget: 25
        }),
        "65 536 votes cost 2³² credits, far over budget"
    );

    // Counted: [3, 4, 0] and [0, 5, 0]; [5, 1, 0] is over budget and left out.
    // Votes per option: [3, 9, 0], 12 votes in all. Option 1 has 9 of 12 = 75 % ≥ 50 %.
    let ballots = [
        Choice::Quadratic(vec![3, 4, 0]),
        Choice::Quadratic(vec![5, 1, 0]),
        Choice::Quadratic(vec![0, 5, 0]),
    ];
    let result = tally(&quadratic, &ballots);
    assert_eq!(
        result.turnout, 2,
        "the over-budget ballot should not count as turnout"
    );
    assert_eq!(
        result.counts,
        vec![3, 9, 0],
        "counts should be votes from the two fitting ballots"
    );
    assert_eq!(
        result.winner,
        Some(1),
        "option 1 should win with 9 of 12 votes"
    );
    assert_eq!(
        result.outcome,
        Outcome::Passed,
        "75 % reaches a 50 % threshold"
    );
    assert!(result.rounds.is_empty(), "only ranked choice has rounds");
}

#[test]
fn quadratic_counts_votes_not_credits() {
    // Ballots: [1, 1, 1] (3 credits) and [0, 3, 0] (9 credits) and [2, 0, 0] (4 credits).
    // Votes: [3, 4, 1] of 8. Credits would have been [5, 10, 1], a different picture.
    // Option 1: 4 of 8 = 50 %: 400 ≥ 50 × 8 = 400 passes, 400 ≥ 51 × 8 = 408 does not.
    let ballots = [
        Choice::Quadratic(vec![1, 1, 1]),
        Choice::Quadratic(vec![0, 3, 0]),
        Choice::Quadratic(vec![2, 0, 0]),
    ];
    let half = tally(
        &rules(VoteType::Quadratic { credits: 9 }, 3, 0, 50),
        &ballots,
    );
    assert_eq!(
        half.counts,
        vec![3, 4, 1],
        "counts should be votes, not credits"
    );
    assert_eq!(
        (half.outcome, half.winner),
        (Outcome::Passed, Some(1)),
        "4 of 8 votes reaches 50 %"
    );
    let more = tally(
        &rules(VoteType::Quadratic { credits: 9 }, 3, 0, 51),
        &ballots,
    );
    assert_eq!(
        (more.outcome, more.winner),
        (Outcome::Failed, None),
        "4 of 8 votes falls short of 51 %"
    );
}

#[test]
fn quadratic_tie_at_the_top_fails() {
    // Votes: [2, 2, 0]; options 0 and 1 share first place.
    let ballots = [
        Choice::Quadratic(vec![2, 0, 0]),
        Choice::Quadratic(vec![0, 2, 0]),
    ];
    let result = tally(
        &rules(VoteType::Quadratic { credits: 4 }, 3, 0, 10),
        &ballots,
    );
    assert_eq!(
        result.counts,
        vec![2, 2, 0],
        "both options should have 2 votes"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "a tie for first place should carry no option"
    );
}

// --- yes/no -------------------------------------------------------------------------------

#[test]
fn yes_no_passes_when_yes_outnumbers_no_and_reaches_the_threshold() {
    // 3 yes, 1 no, 2 abstain: decisive = 3 + 1 = 4; 3 × 100 = 300 ≥ 50 × 4 = 200.
    let result = tally(&rules(VoteType::YesNo, 0, 0, 50), &yes_no(3, 1, 2));
    assert_eq!(
        result.counts,
        vec![3, 1, 2],
        "counts should be [yes, no, abstain]"
    );
    assert_eq!(result.turnout, 6, "abstentions are ballots too");
    assert_eq!(result.winner, Some(0), "a carried yes/no vote has winner 0");
    assert_eq!(result.outcome, Outcome::Passed, "3 yes to 1 no should pass");
    assert!(result.rounds.is_empty(), "only ranked choice has rounds");
}

#[test]
fn yes_no_tie_never_passes() {
    // 2 yes, 2 no: 2 × 100 = 200 ≥ 50 × 4 = 200 reaches 50 %, but yes does not outnumber no.
    let result = tally(&rules(VoteType::YesNo, 0, 0, 50), &yes_no(2, 2, 0));
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "a 2–2 tie should fail even with a 50 % threshold"
    );
}

#[test]
fn sixty_percent_yes_meets_a_sixty_percent_threshold() {
    // 3 yes, 2 no, 5 abstain: decisive = 5; 3 × 100 = 300 ≥ 60 × 5 = 300. Abstentions do
    // not dilute the share.
    let result = tally(&rules(VoteType::YesNo, 0, 0, 60), &yes_no(3, 2, 5));
    assert_eq!(
        result.outcome,
        Outcome::Passed,
        "60 % yes should reach 60 %"
    );
    // 300 ≥ 61 × 5 = 305 is false.
    let result = tally(&rules(VoteType::YesNo, 0, 0, 61), &yes_no(3, 2, 5));
    assert_eq!(
        result.outcome,
        Outcome::Failed,
        "60 % yes should fall short of 61 %"
    );
}

#[test]
fn yes_no_with_only_abstentions_fails() {
    // No decisive votes at all: nothing to reach a threshold with.
    let result = tally(&rules(VoteType::YesNo, 0, 3, 50), &yes_no(0, 0, 3));
    assert_eq!(
        result.counts,
        vec![0, 0, 3],
        "three abstentions should be counted"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "abstentions alone meet quorum but should not pass anything"
    );
}

// --- quorum -------------------------------------------------------------------------------

#[test]
fn too_few_ballots_give_no_quorum_but_still_show_the_counts() {
    // 4 ballots, quorum 5.
    let result = tally(&rules(VoteType::YesNo, 0, 5, 50), &yes_no(4, 0, 0));
    assert_eq!(
        result.outcome,
        Outcome::NoQuorum,
        "4 ballots are short of a quorum of 5"
    );
    assert_eq!(result.winner, None, "nothing wins without quorum");
    assert_eq!(
        result.counts,
        vec![4, 0, 0],
        "the counts should still be filled in"
    );
    assert_eq!(result.turnout, 4, "turnout should still be reported");

    // Ranked: rounds are still filled in. 2 × [A], 1 × [B]: A has 2 of 3, more than half.
    let result = tally(
        &rules(VoteType::RankedChoice, 2, 5, 50),
        &ranked(&[(2, &[A]), (1, &[B])]),
    );
    assert_eq!(
        result.outcome,
        Outcome::NoQuorum,
        "3 ballots are short of a quorum of 5"
    );
    assert_eq!(result.winner, None, "nothing wins without quorum");
    assert_eq!(
        result.rounds,
        vec![vec![Some(2), Some(1)]],
        "the runoff rounds should still be shown"
    );
}

#[test]
fn turnout_equal_to_the_quorum_is_enough() {
    // 1 yes and 4 abstentions: turnout 5 = quorum 5. Decisive = 1; 100 ≥ 50 × 1.
    let result = tally(&rules(VoteType::YesNo, 0, 5, 50), &yes_no(1, 0, 4));
    assert_eq!(result.turnout, 5, "abstentions count towards turnout");
    assert_eq!(
        result.outcome,
        Outcome::Passed,
        "a turnout equal to the quorum should decide"
    );
}

// --- single choice ------------------------------------------------------------------------

#[test]
fn single_choice_unique_leader_reaching_the_threshold_wins() {
    // Ballots 0, 0, 0, 1, 2: counts [3, 1, 1]; 3 × 100 = 300 ≥ 50 × 5 = 250.
    let result = tally(
        &rules(VoteType::SingleChoice, 3, 0, 50),
        &singles(&[0, 0, 1, 0, 2]),
    );
    assert_eq!(result.counts, vec![3, 1, 1], "one vote per ballot");
    assert_eq!(result.turnout, 5, "every ballot counts");
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Passed, Some(0)),
        "option 0 has 60 % and should win"
    );
}

#[test]
fn two_of_three_reaches_sixty_six_percent_but_not_sixty_seven() {
    // Counts [2, 1]: 2 × 100 = 200 ≥ 66 × 3 = 198, but 200 ≥ 67 × 3 = 201 is false.
    let ballots = singles(&[0, 1, 0]);
    let result = tally(&rules(VoteType::SingleChoice, 2, 0, 66), &ballots);
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Passed, Some(0)),
        "2 of 3 (66.67 %) should reach 66 %"
    );
    let result = tally(&rules(VoteType::SingleChoice, 2, 0, 67), &ballots);
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "2 of 3 (66.67 %) should fall short of 67 %"
    );
}

#[test]
fn single_choice_tie_at_the_top_fails() {
    // Counts [2, 2, 1].
    let result = tally(
        &rules(VoteType::SingleChoice, 3, 0, 10),
        &singles(&[0, 1, 0, 1, 2]),
    );
    assert_eq!(
        result.counts,
        vec![2, 2, 1],
        "options 0 and 1 share first place"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "a tie for first place should carry no option"
    );
}

#[test]
fn single_choice_leader_short_of_the_threshold_fails() {
    // Counts [2, 1, 1, 1]: 2 × 100 = 200 ≥ 50 × 5 = 250 is false.
    let result = tally(
        &rules(VoteType::SingleChoice, 4, 0, 50),
        &singles(&[0, 1, 2, 3, 0]),
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "option 0 has only 40 % and should not carry"
    );
}

#[test]
fn no_votes_never_reach_a_threshold() {
    // One option, no ballots: 0 × 100 ≥ 50 × 0 holds in numbers, but a share of nothing
    // must not carry.
    let result = tally(&rules(VoteType::SingleChoice, 1, 0, 50), &[]);
    assert_eq!(
        result.counts,
        vec![0],
        "the lone option should have no votes"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "an option with no votes should never win"
    );
}

// --- approval -----------------------------------------------------------------------------

#[test]
fn approval_counts_blank_ballots_as_decisive() {
    // Ballots {0, 1}, {0}, {0, 2}, {}: approvals [3, 1, 1], decisive = 4 ballots.
    // 3 × 100 = 300 ≥ 75 × 4 = 300 passes; 300 ≥ 76 × 4 = 304 fails because the blank
    // ballot counts.
    let ballots = [
        Choice::Approval(vec![0, 1]),
        Choice::Approval(vec![0]),
        Choice::Approval(vec![2, 0]),
        Choice::Approval(vec![]),
    ];
    let result = tally(&rules(VoteType::Approval, 3, 4, 75), &ballots);
    assert_eq!(result.counts, vec![3, 1, 1], "approvals per option");
    assert_eq!(
        result.turnout, 4,
        "the blank ballot should count as turnout"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Passed, Some(0)),
        "3 approvals of 4 ballots should reach 75 %"
    );
    let result = tally(&rules(VoteType::Approval, 3, 4, 76), &ballots);
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "3 approvals of 4 ballots should fall short of 76 %"
    );
}

#[test]
fn approval_tie_at_the_top_fails() {
    // Ballots {0, 1}, {0, 1}, {2}: approvals [2, 2, 1].
    let ballots = [
        Choice::Approval(vec![0, 1]),
        Choice::Approval(vec![1, 0]),
        Choice::Approval(vec![2]),
    ];
    let result = tally(&rules(VoteType::Approval, 3, 0, 10), &ballots);
    assert_eq!(result.counts, vec![2, 2, 1], "approvals per option");
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "a tie for first place should carry no option"
    );
}

// --- ranked choice ------------------------------------------------------------------------

#[test]
fn ranked_majority_in_the_first_round_wins_at_once() {
    // 3 × [A, B], 2 × [B]: A has 3 of 5, more than half.
    let result = tally(
        &rules(VoteType::RankedChoice, 3, 0, 50),
        &ranked(&[(3, &[A, B]), (2, &[B])]),
    );
    assert_eq!(
        result.rounds,
        vec![vec![Some(3), Some(2), Some(0)]],
        "one round should be enough"
    );
    assert_eq!(result.counts, vec![3, 2, 0], "counts are the only round's");
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Passed, Some(A)),
        "A should win with a first-round majority"
    );
}

#[test]
fn ranked_runoff_can_elect_an_option_that_trailed_in_the_first_round() {
    // 14 ballots: 5 × [A], 4 × [B, C], 3 × [C, B], 2 × [D, C]. A majority is more than 7.
    // Round 1: A 5, B 4, C 3, D 2. No majority; D has the fewest and is eliminated.
    // Round 2: D's 2 go to C. A 5, B 4, C 5. No majority; B has the fewest and is eliminated.
    // Round 3: B's 4 go to C. A 5, C 9. C has 9 of 14 > 7 and 9 × 100 ≥ 50 × 14.
    let result = tally(
        &rules(VoteType::RankedChoice, 4, 0, 50),
        &ranked(&[(5, &[A]), (4, &[B, C]), (3, &[C, B]), (2, &[D, C])]),
    );
    assert_eq!(
        result.rounds,
        vec![
            vec![Some(5), Some(4), Some(3), Some(2)],
            vec![Some(5), Some(4), Some(5), None],
            vec![Some(5), None, Some(9), None],
        ],
        "D then B should be eliminated, each marked None from the next round on"
    );
    assert_eq!(
        result.counts,
        vec![5, 0, 9, 0],
        "counts should be the final round's, 0 for eliminated options"
    );
    assert_eq!(result.turnout, 14, "every ballot should count");
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Passed, Some(C)),
        "C should win although A led the first round"
    );
}

#[test]
fn ranked_elimination_tie_is_resolved_by_the_previous_round() {
    // 14 ballots: 6 × [A], 3 × [B, C], 4 × [C], 1 × [D, B, C]. A majority is more than 7.
    // Round 1: A 6, B 3, C 4, D 1. D has the fewest and is eliminated.
    // Round 2: D's ballot goes to B. A 6, B 4, C 4. B and C tie for fewest; in round 1 B had
    //          3 and C had 4, so B is eliminated (the list order alone would have picked C).
    // Round 3: B's 4 ballots go to C. A 6, C 8. C has 8 of 14 > 7.
    let result = tally(
        &rules(VoteType::RankedChoice, 4, 0, 50),
        &ranked(&[(6, &[A]), (3, &[B, C]), (4, &[C]), (1, &[D, B, C])]),
    );
    assert_eq!(
        result.rounds,
        vec![
            vec![Some(6), Some(3), Some(4), Some(1)],
            vec![Some(6), Some(4), Some(4), None],
            vec![Some(6), None, Some(8), None],
        ],
        "B, with fewer votes in round 1, should go in the round-2 tie"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Passed, Some(C)),
        "C should win 8 to 6"
    );
}

#[test]
fn ranked_elimination_tie_in_every_round_removes_the_option_listed_last() {
    // 7 ballots: 3 × [A], 2 × [B, A], 2 × [C, B]. A majority is more than 3.5.
    // Round 1: A 3, B 2, C 2. B and C tie for fewest with no earlier round: C, listed last,
    //          is eliminated.
    // Round 2: C's 2 go to B. A 3, B 4. B has 4 of 7 > 3.5 and 400 ≥ 50 × 7 = 350.
    // (Had B gone instead, A would have won 5 to 2.)
    let result = tally(
        &rules(VoteType::RankedChoice, 3, 0, 50),
        &ranked(&[(3, &[A]), (2, &[B, A]), (2, &[C, B])]),
    );
    assert_eq!(
        result.rounds,
        vec![
            vec![Some(3), Some(2), Some(2)],
            vec![Some(3), Some(4), None]
        ],
        "C, listed after B, should go in the tie"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Passed, Some(B)),
        "B should win with C's transfers"
    );
}

#[test]
fn ranked_options_nobody_ranked_first_are_eliminated_one_per_round() {
    // Five options A to E; 8 ballots: 4 × [A], 2 × [B, D], 2 × [C, B]. Majority: more than 4.
    // Round 1: A 4, B 2, C 2, D 0, E 0. D and E tie at 0 with no earlier round: E, listed
    //          last, goes.
    // Round 2: A 4, B 2, C 2, D 0. D has the fewest and goes.
    // Round 3: A 4, B 2, C 2. B and C tie, and tied in rounds 2 and 1 too: C goes.
    // Round 4: C's 2 go to B. A 4, B 4: the last two tie, so nothing carries.
    let result = tally(
        &rules(VoteType::RankedChoice, 5, 0, 50),
        &ranked(&[(4, &[A]), (2, &[B, D]), (2, &[C, B])]),
    );
    assert_eq!(
        result.rounds,
        vec![
            vec![Some(4), Some(2), Some(2), Some(0), Some(0)],
            vec![Some(4), Some(2), Some(2), Some(0), None],
            vec![Some(4), Some(2), Some(2), None, None],
            vec![Some(4), Some(4), None, None, None],
        ],
        "E, then D, then C should go, one per round"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "a final 4–4 tie should carry no option"
    );
}

#[test]
fn ranked_final_two_way_tie_fails() {
    // 6 ballots: 3 × [A], 2 × [B], 1 × [C, B]. A majority is more than 3.
    // Round 1: A 3, B 2, C 1. C is eliminated.
    // Round 2: C's ballot goes to B. A 3, B 3: neither has more than half. A tie, and the
    //          list order must not break it (it would have eliminated B and elected A).
    let result = tally(
        &rules(VoteType::RankedChoice, 3, 0, 50),
        &ranked(&[(3, &[A]), (2, &[B]), (1, &[C, B])]),
    );
    assert_eq!(
        result.rounds,
        vec![
            vec![Some(3), Some(2), Some(1)],
            vec![Some(3), Some(3), None]
        ],
        "the count should stop at the 3–3 tie"
    );
    assert_eq!(result.counts, vec![3, 3, 0], "counts are the final round's");
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "a final two-way tie should carry no option"
    );
}

#[test]
fn exhausted_ranked_ballots_count_for_no_one() {
    // 9 ballots: 4 × [A], 3 × [B], 2 × [C]. A majority is more than 4.5.
    // Round 1: A 4, B 3, C 2. C is eliminated.
    // Round 2: C's 2 ballots rank no one else and are exhausted. A 4, B 3 of 7 live votes.
    //          A has 4 > 3.5: 4 × 100 = 400 ≥ 57 × 7 = 399 passes, but 400 ≥ 58 × 7 = 406
    //          does not. (Of all 9 ballots, A's 4 would not even reach 50 %: 400 < 450.)
    let ballots = ranked(&[(4, &[A]), (3, &[B]), (2, &[C])]);
    let result = tally(&rules(VoteType::RankedChoice, 3, 0, 57), &ballots);
    assert_eq!(
        result.rounds,
        vec![
            vec![Some(4), Some(3), Some(2)],
            vec![Some(4), Some(3), None]
        ],
        "the exhausted ballots should count for no one in round 2"
    );
    assert_eq!(
        result.turnout, 9,
        "exhausted ballots still count as turnout"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Passed, Some(A)),
        "4 of 7 live votes (57.1 %) should reach 57 %"
    );
    let result = tally(&rules(VoteType::RankedChoice, 3, 0, 58), &ballots);
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "4 of 7 live votes should fall short of 58 %, majority or not"
    );
}

#[test]
fn ranked_vote_with_no_ballots_fails() {
    // Every ballot (all none of them) is exhausted: one empty round, no winner.
    let result = tally(&rules(VoteType::RankedChoice, 3, 0, 50), &[]);
    assert_eq!(
        result.rounds,
        vec![vec![Some(0), Some(0), Some(0)]],
        "one round of zeros should be recorded"
    );
    assert_eq!(
        (result.outcome, result.winner),
        (Outcome::Failed, None),
        "with no live votes nothing should carry"
    );
}

// --- skipped ballots and dispatch ---------------------------------------------------------

#[test]
fn ballots_of_the_wrong_type_are_skipped_by_tally() {
    // Only the three yes/no ballots count: yes 2, no 1.
    let ballots = [
        Choice::YesNo(YesNo::Yes),
        Choice::Single(0),
        Choice::Ranked(vec![0]),
        Choice::YesNo(YesNo::No),
        Choice::Approval(vec![]),
        Choice::YesNo(YesNo::Yes),
    ];
    let result = tally(&rules(VoteType::YesNo, 0, 0, 50), &ballots);
    assert_eq!(
        result.turnout, 3,
        "only yes/no ballots should count as turnout"
    );
    assert_eq!(
        result.counts,
        vec![2, 1, 0],
        "only yes/no ballots should be counted"
    );
    assert_eq!(result.outcome, Outcome::Passed, "2 yes to 1 no should pass");
}

#[test]
fn misshapen_ranked_ballots_are_skipped_by_tally() {
    // Counted: [A], [A, B]. Skipped: empty, repeated, unknown option, another type.
    let ballots = [
        Choice::Ranked(vec![A]),
        Choice::Ranked(vec![]),
        Choice::Ranked(vec![B, B]),
        Choice::Ranked(vec![A, B]),
        Choice::Ranked(vec![7]),
        Choice::Single(B),
    ];
    let result = tally(&rules(VoteType::RankedChoice, 2, 0, 50), &ballots);
    assert_eq!(
        result.turnout, 2,
        "only the two fitting ballots should count"
    );
    assert_eq!(
        result.rounds,
        vec![vec![Some(2), Some(0)]],
        "A should have both counted ballots"
    );
}

#[test]
fn tally_counts_by_the_proposal_vote_type() {
    let cases = [
        (rules(VoteType::YesNo, 0, 0, 50), yes_no(2, 1, 1)),
        (rules(VoteType::SingleChoice, 3, 0, 50), singles(&[0, 2, 2])),
        (
            rules(VoteType::Approval, 3, 0, 50),
            vec![Choice::Approval(vec![0, 1]), Choice::Approval(vec![1])],
        ),
        (
            rules(VoteType::RankedChoice, 3, 0, 50),
            ranked(&[(2, &[A, B]), (2, &[B, C]), (1, &[C, A])]),
        ),
        (
            rules(VoteType::Quadratic { credits: 9 }, 3, 0, 50),
            vec![Choice::Quadratic(vec![2, 2, 1])],
        ),
    ];
    for (rules, ballots) in cases {
        let direct = match rules.vote_type {
            VoteType::YesNo => tally_yes_no(&rules, &ballots),
            VoteType::SingleChoice => tally_single(&rules, &ballots),
            VoteType::Approval => tally_approval(&rules, &ballots),
            VoteType::RankedChoice => tally_ranked(&rules, &ballots),
            VoteType::Quadratic { .. } => tally_quadratic(&rules, &ballots),
        };
        assert_eq!(
            tally(&rules, &ballots),
            direct,
            "tally should count a {} vote with its own function",
            rules.vote_type.name()
        );
    }
}

#[test]
fn a_proposals_digest_covers_its_deployment() {
    use archipelago_shared::governance::{Eligibility, ProposalDraft, Scope, proposal_digest};
    let draft = ProposalDraft {
        title: "The harbour charter".into(),
        body: String::new(),
        scope: Scope::Nation,
        eligibility: Eligibility::AtLeast(archipelago_shared::protocol::Role::Member),
        vote_type: VoteType::YesNo,
        options: Vec::new(),
        opens_at: None,
        voting_secs: 600,
        quorum: 1,
        threshold_percent: 50,
        live_tally: true,
    };
    let here = proposal_digest(Some("0123abcd"), 1, &draft);
    assert_eq!(here, proposal_digest(Some("0123abcd"), 1, &draft));
    assert_ne!(
        here,
        proposal_digest(Some("89abcdef"), 1, &draft),
        "another deployment"
    );
    assert_ne!(
        here,
        proposal_digest(None, 1, &draft),
        "a proposal from before deployments"
    );
    assert_ne!(
        here,
        proposal_digest(Some("0123abcd"), 2, &draft),
        "another number"
    );
}
