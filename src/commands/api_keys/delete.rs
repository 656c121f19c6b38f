use clap::Args;

use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// API key id
    pub id: String,
}

pub fn run(ctx: &Ctx, args: DeleteArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let key = client.get_api_key(&args.id)?;
    ctx.prompter()
        .confirm_destructive(&format!("Delete API key `{}` ({})?", key.name, key.id))?;
    client.delete_api_key(&key.id)?;
    ctx.printer()
        .status(format!("deleted API key `{}` ({})", key.name, key.id));
    if ctx.printer().is_json() {
        ctx.printer()
            .data(&serde_json::json!({"deleted": true, "id": key.id}))?;
    }
    Ok(())
}
