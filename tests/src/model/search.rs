//! Breadth-first search of the model's state space, for what stateright's checker does not
//! give: the *shortest* counterexample (its BFS records the last violation it visits, not the
//! first) and every edge of the graph (for the state diagram).

use super::{CloseModel, Step, Strategy, World};
use core::hash::{BuildHasher, Hash};
use stateright::Model;
use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};

/// A world reached, with the index of the world it was first reached from and the step.
type Reached<A> = (World<A>, Option<(usize, Step)>);

/// A path from the initial world: each world with the step taken from it (none for the last).
pub type Path<A> = Vec<(World<A>, Option<Step>)>;

/// Visits every edge of the bounded state space in breadth-first order, the steps of each
/// world in the model's order, until `visit` returns true; then returns the path to that
/// edge's target, which is a shortest one.
pub fn breadth_first<S: Strategy>(
    model: &CloseModel<S>,
    mut visit: impl FnMut(&World<S::App>, Step, &World<S::App>) -> bool,
) -> Option<Path<S::App>> {
    let fingerprints = RandomState::new();
    let mut seen = HashSet::new();
    let mut reached: Vec<Reached<S::App>> = Vec::new();
    for start in model.init_states() {
        if seen.insert(fingerprints.hash_one(&start)) {
            reached.push((start, None));
        }
    }
    let mut pending: VecDeque<usize> = (0..reached.len()).collect();
    let mut steps = Vec::new();
    while let Some(index) = pending.pop_front() {
        steps.clear();
        model.actions(&reached[index].0, &mut steps);
        for &step in &steps {
            let world = &reached[index].0;
            let Some(next) = model.next_state(world, step) else {
                continue;
            };
            if !model.within_boundary(&next) {
                continue;
            }
            let found = visit(world, step, &next);
            let fresh = seen.insert(fingerprints.hash_one(&next));
            if found || fresh {
                reached.push((next, Some((index, step))));
            }
            if found {
                return Some(path_to(&reached, reached.len() - 1));
            }
            if fresh {
                pending.push_back(reached.len() - 1);
            }
        }
    }
    None
}

/// The shortest path to a world where `condition` is false, if the bound holds one.
pub fn shortest_counterexample<S: Strategy>(
    model: &CloseModel<S>,
    condition: fn(&CloseModel<S>, &World<S::App>) -> bool,
) -> Option<Path<S::App>> {
    if let Some(start) = model
        .init_states()
        .into_iter()
        .find(|start| !condition(model, start))
    {
        return Some(vec![(start, None)]);
    }
    breadth_first(model, |_, _, next| !condition(model, next))
}

fn path_to<A: Clone + Hash>(reached: &[Reached<A>], last: usize) -> Path<A> {
    let mut path = vec![(reached[last].0.clone(), None)];
    let mut link = reached[last].1;
    while let Some((parent, step)) = link {
        path.push((reached[parent].0.clone(), Some(step)));
        link = reached[parent].1;
    }
    path.reverse();
    path
}
