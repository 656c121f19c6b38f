
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'catalog' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'catalog'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'catalog' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Log in to a catalog server, show or remove stored credentials')
            [CompletionResult]::new('workspaces', 'workspaces', [CompletionResultType]::ParameterValue, 'Workspaces: teams and environments that use integrations')
            [CompletionResult]::new('integrations', 'integrations', [CompletionResultType]::ParameterValue, 'Integrations: provider credentials stored once for the organisation')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'Models: allow-lists, custom models and prices, and the Model Garden')
            [CompletionResult]::new('providers', 'providers', [CompletionResultType]::ParameterValue, 'AI providers: integrations made callable in a workspace as `@slug/model`')
            [CompletionResult]::new('configs', 'configs', [CompletionResultType]::ParameterValue, 'Saved gateway configs: routing, fallbacks and retries sent as `x-portkey-config`')
            [CompletionResult]::new('org', 'org', [CompletionResultType]::ParameterValue, 'Organisation-wide settings')
            [CompletionResult]::new('policies', 'policies', [CompletionResultType]::ParameterValue, 'Usage-limit and rate-limit policies: budgets per user, per model, per metadata value')
            [CompletionResult]::new('alerts', 'alerts', [CompletionResultType]::ParameterValue, 'Budget alerts: alert thresholds crossed and limits reached, and their delivery')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'The changes made through the Admin API: who changed what, when, from what')
            [CompletionResult]::new('api-keys', 'api-keys', [CompletionResultType]::ParameterValue, 'API keys for the Admin API and the gateway')
            [CompletionResult]::new('migrate-vkeys', 'migrate-vkeys', [CompletionResultType]::ParameterValue, 'Migrate legacy virtual keys to integrations and AI providers with the same slugs')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Explain whether a workspace can call a model, step by step (no call is made)')
            [CompletionResult]::new('usage', 'usage', [CompletionResultType]::ParameterValue, 'Every budget, rate limit and concurrency limit in scope with its live usage')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the live catalog as a catalog file (YAML, or JSON with `-o json`)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what applying a catalog file would change (`--exit-code` for drift detection)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply a catalog file (`-f FILE`) or exactly a saved plan (`PLAN`)')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of the catalog file')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the catalog''s Admin API and gateway over HTTP for a team')
            [CompletionResult]::new('admin', 'admin', [CompletionResultType]::ParameterValue, 'Operations on the catalog''s database file: master-key status and rotation')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'The catalog''s database as a whole: copy a catalog file to PostgreSQL')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;auth' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Check an API key against a server and store it for a profile')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the profile, the server and which credential source is used')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove a profile and its stored key')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a profile current (or `embedded`: the embedded catalog)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;auth;login' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--api-key-stdin', '--api-key-stdin', [CompletionResultType]::ParameterName, 'Read the API key from standard input (otherwise a hidden prompt)')
            [CompletionResult]::new('--insecure-storage', '--insecure-storage', [CompletionResultType]::ParameterName, 'Store the key in a 0600 file instead of the OS keyring')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;auth;status' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;auth;logout' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;auth;use' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;auth;help' {
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Check an API key against a server and store it for a profile')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the profile, the server and which credential source is used')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove a profile and its stored key')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a profile current (or `embedded`: the embedded catalog)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;auth;help;login' {
            break
        }
        'catalog;auth;help;status' {
            break
        }
        'catalog;auth;help;logout' {
            break
        }
        'catalog;auth;help;use' {
            break
        }
        'catalog;auth;help;help' {
            break
        }
        'catalog;workspaces' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List workspaces')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one workspace')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a workspace')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a workspace''s name, description or metadata')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a workspace (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('provision', 'provision', [CompletionResultType]::ParameterValue, 'Give workspaces access to an integration, with budgets and rate limits')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Take an integration away from workspaces (their providers are disabled)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;workspaces;list' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Only workspaces whose name contains this text')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;workspaces;get' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;workspaces;create' {
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'Description')
            [CompletionResult]::new('--metadata', '--metadata', [CompletionResultType]::ParameterName, 'Default request metadata, KEY=VALUE (repeatable)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--if-not-exists', '--if-not-exists', [CompletionResultType]::ParameterName, 'When a workspace with this name exists, print it and succeed instead of failing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;workspaces;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New name')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'New description')
            [CompletionResult]::new('--metadata', '--metadata', [CompletionResultType]::ParameterName, 'Replace the default metadata with these KEY=VALUE pairs (repeatable)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--clear-description', '--clear-description', [CompletionResultType]::ParameterName, 'Remove the description')
            [CompletionResult]::new('--clear-metadata', '--clear-metadata', [CompletionResultType]::ParameterName, 'Remove the default metadata')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;workspaces;delete' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Also delete what depends on it (workspace integrations, API keys)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;workspaces;provision' {
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'The integration to provision')
            [CompletionResult]::new('--budget', '--budget', [CompletionResultType]::ParameterName, 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value')
            [CompletionResult]::new('--budget-type', '--budget-type', [CompletionResultType]::ParameterName, 'What the budget counts [default: cost, or the current type]')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)')
            [CompletionResult]::new('--alert', '--alert', [CompletionResultType]::ParameterName, 'Alert when usage reaches this amount (below the budget, same unit)')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it')
            [CompletionResult]::new('--provider-slug', '--provider-slug', [CompletionResultType]::ParameterName, 'Slug of the AI provider created in each newly provisioned workspace [default: the integration''s slug]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every existing workspace')
            [CompletionResult]::new('--new-workspaces', '--new-workspaces', [CompletionResultType]::ParameterName, 'Also provision workspaces created later, with the same limits')
            [CompletionResult]::new('--no-new-workspaces', '--no-new-workspaces', [CompletionResultType]::ParameterName, 'Stop provisioning workspaces created later (access already given stays)')
            [CompletionResult]::new('--reset-usage', '--reset-usage', [CompletionResultType]::ParameterName, 'Zero the usage of the budgets of these workspaces')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;workspaces;revoke' {
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'The integration')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;workspaces;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List workspaces')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one workspace')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a workspace')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a workspace''s name, description or metadata')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a workspace (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('provision', 'provision', [CompletionResultType]::ParameterValue, 'Give workspaces access to an integration, with budgets and rate limits')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Take an integration away from workspaces (their providers are disabled)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;workspaces;help;list' {
            break
        }
        'catalog;workspaces;help;get' {
            break
        }
        'catalog;workspaces;help;create' {
            break
        }
        'catalog;workspaces;help;update' {
            break
        }
        'catalog;workspaces;help;delete' {
            break
        }
        'catalog;workspaces;help;provision' {
            break
        }
        'catalog;workspaces;help;revoke' {
            break
        }
        'catalog;workspaces;help;help' {
            break
        }
        'catalog;integrations' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List integrations')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one integration (secrets masked)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connect a provider: service, credentials, configuration, name and scope')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change an integration''s name, description, configuration or budget')
            [CompletionResult]::new('rotate-key', 'rotate-key', [CompletionResultType]::ParameterValue, 'Replace an integration''s provider key')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an integration (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('workspaces', 'workspaces', [CompletionResultType]::ParameterValue, 'Show which workspaces may use an integration, their limits, usage and next reset')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;integrations;list' {
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'Which integrations: organisation-level, workspace-level, or all')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;integrations;get' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;integrations;connect' {
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Provider service')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Display name (default: the slug)')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'Description')
            [CompletionResult]::new('--key-env', '--key-env', [CompletionResultType]::ParameterName, 'Read the provider key from this environment variable')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Read the provider key from a file')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Refused: a secret in argv is visible in `ps` and shell history')
            [CompletionResult]::new('--openai-organization', '--openai-organization', [CompletionResultType]::ParameterName, 'OpenAI organization id')
            [CompletionResult]::new('--openai-project', '--openai-project', [CompletionResultType]::ParameterName, 'OpenAI project id')
            [CompletionResult]::new('--azure-resource-name', '--azure-resource-name', [CompletionResultType]::ParameterName, 'Azure OpenAI resource name')
            [CompletionResult]::new('--azure-auth-mode', '--azure-auth-mode', [CompletionResultType]::ParameterName, 'Azure authentication mode')
            [CompletionResult]::new('--azure-deployment', '--azure-deployment', [CompletionResultType]::ParameterName, 'Azure deployment: name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default] (repeatable)')
            [CompletionResult]::new('--azure-entra-tenant-id', '--azure-entra-tenant-id', [CompletionResultType]::ParameterName, 'Entra tenant id (azure auth mode entra/entraFederated)')
            [CompletionResult]::new('--azure-entra-client-id', '--azure-entra-client-id', [CompletionResultType]::ParameterName, 'Entra client id (azure auth mode entra/entraFederated); the client secret is the key')
            [CompletionResult]::new('--azure-managed-client-id', '--azure-managed-client-id', [CompletionResultType]::ParameterName, 'Managed identity client id (azure auth mode managed)')
            [CompletionResult]::new('--azure-workload-tenant-id', '--azure-workload-tenant-id', [CompletionResultType]::ParameterName, 'Workload identity tenant id (azure auth mode workload)')
            [CompletionResult]::new('--azure-workload-client-id', '--azure-workload-client-id', [CompletionResultType]::ParameterName, 'Workload identity client id (azure auth mode workload)')
            [CompletionResult]::new('--aws-auth-type', '--aws-auth-type', [CompletionResultType]::ParameterName, 'Bedrock authentication type; with accessKey the secret access key is the key')
            [CompletionResult]::new('--aws-region', '--aws-region', [CompletionResultType]::ParameterName, 'AWS region, e.g. us-east-1')
            [CompletionResult]::new('--aws-access-key-id-env', '--aws-access-key-id-env', [CompletionResultType]::ParameterName, 'AWS access key id (auth type accessKey), read from this environment variable')
            [CompletionResult]::new('--aws-access-key-id-file', '--aws-access-key-id-file', [CompletionResultType]::ParameterName, 'AWS access key id (auth type accessKey), read from this file')
            [CompletionResult]::new('--aws-role-arn', '--aws-role-arn', [CompletionResultType]::ParameterName, 'IAM role ARN to assume (auth type assumedRole)')
            [CompletionResult]::new('--aws-external-id', '--aws-external-id', [CompletionResultType]::ParameterName, 'External id for the assumed role')
            [CompletionResult]::new('--vertex-auth-type', '--vertex-auth-type', [CompletionResultType]::ParameterName, 'Vertex AI authentication type')
            [CompletionResult]::new('--vertex-region', '--vertex-region', [CompletionResultType]::ParameterName, 'Vertex AI region, e.g. us-central1')
            [CompletionResult]::new('--vertex-project-id', '--vertex-project-id', [CompletionResultType]::ParameterName, 'Google Cloud project id (auth type basic or workload)')
            [CompletionResult]::new('--vertex-service-account-file', '--vertex-service-account-file', [CompletionResultType]::ParameterName, 'Service account JSON file (auth type serviceAccount)')
            [CompletionResult]::new('--custom-host', '--custom-host', [CompletionResultType]::ParameterName, 'Base URL of a custom or self-hosted service (http or https)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)')
            [CompletionResult]::new('--header-env', '--header-env', [CompletionResultType]::ParameterName, 'Header whose value is read from an environment variable, NAME=VAR (repeatable)')
            [CompletionResult]::new('--header-file', '--header-file', [CompletionResultType]::ParameterName, 'Header whose value is read from a file, NAME=PATH (repeatable)')
            [CompletionResult]::new('--key-header', '--key-header', [CompletionResultType]::ParameterName, 'Custom service: send the key (--key-env/--key-stdin/--key-file) in this header instead of `Authorization: Bearer`')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Any other configuration setting, KEY=VALUE (repeatable; not for secrets)')
            [CompletionResult]::new('--config-env', '--config-env', [CompletionResultType]::ParameterName, 'A secret configuration setting read from an environment variable, KEY=VAR (repeatable)')
            [CompletionResult]::new('--provision', '--provision', [CompletionResultType]::ParameterName, 'Step 2: provision these workspaces (id, slug or name; repeatable)')
            [CompletionResult]::new('--budget', '--budget', [CompletionResultType]::ParameterName, 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value')
            [CompletionResult]::new('--budget-type', '--budget-type', [CompletionResultType]::ParameterName, 'What the budget counts [default: cost, or the current type]')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)')
            [CompletionResult]::new('--alert', '--alert', [CompletionResultType]::ParameterName, 'Alert when usage reaches this amount (below the budget, same unit)')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'Step 3: enable only these models (comma-separated or repeated): an allow-list')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--key-stdin', '--key-stdin', [CompletionResultType]::ParameterName, 'Read the provider key from standard input')
            [CompletionResult]::new('--provision-all', '--provision-all', [CompletionResultType]::ParameterName, 'Step 2: provision every existing workspace')
            [CompletionResult]::new('--new-workspaces', '--new-workspaces', [CompletionResultType]::ParameterName, 'Step 2: also provision workspaces created later')
            [CompletionResult]::new('--no-new-workspaces', '--no-new-workspaces', [CompletionResultType]::ParameterName, 'Step 2: stop provisioning workspaces created later')
            [CompletionResult]::new('--skip-provisioning', '--skip-provisioning', [CompletionResultType]::ParameterName, 'Skip step 2 (workspace provisioning)')
            [CompletionResult]::new('--all-models', '--all-models', [CompletionResultType]::ParameterName, 'Step 3: enable every model of the service')
            [CompletionResult]::new('--custom-models', '--custom-models', [CompletionResultType]::ParameterName, 'Step 3: accept model ids the built-in registry does not know')
            [CompletionResult]::new('--skip-models', '--skip-models', [CompletionResultType]::ParameterName, 'Skip step 3 (model provisioning)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the requests that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;integrations;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New display name')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'New description')
            [CompletionResult]::new('--price-multiplier', '--price-multiplier', [CompletionResultType]::ParameterName, 'Multiply every price of this integration''s models (0.8 = a negotiated 20% discount)')
            [CompletionResult]::new('--remove-azure-deployment', '--remove-azure-deployment', [CompletionResultType]::ParameterName, 'Remove the Azure deployment with this alias (or model, or deployment name); repeatable')
            [CompletionResult]::new('--budget', '--budget', [CompletionResultType]::ParameterName, 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value')
            [CompletionResult]::new('--budget-type', '--budget-type', [CompletionResultType]::ParameterName, 'What the budget counts [default: cost, or the current type]')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)')
            [CompletionResult]::new('--alert', '--alert', [CompletionResultType]::ParameterName, 'Alert when usage reaches this amount (below the budget, same unit)')
            [CompletionResult]::new('--openai-organization', '--openai-organization', [CompletionResultType]::ParameterName, 'OpenAI organization id')
            [CompletionResult]::new('--openai-project', '--openai-project', [CompletionResultType]::ParameterName, 'OpenAI project id')
            [CompletionResult]::new('--azure-resource-name', '--azure-resource-name', [CompletionResultType]::ParameterName, 'Azure OpenAI resource name')
            [CompletionResult]::new('--azure-auth-mode', '--azure-auth-mode', [CompletionResultType]::ParameterName, 'Azure authentication mode')
            [CompletionResult]::new('--azure-deployment', '--azure-deployment', [CompletionResultType]::ParameterName, 'Azure deployment: name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default] (repeatable)')
            [CompletionResult]::new('--azure-entra-tenant-id', '--azure-entra-tenant-id', [CompletionResultType]::ParameterName, 'Entra tenant id (azure auth mode entra/entraFederated)')
            [CompletionResult]::new('--azure-entra-client-id', '--azure-entra-client-id', [CompletionResultType]::ParameterName, 'Entra client id (azure auth mode entra/entraFederated); the client secret is the key')
            [CompletionResult]::new('--azure-managed-client-id', '--azure-managed-client-id', [CompletionResultType]::ParameterName, 'Managed identity client id (azure auth mode managed)')
            [CompletionResult]::new('--azure-workload-tenant-id', '--azure-workload-tenant-id', [CompletionResultType]::ParameterName, 'Workload identity tenant id (azure auth mode workload)')
            [CompletionResult]::new('--azure-workload-client-id', '--azure-workload-client-id', [CompletionResultType]::ParameterName, 'Workload identity client id (azure auth mode workload)')
            [CompletionResult]::new('--aws-auth-type', '--aws-auth-type', [CompletionResultType]::ParameterName, 'Bedrock authentication type; with accessKey the secret access key is the key')
            [CompletionResult]::new('--aws-region', '--aws-region', [CompletionResultType]::ParameterName, 'AWS region, e.g. us-east-1')
            [CompletionResult]::new('--aws-access-key-id-env', '--aws-access-key-id-env', [CompletionResultType]::ParameterName, 'AWS access key id (auth type accessKey), read from this environment variable')
            [CompletionResult]::new('--aws-access-key-id-file', '--aws-access-key-id-file', [CompletionResultType]::ParameterName, 'AWS access key id (auth type accessKey), read from this file')
            [CompletionResult]::new('--aws-role-arn', '--aws-role-arn', [CompletionResultType]::ParameterName, 'IAM role ARN to assume (auth type assumedRole)')
            [CompletionResult]::new('--aws-external-id', '--aws-external-id', [CompletionResultType]::ParameterName, 'External id for the assumed role')
            [CompletionResult]::new('--vertex-auth-type', '--vertex-auth-type', [CompletionResultType]::ParameterName, 'Vertex AI authentication type')
            [CompletionResult]::new('--vertex-region', '--vertex-region', [CompletionResultType]::ParameterName, 'Vertex AI region, e.g. us-central1')
            [CompletionResult]::new('--vertex-project-id', '--vertex-project-id', [CompletionResultType]::ParameterName, 'Google Cloud project id (auth type basic or workload)')
            [CompletionResult]::new('--vertex-service-account-file', '--vertex-service-account-file', [CompletionResultType]::ParameterName, 'Service account JSON file (auth type serviceAccount)')
            [CompletionResult]::new('--custom-host', '--custom-host', [CompletionResultType]::ParameterName, 'Base URL of a custom or self-hosted service (http or https)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)')
            [CompletionResult]::new('--header-env', '--header-env', [CompletionResultType]::ParameterName, 'Header whose value is read from an environment variable, NAME=VAR (repeatable)')
            [CompletionResult]::new('--header-file', '--header-file', [CompletionResultType]::ParameterName, 'Header whose value is read from a file, NAME=PATH (repeatable)')
            [CompletionResult]::new('--key-header', '--key-header', [CompletionResultType]::ParameterName, 'Custom service: send the key (--key-env/--key-stdin/--key-file) in this header instead of `Authorization: Bearer`')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Any other configuration setting, KEY=VALUE (repeatable; not for secrets)')
            [CompletionResult]::new('--config-env', '--config-env', [CompletionResultType]::ParameterName, 'A secret configuration setting read from an environment variable, KEY=VAR (repeatable)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--clear-description', '--clear-description', [CompletionResultType]::ParameterName, 'Remove the description')
            [CompletionResult]::new('--clear-price-multiplier', '--clear-price-multiplier', [CompletionResultType]::ParameterName, 'Remove the price multiplier')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('--clear-budget', '--clear-budget', [CompletionResultType]::ParameterName, 'Remove the budget')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;integrations;rotate-key' {
            [CompletionResult]::new('--key-env', '--key-env', [CompletionResultType]::ParameterName, 'Read the provider key from this environment variable')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Read the provider key from a file')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Refused: a secret in argv is visible in `ps` and shell history')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--key-stdin', '--key-stdin', [CompletionResultType]::ParameterName, 'Read the provider key from standard input')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;integrations;delete' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Also delete the AI providers that use it')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;integrations;workspaces' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;integrations;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List integrations')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one integration (secrets masked)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connect a provider: service, credentials, configuration, name and scope')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change an integration''s name, description, configuration or budget')
            [CompletionResult]::new('rotate-key', 'rotate-key', [CompletionResultType]::ParameterValue, 'Replace an integration''s provider key')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an integration (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('workspaces', 'workspaces', [CompletionResultType]::ParameterValue, 'Show which workspaces may use an integration, their limits, usage and next reset')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;integrations;help;list' {
            break
        }
        'catalog;integrations;help;get' {
            break
        }
        'catalog;integrations;help;connect' {
            break
        }
        'catalog;integrations;help;update' {
            break
        }
        'catalog;integrations;help;rotate-key' {
            break
        }
        'catalog;integrations;help;delete' {
            break
        }
        'catalog;integrations;help;workspaces' {
            break
        }
        'catalog;integrations;help;help' {
            break
        }
        'catalog;models' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('allow', 'allow', [CompletionResultType]::ParameterValue, 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)')
            [CompletionResult]::new('deny', 'deny', [CompletionResultType]::ParameterValue, 'Disable models on an integration')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a custom or fine-tuned model to an integration')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a custom model (a built-in model is disabled instead)')
            [CompletionResult]::new('price', 'price', [CompletionResultType]::ParameterValue, 'Override a model''s price (USD per 1M tokens), or --reset to the registry''s')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The Model Garden: every model a workspace can call; or one integration''s models with --integration')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One model''s details and ready-to-use code calling it')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Call a model through the gateway as a workspace would, and show what answered')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;models;allow' {
            [CompletionResult]::new('--only', '--only', [CompletionResultType]::ParameterName, 'Switch to an allow-list of exactly these models (comma-separated)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Enable every model of the service (turns the allow-list off)')
            [CompletionResult]::new('--custom', '--custom', [CompletionResultType]::ParameterName, 'Accept models the built-in registry does not know')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;models;deny' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;models;add' {
            [CompletionResult]::new('--base', '--base', [CompletionResultType]::ParameterName, 'The API-compatible model it is based on (its limits apply)')
            [CompletionResult]::new('--input-price', '--input-price', [CompletionResultType]::ParameterName, 'Input price, USD per 1M tokens')
            [CompletionResult]::new('--output-price', '--output-price', [CompletionResultType]::ParameterName, 'Output price, USD per 1M tokens')
            [CompletionResult]::new('--custom-host', '--custom-host', [CompletionResultType]::ParameterName, 'Where this model is served, if not the integration''s host')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)')
            [CompletionResult]::new('--header-env', '--header-env', [CompletionResultType]::ParameterName, 'Header whose value is read from an environment variable, NAME=VAR (repeatable)')
            [CompletionResult]::new('--header-file', '--header-file', [CompletionResultType]::ParameterName, 'Header whose value is read from a file, NAME=PATH (repeatable)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--finetune', '--finetune', [CompletionResultType]::ParameterName, 'A fine-tuned model (needs --base)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;models;remove' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;models;price' {
            [CompletionResult]::new('--input-price', '--input-price', [CompletionResultType]::ParameterName, 'Input price, USD per 1M tokens')
            [CompletionResult]::new('--output-price', '--output-price', [CompletionResultType]::ParameterName, 'Output price, USD per 1M tokens')
            [CompletionResult]::new('--cache-read-price', '--cache-read-price', [CompletionResultType]::ParameterName, 'Cached input price, USD per 1M tokens')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--custom', '--custom', [CompletionResultType]::ParameterName, 'Price a model the built-in registry does not know for the service')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'Drop the override and use the registry''s price again')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;models;list' {
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only this provider''s models (`@slug`)')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Only this service''s models (e.g. openai)')
            [CompletionResult]::new('--search', '--search', [CompletionResultType]::ParameterName, 'Only models whose id contains this text')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most this many models')
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'Instead: what is enabled on this integration, and why (combines with --search)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--include-deprecated', '--include-deprecated', [CompletionResultType]::ParameterName, 'Also show models past their deprecation date (marked as such)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;models;show' {
            [CompletionResult]::new('--snippet', '--snippet', [CompletionResultType]::ParameterName, 'Print ready-to-use code calling the model')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;models;test' {
            [CompletionResult]::new('--prompt', '--prompt', [CompletionResultType]::ParameterName, 'What to send (default: a short greeting)')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Most tokens the reply may have')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--stream', '--stream', [CompletionResultType]::ParameterName, 'Stream the reply as it is generated')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;models;help' {
            [CompletionResult]::new('allow', 'allow', [CompletionResultType]::ParameterValue, 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)')
            [CompletionResult]::new('deny', 'deny', [CompletionResultType]::ParameterValue, 'Disable models on an integration')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a custom or fine-tuned model to an integration')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a custom model (a built-in model is disabled instead)')
            [CompletionResult]::new('price', 'price', [CompletionResultType]::ParameterValue, 'Override a model''s price (USD per 1M tokens), or --reset to the registry''s')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The Model Garden: every model a workspace can call; or one integration''s models with --integration')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One model''s details and ready-to-use code calling it')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Call a model through the gateway as a workspace would, and show what answered')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;models;help;allow' {
            break
        }
        'catalog;models;help;deny' {
            break
        }
        'catalog;models;help;add' {
            break
        }
        'catalog;models;help;remove' {
            break
        }
        'catalog;models;help;price' {
            break
        }
        'catalog;models;help;list' {
            break
        }
        'catalog;models;help;show' {
            break
        }
        'catalog;models;help;test' {
            break
        }
        'catalog;models;help;help' {
            break
        }
        'catalog;providers' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List a workspace''s AI providers with their integration, status, budget and rate limit')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one AI provider')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an AI provider on an integration provisioned to the workspace')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change an AI provider''s name, note, limits or expiry')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an AI provider (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;providers;list' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;providers;get' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;providers;create' {
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'The integration it draws on (must be provisioned to the workspace)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Display name [default: the slug]')
            [CompletionResult]::new('--note', '--note', [CompletionResultType]::ParameterName, 'A note for other admins')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future')
            [CompletionResult]::new('--budget', '--budget', [CompletionResultType]::ParameterName, 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value')
            [CompletionResult]::new('--budget-type', '--budget-type', [CompletionResultType]::ParameterName, 'What the budget counts [default: cost, or the current type]')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)')
            [CompletionResult]::new('--alert', '--alert', [CompletionResultType]::ParameterName, 'Alert when usage reaches this amount (below the budget, same unit)')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;providers;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New display name')
            [CompletionResult]::new('--note', '--note', [CompletionResultType]::ParameterName, 'New note')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'New expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future')
            [CompletionResult]::new('--budget', '--budget', [CompletionResultType]::ParameterName, 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value')
            [CompletionResult]::new('--budget-type', '--budget-type', [CompletionResultType]::ParameterName, 'What the budget counts [default: cost, or the current type]')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)')
            [CompletionResult]::new('--alert', '--alert', [CompletionResultType]::ParameterName, 'Alert when usage reaches this amount (below the budget, same unit)')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--clear-note', '--clear-note', [CompletionResultType]::ParameterName, 'Remove the note')
            [CompletionResult]::new('--clear-expires', '--clear-expires', [CompletionResultType]::ParameterName, 'Remove the expiry')
            [CompletionResult]::new('--clear-budget', '--clear-budget', [CompletionResultType]::ParameterName, 'Remove the budget')
            [CompletionResult]::new('--clear-rate-limit', '--clear-rate-limit', [CompletionResultType]::ParameterName, 'Remove the rate limit')
            [CompletionResult]::new('--reset-usage', '--reset-usage', [CompletionResultType]::ParameterName, 'Zero the budget''s usage and start a fresh window')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;providers;delete' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;providers;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List a workspace''s AI providers with their integration, status, budget and rate limit')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one AI provider')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an AI provider on an integration provisioned to the workspace')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change an AI provider''s name, note, limits or expiry')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an AI provider (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;providers;help;list' {
            break
        }
        'catalog;providers;help;get' {
            break
        }
        'catalog;providers;help;create' {
            break
        }
        'catalog;providers;help;update' {
            break
        }
        'catalog;providers;help;delete' {
            break
        }
        'catalog;providers;help;help' {
            break
        }
        'catalog;configs' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List saved gateway configs (one workspace''s with --workspace)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one config with its current body')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Save a gateway config from a JSON file (`-` reads stdin)')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Rename a config, or replace its body (a new version)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a config and its versions (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('versions', 'versions', [CompletionResultType]::ParameterValue, 'List a config''s versions, newest first')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;configs;list' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;configs;get' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;configs;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Display name')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The config as a JSON file; `-` reads stdin')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--default', '--default', [CompletionResultType]::ParameterName, 'Make it the workspace''s default config')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;configs;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New display name')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The new config as a JSON file (`-` reads stdin); a changed config is a new version')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, '`archived` keeps the config but the gateway stops using it; `active` restores it')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--default', '--default', [CompletionResultType]::ParameterName, 'Make it the workspace''s default config')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;configs;delete' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the request that would be made and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;configs;versions' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;configs;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List saved gateway configs (one workspace''s with --workspace)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one config with its current body')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Save a gateway config from a JSON file (`-` reads stdin)')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Rename a config, or replace its body (a new version)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a config and its versions (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('versions', 'versions', [CompletionResultType]::ParameterValue, 'List a config''s versions, newest first')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;configs;help;list' {
            break
        }
        'catalog;configs;help;get' {
            break
        }
        'catalog;configs;help;create' {
            break
        }
        'catalog;configs;help;update' {
            break
        }
        'catalog;configs;help;delete' {
            break
        }
        'catalog;configs;help;versions' {
            break
        }
        'catalog;configs;help;help' {
            break
        }
        'catalog;org' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('settings', 'settings', [CompletionResultType]::ParameterValue, 'Show the organisation''s settings, or change them with flags')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;org;settings' {
            [CompletionResult]::new('--allow-workspace-integrations', '--allow-workspace-integrations', [CompletionResultType]::ParameterName, 'Whether workspace admins (workspace API keys) may create their own integrations')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;org;help' {
            [CompletionResult]::new('settings', 'settings', [CompletionResultType]::ParameterValue, 'Show the organisation''s settings, or change them with flags')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;org;help;settings' {
            break
        }
        'catalog;org;help;help' {
            break
        }
        'catalog;policies' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the policies in scope (one workspace''s with --workspace)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one policy, with its busiest value keys')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a policy''s name, limit, reset, alert or conditions')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('entities', 'entities', [CompletionResultType]::ParameterValue, 'A policy''s value keys with their usage, busiest first')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Start one value key of a usage-limit policy over')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;policies;list' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--archived', '--archived', [CompletionResultType]::ParameterName, 'Archived policies too')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;policies;get' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;policies;create' {
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'What it counts: cost (USD), tokens or requests [default: cost; requests with --rate]')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'A budget (usage-limit policy): USD, tokens or requests per group value')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'A rate limit (rate-limit policy) per group value: 100/min, 5000tokens/hour, 10/day')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'When the budget resets: weekly, monthly, none, or every N days (30d)')
            [CompletionResult]::new('--alert', '--alert', [CompletionResultType]::ParameterName, 'Alert when a group value''s usage reaches this amount')
            [CompletionResult]::new('--group-by', '--group-by', [CompletionResultType]::ParameterName, 'One counter per distinct value of KEY: api_key, workspace_id, provider, model, config or metadata.<key>; repeatable')
            [CompletionResult]::new('--when', '--when', [CompletionResultType]::ParameterName, 'Only requests whose KEY is VALUE (`*`: that have one); repeatable, all must hold')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;policies;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'A new name')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'A new budget (usage-limit policy)')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'A new rate (rate-limit policy): 100/min, 10/day')
            [CompletionResult]::new('--reset', '--reset', [CompletionResultType]::ParameterName, 'When the budget resets: weekly, monthly, none, or every N days (30d)')
            [CompletionResult]::new('--alert', '--alert', [CompletionResultType]::ParameterName, 'Alert at this amount')
            [CompletionResult]::new('--when', '--when', [CompletionResultType]::ParameterName, 'Replace the conditions (repeatable); `--when none` applies it to every request')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--clear-alert', '--clear-alert', [CompletionResultType]::ParameterName, 'Remove the alert')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;policies;delete' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;policies;entities' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--exhausted', '--exhausted', [CompletionResultType]::ParameterName, 'Only value keys whose counter is spent')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;policies;reset' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;policies;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the policies in scope (one workspace''s with --workspace)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one policy, with its busiest value keys')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a policy''s name, limit, reset, alert or conditions')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('entities', 'entities', [CompletionResultType]::ParameterValue, 'A policy''s value keys with their usage, busiest first')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Start one value key of a usage-limit policy over')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;policies;help;list' {
            break
        }
        'catalog;policies;help;get' {
            break
        }
        'catalog;policies;help;create' {
            break
        }
        'catalog;policies;help;update' {
            break
        }
        'catalog;policies;help;delete' {
            break
        }
        'catalog;policies;help;entities' {
            break
        }
        'catalog;policies;help;reset' {
            break
        }
        'catalog;policies;help;help' {
            break
        }
        'catalog;alerts' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List budget alerts, newest first')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;alerts;list' {
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Only alerts of this kind: the alert threshold crossed, or the limit reached')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only alerts raised at or after this time (2026-05-01, 2026-05-01T12:00:00Z, or 7d ago)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--undelivered', '--undelivered', [CompletionResultType]::ParameterName, 'Only alerts some webhook has not acknowledged yet (or that no webhook received)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;alerts;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List budget alerts, newest first')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;alerts;help;list' {
            break
        }
        'catalog;alerts;help;help' {
            break
        }
        'catalog;audit' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only changes at or after this time: an age (7d, 12h), a date or an RFC 3339 time')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only changes before this time: an age (7d, 12h), a date or an RFC 3339 time')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Only changes made with this API key (id or name), by the local CLI (`embedded`) or by the server itself (`system`)')
            [CompletionResult]::new('--object', '--object', [CompletionResultType]::ParameterName, 'Only changes to this object, as TYPE/NAME: workspaces/eng, integrations/azure-prod, providers/@openai-prod, virtual-keys/SLUG, api-keys/ID, configs/SLUG, policies/NAME, org/settings')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Only changes of this kind')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most this many records, newest first')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one change: who, when, the request, and each field before and after')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;audit;show' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;audit;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one change: who, when, the request, and each field before and after')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;audit;help;show' {
            break
        }
        'catalog;audit;help;help' {
            break
        }
        'catalog;api-keys' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List API keys (of one workspace with --workspace)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key; the key is shown once')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an API key (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;api-keys;list' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;api-keys;create' {
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'Organisation (admin) key, or a key pinned to the workspace given by --workspace')
            [CompletionResult]::new('--sub-type', '--sub-type', [CompletionResultType]::ParameterName, 'Service key, or a user key (needs --user-id)')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Scope granted to the key (repeatable), e.g. completions.write')
            [CompletionResult]::new('--user-id', '--user-id', [CompletionResultType]::ParameterName, 'User the key belongs to (user keys)')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'Description')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Write the new key to this file (0600) instead of standard output')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;api-keys;delete' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;api-keys;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List API keys (of one workspace with --workspace)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key; the key is shown once')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an API key (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;api-keys;help;list' {
            break
        }
        'catalog;api-keys;help;create' {
            break
        }
        'catalog;api-keys;help;delete' {
            break
        }
        'catalog;api-keys;help;help' {
            break
        }
        'catalog;migrate-vkeys' {
            [CompletionResult]::new('--rewrite-configs', '--rewrite-configs', [CompletionResultType]::ParameterName, 'Instead of migrating keys, rewrite these gateway config files (JSON) from `virtual_key: "x"` to `provider: "@x"`, showing the diff first')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--all-workspaces', '--all-workspaces', [CompletionResultType]::ParameterName, 'Migrate the keys of every workspace (the default when --workspace is not given)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the plan and write nothing')
            [CompletionResult]::new('--no-backup', '--no-backup', [CompletionResultType]::ParameterName, 'With --rewrite-configs: do not keep the original of each file as FILE.bak')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;check' {
            [CompletionResult]::new('--api-key-id', '--api-key-id', [CompletionResultType]::ParameterName, 'Also check this API key: that it belongs to the workspace, is live and may call models')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;usage' {
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'Only this integration''s limits: its own budget, its access for each workspace and the AI providers built on it')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'The limits a call through this AI provider counts at: its workspace, integration, access and itself (needs --workspace)')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Redraw every SECONDS (2 when not given) until interrupted; needs a terminal')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;export' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write the file here instead of stdout (YAML; JSON with `-o json`)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;plan' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'The catalog file (YAML or JSON; `-` reads stdin)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The catalog file (YAML or JSON; `-` reads stdin)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Save the plan, with a fingerprint of the live catalog, for `catalog apply PLAN`')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--prune', '--prune', [CompletionResultType]::ParameterName, 'Also delete what the live catalog has and the file does not mention')
            [CompletionResult]::new('--exit-code', '--exit-code', [CompletionResultType]::ParameterName, 'Exit 10 when the plan has changes or the live catalog holds objects the file does not mention (drift detection in CI); 0 when it matches the file')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;apply' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'The catalog file to plan and apply (YAML or JSON; `-` reads stdin)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The catalog file to plan and apply (YAML or JSON; `-` reads stdin)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--prune', '--prune', [CompletionResultType]::ParameterName, 'Also delete what the live catalog has and the file does not mention (asks, or `--yes`)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the plan and write nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;schema' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on (port 0 picks a free port)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: the embedded catalog''s database)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Run on PostgreSQL instead of a file (it takes precedence over --db): postgres://USER[:PASSWORD]@HOST[:PORT]/DB, over TLS with ?sslmode=verify-full&sslrootcert=FILE (as libpq). Several replicas may share one database; the master key must then be given (CATALOG_MASTER_KEY or --master-key-file), the same on every replica')
            [CompletionResult]::new('--redis-url', '--redis-url', [CompletionResultType]::ParameterName, 'Keep the admission counters replicas share (budgets, rate and concurrency limits) in Redis, redis://[:PASSWORD@]HOST[:PORT][/DB] (rediss:// over TLS); needs --database-url, and the same on every replica. Without it, replicas on one PostgreSQL still admit exactly, taking turns on the database')
            [CompletionResult]::new('--redis-ca-file', '--redis-ca-file', [CompletionResultType]::ParameterName, 'The root certificates (a PEM file) that signed the certificate of a rediss:// Redis, when no public root did')
            [CompletionResult]::new('--master-key-file', '--master-key-file', [CompletionResultType]::ParameterName, 'A file holding the base64 master key that seals provider secrets (instead of CATALOG_MASTER_KEY)')
            [CompletionResult]::new('--header-timeout', '--header-timeout', [CompletionResultType]::ParameterName, 'Time a client has to send a request''s headers before its connection is closed')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a connection with no request in flight and no traffic for this long')
            [CompletionResult]::new('--shutdown-timeout', '--shutdown-timeout', [CompletionResultType]::ParameterName, 'On SIGINT/SIGTERM, how long in-flight requests may take to finish')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Threads that answer requests [default: one fewer than the CPUs, at least one; the kernel''s network work and the catalog''s database writes keep the one left]')
            [CompletionResult]::new('--trusted-custom-host', '--trusted-custom-host', [CompletionResultType]::ParameterName, 'A private, loopback or internal upstream host the gateway may call when a `custom_host` names it (a self-hosted model server); repeatable')
            [CompletionResult]::new('--alert-webhook', '--alert-webhook', [CompletionResultType]::ParameterName, 'POST each budget alert as JSON to this http(s) URL, retrying until it answers 2xx; repeatable (the environment variable takes them comma-separated)')
            [CompletionResult]::new('--alert-backoff', '--alert-backoff', [CompletionResultType]::ParameterName, 'Retries of a failed alert delivery: the first wait, doubling up to the second')
            [CompletionResult]::new('--audit-retention', '--audit-retention', [CompletionResultType]::ParameterName, 'Delete audit records older than this (90d, 52w; at least 1h), checked hourly; each pruning is itself recorded. Without it, every record is kept')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;admin' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('rotate-master-key', 'rotate-master-key', [CompletionResultType]::ParameterValue, 'Re-seal every stored secret under a new master key, while servers keep running')
            [CompletionResult]::new('master-key', 'master-key', [CompletionResultType]::ParameterValue, 'The master key: where it lives and what it sealed')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;admin;rotate-master-key' {
            [CompletionResult]::new('--new-key-file', '--new-key-file', [CompletionResultType]::ParameterName, 'Read the new master key (base64 of 32 bytes) from this file')
            [CompletionResult]::new('--new-key-env', '--new-key-env', [CompletionResultType]::ParameterName, 'Read the new master key (base64 of 32 bytes) from this environment variable')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: the embedded catalog''s)')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Secrets re-sealed per write transaction')
            [CompletionResult]::new('--pause', '--pause', [CompletionResultType]::ParameterName, 'Wait this long between batches, leaving the database to other writers')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;admin;master-key' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;admin;master-key;status' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: the embedded catalog''s)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;admin;master-key;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;admin;master-key;help;status' {
            break
        }
        'catalog;admin;master-key;help;help' {
            break
        }
        'catalog;admin;help' {
            [CompletionResult]::new('rotate-master-key', 'rotate-master-key', [CompletionResultType]::ParameterValue, 'Re-seal every stored secret under a new master key, while servers keep running')
            [CompletionResult]::new('master-key', 'master-key', [CompletionResultType]::ParameterValue, 'The master key: where it lives and what it sealed')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;admin;help;rotate-master-key' {
            break
        }
        'catalog;admin;help;master-key' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed')
            break
        }
        'catalog;admin;help;master-key;status' {
            break
        }
        'catalog;admin;help;help' {
            break
        }
        'catalog;db' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;db;copy' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The catalog''s SQLite file')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The empty PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;db;help' {
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;db;help;copy' {
            break
        }
        'catalog;db;help;help' {
            break
        }
        'catalog;completion' {
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile to use (a stored server and key)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)')
            [CompletionResult]::new('--workspace', '--workspace', [CompletionResultType]::ParameterName, 'Workspace (id, slug or name) for commands that act in one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--static', '--static', [CompletionResultType]::ParameterName, 'A static script (commands and flags only) instead of the dynamic one that also completes workspace and integration slugs by asking `catalog` at each TAB')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Assume yes for confirmations (needed for destructive commands without a terminal)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; a missing value is an error naming its flag')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Silence status messages on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print requests and raw error bodies on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'catalog;help' {
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Log in to a catalog server, show or remove stored credentials')
            [CompletionResult]::new('workspaces', 'workspaces', [CompletionResultType]::ParameterValue, 'Workspaces: teams and environments that use integrations')
            [CompletionResult]::new('integrations', 'integrations', [CompletionResultType]::ParameterValue, 'Integrations: provider credentials stored once for the organisation')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'Models: allow-lists, custom models and prices, and the Model Garden')
            [CompletionResult]::new('providers', 'providers', [CompletionResultType]::ParameterValue, 'AI providers: integrations made callable in a workspace as `@slug/model`')
            [CompletionResult]::new('configs', 'configs', [CompletionResultType]::ParameterValue, 'Saved gateway configs: routing, fallbacks and retries sent as `x-portkey-config`')
            [CompletionResult]::new('org', 'org', [CompletionResultType]::ParameterValue, 'Organisation-wide settings')
            [CompletionResult]::new('policies', 'policies', [CompletionResultType]::ParameterValue, 'Usage-limit and rate-limit policies: budgets per user, per model, per metadata value')
            [CompletionResult]::new('alerts', 'alerts', [CompletionResultType]::ParameterValue, 'Budget alerts: alert thresholds crossed and limits reached, and their delivery')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'The changes made through the Admin API: who changed what, when, from what')
            [CompletionResult]::new('api-keys', 'api-keys', [CompletionResultType]::ParameterValue, 'API keys for the Admin API and the gateway')
            [CompletionResult]::new('migrate-vkeys', 'migrate-vkeys', [CompletionResultType]::ParameterValue, 'Migrate legacy virtual keys to integrations and AI providers with the same slugs')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Explain whether a workspace can call a model, step by step (no call is made)')
            [CompletionResult]::new('usage', 'usage', [CompletionResultType]::ParameterValue, 'Every budget, rate limit and concurrency limit in scope with its live usage')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the live catalog as a catalog file (YAML, or JSON with `-o json`)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what applying a catalog file would change (`--exit-code` for drift detection)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply a catalog file (`-f FILE`) or exactly a saved plan (`PLAN`)')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of the catalog file')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the catalog''s Admin API and gateway over HTTP for a team')
            [CompletionResult]::new('admin', 'admin', [CompletionResultType]::ParameterValue, 'Operations on the catalog''s database file: master-key status and rotation')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'The catalog''s database as a whole: copy a catalog file to PostgreSQL')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'catalog;help;auth' {
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Check an API key against a server and store it for a profile')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the profile, the server and which credential source is used')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove a profile and its stored key')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a profile current (or `embedded`: the embedded catalog)')
            break
        }
        'catalog;help;auth;login' {
            break
        }
        'catalog;help;auth;status' {
            break
        }
        'catalog;help;auth;logout' {
            break
        }
        'catalog;help;auth;use' {
            break
        }
        'catalog;help;workspaces' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List workspaces')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one workspace')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a workspace')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a workspace''s name, description or metadata')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a workspace (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('provision', 'provision', [CompletionResultType]::ParameterValue, 'Give workspaces access to an integration, with budgets and rate limits')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Take an integration away from workspaces (their providers are disabled)')
            break
        }
        'catalog;help;workspaces;list' {
            break
        }
        'catalog;help;workspaces;get' {
            break
        }
        'catalog;help;workspaces;create' {
            break
        }
        'catalog;help;workspaces;update' {
            break
        }
        'catalog;help;workspaces;delete' {
            break
        }
        'catalog;help;workspaces;provision' {
            break
        }
        'catalog;help;workspaces;revoke' {
            break
        }
        'catalog;help;integrations' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List integrations')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one integration (secrets masked)')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Connect a provider: service, credentials, configuration, name and scope')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change an integration''s name, description, configuration or budget')
            [CompletionResult]::new('rotate-key', 'rotate-key', [CompletionResultType]::ParameterValue, 'Replace an integration''s provider key')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an integration (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('workspaces', 'workspaces', [CompletionResultType]::ParameterValue, 'Show which workspaces may use an integration, their limits, usage and next reset')
            break
        }
        'catalog;help;integrations;list' {
            break
        }
        'catalog;help;integrations;get' {
            break
        }
        'catalog;help;integrations;connect' {
            break
        }
        'catalog;help;integrations;update' {
            break
        }
        'catalog;help;integrations;rotate-key' {
            break
        }
        'catalog;help;integrations;delete' {
            break
        }
        'catalog;help;integrations;workspaces' {
            break
        }
        'catalog;help;models' {
            [CompletionResult]::new('allow', 'allow', [CompletionResultType]::ParameterValue, 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)')
            [CompletionResult]::new('deny', 'deny', [CompletionResultType]::ParameterValue, 'Disable models on an integration')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a custom or fine-tuned model to an integration')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a custom model (a built-in model is disabled instead)')
            [CompletionResult]::new('price', 'price', [CompletionResultType]::ParameterValue, 'Override a model''s price (USD per 1M tokens), or --reset to the registry''s')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The Model Garden: every model a workspace can call; or one integration''s models with --integration')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'One model''s details and ready-to-use code calling it')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Call a model through the gateway as a workspace would, and show what answered')
            break
        }
        'catalog;help;models;allow' {
            break
        }
        'catalog;help;models;deny' {
            break
        }
        'catalog;help;models;add' {
            break
        }
        'catalog;help;models;remove' {
            break
        }
        'catalog;help;models;price' {
            break
        }
        'catalog;help;models;list' {
            break
        }
        'catalog;help;models;show' {
            break
        }
        'catalog;help;models;test' {
            break
        }
        'catalog;help;providers' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List a workspace''s AI providers with their integration, status, budget and rate limit')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one AI provider')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an AI provider on an integration provisioned to the workspace')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change an AI provider''s name, note, limits or expiry')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an AI provider (asks for confirmation, or pass --yes)')
            break
        }
        'catalog;help;providers;list' {
            break
        }
        'catalog;help;providers;get' {
            break
        }
        'catalog;help;providers;create' {
            break
        }
        'catalog;help;providers;update' {
            break
        }
        'catalog;help;providers;delete' {
            break
        }
        'catalog;help;configs' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List saved gateway configs (one workspace''s with --workspace)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one config with its current body')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Save a gateway config from a JSON file (`-` reads stdin)')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Rename a config, or replace its body (a new version)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a config and its versions (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('versions', 'versions', [CompletionResultType]::ParameterValue, 'List a config''s versions, newest first')
            break
        }
        'catalog;help;configs;list' {
            break
        }
        'catalog;help;configs;get' {
            break
        }
        'catalog;help;configs;create' {
            break
        }
        'catalog;help;configs;update' {
            break
        }
        'catalog;help;configs;delete' {
            break
        }
        'catalog;help;configs;versions' {
            break
        }
        'catalog;help;org' {
            [CompletionResult]::new('settings', 'settings', [CompletionResultType]::ParameterValue, 'Show the organisation''s settings, or change them with flags')
            break
        }
        'catalog;help;org;settings' {
            break
        }
        'catalog;help;policies' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the policies in scope (one workspace''s with --workspace)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Show one policy, with its busiest value keys')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a policy''s name, limit, reset, alert or conditions')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)')
            [CompletionResult]::new('entities', 'entities', [CompletionResultType]::ParameterValue, 'A policy''s value keys with their usage, busiest first')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Start one value key of a usage-limit policy over')
            break
        }
        'catalog;help;policies;list' {
            break
        }
        'catalog;help;policies;get' {
            break
        }
        'catalog;help;policies;create' {
            break
        }
        'catalog;help;policies;update' {
            break
        }
        'catalog;help;policies;delete' {
            break
        }
        'catalog;help;policies;entities' {
            break
        }
        'catalog;help;policies;reset' {
            break
        }
        'catalog;help;alerts' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List budget alerts, newest first')
            break
        }
        'catalog;help;alerts;list' {
            break
        }
        'catalog;help;audit' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one change: who, when, the request, and each field before and after')
            break
        }
        'catalog;help;audit;show' {
            break
        }
        'catalog;help;api-keys' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List API keys (of one workspace with --workspace)')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key; the key is shown once')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an API key (asks for confirmation, or pass --yes)')
            break
        }
        'catalog;help;api-keys;list' {
            break
        }
        'catalog;help;api-keys;create' {
            break
        }
        'catalog;help;api-keys;delete' {
            break
        }
        'catalog;help;migrate-vkeys' {
            break
        }
        'catalog;help;check' {
            break
        }
        'catalog;help;usage' {
            break
        }
        'catalog;help;export' {
            break
        }
        'catalog;help;plan' {
            break
        }
        'catalog;help;apply' {
            break
        }
        'catalog;help;schema' {
            break
        }
        'catalog;help;serve' {
            break
        }
        'catalog;help;admin' {
            [CompletionResult]::new('rotate-master-key', 'rotate-master-key', [CompletionResultType]::ParameterValue, 'Re-seal every stored secret under a new master key, while servers keep running')
            [CompletionResult]::new('master-key', 'master-key', [CompletionResultType]::ParameterValue, 'The master key: where it lives and what it sealed')
            break
        }
        'catalog;help;admin;rotate-master-key' {
            break
        }
        'catalog;help;admin;master-key' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed')
            break
        }
        'catalog;help;admin;master-key;status' {
            break
        }
        'catalog;help;db' {
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log')
            break
        }
        'catalog;help;db;copy' {
            break
        }
        'catalog;help;completion' {
            break
        }
        'catalog;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
