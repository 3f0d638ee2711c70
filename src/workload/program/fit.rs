//! A program as a config defines it now, fitted to the shape of a saved schedule: what
//! `contend replay FILE --config CONFIG` runs, so that a fix written in the config can be
//! checked against the schedule that showed the bug.

use super::{ProgramParams, ThreadParams};

/// `now` (the program as the config has it) in the shape of `shrunk`, the variant of
/// `recorded` (the program the schedule was recorded on) that the schedule runs: the threads
/// of `shrunk`, in its order and with its counts; each with the code of `now`, except that a
/// thread whose code is unchanged since `recorded` keeps the shrunk code (its smaller
/// `repeat` counts). Threads that `now` adds run after them; threads it removed are gone.
pub fn fit_to_schedule(
    now: &ProgramParams,
    recorded: &ProgramParams,
    shrunk: &ProgramParams,
) -> ProgramParams {
    let find = |program: &ProgramParams, name: &str| {
        program
            .threads
            .iter()
            .find(|thread| thread.name == name)
            .cloned()
    };
    let mut threads: Vec<ThreadParams> = shrunk
        .threads
        .iter()
        .filter_map(|small| {
            let current = find(now, &small.name)?;
            let unchanged = find(recorded, &small.name).is_some_and(|r| r.code == current.code);
            Some(ThreadParams {
                name: small.name.clone(),
                code: if unchanged {
                    small.code.clone()
                } else {
                    current.code
                },
                count: small.count.min(current.count),
            })
        })
        .collect();
    threads.extend(
        now.threads
            .iter()
            .filter(|thread| find(recorded, &thread.name).is_none())
            .cloned(),
    );
    ProgramParams {
        threads,
        ..now.clone()
    }
}
