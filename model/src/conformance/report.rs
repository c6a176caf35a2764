//! What a conformance run found: traces replayed, transitions covered, and the divergences
//! grouped by their first differing step.

use super::coverage::Transition;
use super::replay::Divergence;
use super::traces::Trace;
use core::fmt;
use core::time::Duration;
use std::collections::BTreeMap;

/// The result of replaying a set of traces.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Traces replayed, per strategy.
    pub traces: BTreeMap<String, usize>,
    /// Traces replayed, per bound ([`Bound::short_name`](crate::Bound::short_name)).
    pub bounds: BTreeMap<String, usize>,
    /// Steps replayed.
    pub steps: usize,
    /// How often each transition was exercised by a trace that replayed without a difference.
    pub covered: BTreeMap<Transition, usize>,
    /// Each trace that diverged, with its first difference.
    pub divergences: Vec<(Trace, Divergence)>,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Replays run at once.
    pub jobs: usize,
}

/// Divergences that share their first differing step: the kind of step, the input, and
/// which quantities differed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Group {
    /// The step's kind ("a segment reaches us").
    pub step: String,
    /// The input whose answer differed, or "after the step".
    pub input: String,
    /// The quantities that differed.
    pub what: Vec<String>,
}

impl Report {
    /// Traces replayed in all.
    pub fn total(&self) -> usize {
        self.traces.values().sum()
    }

    /// The transitions no trace exercised, though the model can reach them.
    pub fn uncovered(&self) -> Vec<Transition> {
        Transition::ALL
            .iter()
            .copied()
            .filter(|transition| {
                !self.covered.contains_key(transition) && transition.unreached().is_none()
            })
            .collect()
    }

    /// The transitions argued unreachable ([`Transition::unreached`]) that a trace exercised:
    /// the argument is wrong.
    pub fn reached_against_the_argument(&self) -> Vec<Transition> {
        Transition::ALL
            .iter()
            .copied()
            .filter(|transition| {
                self.covered.contains_key(transition) && transition.unreached().is_some()
            })
            .collect()
    }

    /// No divergence, every transition the model can reach covered, and none argued
    /// unreachable covered.
    pub fn holds(&self) -> bool {
        self.divergences.is_empty()
            && self.uncovered().is_empty()
            && self.reached_against_the_argument().is_empty()
    }

    /// Counts `trace` as replayed.
    pub fn count(&mut self, trace: &Trace) {
        *self.traces.entry(trace.strategy.clone()).or_default() += 1;
        *self.bounds.entry(trace.bound.short_name()).or_default() += 1;
        self.steps += trace.steps.len();
    }

    /// The divergences by their first differing step, each group with its traces.
    pub fn groups(&self) -> BTreeMap<Group, Vec<&(Trace, Divergence)>> {
        let mut groups: BTreeMap<Group, Vec<&(Trace, Divergence)>> = BTreeMap::new();
        for diverged in &self.divergences {
            let divergence = &diverged.1;
            let input = divergence
                .input
                .split(['(', '['])
                .next()
                .unwrap_or_default()
                .to_string();
            let group = Group {
                step: divergence.what.clone(),
                input,
                what: divergence
                    .differences
                    .iter()
                    .map(|difference| difference.what.clone())
                    .collect(),
            };
            groups.entry(group).or_default().push(diverged);
        }
        groups
    }

    /// Adds what another part of the same run found.
    pub fn merge(&mut self, other: Report) {
        for (strategy, count) in other.traces {
            *self.traces.entry(strategy).or_default() += count;
        }
        for (bound, count) in other.bounds {
            *self.bounds.entry(bound).or_default() += count;
        }
        self.steps += other.steps;
        for (transition, count) in other.covered {
            *self.covered.entry(transition).or_default() += count;
        }
        self.divergences.extend(other.divergences);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_strategy: Vec<String> = self
            .traces
            .iter()
            .map(|(strategy, count)| format!("{strategy} {count}"))
            .collect();
        writeln!(
            f,
            "replayed: {} traces ({}) over {} bounds, {} steps, against this machine's Linux \
             kernel, in {:.1?} ({} at once)",
            self.total(),
            per_strategy.join(", "),
            self.bounds.len(),
            self.steps,
            self.elapsed,
            self.jobs
        )?;
        let unreachable = Transition::ALL
            .iter()
            .filter(|transition| transition.unreached().is_some())
            .count();
        writeln!(
            f,
            "covered:  {} of {} transitions of the Linux kernel rules, {} argued unreachable",
            self.covered.len(),
            Transition::ALL.len(),
            unreachable
        )?;
        for &transition in Transition::ALL {
            let count = self.covered.get(&transition).copied().unwrap_or_default();
            writeln!(f, "  {count:>6}  {transition}")?;
        }
        for &transition in Transition::ALL {
            if let (Some(why), false) = (
                transition.unreached(),
                self.covered.contains_key(&transition),
            ) {
                writeln!(f, "unreached: {transition}: {why}")?;
            }
        }
        let uncovered = self.uncovered();
        writeln!(f, "diverged: {} traces", self.divergences.len())?;
        for (group, members) in self.groups() {
            let (trace, divergence) = members[0];
            writeln!(
                f,
                "\n{} traces first differ at \"{}\" / {} / {}; the first ({} {}, {} steps):",
                members.len(),
                group.step,
                group.input,
                group.what.join(", "),
                trace.strategy,
                trace.origin,
                trace.steps.len()
            )?;
            writeln!(f, "  steps: {:?}", trace.steps)?;
            for line in divergence.to_string().lines() {
                writeln!(f, "  {line}")?;
            }
        }
        if !uncovered.is_empty() {
            let names: Vec<String> = uncovered.iter().map(ToString::to_string).collect();
            writeln!(f, "\nnot covered: {}", names.join(", "))?;
        }
        let against = self.reached_against_the_argument();
        if !against.is_empty() {
            let names: Vec<String> = against.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "\ncovered, though argued unreachable (the argument is wrong): {}",
                names.join(", ")
            )?;
        }
        Ok(())
    }
}
