//! The pictures of the HTML report, drawn as inline SVG: the final-value histogram, the failing
//! rate with its interval, the interleaving of a minimal failing schedule and a deadlock's
//! wait-for cycle.
//!
//! Every picture scales with its `viewBox` and takes its colours from the page's stylesheet
//! (classes, no inline colours), so that one stylesheet serves screens and print.

use maud::{Markup, html};

use super::FinalCount;
use super::interleaving::{AccessReport, Overwritten};
use super::words::{grouped, printable};

/// The most bars the histogram draws; the other values are counted under it.
pub const MAX_BARS: usize = 24;

/// The final-value histogram: one bar per value (the most frequent [`MAX_BARS`], in value
/// order), the expected value's bar marked, and its place shown even if no run ended there.
pub fn histogram(outcomes: &[FinalCount], expected: i64) -> Markup {
    let mut bars: Vec<&FinalCount> = outcomes.iter().take(MAX_BARS).collect();
    bars.sort_by_key(|f| f.value);
    // Where the expected value sits among the bars, when no run ended on it.
    let missing_at = (!bars.iter().any(|f| f.value == expected))
        .then(|| bars.partition_point(|f| f.value < expected));
    let slots = bars.len() + usize::from(missing_at.is_some());
    let highest = bars.iter().map(|f| f.count).max().unwrap_or(1).max(1);
    let long_labels = bars.iter().any(|f| grouped(f.value.into()).len() > 5);
    let (slot, left, top, plot) = (40.0, 8.0, 26.0, 120.0);
    let bottom = if long_labels { 64.0 } else { 34.0 };
    let width = (left * 2.0 + slot * slots as f64).max(240.0);
    let height = top + plot + bottom;
    // Few bars stand in the middle of the axis.
    let first = (width - slot * slots as f64) / 2.0;
    let x_of = |index: usize| first + slot * index as f64;
    let shifted = |index: usize| match missing_at {
        Some(at) if index >= at => index + 1,
        _ => index,
    };
    let label_y = top + plot + 14.0;
    html! {
        svg class="chart histogram" viewBox=(format!("0 0 {width} {height}"))
            style=(format!("max-width: {}px; min-width: {}px", width * 1.3, width * 0.7)) role="img"
            aria-label=(format!("final values of {} runs; expected {expected}", bars.len())) {
            line class="axis" x1=(left) x2=(width - left) y1=(top + plot) y2=(top + plot) {}
            @for (index, bar) in bars.iter().enumerate() {
                @let x = x_of(shifted(index));
                @let h = (plot * bar.count as f64 / highest as f64).max(1.5);
                @let class = if bar.value == expected { "bar expected" } else { "bar lost" };
                g class=(class) {
                    title { (format!("final {}: {} runs", grouped(bar.value.into()), grouped(bar.count.into()))) }
                    rect x=(x + 4.0) y=(top + plot - h) width=(slot - 8.0) height=(h) rx="2" {}
                    text class="count" x=(x + slot / 2.0) y=(top + plot - h - 4.0) { (compact(bar.count)) }
                    (value_label(x + slot / 2.0, label_y, bar.value, long_labels))
                }
                @if bar.value == expected {
                    text class="expected-label" x=(x + slot / 2.0) y=(12) { "expected" }
                }
            }
            @if let Some(at) = missing_at {
                @let x = x_of(at) + slot / 2.0;
                g class="expected-missing" {
                    title { (format!("expected final {}: no run ended there", grouped(expected.into()))) }
                    line x1=(x) x2=(x) y1=(top - 6.0) y2=(top + plot) {}
                    text class="expected-label" x=(x) y=(12) { "expected" }
                    (value_label(x, label_y, expected, long_labels))
                }
            }
        }
    }
}

/// A value under its bar, slanted when values are long.
fn value_label(x: f64, y: f64, value: i64, slanted: bool) -> Markup {
    let text = grouped(value.into());
    html! {
        @if slanted {
            text class="value slanted" x=(x) y=(y) transform=(format!("rotate(-35 {x} {y})")) { (text) }
        } @else {
            text class="value" x=(x) y=(y) { (text) }
        }
    }
}

