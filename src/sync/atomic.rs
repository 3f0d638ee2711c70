//! Atomic types inside a check, as [`std::sync::atomic`]'s: [`AtomicU64`], [`AtomicI64`],
//! [`AtomicU32`], [`AtomicI32`], [`AtomicUsize`] and [`AtomicBool`].
//!
//! Every method is one access: a scheduling point under shuttle (where every ordering behaves
//! as `SeqCst`), a place where jitter is injected on real threads (where the ordering given is
//! the one used). Each is named `atomic#N` in interleavings.

pub use std::sync::atomic::Ordering;

use std::sync::Arc;

use crate::schedule::dpor::{self, Access, Object};
use crate::sync::context::{self, AccessKind, AccessLog, Backend, ObjectKind};

/// The implementation an atomic was created with, with its execution's access log (if it keeps
/// one), so that an access finds the log without looking the execution up.
#[derive(Debug)]
enum Kind<S, T> {
    Shuttle(S, Option<Arc<AccessLog>>),
    Threads(T, Option<Arc<AccessLog>>),
}

/// Runs `$call` on whichever atomic `$self` holds, as one access, and logs `$describe` of its
/// result if the execution keeps a log.
macro_rules! access {
    ($self:ident, $atomic:ident => $call:expr, $result:ident => $describe:expr) => {{
        access!($self, Access::Write, $atomic => $call, $result => $describe)
    }};
    ($self:ident, $mode:path, $atomic:ident => $call:expr, $result:ident => $describe:expr) => {{
        let number = $self.number;
        match &$self.inner {
            Kind::Shuttle($atomic, log) => on_shuttle(
                $mode(Object::Word(ObjectKind::Atomic.id(number))),
                log.as_ref(),
                || $call,
                |$result| format!("{} atomic#{number}", $describe),
            ),
            Kind::Threads($atomic, log) => {
                let thread = context::before_access();
                let $result = $call;
                if let Some(log) = log {
                    log_on_threads(log, thread, || format!("{} atomic#{number}", $describe));
                }
                $result
            }
        }
    }};
}

/// Logs an atomic's access on real threads, out of the line of the access itself.
#[inline(never)]
fn log_on_threads(log: &AccessLog, thread: usize, describe: impl FnOnce() -> String) {
    log.push(thread, AccessKind::Other, describe());
}

/// An atomic's access under shuttle: `call`, announced to an exploring scheduler as `step`,
/// and logged as `describe` says if the execution keeps `log`.
#[inline(always)]
fn on_shuttle<R>(
    step: Access,
    log: Option<&Arc<AccessLog>>,
    call: impl FnOnce() -> R,
    describe: impl FnOnce(&R) -> String,
) -> R {
    // Only a controlled execution has an exploring scheduler to tell.
    dpor::announce(step);
    let result = call();
    dpor::settle();
    if let Some(log) = log {
        let thread = usize::from(shuttle::current::me());
        log.push(thread, AccessKind::Other, describe(&result));
    }
    result
}

/// Makes a new atomic of the execution's backend.
fn create<S, T>(shuttle: impl FnOnce() -> S, threads: impl FnOnce() -> T) -> (usize, Kind<S, T>) {
    let execution = context::execution();
    let kind = match execution.backend {
        Backend::Shuttle => Kind::Shuttle(shuttle(), execution.log.clone()),
        Backend::Threads => Kind::Threads(threads(), execution.log.clone()),
    };
    (execution.number(ObjectKind::Atomic), kind)
}

macro_rules! atomic_integer {
    ($name:ident, $int:ty) => {
        #[doc = concat!("An atomic `", stringify!($int), "`, as [`std::sync::atomic::", stringify!($name), "`].")]
        #[derive(Debug)]
        pub struct $name {
            number: usize,
            inner: Kind<shuttle::sync::atomic::$name, std::sync::atomic::$name>,
        }

        impl $name {
            /// A new atomic holding `value`.
            ///
            /// # Panics
            ///
            /// Outside a check's body and its threads.
            pub fn new(value: $int) -> Self {
                let (number, inner) = create(
                    || shuttle::sync::atomic::$name::new(value),
                    || std::sync::atomic::$name::new(value),
                );
                $name { number, inner }
            }

            /// Loads the value.
            #[inline]
            pub fn load(&self, order: Ordering) -> $int {
                access!(self, Access::Read, a => a.load(order), value => format!("load {value} from"))
            }

            /// Stores `value`.
            #[inline]
            pub fn store(&self, value: $int, order: Ordering) {
                access!(self, a => a.store(value, order), _stored => format!("store {value} in"))
            }

            /// Stores `value` and returns the previous value, in one atomic step.
            #[inline]
            pub fn swap(&self, value: $int, order: Ordering) -> $int {
                access!(self, a => a.swap(value, order),
                    old => format!("swap {value} for {old} in"))
            }

            /// Stores `new` if the value is `current`, in one atomic step; returns the previous
            /// value, as `Ok` if it was `current`.
            #[inline]
            pub fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                access!(self, a => a.compare_exchange(current, new, success, failure),
                    result => match result {
                        Ok(_) => format!("compare-exchange {current} -> {new} in"),
                        Err(held) => format!("compare-exchange {current} -> {new} fails ({held}) in"),
                    })
            }

            /// Adds `value` (wrapping) and returns the previous value, in one atomic step.
            #[inline]
            pub fn fetch_add(&self, value: $int, order: Ordering) -> $int {
                access!(self, a => a.fetch_add(value, order),
                    old => format!("fetch_add {value} ({old} -> {}) on", old.wrapping_add(value)))
            }

            /// Subtracts `value` (wrapping) and returns the previous value, in one atomic step.
            #[inline]
            pub fn fetch_sub(&self, value: $int, order: Ordering) -> $int {
                access!(self, a => a.fetch_sub(value, order),
                    old => format!("fetch_sub {value} ({old} -> {}) on", old.wrapping_sub(value)))
            }

            /// The value, consuming the atomic.
            pub fn into_inner(self) -> $int {
                match self.inner {
                    Kind::Shuttle(a, _) => a.into_inner(),
                    Kind::Threads(a, _) => a.into_inner(),
                }
            }
        }
    };
}

