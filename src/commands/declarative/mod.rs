//! The declarative catalog's commands: `export`, `plan`, `apply` and `schema`.

pub mod apply;
pub mod export;
pub mod plan;
pub mod schema;

use std::io::{IsTerminal, Write};

use super::Ctx;
use crate::declarative::diff::Plan;

/// Shows a plan on stderr (the question about it follows, or `-q` silences it).
pub fn show_plan(ctx: &Ctx, plan: &Plan, asking: bool) {
    let printer = ctx.printer();
    for w in &plan.warnings {
        printer.warn(w);
    }
    printer.summary(plan.render(&|t, c| printer.paint(t, c)).trim_end(), asking);
}

/// A one-line progress bar on a terminal's stderr: `[####....] 12/40 create workspace eng`.
pub fn progress(ctx: &Ctx) -> impl FnMut(usize, usize, &str) + '_ {
    let on = !ctx.printer().quiet && std::io::stderr().is_terminal() && !ctx.printer().is_json();
    move |done, total, what| {
        if !on || total == 0 {
            return;
        }
        let width = 24;
        let filled = done * width / total;
        let mut err = std::io::stderr().lock();
        let line = format!(
            "[{}{}] {done}/{total} {what}",
            "#".repeat(filled),
            ".".repeat(width - filled)
        );
        let line: String = line.chars().take(100).collect();
        let _ = write!(err, "\r\x1b[2K{line}");
        if done == total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}
