//! `catalog apply -f FILE` (plan, show, confirm, apply) or `catalog apply PLAN` (exactly a
//! saved plan, refused if the live catalog changed since it was computed).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::plan::{compute, PlanView};
use crate::commands::Ctx;
use crate::declarative::apply::{execute, Done};
use crate::declarative::diff::{Plan, PLAN_FORMAT};
use crate::declarative::live;
use crate::exit::{CliError, ErrorKind};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["plan", "file"])))]
pub struct ApplyArgs {
    /// A plan saved by `catalog plan --out PLAN`, applied exactly
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// The catalog file to plan and apply (YAML or JSON; `-` reads stdin)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Also delete what the live catalog has and the file does not mention (asks, or `--yes`)
    #[arg(long, conflicts_with = "plan")]
    pub prune: bool,
    /// Show the plan and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    /// `applied`, `unchanged` or `dry_run`.
    result: &'static str,
    plan: PlanView<'a>,
    done: &'a [Done],
}

fn read_plan(path: &std::path::Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!("cannot read the plan `{}`: {e}", path.display()))
            .with_hint("save one with `catalog plan -f FILE --out PLAN`; to apply a catalog file, pass `-f FILE`")
    })?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!("`{}` is not a saved plan: {e}", path.display()))
            .with_hint("a catalog file is applied with `catalog apply -f FILE`")
    })?;
    if plan.format != PLAN_FORMAT {
        return Err(CliError::usage(format!(
            "`{}` is a plan of format {}, this catalog reads format {PLAN_FORMAT}",
            path.display(),
            plan.format
        ))
        .with_hint("compute it again with `catalog plan -f FILE --out PLAN`")
        .into());
    }
    // Secret files are named relative to the catalog file, which a saved plan records
    // relative to itself: the plan and the checkout can move together.
    let mut plan = plan;
    if plan.base_dir.is_relative() {
        let dir = path.parent().unwrap_or(std::path::Path::new(""));
        plan.base_dir = dir.join(&plan.base_dir);
    }
    Ok(plan)
}

pub fn run(ctx: &Ctx, args: ApplyArgs) -> anyhow::Result<()> {
    let printer = ctx.printer();
    let (plan, live, saved) = match (&args.plan, &args.file) {
        (Some(path), _) => {
            let plan = read_plan(path)?;
            let live = live::read(ctx.client()?)?;
            if live::fingerprint(&live) != plan.fingerprint {
                return Err(CliError::new(
                    ErrorKind::Conflict,
                    format!(
                        "the live catalog changed since the plan `{}` was computed; nothing was applied",
                        path.display()
                    ),
                )
                .with_hint(format!(
                    "compute and review the plan again: `catalog plan -f FILE --out {}`",
                    path.display()
                ))
                .into());
            }
            (plan, live, true)
        }
        (None, Some(file)) => {
            let (plan, live) = compute(ctx, file, args.prune)?;
            (plan, live, false)
        }
        (None, None) => unreachable!("clap requires a plan or a file"),
    };
    let json = printer.format != crate::printer::OutputFormat::Table;
    if plan.is_empty() {
        for w in &plan.warnings {
            printer.warn(w);
        }
        if json {
            printer.data(&Report {
                result: "unchanged",
                plan: PlanView::from(&plan),
                done: &[],
            })?;
        } else {
            printer.status(plan.render(&|t, c| printer.paint(t, c)).trim_end());
        }
        return Ok(());
    }
    // A secret that cannot be read stops the apply before anything is written, and a
    // dry run the same way.
    crate::declarative::apply::check_secrets(&plan, &ctx.settings.env)?;
    if args.dry_run {
        if json {
            printer.data(&Report {
                result: "dry_run",
                plan: PlanView::from(&plan),
                done: &[],
            })?;
        } else {
            printer.raw(&plan.render(&|t, c| printer.paint(t, c)));
            printer.status("dry run: nothing was written");
        }
        return Ok(());
    }
    let asking = !ctx.prompter().assume_yes();
    super::show_plan(ctx, &plan, asking);
    let c = plan.counts();
    let question = if c.delete > 0 {
        format!("Apply these changes, deleting {} object(s)?", c.delete)
    } else {
        "Apply these changes?".to_owned()
    };
    ctx.prompter().confirm_destructive(&question)?;
    let env = &ctx.settings.env;
    let mut progress = super::progress(ctx);
    let done = execute(ctx.client()?, &plan, &live, env, &mut progress).map_err(|e| {
        let hint = if saved {
            "the saved plan was applied in part and no longer matches the live catalog: run `catalog plan -f FILE --out PLAN` again, then apply the new plan"
        } else {
            "fix the cause and run the same `catalog apply -f FILE` again: it plans from the live catalog and continues where this stopped"
        };
        crate::exit::hint_on_any(e, hint)
    })?;
    if json {
        printer.data(&Report {
            result: "applied",
            plan: PlanView::from(&plan),
            done: &done,
        })?;
    }
    printer.status(format!(
        "Applied: {} created, {} changed, {} deleted ({} request group(s)).",
        c.create,
        c.update,
        c.delete,
        done.len()
    ));
    Ok(())
}
