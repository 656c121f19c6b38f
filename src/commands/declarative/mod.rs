//! The declarative catalog's commands: `export`, `plan`, `apply` and `schema`.

pub mod apply;
pub mod export;
pub mod plan;
pub mod schema;

use std::io::IsTerminal;

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

/// A progress bar on a terminal's stderr (indicatif): `[####----] 12/40 create workspace
/// eng`; nothing when stderr is not a terminal, with `-q` or `-o json`.
pub fn progress(ctx: &Ctx) -> impl FnMut(usize, usize, &str) + '_ {
    let on = !ctx.printer().quiet && std::io::stderr().is_terminal() && !ctx.printer().is_json();
    let mut bar: Option<indicatif::ProgressBar> = None;
    move |done, total, what| {
        if !on || total == 0 {
            return;
        }
        let bar = bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            b.set_style(
                indicatif::ProgressStyle::with_template("[{bar:24}] {pos}/{len} {wide_msg}")
                    .expect("a valid progress template")
                    .progress_chars("#>-"),
            );
            b
        });
        bar.set_position(done as u64);
        bar.set_message(what.to_owned());
        if done == total {
            bar.finish_and_clear();
        }
    }
}
