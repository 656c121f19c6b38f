//! `catalog export`: the live catalog as a catalog file.

use std::path::PathBuf;

use clap::Args;

use crate::commands::Ctx;
use crate::declarative::live;
use crate::printer::OutputFormat;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the file here instead of stdout (YAML; JSON with `-o json`)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let live = live::read(client)?;
    let text = if ctx.printer().format == OutputFormat::Json {
        format!("{}\n", serde_json::to_string_pretty(&live.file)?)
    } else {
        live::to_yaml(&live.file)?
    };
    for name in &live.duplicate_names {
        ctx.printer().warn(format!(
            "several workspaces are named `{name}`: they are left out (the file refers to workspaces by name)"
        ));
    }
    for name in &live.duplicate_configs {
        ctx.printer().warn(format!(
            "several configs are named `{name}`: they are left out (the file knows a config by workspace and name)"
        ));
    }
    match args.out {
        Some(path) => {
            crate::files::write_atomic(&path, text.as_bytes())?;
            ctx.printer().status(format!(
                "exported {} workspace(s), {} integration(s), {} provider(s), {} config(s) to {}",
                live.file.workspaces.len(),
                live.file.integrations.len(),
                live.file.providers.len(),
                live.file.configs.len(),
                path.display()
            ));
        }
        None => ctx.printer().raw(&text),
    }
    Ok(())
}