/// A count in at most five characters: `999`, `12k`, `3.4M`.
fn compact(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{}k", n / 1_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// The failing rate on a 0-100% scale: its 95% interval as a band and the rate as a dot.
pub fn rate_bar(rate: f64, low: f64, high: f64) -> Markup {
    let (left, width) = (6.0, 228.0);
    let x = |r: f64| left + width * r.clamp(0.0, 1.0);
    html! {
        svg class="chart rate" viewBox="0 0 240 30" role="img"
            aria-label=(format!("failing rate {:.1}%, 95% interval {:.1}% to {:.1}%", rate * 100.0, low * 100.0, high * 100.0)) {
            rect class="track" x=(left) y="8" width=(width) height="8" rx="4" {}
            rect class="interval" x=(x(low)) y="6" width=((x(high) - x(low)).max(2.0)) height="12" rx="3" {}
            circle class="point" cx=(x(rate)) cy="12" r="4.5" {}
            text class="tick" x=(left) y="29" { "0%" }
            text class="tick end" x=(left + width) y="29" { "100%" }
        }
    }
}

/// The definitions every picture of the page shares (the arrowhead), once at the top of the
/// page: a zero-size SVG, since one hidden with `display: none` loses its markers in some
/// browsers.
pub fn shared_definitions() -> Markup {
    html! {
        svg class="definitions" width="0" height="0" aria-hidden="true" {
            defs {
                marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
                    markerHeight="7" orient="auto-start-reverse" {
                    path class="arrowhead" d="M0,0 L10,5 L0,10 z" {}
                }
            }
        }
    }
}

/// Geometry of the interleaving diagram.
const LANE: f64 = 190.0;
const BOX_WIDTH: f64 = 172.0;
const ROW: f64 = 28.0;
const BOX_HEIGHT: f64 = 22.0;
const GUTTER: f64 = 34.0;
const HEADER: f64 = 30.0;
const PREEMPTION_GAP: f64 = 20.0;

/// The interleaving of a schedule: one lane per thread, one box per access in the order
/// they ran, a marked gap where the scheduler preempted a thread, and an arrow from each
/// write that lost an update to the write it discarded.
pub fn lanes(names: &[String], accesses: &[AccessReport]) -> Markup {
    let lanes = names
        .len()
        .max(accesses.iter().map(|a| a.thread + 1).max().unwrap_or(0));
    let mut tops = Vec::with_capacity(accesses.len());
    let mut y = HEADER;
    for access in accesses {
        if access.preempted {
            y += PREEMPTION_GAP;
        }
        tops.push(y);
        y += ROW;
    }
    let width = GUTTER + LANE * lanes as f64 + 4.0;
    let height = y + 6.0;
    let lane_x = |thread: usize| GUTTER + LANE * thread as f64 + (LANE - BOX_WIDTH) / 2.0;
    let name = |thread: usize| {
        names
            .get(thread)
            .map(|n| printable(n).into_owned())
            .unwrap_or_else(|| format!("thread {}", thread + 1))
    };
    html! {
        svg class="chart lanes" viewBox=(format!("0 0 {width} {height}"))
            style=(format!("max-width: {}px; min-width: {}px", width * 1.25, width * 0.75)) role="img"
            aria-label=(format!("interleaving of {} accesses by {} threads", accesses.len(), lanes)) {
            @for thread in 0..lanes {
                g class="lane" data-thread=(name(thread)) {
                    rect class="lane-bg" x=(GUTTER + LANE * thread as f64 + 2.0) y="0" width=(LANE - 4.0) height=(height) rx="6" {}
                    text class="lane-name" x=(GUTTER + LANE * thread as f64 + LANE / 2.0) y="19" { (name(thread)) }
                }
            }
            @for (index, access) in accesses.iter().enumerate() {
                @let top = tops[index];
                @if access.preempted {
                    g class="preemption" {
                        line x1=(GUTTER) x2=(width - 4.0) y1=(top - PREEMPTION_GAP + 4.0) y2=(top - PREEMPTION_GAP + 4.0) {}
                        text x=(lane_x(access.thread) + BOX_WIDTH / 2.0) y=(top - 4.0) { "preemption" }
                    }
                }
                text class="step" x=(GUTTER - 6.0) y=(top + 15.0) { (index + 1) }
                g class=(access_class(access)) data-step=(index + 1) {
                    title { (format!("{}: {}", name(access.thread), access.text)) }
                    rect x=(lane_x(access.thread)) y=(top) width=(BOX_WIDTH) height=(BOX_HEIGHT) rx="4" {}
                    text x=(lane_x(access.thread) + 8.0) y=(top + 15.0) { (short_text(&access.text)) }
                }
            }
            @for (index, access) in accesses.iter().enumerate() {
                @if let Some(Overwritten::Access(victim)) = access.overwrote {
                    @if let Some(discarded) = accesses.get(victim) {
                        path class="discards" marker-end="url(#arrow)"
                            d=(link_path(lane_x(access.thread), tops[index], lane_x(discarded.thread), tops[victim])) {
                            title { (format!("{}'s write discards {}'s write ({}) without having read it", name(access.thread), name(discarded.thread), discarded.text)) }
                        }
                    }
                }
            }
        }
    }
}

/// The CSS classes of an access's box.
fn access_class(access: &AccessReport) -> &'static str {
    match (access.write, access.overwrote.is_some()) {
        (true, true) => "access write lost-update",
        (true, false) => "access write",
        (false, _) => "access",
    }
}

/// An access as a box holds it: without the word `counter`, which every access names.
fn short_text(text: &str) -> String {
    text.replace(" counter", "").replace(" (overwrites)", "")
}

