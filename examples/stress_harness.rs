//! A harness: your own critical section, stressed from the command line like contend's
//! built-in workloads, with TOML configs, reports, shards and replay.
//!
//! The workload is a bank transfer between two accounts, written on contend's primitive API:
//! `withdraw` checks the balance, then writes it, so two transfers that both see enough money
//! both take it, and one withdrawal is lost. Register it and hand over to contend's command line:
//!
//! ```text
//! cargo run --release --example stress_harness -- run examples/stress_harness.toml
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use contend::sync::{Mutex, Shared};
use contend::thread;
use contend::workload::plugin::{Body, Plugin};
use contend::workload::registry;
use serde::{Deserialize, Serialize};

/// Transfers from account A to account B, run at the same time.
struct Transfer;

/// The transfer workload's `[scenario.params]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TransferParams {
    /// Each account's starting balance.
    #[serde(default = "default_balance")]
    balance: i64,
    /// What each transfer moves from A to B.
    #[serde(default = "default_amount")]
    amount: i64,
    /// How many transfers run at the same time, one thread each.
    #[serde(default = "default_transfers")]
    transfers: u32,
    /// Whether a transfer holds the bank's lock from its check to its last write (the fix).
    #[serde(default)]
    locked: bool,
}

fn default_balance() -> i64 {
    100
}

fn default_amount() -> i64 {
    60
}

fn default_transfers() -> u32 {
    2
}

impl Plugin for Transfer {
    type Params = TransferParams;

    fn name(&self) -> &'static str {
        "transfer"
    }

    fn description(&self) -> &'static str {
        "transfers between two accounts: withdraw checks the balance, then writes it"
    }

    fn body(&self, params: &TransferParams) -> Body {
        let params = params.clone();
        Arc::new(move || {
            let from = Arc::new(Shared::named("account A", params.balance));
            let to = Arc::new(Shared::named("account B", params.balance));
            let bank = Arc::new(Mutex::new(()));
            let transfers: Vec<_> = (0..params.transfers)
                .map(|_| {
                    let (from, to, bank) = (Arc::clone(&from), Arc::clone(&to), Arc::clone(&bank));
                    let (amount, locked) = (params.amount, params.locked);
                    thread::spawn(move || {
                        let _held = locked.then(|| bank.lock().unwrap());
                        // withdraw: check the balance, then write it.
                        let balance = from.get();
                        if balance >= amount {
                            from.set(balance - amount);
                            to.update(|balance| balance + amount);
                        }
                    })
                })
                .collect();
            for transfer in transfers {
                transfer.join().unwrap();
            }
        })
    }

    fn smaller(&self, params: &TransferParams) -> Vec<TransferParams> {
        (params.transfers > 2)
            .then(|| TransferParams {
                transfers: params.transfers - 1,
                ..params.clone()
            })
            .into_iter()
            .collect()
    }
}

fn main() -> ExitCode {
    if let Err(error) = registry::register(Transfer) {
        eprintln!("error: {error}");
        return ExitCode::from(contend::exit_code::ERROR as u8);
    }
    contend::cli::main()
}