atomic_integer!(AtomicU64, u64);

impl AtomicU64 {
    /// The std atomic of a real-thread execution's atomic, for an engine that starts the
    /// execution's threads itself and injects their jitter before each access itself: an
    /// access through it is the access [`AtomicU64::load`] and the others make on real threads,
    /// without the look-up of the current thread and without a log, which such an execution
    /// does not keep.
    ///
    /// # Panics
    ///
    /// Under shuttle.
    #[inline(always)]
    pub(crate) fn on_real_threads(&self) -> &std::sync::atomic::AtomicU64 {
        match &self.inner {
            Kind::Threads(atomic, _) => atomic,
            Kind::Shuttle(..) => panic!("an atomic under shuttle is used through its methods"),
        }
    }
}
atomic_integer!(AtomicI64, i64);
atomic_integer!(AtomicU32, u32);
atomic_integer!(AtomicI32, i32);
atomic_integer!(AtomicUsize, usize);

/// An atomic `bool`, as [`std::sync::atomic::AtomicBool`].
#[derive(Debug)]
pub struct AtomicBool {
    number: usize,
    inner: Kind<shuttle::sync::atomic::AtomicBool, std::sync::atomic::AtomicBool>,
}

impl AtomicBool {
    /// A new atomic holding `value`.
    ///
    /// # Panics
    ///
    /// Outside a check's body and its threads.
    pub fn new(value: bool) -> Self {
        let (number, inner) = create(
            || shuttle::sync::atomic::AtomicBool::new(value),
            || std::sync::atomic::AtomicBool::new(value),
        );
        AtomicBool { number, inner }
    }

    /// Loads the value.
    #[inline]
    pub fn load(&self, order: Ordering) -> bool {
        access!(self, Access::Read, a => a.load(order), value => format!("load {value} from"))
    }

    /// Stores `value`.
    #[inline]
    pub fn store(&self, value: bool, order: Ordering) {
        access!(self, a => a.store(value, order), _stored => format!("store {value} in"))
    }

    /// Stores `value` and returns the previous value, in one atomic step.
    #[inline]
    pub fn swap(&self, value: bool, order: Ordering) -> bool {
        access!(self, a => a.swap(value, order), old => format!("swap {value} for {old} in"))
    }

    /// Stores `new` if the value is `current`, in one atomic step; returns the previous value,
    /// as `Ok` if it was `current`.
    #[inline]
    pub fn compare_exchange(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool> {
        access!(self, a => a.compare_exchange(current, new, success, failure),
        result => match result {
            Ok(_) => format!("compare-exchange {current} -> {new} in"),
            Err(held) => format!("compare-exchange {current} -> {new} fails ({held}) in"),
        })
    }

    /// Logical "or" with `value`; returns the previous value, in one atomic step.
    #[inline]
    pub fn fetch_or(&self, value: bool, order: Ordering) -> bool {
        access!(self, a => a.fetch_or(value, order), old => format!("fetch_or {value} (was {old}) on"))
    }

    /// Logical "and" with `value`; returns the previous value, in one atomic step.
    #[inline]
    pub fn fetch_and(&self, value: bool, order: Ordering) -> bool {
        access!(self, a => a.fetch_and(value, order), old => format!("fetch_and {value} (was {old}) on"))
    }

    /// The value, consuming the atomic.
    pub fn into_inner(self) -> bool {
        match self.inner {
            Kind::Shuttle(a, _) => a.into_inner(),
            Kind::Threads(a, _) => a.into_inner(),
        }
    }
}
