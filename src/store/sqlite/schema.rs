//! Schema migrations, tracked with `PRAGMA user_version`.

use rusqlite::{Connection, OptionalExtension};

const MIGRATIONS: &[&str] = &[
    // 1: workspaces, integrations, API keys.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE workspaces (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active',
        doc TEXT NOT NULL
     );
     CREATE INDEX workspaces_name ON workspaces(name);
     CREATE TABLE integrations (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
        doc TEXT NOT NULL,
        secrets BLOB NOT NULL
     );
     CREATE INDEX integrations_workspace ON integrations(workspace_id);
     CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
        doc TEXT NOT NULL
     );
     CREATE INDEX api_keys_workspace ON api_keys(workspace_id);",
    // 2: workspace provisioning and AI providers.
    "CREATE TABLE integration_workspaces (
        integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        doc TEXT NOT NULL,
        PRIMARY KEY (integration_id, workspace_id)
     );
     CREATE INDEX integration_workspaces_workspace ON integration_workspaces(workspace_id);
     CREATE TABLE providers (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        revoked INTEGER NOT NULL DEFAULT 0,
        doc TEXT NOT NULL,
        UNIQUE (workspace_id, slug)
     );
     CREATE INDEX providers_integration ON providers(integration_id);",
    // 3: model provisioning.
    "CREATE TABLE integration_models (
        integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        slug TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (integration_id, slug)
     );",
    // 4: sealed model-level headers of custom models.
    "ALTER TABLE integration_models ADD COLUMN secrets BLOB;",
    // 5: legacy virtual keys, until they are migrated to AI providers.
    "CREATE TABLE virtual_keys (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        doc TEXT NOT NULL,
        secrets BLOB NOT NULL,
        UNIQUE (workspace_id, slug)
     );",
    // 6: usage counters as rows of their own, out of the JSON documents. One row per
    // (scope, limit): the current window, settled usage and amounts held for requests in
    // flight. Counters go with what they count.
    "CREATE TABLE usage_counters (
        scope TEXT NOT NULL,
        limit_key TEXT NOT NULL,
        used REAL NOT NULL DEFAULT 0,
        held REAL NOT NULL DEFAULT 0,
        window_started_at TEXT,
        last_reset_at TEXT,
        PRIMARY KEY (scope, limit_key)
     );
     INSERT INTO usage_counters(scope, limit_key, used, window_started_at, last_reset_at)
        SELECT 'access/' || integration_id || '/' || workspace_id, 'budget',
               COALESCE(json_extract(doc, '$.usage.current_usage'), 0),
               json_extract(doc, '$.usage.window_started_at'), json_extract(doc, '$.usage.last_reset_at')
        FROM integration_workspaces WHERE json_type(doc, '$.usage') = 'object';
     INSERT INTO usage_counters(scope, limit_key, used, window_started_at, last_reset_at)
        SELECT 'provider/' || id, 'budget',
               COALESCE(json_extract(doc, '$.usage.current_usage'), 0),
               json_extract(doc, '$.usage.window_started_at'), json_extract(doc, '$.usage.last_reset_at')
        FROM providers WHERE json_type(doc, '$.usage') = 'object';
     INSERT INTO usage_counters(scope, limit_key, used, window_started_at, last_reset_at)
        SELECT 'virtual_key/' || id, 'budget',
               COALESCE(json_extract(doc, '$.usage.current_usage'), 0),
               json_extract(doc, '$.usage.window_started_at'), json_extract(doc, '$.usage.last_reset_at')
        FROM virtual_keys WHERE json_type(doc, '$.usage') = 'object';
     UPDATE integration_workspaces SET doc = json_remove(doc, '$.usage');
     UPDATE providers SET doc = json_remove(doc, '$.usage');
     UPDATE virtual_keys SET doc = json_remove(doc, '$.usage');
     CREATE TRIGGER access_counters AFTER DELETE ON integration_workspaces BEGIN
        DELETE FROM usage_counters WHERE scope = 'access/' || OLD.integration_id || '/' || OLD.workspace_id;
     END;
     CREATE TRIGGER provider_counters AFTER DELETE ON providers BEGIN
        DELETE FROM usage_counters WHERE scope = 'provider/' || OLD.id;
     END;
     CREATE TRIGGER virtual_key_counters AFTER DELETE ON virtual_keys BEGIN
        DELETE FROM usage_counters WHERE scope = 'virtual_key/' || OLD.id;
     END;",
    // 7: saved gateway configs and their versions; both go with their workspace.
    "CREATE TABLE configs (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        doc TEXT NOT NULL
     );
     CREATE INDEX configs_workspace ON configs(workspace_id);
     CREATE TABLE config_versions (
        id TEXT PRIMARY KEY,
        config_id TEXT NOT NULL REFERENCES configs(id) ON DELETE CASCADE,
        doc TEXT NOT NULL
     );
     CREATE INDEX config_versions_config ON config_versions(config_id);",
    // 8: the admission ledger. Counters keep whole units (`scale` of them make one unit
    // shown: nano-dollars for cost budgets, else tokens or requests), so sums are exact.
    // Rate limits count in slots of a sliding window; holds of requests in flight are
    // rows until settled, so a crash never forgets one; alerts are an outbox.
    "CREATE TABLE counters (
        scope TEXT NOT NULL,
        limit_key TEXT NOT NULL,
        scale INTEGER NOT NULL DEFAULT 1,
        used INTEGER NOT NULL DEFAULT 0,
        held INTEGER NOT NULL DEFAULT 0,
        window_started_at TEXT,
        last_reset_at TEXT,
        exhausted_window TEXT,
        PRIMARY KEY (scope, limit_key)
     ) WITHOUT ROWID;
     INSERT INTO counters(scope, limit_key, scale, used, window_started_at, last_reset_at)
        SELECT c.scope, c.limit_key, u.scale, CAST(round(c.used * u.scale) AS INTEGER),
               c.window_started_at, c.last_reset_at
        FROM usage_counters c,
             (SELECT CASE COALESCE(
                 (SELECT json_extract(a.doc, '$.usage_limits[0].type') FROM integration_workspaces a
                   WHERE 'access/' || a.integration_id || '/' || a.workspace_id = c2.scope),
                 (SELECT json_extract(p.doc, '$.usage_limits.type') FROM providers p
                   WHERE 'provider/' || p.id = c2.scope),
                 (SELECT json_extract(v.doc, '$.usage_limits.type') FROM virtual_keys v
                   WHERE 'virtual_key/' || v.id = c2.scope),
                 'cost') WHEN 'cost' THEN 1000000000 ELSE 1 END AS scale, c2.scope AS scope
              FROM usage_counters c2) u
        WHERE u.scope = c.scope;
     DROP TRIGGER access_counters;
     DROP TRIGGER provider_counters;
     DROP TRIGGER virtual_key_counters;
     DROP TABLE usage_counters;
     CREATE TABLE rate_slots (
        scope TEXT NOT NULL,
        limit_key TEXT NOT NULL,
        slot INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        PRIMARY KEY (scope, limit_key, slot)
     ) WITHOUT ROWID;
     CREATE TABLE holds (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_at TEXT NOT NULL,
        entries TEXT NOT NULL
     );
     CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope TEXT NOT NULL,
        limit_key TEXT NOT NULL,
        window_started_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        doc TEXT NOT NULL,
        created_at TEXT NOT NULL,
        delivered_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        UNIQUE (scope, limit_key, window_started_at, kind)
     );
     CREATE INDEX alerts_undelivered ON alerts(delivered_at) WHERE delivered_at IS NULL;
     CREATE TRIGGER access_counters AFTER DELETE ON integration_workspaces BEGIN
        DELETE FROM counters WHERE scope = 'access/' || OLD.integration_id || '/' || OLD.workspace_id;
        DELETE FROM rate_slots WHERE scope = 'access/' || OLD.integration_id || '/' || OLD.workspace_id;
     END;
     CREATE TRIGGER provider_counters AFTER DELETE ON providers BEGIN
        DELETE FROM counters WHERE scope = 'provider/' || OLD.id;
        DELETE FROM rate_slots WHERE scope = 'provider/' || OLD.id;
     END;
     CREATE TRIGGER virtual_key_counters AFTER DELETE ON virtual_keys BEGIN
        DELETE FROM counters WHERE scope = 'virtual_key/' || OLD.id;
        DELETE FROM rate_slots WHERE scope = 'virtual_key/' || OLD.id;
     END;
     CREATE TRIGGER integration_counters AFTER DELETE ON integrations BEGIN
        DELETE FROM counters WHERE scope = 'integration/' || OLD.id;
        DELETE FROM rate_slots WHERE scope = 'integration/' || OLD.id;
     END;
     CREATE TRIGGER workspace_counters AFTER DELETE ON workspaces BEGIN
        DELETE FROM counters WHERE scope = 'workspace/' || OLD.id;
        DELETE FROM rate_slots WHERE scope = 'workspace/' || OLD.id;
     END;
     CREATE TRIGGER api_key_counters AFTER DELETE ON api_keys BEGIN
        DELETE FROM counters WHERE scope = 'api_key/' || OLD.id;
        DELETE FROM rate_slots WHERE scope = 'api_key/' || OLD.id;
     END;",
    // 9: alert delivery. A delivery task marks each alert seen when it picks it up (and
    // logs it), then delivers it to each webhook on its own row, so that a webhook that
    // is down never makes a healthy one receive an alert twice; an attempt in flight is
    // claimed by its process (`claimed_by`) until it is recorded. Webhooks are known by a
    // hash of their URL and their origin: a URL may hold a token and is never stored.
    "ALTER TABLE alerts ADD COLUMN seen_at TEXT;
     CREATE INDEX alerts_unseen ON alerts(id) WHERE seen_at IS NULL;
     CREATE INDEX alerts_created ON alerts(created_at);
     CREATE TABLE alert_webhooks (
        id TEXT PRIMARY KEY,
        origin TEXT NOT NULL,
        configured_at TEXT NOT NULL
     );
     CREATE TABLE alert_deliveries (
        alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        webhook TEXT NOT NULL REFERENCES alert_webhooks(id) ON DELETE CASCADE,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        claimed_by TEXT,
        delivered_at TEXT,
        last_error TEXT,
        PRIMARY KEY (alert_id, webhook)
     ) WITHOUT ROWID;
     CREATE INDEX alert_deliveries_due ON alert_deliveries(next_attempt_at)
        WHERE delivered_at IS NULL;",
    // 10: the audit log, append-only (see `audit`): one record per change made through
    // the Admin API, with the columns its filters read beside the record itself
    // (`workspaces` and `objects`: `,a,b,` lists of what its changes touch). No foreign
    // keys: the record of a deleted object outlives it.
    "CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        actor_type TEXT NOT NULL,
        actor_id TEXT,
        actor_name TEXT,
        action TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id TEXT,
        resource_slug TEXT,
        workspaces TEXT NOT NULL,
        objects TEXT NOT NULL,
        request_id TEXT NOT NULL,
        doc TEXT NOT NULL
     );
     CREATE INDEX audit_log_created ON audit_log(created_at);
     CREATE INDEX audit_log_resource ON audit_log(resource_type, resource_id);
     CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'audit records are append-only');
     END;
     CREATE TRIGGER audit_log_retention BEFORE DELETE ON audit_log
     WHEN OLD.created_at >= COALESCE((SELECT value FROM meta WHERE key = 'audit_prune_before'), '')
     BEGIN
        SELECT RAISE(ABORT, 'audit records are deleted only by retention, oldest first');
     END;",
    // 11: usage-limit and rate-limit policies. Deleting one through the API archives it
    // (its counters stay, as Portkey keeps them); a row that goes (its workspace was
    // deleted) takes its counters with it.
    "CREATE TABLE policies (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        doc TEXT NOT NULL
     );
     CREATE INDEX policies_scope ON policies(status, workspace_id);
     CREATE TRIGGER policy_counters AFTER DELETE ON policies BEGIN
        DELETE FROM counters WHERE scope >= 'policy/' || OLD.id || '/' AND scope < 'policy/' || OLD.id || '0';
        DELETE FROM rate_slots WHERE scope >= 'policy/' || OLD.id || '/' AND scope < 'policy/' || OLD.id || '0';
     END;",
    // 12: a secret written in format 2 is sealed under a master key the catalog records:
    // the current one, or during a rotation the one it replaces. A process that still
    // holds a key a finished rotation retired cannot write under it. (This build writes
    // nothing else; builds that wrote format 1 refuse this schema.)
    "CREATE TRIGGER IF NOT EXISTS integrations_sealed_insert BEFORE INSERT ON integrations
        WHEN substr(NEW.secrets, 1, 1) = x'02' AND NOT (lower(hex(substr(NEW.secrets, 2, 8)))
            IN (SELECT value FROM meta WHERE key IN ('master_key_check', 'master_key_previous_check')))
     BEGIN SELECT RAISE(ABORT, 'a secret sealed under a master key this catalog does not record'); END;
     CREATE TRIGGER IF NOT EXISTS integrations_sealed_update BEFORE UPDATE OF secrets ON integrations
        WHEN substr(NEW.secrets, 1, 1) = x'02' AND NOT (lower(hex(substr(NEW.secrets, 2, 8)))
            IN (SELECT value FROM meta WHERE key IN ('master_key_check', 'master_key_previous_check')))
     BEGIN SELECT RAISE(ABORT, 'a secret sealed under a master key this catalog does not record'); END;
     CREATE TRIGGER IF NOT EXISTS integration_models_sealed_insert BEFORE INSERT ON integration_models
        WHEN substr(NEW.secrets, 1, 1) = x'02' AND NOT (lower(hex(substr(NEW.secrets, 2, 8)))
            IN (SELECT value FROM meta WHERE key IN ('master_key_check', 'master_key_previous_check')))
     BEGIN SELECT RAISE(ABORT, 'a secret sealed under a master key this catalog does not record'); END;
     CREATE TRIGGER IF NOT EXISTS integration_models_sealed_update BEFORE UPDATE OF secrets ON integration_models
        WHEN substr(NEW.secrets, 1, 1) = x'02' AND NOT (lower(hex(substr(NEW.secrets, 2, 8)))
            IN (SELECT value FROM meta WHERE key IN ('master_key_check', 'master_key_previous_check')))
     BEGIN SELECT RAISE(ABORT, 'a secret sealed under a master key this catalog does not record'); END;
     CREATE TRIGGER IF NOT EXISTS virtual_keys_sealed_insert BEFORE INSERT ON virtual_keys
        WHEN substr(NEW.secrets, 1, 1) = x'02' AND NOT (lower(hex(substr(NEW.secrets, 2, 8)))
            IN (SELECT value FROM meta WHERE key IN ('master_key_check', 'master_key_previous_check')))
     BEGIN SELECT RAISE(ABORT, 'a secret sealed under a master key this catalog does not record'); END;
     CREATE TRIGGER IF NOT EXISTS virtual_keys_sealed_update BEFORE UPDATE OF secrets ON virtual_keys
        WHEN substr(NEW.secrets, 1, 1) = x'02' AND NOT (lower(hex(substr(NEW.secrets, 2, 8)))
            IN (SELECT value FROM meta WHERE key IN ('master_key_check', 'master_key_previous_check')))
     BEGIN SELECT RAISE(ABORT, 'a secret sealed under a master key this catalog does not record'); END;",
    // 13: the catalog's version, changed by every admin write (`store::CATALOG_VERSION`):
    // the gateway keeps what it resolved while it is unchanged. Builds that do not
    // change it refuse this schema.
    "INSERT INTO meta(key, value) VALUES ('catalog_version', 'initial')
        ON CONFLICT(key) DO NOTHING;",
];

pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        anyhow::bail!(
            "the database was written by a newer catalog (schema {version}, this build knows {}); upgrade catalog",
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// The organisation this database belongs to, created on first open.
pub fn organisation_id(conn: &mut Connection) -> anyhow::Result<String> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let existing: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'organisation_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let id = match existing {
        Some(id) => id,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('organisation_id', ?1)",
                [&id],
            )?;
            id
        }
    };
    tx.commit()?;
    Ok(id)
}