/// A curve from the box at (`from_x`, `from_top`) to the box at (`to_x`, `to_top`), leaving
/// and reaching the sides that face each other.
fn link_path(from_x: f64, from_top: f64, to_x: f64, to_top: f64) -> String {
    let (y1, y2) = (from_top + BOX_HEIGHT / 2.0, to_top + BOX_HEIGHT / 2.0);
    if (from_x - to_x).abs() < 1.0 {
        // The same lane: a loop out of the right side.
        let x = from_x + BOX_WIDTH;
        return format!("M{x},{y1} C{},{y1} {},{y2} {x},{y2}", x + 30.0, x + 30.0);
    }
    let (x1, x2) = if to_x < from_x {
        (from_x, to_x + BOX_WIDTH)
    } else {
        (from_x + BOX_WIDTH, to_x)
    };
    let bend = (x1 - x2) / 2.0;
    format!(
        "M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}",
        x1 - bend,
        x2 + bend
    )
}

/// A deadlock's wait-for cycle: the blocked tasks around a circle, each waiting on the next.
pub fn wait_for_cycle(tasks: &[String]) -> Markup {
    let n = tasks.len().max(1) as f64;
    let (cx, cy, r) = (160.0, 110.0, 72.0);
    let at = |i: usize| {
        let angle = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
        (cx + r * angle.cos(), cy + r * angle.sin())
    };
    html! {
        svg class="chart cycle" viewBox="0 0 320 220" role="img"
            aria-label=(format!("wait-for cycle of {} blocked tasks", tasks.len())) {
            @for i in 0..tasks.len() {
                @let ((x1, y1), (x2, y2)) = (at(i), at((i + 1) % tasks.len()));
                @let (dx, dy) = (x2 - x1, y2 - y1);
                @let length = (dx * dx + dy * dy).sqrt().max(1.0);
                @let (ux, uy) = (dx / length, dy / length);
                @if tasks.len() > 1 {
                    path class="waits" marker-end="url(#arrow)"
                        d=(format!("M{},{} L{},{}", x1 + ux * 30.0, y1 + uy * 16.0, x2 - ux * 30.0, y2 - uy * 16.0)) {}
                }
            }
            @for (i, task) in tasks.iter().enumerate() {
                @let (x, y) = at(i);
                g class="task" {
                    rect x=(x - 50.0) y=(y - 13.0) width="100" height="26" rx="13" {}
                    text x=(x) y=(y + 4.0) { (printable(task)) }
                }
            }
        }
    }
}

/// The blocked tasks a deadlock's failure message names: `deadlock! blocked tasks: [main
/// (task 0), Thread-1 (task 1)]` gives `main` and `Thread-1`.
pub fn blocked_tasks(message: &str) -> Option<Vec<String>> {
    let (_, mut rest) = message.split_once("blocked tasks: [")?;
    let mut tasks = Vec::new();
    // Each task is `NAME (task TaskId(N)[, detached][, pending future])`, joined by `, `.
    while let Some((name, after)) = rest.split_once(" (task ") {
        let name = name.trim();
        if !name.is_empty() {
            tasks.push(name.to_string());
        }
        // Past the task id's `)`, then past the `)` that closes the task.
        let after_id = after.split_once(')').map_or("", |(_, r)| r);
        rest = after_id.split_once(')').map_or("", |(_, r)| r);
        rest = rest.strip_prefix(", ").unwrap_or(rest);
    }
    (!tasks.is_empty()).then_some(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadlock_message_names_its_blocked_tasks() {
        let message = "run 3: deadlock: deadlock! blocked tasks: [main (task TaskId(0)), \
                       Thread-1 (task TaskId(1)), Thread-2 (task TaskId(2), detached)]";
        assert_eq!(
            blocked_tasks(message),
            Some(vec!["main".into(), "Thread-1".into(), "Thread-2".into()])
        );
        assert_eq!(blocked_tasks("run 1: panicked: boom"), None);
    }

    #[test]
    fn the_histogram_marks_the_expected_value_even_when_no_run_ended_there() {
        let outcomes = [
            FinalCount { value: 9, count: 5 },
            FinalCount {
                value: 11,
                count: 3,
            },
        ];
        let svg = histogram(&outcomes, 10).into_string();
        assert!(svg.contains("expected-missing"), "{svg}");
        assert_eq!(svg.matches("class=\"bar lost\"").count(), 2, "{svg}");
        let svg = histogram(&outcomes, 9).into_string();
        assert!(!svg.contains("expected-missing"), "{svg}");
        assert_eq!(svg.matches("class=\"bar expected\"").count(), 1, "{svg}");
    }

    #[test]
    fn counts_above_bars_stay_short() {
        assert_eq!(compact(999), "999");
        assert_eq!(compact(12_345), "12k");
        assert_eq!(compact(3_400_000), "3.4M");
    }
}
