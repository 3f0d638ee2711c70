//! The exploration tree of a stateless search: one node per scheduling decision of the current
//! execution, each with the tasks still to explore there (its backtrack set), those explored,
//! and those asleep (whose step from there is covered by a sibling already explored).

/// A set of task ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tasks(Vec<u64>);

impl Tasks {
    /// Whether `task` is in the set.
    pub fn contains(&self, task: usize) -> bool {
        self.0
            .get(task / 64)
            .is_some_and(|w| w & (1 << (task % 64)) != 0)
    }

    /// Whether the set has no task.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// Adds `task`.
    pub fn insert(&mut self, task: usize) {
        if self.0.len() <= task / 64 {
            self.0.resize(task / 64 + 1, 0);
        }
        self.0[task / 64] |= 1 << (task % 64);
    }

    /// Removes `task`.
    pub fn remove(&mut self, task: usize) {
        if let Some(w) = self.0.get_mut(task / 64) {
            *w &= !(1 << (task % 64));
        }
    }

    /// The tasks, in id order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| i * 64 + b)
        })
    }
}

/// One scheduling decision of the current execution.
#[derive(Clone, Debug)]
pub struct Node {
    /// The tasks that could run there, in id order.
    pub enabled: Vec<usize>,
    /// The task that ran there last (the one that ran, on the current path).
    pub chosen: usize,
    /// Tasks to explore there.
    pub backtrack: Tasks,
    /// Tasks explored there.
    pub done: Tasks,
    /// Tasks asleep there when the node was reached.
    pub sleep: Tasks,
    /// Tasks spinning there, which were not run.
    pub spinning: Tasks,
    /// The task that ran before the decision, if it could have run on.
    pub continuing: Option<usize>,
    /// Preemptions made before the decision.
    pub preemptions_before: u32,
}

impl Node {
    /// Whether running `task` there preempts the task that was running.
    pub fn preempts(&self, task: usize) -> bool {
        self.continuing.is_some_and(|c| c != task)
    }

    /// Preemptions made up to and including this decision, as it is taken now.
    pub fn preemptions_after(&self) -> u32 {
        self.preemptions_before + u32::from(self.preempts(self.chosen))
    }

    /// A task of the backtrack set neither explored nor asleep, preferring one that does not
    /// preempt, and within `bound` preemptions if given.
    fn next_candidate(&self, bound: Option<u32>) -> Option<usize> {
        let open = |t: &usize| {
            self.backtrack.contains(*t)
                && !self.done.contains(*t)
                && !self.sleep.contains(*t)
                && bound.is_none_or(|b| self.preemptions_before + u32::from(self.preempts(*t)) <= b)
        };
        let mut candidates = self.enabled.iter().copied().filter(open);
        let first = candidates.next()?;
        if !self.preempts(first) {
            return Some(first);
        }
        Some(
            self.enabled
                .iter()
                .copied()
                .filter(open)
                .find(|t| !self.preempts(*t))
                .unwrap_or(first),
        )
    }
}

/// The nodes of the current execution, from the first decision.
#[derive(Debug, Default)]
pub struct Tree {
    /// The nodes, in decision order.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Moves to the next execution to explore: the deepest node with a task left to run
    /// becomes the last node of the prefix, running that task. False once the search is over.
    pub fn advance(&mut self, bound: Option<u32>) -> bool {
        while let Some(node) = self.nodes.last_mut() {
            if let Some(task) = node.next_candidate(bound) {
                node.chosen = task;
                node.done.insert(task);
                return true;
            }
            self.nodes.pop();
        }
        false
    }

    /// Adds a task to explore at node `index`, or every enabled task if `task` is not enabled
    /// there.
    pub fn add_backtrack(&mut self, index: usize, task: usize) {
        let node = &mut self.nodes[index];
        if node.enabled.contains(&task) {
            node.backtrack.insert(task);
        } else {
            for &t in &node.enabled {
                node.backtrack.insert(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(enabled: Vec<usize>, chosen: usize) -> Node {
        let mut done = Tasks::default();
        done.insert(chosen);
        Node {
            enabled,
            chosen,
            backtrack: done.clone(),
            done,
            sleep: Tasks::default(),
            spinning: Tasks::default(),
            continuing: None,
            preemptions_before: 0,
        }
    }

    #[test]
    fn the_deepest_node_with_a_task_left_is_explored_next_and_the_search_ends() {
        let mut tree = Tree {
            nodes: vec![node(vec![1, 2], 1), node(vec![1, 2], 1)],
        };
        tree.add_backtrack(0, 2);
        assert!(tree.advance(None));
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.nodes[0].chosen, 2);
        assert!(!tree.advance(None));
    }

    #[test]
    fn a_task_that_cannot_run_there_adds_every_enabled_task() {
        let mut tree = Tree {
            nodes: vec![node(vec![1, 2, 3], 1)],
        };
        tree.add_backtrack(0, 5);
        assert_eq!(
            tree.nodes[0].backtrack.iter().collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }
}
