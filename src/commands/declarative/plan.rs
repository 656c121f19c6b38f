//! `catalog plan -f FILE`: what applying the file would change, as a readable diff.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::commands::Ctx;
use crate::declarative::diff::{self, Change, Counts, Plan};
use crate::declarative::{live, load};
use crate::exit::{CliError, ErrorKind};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The catalog file (YAML or JSON; `-` reads stdin)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Save the plan, with a fingerprint of the live catalog, for `catalog apply PLAN`
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// Also delete what the live catalog has and the file does not mention
    #[arg(long)]
    pub prune: bool,
    /// Exit 10 when the plan has changes or the live catalog holds objects the file does
    /// not mention (drift detection in CI); 0 when it matches the file
    #[arg(long)]
    pub exit_code: bool,
}

/// The plan as `-o json` shows it: field values as JSON values (a text shown as JSON in
/// the readable plan is that value; a description such as a masked secret is text).
#[derive(Debug, Serialize)]
pub struct PlanView<'a> {
    pub changes: Vec<ChangeView<'a>>,
    pub counts: Counts,
    pub not_in_file: &'a [String],
    pub warnings: &'a [String],
    pub fingerprint: &'a str,
}

/// One change of [`PlanView`].
#[derive(Debug, Serialize)]
pub struct ChangeView<'a> {
    #[serde(flatten)]
    pub change: ChangeHead<'a>,
    pub fields: Vec<FieldView<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ChangeHead<'a> {
    pub action: &'a diff::Action,
    pub kind: &'a str,
    pub name: &'a str,
}

#[derive(Debug, Serialize)]
pub struct FieldView<'a> {
    pub field: &'a str,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// A value as the plan shows it, as JSON: the value it spells, else the text itself.
fn as_json(shown: &Option<String>) -> Option<Value> {
    shown
        .as_deref()
        .map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned())))
}

impl<'a> From<&'a Change> for ChangeView<'a> {
    fn from(c: &'a Change) -> Self {
        ChangeView {
            change: ChangeHead {
                action: &c.action,
                kind: &c.kind,
                name: &c.name,
            },
            fields: c
                .fields
                .iter()
                .map(|f| FieldView {
                    field: &f.field,
                    old: as_json(&f.old),
                    new: as_json(&f.new),
                })
                .collect(),
        }
    }
}

impl<'a> From<&'a Plan> for PlanView<'a> {
    fn from(p: &'a Plan) -> Self {
        PlanView {
            changes: p.changes.iter().map(ChangeView::from).collect(),
            counts: p.counts(),
            not_in_file: &p.not_in_file,
            warnings: &p.warnings,
            fingerprint: &p.fingerprint,
        }
    }
}

/// Reads the file, then the live catalog, and computes the plan.
pub fn compute(
    ctx: &Ctx,
    file: &std::path::Path,
    prune: bool,
) -> anyhow::Result<(Plan, live::Live)> {
    let loaded = load::load(file)?;
    let live = live::read(ctx.client()?)?;
    let base_dir = std::fs::canonicalize(&loaded.base_dir).unwrap_or(loaded.base_dir.clone());
    let plan = diff::plan(&loaded.file, base_dir, &live, prune)?;
    Ok((plan, live))
}

pub fn run(ctx: &Ctx, args: PlanArgs) -> anyhow::Result<()> {
    let (plan, _) = compute(ctx, &args.file, args.prune)?;
    let printer = ctx.printer();
    if printer.format == crate::printer::OutputFormat::Table {
        for w in &plan.warnings {
            printer.warn(w);
        }
        printer.raw(&plan.render(&|t, c| printer.paint(t, c)));
    } else {
        printer.data(&PlanView::from(&plan))?;
    }
    if let Some(out) = &args.out {
        // The catalog file's directory, relative to the plan's where it is inside it.
        let mut saved = plan.clone();
        let out_dir = out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if let Ok(out_dir) = std::fs::canonicalize(out_dir) {
            if let Ok(rel) = saved.base_dir.strip_prefix(&out_dir) {
                saved.base_dir = rel.to_path_buf();
            }
        }
        crate::files::write_atomic(out, serde_json::to_string_pretty(&saved)?.as_bytes())?;
        printer.status(format!(
            "saved the plan to {}; `catalog apply {}` applies exactly it, if the live catalog has not changed",
            out.display(),
            out.display()
        ));
    }
    if args.exit_code && !plan.is_empty() {
        return Err(CliError::new(ErrorKind::Changes, "the plan has changes").into());
    }
    if args.exit_code && !plan.not_in_file.is_empty() && !plan.prune {
        return Err(CliError::new(
            ErrorKind::Changes,
            "the live catalog holds objects the file does not mention",
        )
        .into());
    }
    Ok(())
}
