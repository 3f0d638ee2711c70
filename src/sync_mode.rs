//! How the built-in counter workloads protect their critical section: the `sync` of a counter
//! scenario, which its schedule files record too.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a critical section is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// No protection: read, then write. Loses updates.
    None,
    /// A mutex around the read-modify-write.
    Mutex,
    /// One atomic read-modify-write (compare-and-swap) per update.
    Atomic,
    /// A correct test-and-test-and-set spinlock.
    Spin,
    /// A broken lock: a plain boolean checked and then set.
    Flag,
}

impl SyncMode {
    /// Every mode, in the order `contend list` shows them.
    pub const ALL: [SyncMode; 5] = [
        SyncMode::None,
        SyncMode::Mutex,
        SyncMode::Atomic,
        SyncMode::Spin,
        SyncMode::Flag,
    ];

    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::None => "none",
            SyncMode::Mutex => "mutex",
            SyncMode::Atomic => "atomic",
            SyncMode::Spin => "spin",
            SyncMode::Flag => "flag",
        }
    }

    /// One line on what the mode does.
    pub fn description(self) -> &'static str {
        match self {
            SyncMode::None => {
                "no protection: read the counter, then write it (the lost-update bug)"
            }
            SyncMode::Mutex => "a mutex held across the read and the write",
            SyncMode::Atomic => {
                "one atomic read-modify-write per update (compare-and-swap retry, as fetch_add)"
            }
            SyncMode::Spin => "a correct test-and-test-and-set spinlock",
            SyncMode::Flag => {
                "a broken lock: a plain boolean checked, then set (check and set are not atomic)"
            }
        }
    }

    /// Whether the mode waits in a spin loop, which needs a fair scheduler.
    pub fn spins(self) -> bool {
        matches!(self, SyncMode::Spin | SyncMode::Flag)
    }
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
