//! The end-to-end benchmark's outputs: `report.json` (everything measured),
//! `report.md` (tables with the requirement beside each figure) and SVG plots (plotters'
//! SVG backend: text is written as SVG `<text>`, so no system font is needed).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use super::stages::{OFFSET_STAGE, StageTable, TOTAL_STAGE};
use super::{PhaseResult, Report};

/// The plots, by file name, with what they show.
pub const PLOTS: [(&str, &str); 3] = [
    (
        "latency_vs_rate.svg",
        "produce → ledger-committed latency (P50, P95, P99) by offered rate",
    ),
    (
        "throughput_vs_offered.svg",
        "committed events/s by offered rate (the diagonal is keeping up)",
    ),
    ("soak.svg", "RSS and per-second P99 during the 50 ev/s run"),
];

pub fn write(out: &Path, report: &Report) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report).context("encoding report.json")?;
    std::fs::write(out.join("report.json"), json)
        .with_context(|| format!("writing {}", out.join("report.json").display()))?;
    std::fs::write(out.join("report.md"), markdown(report))
        .with_context(|| format!("writing {}", out.join("report.md").display()))?;
    latency_plot(&out.join(PLOTS[0].0), &report.steps)?;
    throughput_plot(&out.join(PLOTS[1].0), &report.steps)?;
    soak_plot(&out.join(PLOTS[2].0), &report.soak)?;
    Ok(())
}

fn yes(ok: bool) -> &'static str {
    if ok { "**pass**" } else { "**FAIL**" }
}

fn met(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**missed**" }
}

fn phase_row(p: &PhaseResult) -> String {
    format!(
        "| {} | {} | {} | {} | {:.3} | {:.0} | {} | {} | {} | {} | {} |",
        p.name,
        p.offered_per_second
            .map_or("burst".to_owned(), |r| format!("{r:.0}")),
        p.events,
        p.committed,
        p.seconds_to_last_commit,
        p.committed_per_second,
        p.latency.p50_ms,
        p.latency.p95_ms,
        p.latency.p99_ms,
        p.latency.p999_ms,
        p.latency.max_ms,
    )
}

const STAGE_HEADER: &str = "| stage | count | P50 ms | P95 ms | P99 ms | max ms | mean in the slowest 1 % ms |\n|---|---|---|---|---|---|---|";

/// A phase's stage table (P50/P95/P99/max per stage, and what the slowest 1 % spent in each).
pub fn stage_table(t: &StageTable) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "{STAGE_HEADER}");
    for row in &t.rows {
        let _ = writeln!(
            md,
            "| {}{} | {} | {} | {} | {} | {} | {:.3} |",
            row.stage,
            if row.in_end_to_end { "" } else { " *(after)*" },
            row.latency.count,
            row.latency.p50_ms,
            row.latency.p95_ms,
            row.latency.p99_ms,
            row.latency.max_ms,
            row.tail_mean_ms
        );
    }
    let _ = writeln!(
        md,
        "\n{} events measured; the consumer returned {} of them before their producer saw the acknowledgement (durable = the earlier of the two).",
        t.measured, t.polled_before_ack
    );
    md
}

fn stages_section(md: &mut String, r: &Report) {
    let _ = writeln!(
        md,
        "## Where the latency goes (per stage)\n\nEach event is stamped at its scheduled send time, the produce call, the produce acknowledgement (durable: after the bus's group commit), its first poll by the ledger's consumer, the commit of the ledger's store transaction that applied it, and the bus offset commit covering it. The first four stages add up to the end-to-end latency per event; the offset commit comes after it. *Mean in the slowest 1 %*: the mean of the stage over the 1 % of events with the largest end-to-end latency — what the tail is made of.\n"
    );
    if let Some(step) = r
        .steps
        .iter()
        .find(|s| s.offered_per_second == Some(super::STAGE_RATE as f64))
    {
        let _ = writeln!(
            md,
            "### The offered-load step at {} ev/s (fsync {})\n\n{}",
            super::STAGE_RATE,
            r.fsync,
            stage_table(&step.stages)
        );
    }
    if r.stage_runs.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### fsync policies side by side at {} ev/s\n\nP50 / P99 ms per stage; the last column is the stage with the largest mean over the slowest 1 %.\n\n| fsync | run | committed | generator lag | produce → ack | ack → poll | poll → handler | handler (store commit) | end to end | store → offset commit | slowest 1 % is mostly |\n|---|---|---|---|---|---|---|---|---|---|---|",
        super::STAGE_RATE
    );
    for run in &r.stage_runs {
        let t = &run.phase.stages;
        let cell = |i: usize| {
            t.rows.get(i).map_or("–".to_owned(), |row| {
                format!("{} / {}", row.latency.p50_ms, row.latency.p99_ms)
            })
        };
        let _ = writeln!(
            md,
            "| {} | {} | {}/{} | {} | {} | {} | {} | {} | **{}** | {} | {} |",
            run.fsync,
            run.repeat,
            run.phase.committed,
            run.phase.events,
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            cell(4),
            cell(TOTAL_STAGE),
            cell(OFFSET_STAGE),
            t.tail_bottleneck().map_or("–".to_owned(), |b| format!(
                "{} ({:.2} of {:.2} ms)",
                b.stage,
                b.tail_mean_ms,
                t.rows.get(TOTAL_STAGE).map_or(0.0, |r| r.tail_mean_ms)
            ))
        );
    }
    for run in &r.stage_runs {
        let _ = writeln!(
            md,
            "\n#### fsync {}, run {}\n\n{}",
            run.fsync,
            run.repeat,
            stage_table(&run.phase.stages)
        );
    }
}

