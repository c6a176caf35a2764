//! Breadth-first search of the model's state space, for what stateright's checker does not
//! give: the *shortest* counterexample (its BFS records the last violation it visits, not the
//! first) and every edge of the graph (for the state diagram).

use crate::{CloseModel, Step, Strategy, World};
use core::hash::{BuildHasher, Hash};
use stateright::Model;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};

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
    let mut found = None;
    edges(model, |reached, last| {
        let (world, step, next) = edge(reached, last);
        let stop = visit(world, step, next);
        if stop {
            found = Some(path_to(reached, last));
        }
        Edge { keep: stop, stop }
    });
    found
}

/// Visits every edge in breadth-first order, as [`breadth_first`]; `names` says what each
/// edge is (any number of keys), and the result holds, for every key met, the shortest path
/// through an edge of that name, ending at its target. Stops once `wanted` keys are met.
pub fn first_paths<S: Strategy, K: Hash + Eq + Clone>(
    model: &CloseModel<S>,
    wanted: usize,
    mut names: impl FnMut(&World<S::App>, Step, &World<S::App>) -> Vec<K>,
) -> HashMap<K, Path<S::App>> {
    let mut found: HashMap<K, Path<S::App>> = HashMap::new();
    edges(model, |reached, last| {
        let (world, step, next) = edge(reached, last);
        let fresh: Vec<K> = names(world, step, next)
            .into_iter()
            .filter(|key| !found.contains_key(key))
            .collect();
        for key in &fresh {
            found.insert(key.clone(), path_to(reached, last));
        }
        Edge {
            keep: !fresh.is_empty(),
            stop: found.len() >= wanted,
        }
    });
    found
}

/// What a visit decides about the edge it is shown.
struct Edge {
    /// Keep its target among the reached worlds even if it was seen before (a path ends there).
    keep: bool,
    /// Stop the search.
    stop: bool,
}

/// The edge that reached `reached[last]`: its source, its step, its target.
fn edge<A>(reached: &[Reached<A>], last: usize) -> (&World<A>, Step, &World<A>) {
    let (next, link) = &reached[last];
    let (parent, step) = link.expect("an edge has a source");
    (&reached[parent].0, step, next)
}

/// The breadth-first walk both searches share: each edge's target is pushed onto `reached`
/// (its last element while `visit` looks at it) and popped again unless it is new or kept.
fn edges<S: Strategy>(
    model: &CloseModel<S>,
    mut visit: impl FnMut(&[Reached<S::App>], usize) -> Edge,
) {
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
            let Some(next) = model.next_state(&reached[index].0, step) else {
                continue;
            };
            if !model.within_boundary(&next) {
                continue;
            }
            let fresh = seen.insert(fingerprints.hash_one(&next));
            reached.push((next, Some((index, step))));
            let decided = visit(&reached, reached.len() - 1);
            if decided.stop {
                return;
            }
            if fresh {
                pending.push_back(reached.len() - 1);
            } else if !decided.keep {
                reached.pop();
            }
        }
    }
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