const PHASE_HEADER: &str = "| phase | offered ev/s | events | committed | s to last commit | committed/s | P50 ms | P95 ms | P99 ms | P99.9 ms | max ms |\n|---|---|---|---|---|---|---|---|---|---|---|";

pub fn markdown(r: &Report) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# edalab bench e2e — {}\n", r.started_at);
    let _ = writeln!(
        md,
        "{} run, {} build, ledger store **{}**, bus fsync **{}**; machine: nproc {}, memory {} MB total / {} MB available, load average {} at the start; {:.0} s in all.\n",
        if r.quick { "Quick (`--quick`)" } else { "Full" },
        r.build,
        r.store,
        r.fsync,
        r.nproc,
        r.mem_total_mb,
        r.mem_available_mb,
        r.load_average,
        r.elapsed_seconds
    );
    let _ = writeln!(
        md,
        "Latency is produce → ledger committed: from each event's *scheduled* send time to the end of the store transaction that applied it (HDR histogram, µs resolution). Each phase runs on a fresh platform (the embedded bus + the ledger as `edalab up` runs it).\n"
    );
    let _ = writeln!(
        md,
        "## The seed's performance tests (S3-18)\n\n| test | requirement | measured | result |\n|---|---|---|---|"
    );
    for t in &r.seed_tests {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            t.id,
            t.requirement,
            t.measured,
            yes(t.passed)
        );
    }
    let _ = writeln!(md, "\n## Goals\n\n| goal | measured | |\n|---|---|---|");
    for g in &r.goals {
        let _ = writeln!(md, "| {} | {} | {} |", g.goal, g.measured, met(g.met));
    }
    let _ = writeln!(
        md,
        "\n## Offered-load steps\n\nSustainable: every event committed and P99 ≤ 1 s. Maximum sustainable offered rate: **{}**.\n\n{PHASE_HEADER}",
        r.max_sustainable_per_second
            .map_or("none".to_owned(), |v| format!("{v:.0} ev/s"))
    );
    for step in &r.steps {
        let _ = writeln!(md, "{}", phase_row(step));
    }
    let _ = writeln!(md, "\n## Bursts and the S3-18 runs\n\n{PHASE_HEADER}");
    for p in [
        &r.burst,
        &r.burst_1000,
        &r.throughput_100,
        &r.latency_1000,
        &r.soak,
    ] {
        let _ = writeln!(md, "{}", phase_row(p));
    }
    md.push('\n');
    stages_section(&mut md, r);
    let _ = writeln!(
        md,
        "\n## Ceiling: raw batched SQLite inserts (same disk, same run)\n\nWAL, `synchronous=FULL`, {} rows in transactions of {}: **{:.0} rows/s** appended (integer key, 200-byte blob); **{:.0} rows/s** with a random 16-byte unique key per row (as the ledger's inbox has).\n",
        r.sqlite_ceiling.rows,
        r.sqlite_ceiling.batch_rows,
        r.sqlite_ceiling.append_rows_per_second,
        r.sqlite_ceiling.random_key_rows_per_second
    );
    let _ = writeln!(
        md,
        "## Stability at 50 ev/s\n\nRSS (whole bench process) {:.1} MB at the start → {:.1} MB at the end.\n",
        r.soak_rss_start_mb, r.soak_rss_end_mb
    );
    let _ = writeln!(md, "## Plots\n");
    for (file, what) in PLOTS {
        let _ = writeln!(md, "- {what}: ![{what}]({file})");
    }
    md
}

pub fn print_summary(r: &Report, out: &Path) {
    println!(
        "edalab bench e2e ({}, {} build, store {}, nproc {}) in {:.0} s",
        if r.quick { "quick" } else { "full" },
        r.build,
        r.store,
        r.nproc,
        r.elapsed_seconds
    );
    for t in &r.seed_tests {
        println!(
            "  {} {:<4} {}",
            t.id,
            if t.passed { "pass" } else { "FAIL" },
            t.measured
        );
    }
    println!(
        "  max sustainable: {}",
        r.max_sustainable_per_second
            .map_or("none".to_owned(), |v| format!("{v:.0} ev/s offered"))
    );
    for step in &r.steps {
        println!(
            "    {:>8} ev/s offered: {:>9.0} committed/s, p50 {} ms, p99 {} ms{}",
            step.offered_per_second.unwrap_or(0.0),
            step.committed_per_second,
            step.latency.p50_ms,
            step.latency.p99_ms,
            if step.complete { "" } else { " (incomplete)" }
        );
    }
    for run in &r.stage_runs {
        let t = &run.phase.stages;
        let p = |i: usize| {
            t.rows
                .get(i)
                .map_or((0.0, 0.0), |r| (r.latency.p50_ms, r.latency.p99_ms))
        };
        println!(
            "    stages fsync={} #{}: p50/p99 ms end to end {:?}; lag {:?}, produce {:?}, to poll {:?}, queued {:?}, handler {:?}, offset commit {:?}",
            run.fsync,
            run.repeat,
            p(TOTAL_STAGE),
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(OFFSET_STAGE)
        );
    }
    println!(
        "  burst {}: {:.2} s, {:.0} ev/s",
        r.burst.events, r.burst.seconds_to_last_commit, r.burst.committed_per_second
    );
    println!(
        "  SQLite ceiling: {:.0} rows/s appended, {:.0} rows/s with a random unique key",
        r.sqlite_ceiling.append_rows_per_second, r.sqlite_ceiling.random_key_rows_per_second
    );
    for g in &r.goals {
        println!(
            "  goal {:<38} {:<7} {}",
            g.goal,
            if g.met { "met" } else { "missed" },
            g.measured
        );
    }
    println!("  report: {}", out.join("report.md").display());
}

fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing a plot: {e}")
}

fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.1, 10.0)
    } else {
        (lo / 1.5, hi * 1.5)
    }
}

fn latency_plot(path: &Path, steps: &[PhaseResult]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let points = |f: fn(&PhaseResult) -> f64| -> Vec<(f64, f64)> {
        steps
            .iter()
            .filter_map(|s| Some((s.offered_per_second?, f(s).max(0.001))))
            .collect()
    };
    let p50 = points(|s| s.latency.p50_ms);
    let p95 = points(|s| s.latency.p95_ms);
    let p99 = points(|s| s.latency.p99_ms);
    let x = log_range(p50.iter().map(|p| p.0));
    let y = log_range(p50.iter().chain(&p99).map(|p| p.1));
    let mut chart = ChartBuilder::on(&root)
        .caption("produce → ledger committed latency", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((x.0..x.1).log_scale(), (y.0..y.1).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("offered events/s")
        .y_desc("latency ms")
        .draw()
        .map_err(plot_error)?;
    for (name, data, color) in [("P50", p50, BLUE), ("P95", p95, GREEN), ("P99", p99, RED)] {
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
            .map_err(plot_error)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(data.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn throughput_plot(path: &Path, steps: &[PhaseResult]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let data: Vec<(f64, f64)> = steps
        .iter()
        .filter_map(|s| Some((s.offered_per_second?, s.committed_per_second.max(1.0))))
        .collect();
    let range = log_range(data.iter().flat_map(|p| [p.0, p.1]));
    let mut chart = ChartBuilder::on(&root)
        .caption("committed vs offered", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (range.0..range.1).log_scale(),
            (range.0..range.1).log_scale(),
        )
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("offered events/s")
        .y_desc("committed events/s")
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new(
            vec![(range.0, range.0), (range.1, range.1)],
            BLACK.mix(0.3),
        ))
        .map_err(plot_error)?
        .label("keeping up")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.3)));
    chart
        .draw_series(LineSeries::new(data.clone(), BLUE.stroke_width(2)))
        .map_err(plot_error)?
        .label("committed/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(data.into_iter().map(|p| Circle::new(p, 3, BLUE.filled())))
        .map_err(plot_error)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn soak_plot(path: &Path, soak: &PhaseResult) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (top, bottom) = root.split_vertically(320);
    let t_max = soak.samples.iter().map(|s| s.t_s).fold(1.0, f64::max);
    let rss: Vec<(f64, f64)> = soak.samples.iter().map(|s| (s.t_s, s.rss_mb)).collect();
    let rss_max = rss.iter().map(|p| p.1).fold(1.0, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("{}: RSS of the process", soak.name),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max, 0.0..rss_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("s")
        .y_desc("RSS MB")
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new(rss, BLUE.stroke_width(2)))
        .map_err(plot_error)?;
    let p99: Vec<(f64, f64)> = soak
        .samples
        .iter()
        .filter(|s| s.window.count > 0)
        .map(|s| (s.t_s, s.window.p99_ms))
        .collect();
    let p99_max = p99.iter().map(|p| p.1).fold(1.0, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(&bottom)
        .caption("P99 latency per second", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max, 0.0..p99_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("s")
        .y_desc("P99 ms")
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new(p99, RED.stroke_width(2)))
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}
