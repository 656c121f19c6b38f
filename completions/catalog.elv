
use builtin;
use str;

set edit:completion:arg-completer[catalog] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'catalog'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'catalog'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand auth 'Log in to a catalog server, show or remove stored credentials'
            cand workspaces 'Workspaces: teams and environments that use integrations'
            cand integrations 'Integrations: provider credentials stored once for the organisation'
            cand models 'Models: allow-lists, custom models and prices, and the Model Garden'
            cand providers 'AI providers: integrations made callable in a workspace as `@slug/model`'
            cand configs 'Saved gateway configs: routing, fallbacks and retries sent as `x-portkey-config`'
            cand org 'Organisation-wide settings'
            cand policies 'Usage-limit and rate-limit policies: budgets per user, per model, per metadata value'
            cand alerts 'Budget alerts: alert thresholds crossed and limits reached, and their delivery'
            cand audit 'The changes made through the Admin API: who changed what, when, from what'
            cand api-keys 'API keys for the Admin API and the gateway'
            cand migrate-vkeys 'Migrate legacy virtual keys to integrations and AI providers with the same slugs'
            cand check 'Explain whether a workspace can call a model, step by step (no call is made)'
            cand usage 'Every budget, rate limit and concurrency limit in scope with its live usage'
            cand export 'Write the live catalog as a catalog file (YAML, or JSON with `-o json`)'
            cand plan 'Show what applying a catalog file would change (`--exit-code` for drift detection)'
            cand apply 'Apply a catalog file (`-f FILE`) or exactly a saved plan (`PLAN`)'
            cand schema 'Print the JSON Schema of the catalog file'
            cand serve 'Serve the catalog''s Admin API and gateway over HTTP for a team'
            cand admin 'Operations on the catalog''s database file: master-key status and rotation'
            cand db 'The catalog''s database as a whole: copy a catalog file to PostgreSQL'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;auth'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand login 'Check an API key against a server and store it for a profile'
            cand status 'Show the profile, the server and which credential source is used'
            cand logout 'Remove a profile and its stored key'
            cand use 'Make a profile current (or `embedded`: the embedded catalog)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;auth;login'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --api-key-stdin 'Read the API key from standard input (otherwise a hidden prompt)'
            cand --insecure-storage 'Store the key in a 0600 file instead of the OS keyring'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;auth;status'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;auth;logout'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;auth;use'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;auth;help'= {
            cand login 'Check an API key against a server and store it for a profile'
            cand status 'Show the profile, the server and which credential source is used'
            cand logout 'Remove a profile and its stored key'
            cand use 'Make a profile current (or `embedded`: the embedded catalog)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;auth;help;login'= {
        }
        &'catalog;auth;help;status'= {
        }
        &'catalog;auth;help;logout'= {
        }
        &'catalog;auth;help;use'= {
        }
        &'catalog;auth;help;help'= {
        }
        &'catalog;workspaces'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List workspaces'
            cand get 'Show one workspace'
            cand create 'Create a workspace'
            cand update 'Change a workspace''s name, description or metadata'
            cand delete 'Delete a workspace (asks for confirmation, or pass --yes)'
            cand provision 'Give workspaces access to an integration, with budgets and rate limits'
            cand revoke 'Take an integration away from workspaces (their providers are disabled)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;workspaces;list'= {
            cand --name 'Only workspaces whose name contains this text'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;workspaces;get'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;workspaces;create'= {
            cand --description 'Description'
            cand --metadata 'Default request metadata, KEY=VALUE (repeatable)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --if-not-exists 'When a workspace with this name exists, print it and succeed instead of failing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;workspaces;update'= {
            cand --name 'New name'
            cand --description 'New description'
            cand --metadata 'Replace the default metadata with these KEY=VALUE pairs (repeatable)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --clear-description 'Remove the description'
            cand --clear-metadata 'Remove the default metadata'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;workspaces;delete'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --force 'Also delete what depends on it (workspace integrations, API keys)'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;workspaces;provision'= {
            cand --integration 'The integration to provision'
            cand --budget 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value'
            cand --budget-type 'What the budget counts [default: cost, or the current type]'
            cand --reset 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)'
            cand --alert 'Alert when usage reaches this amount (below the budget, same unit)'
            cand --rate-limit 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it'
            cand --concurrency 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it'
            cand --provider-slug 'Slug of the AI provider created in each newly provisioned workspace [default: the integration''s slug]'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --all 'Every existing workspace'
            cand --new-workspaces 'Also provision workspaces created later, with the same limits'
            cand --no-new-workspaces 'Stop provisioning workspaces created later (access already given stays)'
            cand --reset-usage 'Zero the usage of the budgets of these workspaces'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;workspaces;revoke'= {
            cand --integration 'The integration'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;workspaces;help'= {
            cand list 'List workspaces'
            cand get 'Show one workspace'
            cand create 'Create a workspace'
            cand update 'Change a workspace''s name, description or metadata'
            cand delete 'Delete a workspace (asks for confirmation, or pass --yes)'
            cand provision 'Give workspaces access to an integration, with budgets and rate limits'
            cand revoke 'Take an integration away from workspaces (their providers are disabled)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;workspaces;help;list'= {
        }
        &'catalog;workspaces;help;get'= {
        }
        &'catalog;workspaces;help;create'= {
        }
        &'catalog;workspaces;help;update'= {
        }
        &'catalog;workspaces;help;delete'= {
        }
        &'catalog;workspaces;help;provision'= {
        }
        &'catalog;workspaces;help;revoke'= {
        }
        &'catalog;workspaces;help;help'= {
        }
        &'catalog;integrations'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List integrations'
            cand get 'Show one integration (secrets masked)'
            cand connect 'Connect a provider: service, credentials, configuration, name and scope'
            cand update 'Change an integration''s name, description, configuration or budget'
            cand rotate-key 'Replace an integration''s provider key'
            cand delete 'Delete an integration (asks for confirmation, or pass --yes)'
            cand workspaces 'Show which workspaces may use an integration, their limits, usage and next reset'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;integrations;list'= {
            cand --type 'Which integrations: organisation-level, workspace-level, or all'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;integrations;get'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;integrations;connect'= {
            cand --service 'Provider service'
            cand --name 'Display name (default: the slug)'
            cand --description 'Description'
            cand --key-env 'Read the provider key from this environment variable'
            cand --key-file 'Read the provider key from a file'
            cand --key 'Refused: a secret in argv is visible in `ps` and shell history'
            cand --openai-organization 'OpenAI organization id'
            cand --openai-project 'OpenAI project id'
            cand --azure-resource-name 'Azure OpenAI resource name'
            cand --azure-auth-mode 'Azure authentication mode'
            cand --azure-deployment 'Azure deployment: name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default] (repeatable)'
            cand --azure-entra-tenant-id 'Entra tenant id (azure auth mode entra/entraFederated)'
            cand --azure-entra-client-id 'Entra client id (azure auth mode entra/entraFederated); the client secret is the key'
            cand --azure-managed-client-id 'Managed identity client id (azure auth mode managed)'
            cand --azure-workload-tenant-id 'Workload identity tenant id (azure auth mode workload)'
            cand --azure-workload-client-id 'Workload identity client id (azure auth mode workload)'
            cand --aws-auth-type 'Bedrock authentication type; with accessKey the secret access key is the key'
            cand --aws-region 'AWS region, e.g. us-east-1'
            cand --aws-access-key-id-env 'AWS access key id (auth type accessKey), read from this environment variable'
            cand --aws-access-key-id-file 'AWS access key id (auth type accessKey), read from this file'
            cand --aws-role-arn 'IAM role ARN to assume (auth type assumedRole)'
            cand --aws-external-id 'External id for the assumed role'
            cand --vertex-auth-type 'Vertex AI authentication type'
            cand --vertex-region 'Vertex AI region, e.g. us-central1'
            cand --vertex-project-id 'Google Cloud project id (auth type basic or workload)'
            cand --vertex-service-account-file 'Service account JSON file (auth type serviceAccount)'
            cand --custom-host 'Base URL of a custom or self-hosted service (http or https)'
            cand --header 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)'
            cand --header-env 'Header whose value is read from an environment variable, NAME=VAR (repeatable)'
            cand --header-file 'Header whose value is read from a file, NAME=PATH (repeatable)'
            cand --key-header 'Custom service: send the key (--key-env/--key-stdin/--key-file) in this header instead of `Authorization: Bearer`'
            cand --config 'Any other configuration setting, KEY=VALUE (repeatable; not for secrets)'
            cand --config-env 'A secret configuration setting read from an environment variable, KEY=VAR (repeatable)'
            cand --provision 'Step 2: provision these workspaces (id, slug or name; repeatable)'
            cand --budget 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value'
            cand --budget-type 'What the budget counts [default: cost, or the current type]'
            cand --reset 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)'
            cand --alert 'Alert when usage reaches this amount (below the budget, same unit)'
            cand --rate-limit 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it'
            cand --concurrency 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it'
            cand --models 'Step 3: enable only these models (comma-separated or repeated): an allow-list'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --key-stdin 'Read the provider key from standard input'
            cand --provision-all 'Step 2: provision every existing workspace'
            cand --new-workspaces 'Step 2: also provision workspaces created later'
            cand --no-new-workspaces 'Step 2: stop provisioning workspaces created later'
            cand --skip-provisioning 'Skip step 2 (workspace provisioning)'
            cand --all-models 'Step 3: enable every model of the service'
            cand --custom-models 'Step 3: accept model ids the built-in registry does not know'
            cand --skip-models 'Skip step 3 (model provisioning)'
            cand --dry-run 'Show the requests that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;integrations;update'= {
            cand --name 'New display name'
            cand --description 'New description'
            cand --price-multiplier 'Multiply every price of this integration''s models (0.8 = a negotiated 20% discount)'
            cand --remove-azure-deployment 'Remove the Azure deployment with this alias (or model, or deployment name); repeatable'
            cand --budget 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value'
            cand --budget-type 'What the budget counts [default: cost, or the current type]'
            cand --reset 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)'
            cand --alert 'Alert when usage reaches this amount (below the budget, same unit)'
            cand --openai-organization 'OpenAI organization id'
            cand --openai-project 'OpenAI project id'
            cand --azure-resource-name 'Azure OpenAI resource name'
            cand --azure-auth-mode 'Azure authentication mode'
            cand --azure-deployment 'Azure deployment: name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default] (repeatable)'
            cand --azure-entra-tenant-id 'Entra tenant id (azure auth mode entra/entraFederated)'
            cand --azure-entra-client-id 'Entra client id (azure auth mode entra/entraFederated); the client secret is the key'
            cand --azure-managed-client-id 'Managed identity client id (azure auth mode managed)'
            cand --azure-workload-tenant-id 'Workload identity tenant id (azure auth mode workload)'
            cand --azure-workload-client-id 'Workload identity client id (azure auth mode workload)'
            cand --aws-auth-type 'Bedrock authentication type; with accessKey the secret access key is the key'
            cand --aws-region 'AWS region, e.g. us-east-1'
            cand --aws-access-key-id-env 'AWS access key id (auth type accessKey), read from this environment variable'
            cand --aws-access-key-id-file 'AWS access key id (auth type accessKey), read from this file'
            cand --aws-role-arn 'IAM role ARN to assume (auth type assumedRole)'
            cand --aws-external-id 'External id for the assumed role'
            cand --vertex-auth-type 'Vertex AI authentication type'
            cand --vertex-region 'Vertex AI region, e.g. us-central1'
            cand --vertex-project-id 'Google Cloud project id (auth type basic or workload)'
            cand --vertex-service-account-file 'Service account JSON file (auth type serviceAccount)'
            cand --custom-host 'Base URL of a custom or self-hosted service (http or https)'
            cand --header 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)'
            cand --header-env 'Header whose value is read from an environment variable, NAME=VAR (repeatable)'
            cand --header-file 'Header whose value is read from a file, NAME=PATH (repeatable)'
            cand --key-header 'Custom service: send the key (--key-env/--key-stdin/--key-file) in this header instead of `Authorization: Bearer`'
            cand --config 'Any other configuration setting, KEY=VALUE (repeatable; not for secrets)'
            cand --config-env 'A secret configuration setting read from an environment variable, KEY=VAR (repeatable)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --clear-description 'Remove the description'
            cand --clear-price-multiplier 'Remove the price multiplier'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand --clear-budget 'Remove the budget'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;integrations;rotate-key'= {
            cand --key-env 'Read the provider key from this environment variable'
            cand --key-file 'Read the provider key from a file'
            cand --key 'Refused: a secret in argv is visible in `ps` and shell history'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --key-stdin 'Read the provider key from standard input'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;integrations;delete'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --force 'Also delete the AI providers that use it'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;integrations;workspaces'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;integrations;help'= {
            cand list 'List integrations'
            cand get 'Show one integration (secrets masked)'
            cand connect 'Connect a provider: service, credentials, configuration, name and scope'
            cand update 'Change an integration''s name, description, configuration or budget'
            cand rotate-key 'Replace an integration''s provider key'
            cand delete 'Delete an integration (asks for confirmation, or pass --yes)'
            cand workspaces 'Show which workspaces may use an integration, their limits, usage and next reset'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;integrations;help;list'= {
        }
        &'catalog;integrations;help;get'= {
        }
        &'catalog;integrations;help;connect'= {
        }
        &'catalog;integrations;help;update'= {
        }
        &'catalog;integrations;help;rotate-key'= {
        }
        &'catalog;integrations;help;delete'= {
        }
        &'catalog;integrations;help;workspaces'= {
        }
        &'catalog;integrations;help;help'= {
        }
        &'catalog;models'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand allow 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)'
            cand deny 'Disable models on an integration'
            cand add 'Add a custom or fine-tuned model to an integration'
            cand remove 'Remove a custom model (a built-in model is disabled instead)'
            cand price 'Override a model''s price (USD per 1M tokens), or --reset to the registry''s'
            cand list 'The Model Garden: every model a workspace can call; or one integration''s models with --integration'
            cand show 'One model''s details and ready-to-use code calling it'
            cand test 'Call a model through the gateway as a workspace would, and show what answered'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;models;allow'= {
            cand --only 'Switch to an allow-list of exactly these models (comma-separated)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --all 'Enable every model of the service (turns the allow-list off)'
            cand --custom 'Accept models the built-in registry does not know'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;models;deny'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;models;add'= {
            cand --base 'The API-compatible model it is based on (its limits apply)'
            cand --input-price 'Input price, USD per 1M tokens'
            cand --output-price 'Output price, USD per 1M tokens'
            cand --custom-host 'Where this model is served, if not the integration''s host'
            cand --header 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)'
            cand --header-env 'Header whose value is read from an environment variable, NAME=VAR (repeatable)'
            cand --header-file 'Header whose value is read from a file, NAME=PATH (repeatable)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --finetune 'A fine-tuned model (needs --base)'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;models;remove'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;models;price'= {
            cand --input-price 'Input price, USD per 1M tokens'
            cand --output-price 'Output price, USD per 1M tokens'
            cand --cache-read-price 'Cached input price, USD per 1M tokens'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --custom 'Price a model the built-in registry does not know for the service'
            cand --reset 'Drop the override and use the registry''s price again'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;models;list'= {
            cand --provider 'Only this provider''s models (`@slug`)'
            cand --service 'Only this service''s models (e.g. openai)'
            cand --search 'Only models whose id contains this text'
            cand --limit 'Show at most this many models'
            cand --integration 'Instead: what is enabled on this integration, and why (combines with --search)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --include-deprecated 'Also show models past their deprecation date (marked as such)'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;models;show'= {
            cand --snippet 'Print ready-to-use code calling the model'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;models;test'= {
            cand --prompt 'What to send (default: a short greeting)'
            cand --max-tokens 'Most tokens the reply may have'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --stream 'Stream the reply as it is generated'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;models;help'= {
            cand allow 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)'
            cand deny 'Disable models on an integration'
            cand add 'Add a custom or fine-tuned model to an integration'
            cand remove 'Remove a custom model (a built-in model is disabled instead)'
            cand price 'Override a model''s price (USD per 1M tokens), or --reset to the registry''s'
            cand list 'The Model Garden: every model a workspace can call; or one integration''s models with --integration'
            cand show 'One model''s details and ready-to-use code calling it'
            cand test 'Call a model through the gateway as a workspace would, and show what answered'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;models;help;allow'= {
        }
        &'catalog;models;help;deny'= {
        }
        &'catalog;models;help;add'= {
        }
        &'catalog;models;help;remove'= {
        }
        &'catalog;models;help;price'= {
        }
        &'catalog;models;help;list'= {
        }
        &'catalog;models;help;show'= {
        }
        &'catalog;models;help;test'= {
        }
        &'catalog;models;help;help'= {
        }
        &'catalog;providers'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List a workspace''s AI providers with their integration, status, budget and rate limit'
            cand get 'Show one AI provider'
            cand create 'Create an AI provider on an integration provisioned to the workspace'
            cand update 'Change an AI provider''s name, note, limits or expiry'
            cand delete 'Delete an AI provider (asks for confirmation, or pass --yes)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;providers;list'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;providers;get'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;providers;create'= {
            cand --integration 'The integration it draws on (must be provisioned to the workspace)'
            cand --name 'Display name [default: the slug]'
            cand --note 'A note for other admins'
            cand --expires 'Expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future'
            cand --budget 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value'
            cand --budget-type 'What the budget counts [default: cost, or the current type]'
            cand --reset 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)'
            cand --alert 'Alert when usage reaches this amount (below the budget, same unit)'
            cand --rate-limit 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it'
            cand --concurrency 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;providers;update'= {
            cand --name 'New display name'
            cand --note 'New note'
            cand --expires 'New expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future'
            cand --budget 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value'
            cand --budget-type 'What the budget counts [default: cost, or the current type]'
            cand --reset 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)'
            cand --alert 'Alert when usage reaches this amount (below the budget, same unit)'
            cand --rate-limit 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it'
            cand --concurrency 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --clear-note 'Remove the note'
            cand --clear-expires 'Remove the expiry'
            cand --clear-budget 'Remove the budget'
            cand --clear-rate-limit 'Remove the rate limit'
            cand --reset-usage 'Zero the budget''s usage and start a fresh window'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;providers;delete'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;providers;help'= {
            cand list 'List a workspace''s AI providers with their integration, status, budget and rate limit'
            cand get 'Show one AI provider'
            cand create 'Create an AI provider on an integration provisioned to the workspace'
            cand update 'Change an AI provider''s name, note, limits or expiry'
            cand delete 'Delete an AI provider (asks for confirmation, or pass --yes)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;providers;help;list'= {
        }
        &'catalog;providers;help;get'= {
        }
        &'catalog;providers;help;create'= {
        }
        &'catalog;providers;help;update'= {
        }
        &'catalog;providers;help;delete'= {
        }
        &'catalog;providers;help;help'= {
        }
        &'catalog;configs'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List saved gateway configs (one workspace''s with --workspace)'
            cand get 'Show one config with its current body'
            cand create 'Save a gateway config from a JSON file (`-` reads stdin)'
            cand update 'Rename a config, or replace its body (a new version)'
            cand delete 'Delete a config and its versions (asks for confirmation, or pass --yes)'
            cand versions 'List a config''s versions, newest first'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;configs;list'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;configs;get'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;configs;create'= {
            cand --name 'Display name'
            cand --file 'The config as a JSON file; `-` reads stdin'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --default 'Make it the workspace''s default config'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;configs;update'= {
            cand --name 'New display name'
            cand --file 'The new config as a JSON file (`-` reads stdin); a changed config is a new version'
            cand --status '`archived` keeps the config but the gateway stops using it; `active` restores it'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --default 'Make it the workspace''s default config'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;configs;delete'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --dry-run 'Show the request that would be made and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;configs;versions'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;configs;help'= {
            cand list 'List saved gateway configs (one workspace''s with --workspace)'
            cand get 'Show one config with its current body'
            cand create 'Save a gateway config from a JSON file (`-` reads stdin)'
            cand update 'Rename a config, or replace its body (a new version)'
            cand delete 'Delete a config and its versions (asks for confirmation, or pass --yes)'
            cand versions 'List a config''s versions, newest first'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;configs;help;list'= {
        }
        &'catalog;configs;help;get'= {
        }
        &'catalog;configs;help;create'= {
        }
        &'catalog;configs;help;update'= {
        }
        &'catalog;configs;help;delete'= {
        }
        &'catalog;configs;help;versions'= {
        }
        &'catalog;configs;help;help'= {
        }
        &'catalog;org'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand settings 'Show the organisation''s settings, or change them with flags'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;org;settings'= {
            cand --allow-workspace-integrations 'Whether workspace admins (workspace API keys) may create their own integrations'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;org;help'= {
            cand settings 'Show the organisation''s settings, or change them with flags'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;org;help;settings'= {
        }
        &'catalog;org;help;help'= {
        }
        &'catalog;policies'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the policies in scope (one workspace''s with --workspace)'
            cand get 'Show one policy, with its busiest value keys'
            cand create 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)'
            cand update 'Change a policy''s name, limit, reset, alert or conditions'
            cand delete 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)'
            cand entities 'A policy''s value keys with their usage, busiest first'
            cand reset 'Start one value key of a usage-limit policy over'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;policies;list'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --archived 'Archived policies too'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;policies;get'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;policies;create'= {
            cand --type 'What it counts: cost (USD), tokens or requests [default: cost; requests with --rate]'
            cand --limit 'A budget (usage-limit policy): USD, tokens or requests per group value'
            cand --rate 'A rate limit (rate-limit policy) per group value: 100/min, 5000tokens/hour, 10/day'
            cand --reset 'When the budget resets: weekly, monthly, none, or every N days (30d)'
            cand --alert 'Alert when a group value''s usage reaches this amount'
            cand --group-by 'One counter per distinct value of KEY: api_key, workspace_id, provider, model, config or metadata.<key>; repeatable'
            cand --when 'Only requests whose KEY is VALUE (`*`: that have one); repeatable, all must hold'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;policies;update'= {
            cand --name 'A new name'
            cand --limit 'A new budget (usage-limit policy)'
            cand --rate 'A new rate (rate-limit policy): 100/min, 10/day'
            cand --reset 'When the budget resets: weekly, monthly, none, or every N days (30d)'
            cand --alert 'Alert at this amount'
            cand --when 'Replace the conditions (repeatable); `--when none` applies it to every request'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --clear-alert 'Remove the alert'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;policies;delete'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;policies;entities'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --exhausted 'Only value keys whose counter is spent'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;policies;reset'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;policies;help'= {
            cand list 'List the policies in scope (one workspace''s with --workspace)'
            cand get 'Show one policy, with its busiest value keys'
            cand create 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)'
            cand update 'Change a policy''s name, limit, reset, alert or conditions'
            cand delete 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)'
            cand entities 'A policy''s value keys with their usage, busiest first'
            cand reset 'Start one value key of a usage-limit policy over'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;policies;help;list'= {
        }
        &'catalog;policies;help;get'= {
        }
        &'catalog;policies;help;create'= {
        }
        &'catalog;policies;help;update'= {
        }
        &'catalog;policies;help;delete'= {
        }
        &'catalog;policies;help;entities'= {
        }
        &'catalog;policies;help;reset'= {
        }
        &'catalog;policies;help;help'= {
        }
        &'catalog;alerts'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List budget alerts, newest first'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;alerts;list'= {
            cand --kind 'Only alerts of this kind: the alert threshold crossed, or the limit reached'
            cand --since 'Only alerts raised at or after this time (2026-05-01, 2026-05-01T12:00:00Z, or 7d ago)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --undelivered 'Only alerts some webhook has not acknowledged yet (or that no webhook received)'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;alerts;help'= {
            cand list 'List budget alerts, newest first'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;alerts;help;list'= {
        }
        &'catalog;alerts;help;help'= {
        }
        &'catalog;audit'= {
            cand --since 'Only changes at or after this time: an age (7d, 12h), a date or an RFC 3339 time'
            cand --until 'Only changes before this time: an age (7d, 12h), a date or an RFC 3339 time'
            cand --actor 'Only changes made with this API key (id or name), by the local CLI (`embedded`) or by the server itself (`system`)'
            cand --object 'Only changes to this object, as TYPE/NAME: workspaces/eng, integrations/azure-prod, providers/@openai-prod, virtual-keys/SLUG, api-keys/ID, configs/SLUG, policies/NAME, org/settings'
            cand --action 'Only changes of this kind'
            cand --limit 'Show at most this many records, newest first'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Show one change: who, when, the request, and each field before and after'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;audit;show'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;audit;help'= {
            cand show 'Show one change: who, when, the request, and each field before and after'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;audit;help;show'= {
        }
        &'catalog;audit;help;help'= {
        }
        &'catalog;api-keys'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List API keys (of one workspace with --workspace)'
            cand create 'Create an API key; the key is shown once'
            cand delete 'Delete an API key (asks for confirmation, or pass --yes)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;api-keys;list'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;api-keys;create'= {
            cand --type 'Organisation (admin) key, or a key pinned to the workspace given by --workspace'
            cand --sub-type 'Service key, or a user key (needs --user-id)'
            cand --scope 'Scope granted to the key (repeatable), e.g. completions.write'
            cand --user-id 'User the key belongs to (user keys)'
            cand --description 'Description'
            cand --expires 'Expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future'
            cand --key-file 'Write the new key to this file (0600) instead of standard output'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;api-keys;delete'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;api-keys;help'= {
            cand list 'List API keys (of one workspace with --workspace)'
            cand create 'Create an API key; the key is shown once'
            cand delete 'Delete an API key (asks for confirmation, or pass --yes)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;api-keys;help;list'= {
        }
        &'catalog;api-keys;help;create'= {
        }
        &'catalog;api-keys;help;delete'= {
        }
        &'catalog;api-keys;help;help'= {
        }
        &'catalog;migrate-vkeys'= {
            cand --rewrite-configs 'Instead of migrating keys, rewrite these gateway config files (JSON) from `virtual_key: "x"` to `provider: "@x"`, showing the diff first'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --all-workspaces 'Migrate the keys of every workspace (the default when --workspace is not given)'
            cand --dry-run 'Show the plan and write nothing'
            cand --no-backup 'With --rewrite-configs: do not keep the original of each file as FILE.bak'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;check'= {
            cand --api-key-id 'Also check this API key: that it belongs to the workspace, is live and may call models'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;usage'= {
            cand --integration 'Only this integration''s limits: its own budget, its access for each workspace and the AI providers built on it'
            cand --provider 'The limits a call through this AI provider counts at: its workspace, integration, access and itself (needs --workspace)'
            cand --watch 'Redraw every SECONDS (2 when not given) until interrupted; needs a terminal'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;export'= {
            cand --out 'Write the file here instead of stdout (YAML; JSON with `-o json`)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;plan'= {
            cand -f 'The catalog file (YAML or JSON; `-` reads stdin)'
            cand --file 'The catalog file (YAML or JSON; `-` reads stdin)'
            cand --out 'Save the plan, with a fingerprint of the live catalog, for `catalog apply PLAN`'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --prune 'Also delete what the live catalog has and the file does not mention'
            cand --exit-code 'Exit 10 when the plan has changes or the live catalog holds objects the file does not mention (drift detection in CI); 0 when it matches the file'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;apply'= {
            cand -f 'The catalog file to plan and apply (YAML or JSON; `-` reads stdin)'
            cand --file 'The catalog file to plan and apply (YAML or JSON; `-` reads stdin)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --prune 'Also delete what the live catalog has and the file does not mention (asks, or `--yes`)'
            cand --dry-run 'Show the plan and write nothing'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;schema'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;serve'= {
            cand --listen 'Address to listen on (port 0 picks a free port)'
            cand --db 'Database file (default: the embedded catalog''s database)'
            cand --database-url 'Run on PostgreSQL instead of a file (it takes precedence over --db): postgres://USER[:PASSWORD]@HOST[:PORT]/DB, over TLS with ?sslmode=verify-full&sslrootcert=FILE (as libpq). Several replicas may share one database; the master key must then be given (CATALOG_MASTER_KEY or --master-key-file), the same on every replica'
            cand --redis-url 'Keep the admission counters replicas share (budgets, rate and concurrency limits) in Redis, redis://[:PASSWORD@]HOST[:PORT][/DB] (rediss:// over TLS); needs --database-url, and the same on every replica. Without it, replicas on one PostgreSQL still admit exactly, taking turns on the database'
            cand --redis-ca-file 'The root certificates (a PEM file) that signed the certificate of a rediss:// Redis, when no public root did'
            cand --master-key-file 'A file holding the base64 master key that seals provider secrets (instead of CATALOG_MASTER_KEY)'
            cand --header-timeout 'Time a client has to send a request''s headers before its connection is closed'
            cand --idle-timeout 'Close a connection with no request in flight and no traffic for this long'
            cand --shutdown-timeout 'On SIGINT/SIGTERM, how long in-flight requests may take to finish'
            cand --workers 'Threads that answer requests [default: one fewer than the CPUs, at least one; the kernel''s network work and the catalog''s database writes keep the one left]'
            cand --trusted-custom-host 'A private, loopback or internal upstream host the gateway may call when a `custom_host` names it (a self-hosted model server); repeatable'
            cand --alert-webhook 'POST each budget alert as JSON to this http(s) URL, retrying until it answers 2xx; repeatable (the environment variable takes them comma-separated)'
            cand --alert-backoff 'Retries of a failed alert delivery: the first wait, doubling up to the second'
            cand --audit-retention 'Delete audit records older than this (90d, 52w; at least 1h), checked hourly; each pruning is itself recorded. Without it, every record is kept'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;admin'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand rotate-master-key 'Re-seal every stored secret under a new master key, while servers keep running'
            cand master-key 'The master key: where it lives and what it sealed'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;admin;rotate-master-key'= {
            cand --new-key-file 'Read the new master key (base64 of 32 bytes) from this file'
            cand --new-key-env 'Read the new master key (base64 of 32 bytes) from this environment variable'
            cand --db 'Database file (default: the embedded catalog''s)'
            cand --batch-size 'Secrets re-sealed per write transaction'
            cand --pause 'Wait this long between batches, leaving the database to other writers'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;admin;master-key'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand status 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;admin;master-key;status'= {
            cand --db 'Database file (default: the embedded catalog''s)'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;admin;master-key;help'= {
            cand status 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;admin;master-key;help;status'= {
        }
        &'catalog;admin;master-key;help;help'= {
        }
        &'catalog;admin;help'= {
            cand rotate-master-key 'Re-seal every stored secret under a new master key, while servers keep running'
            cand master-key 'The master key: where it lives and what it sealed'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;admin;help;rotate-master-key'= {
        }
        &'catalog;admin;help;master-key'= {
            cand status 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed'
        }
        &'catalog;admin;help;master-key;status'= {
        }
        &'catalog;admin;help;help'= {
        }
        &'catalog;db'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand copy 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;db;copy'= {
            cand --from 'The catalog''s SQLite file'
            cand --to 'The empty PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB'
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;db;help'= {
            cand copy 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;db;help;copy'= {
        }
        &'catalog;db;help;help'= {
        }
        &'catalog;completion'= {
            cand --profile 'Profile to use (a stored server and key)'
            cand --base-url 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)'
            cand --workspace 'Workspace (id, slug or name) for commands that act in one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --color 'When to use colour'
            cand --static 'A static script (commands and flags only) instead of the dynamic one that also completes workspace and integration slugs by asking `catalog` at each TAB'
            cand -y 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --yes 'Assume yes for confirmations (needed for destructive commands without a terminal)'
            cand --no-input 'Never prompt; a missing value is an error naming its flag'
            cand -q 'Silence status messages on stderr'
            cand --quiet 'Silence status messages on stderr'
            cand -v 'Print requests and raw error bodies on stderr'
            cand --verbose 'Print requests and raw error bodies on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'catalog;help'= {
            cand auth 'Log in to a catalog server, show or remove stored credentials'
            cand workspaces 'Workspaces: teams and environments that use integrations'
            cand integrations 'Integrations: provider credentials stored once for the organisation'
            cand models 'Models: allow-lists, custom models and prices, and the Model Garden'
            cand providers 'AI providers: integrations made callable in a workspace as `@slug/model`'
            cand configs 'Saved gateway configs: routing, fallbacks and retries sent as `x-portkey-config`'
            cand org 'Organisation-wide settings'
            cand policies 'Usage-limit and rate-limit policies: budgets per user, per model, per metadata value'
            cand alerts 'Budget alerts: alert thresholds crossed and limits reached, and their delivery'
            cand audit 'The changes made through the Admin API: who changed what, when, from what'
            cand api-keys 'API keys for the Admin API and the gateway'
            cand migrate-vkeys 'Migrate legacy virtual keys to integrations and AI providers with the same slugs'
            cand check 'Explain whether a workspace can call a model, step by step (no call is made)'
            cand usage 'Every budget, rate limit and concurrency limit in scope with its live usage'
            cand export 'Write the live catalog as a catalog file (YAML, or JSON with `-o json`)'
            cand plan 'Show what applying a catalog file would change (`--exit-code` for drift detection)'
            cand apply 'Apply a catalog file (`-f FILE`) or exactly a saved plan (`PLAN`)'
            cand schema 'Print the JSON Schema of the catalog file'
            cand serve 'Serve the catalog''s Admin API and gateway over HTTP for a team'
            cand admin 'Operations on the catalog''s database file: master-key status and rotation'
            cand db 'The catalog''s database as a whole: copy a catalog file to PostgreSQL'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'catalog;help;auth'= {
            cand login 'Check an API key against a server and store it for a profile'
            cand status 'Show the profile, the server and which credential source is used'
            cand logout 'Remove a profile and its stored key'
            cand use 'Make a profile current (or `embedded`: the embedded catalog)'
        }
        &'catalog;help;auth;login'= {
        }
        &'catalog;help;auth;status'= {
        }
        &'catalog;help;auth;logout'= {
        }
        &'catalog;help;auth;use'= {
        }
        &'catalog;help;workspaces'= {
            cand list 'List workspaces'
            cand get 'Show one workspace'
            cand create 'Create a workspace'
            cand update 'Change a workspace''s name, description or metadata'
            cand delete 'Delete a workspace (asks for confirmation, or pass --yes)'
            cand provision 'Give workspaces access to an integration, with budgets and rate limits'
            cand revoke 'Take an integration away from workspaces (their providers are disabled)'
        }
        &'catalog;help;workspaces;list'= {
        }
        &'catalog;help;workspaces;get'= {
        }
        &'catalog;help;workspaces;create'= {
        }
        &'catalog;help;workspaces;update'= {
        }
        &'catalog;help;workspaces;delete'= {
        }
        &'catalog;help;workspaces;provision'= {
        }
        &'catalog;help;workspaces;revoke'= {
        }
        &'catalog;help;integrations'= {
            cand list 'List integrations'
            cand get 'Show one integration (secrets masked)'
            cand connect 'Connect a provider: service, credentials, configuration, name and scope'
            cand update 'Change an integration''s name, description, configuration or budget'
            cand rotate-key 'Replace an integration''s provider key'
            cand delete 'Delete an integration (asks for confirmation, or pass --yes)'
            cand workspaces 'Show which workspaces may use an integration, their limits, usage and next reset'
        }
        &'catalog;help;integrations;list'= {
        }
        &'catalog;help;integrations;get'= {
        }
        &'catalog;help;integrations;connect'= {
        }
        &'catalog;help;integrations;update'= {
        }
        &'catalog;help;integrations;rotate-key'= {
        }
        &'catalog;help;integrations;delete'= {
        }
        &'catalog;help;integrations;workspaces'= {
        }
        &'catalog;help;models'= {
            cand allow 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)'
            cand deny 'Disable models on an integration'
            cand add 'Add a custom or fine-tuned model to an integration'
            cand remove 'Remove a custom model (a built-in model is disabled instead)'
            cand price 'Override a model''s price (USD per 1M tokens), or --reset to the registry''s'
            cand list 'The Model Garden: every model a workspace can call; or one integration''s models with --integration'
            cand show 'One model''s details and ready-to-use code calling it'
            cand test 'Call a model through the gateway as a workspace would, and show what answered'
        }
        &'catalog;help;models;allow'= {
        }
        &'catalog;help;models;deny'= {
        }
        &'catalog;help;models;add'= {
        }
        &'catalog;help;models;remove'= {
        }
        &'catalog;help;models;price'= {
        }
        &'catalog;help;models;list'= {
        }
        &'catalog;help;models;show'= {
        }
        &'catalog;help;models;test'= {
        }
        &'catalog;help;providers'= {
            cand list 'List a workspace''s AI providers with their integration, status, budget and rate limit'
            cand get 'Show one AI provider'
            cand create 'Create an AI provider on an integration provisioned to the workspace'
            cand update 'Change an AI provider''s name, note, limits or expiry'
            cand delete 'Delete an AI provider (asks for confirmation, or pass --yes)'
        }
        &'catalog;help;providers;list'= {
        }
        &'catalog;help;providers;get'= {
        }
        &'catalog;help;providers;create'= {
        }
        &'catalog;help;providers;update'= {
        }
        &'catalog;help;providers;delete'= {
        }
        &'catalog;help;configs'= {
            cand list 'List saved gateway configs (one workspace''s with --workspace)'
            cand get 'Show one config with its current body'
            cand create 'Save a gateway config from a JSON file (`-` reads stdin)'
            cand update 'Rename a config, or replace its body (a new version)'
            cand delete 'Delete a config and its versions (asks for confirmation, or pass --yes)'
            cand versions 'List a config''s versions, newest first'
        }
        &'catalog;help;configs;list'= {
        }
        &'catalog;help;configs;get'= {
        }
        &'catalog;help;configs;create'= {
        }
        &'catalog;help;configs;update'= {
        }
        &'catalog;help;configs;delete'= {
        }
        &'catalog;help;configs;versions'= {
        }
        &'catalog;help;org'= {
            cand settings 'Show the organisation''s settings, or change them with flags'
        }
        &'catalog;help;org;settings'= {
        }
        &'catalog;help;policies'= {
            cand list 'List the policies in scope (one workspace''s with --workspace)'
            cand get 'Show one policy, with its busiest value keys'
            cand create 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)'
            cand update 'Change a policy''s name, limit, reset, alert or conditions'
            cand delete 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)'
            cand entities 'A policy''s value keys with their usage, busiest first'
            cand reset 'Start one value key of a usage-limit policy over'
        }
        &'catalog;help;policies;list'= {
        }
        &'catalog;help;policies;get'= {
        }
        &'catalog;help;policies;create'= {
        }
        &'catalog;help;policies;update'= {
        }
        &'catalog;help;policies;delete'= {
        }
        &'catalog;help;policies;entities'= {
        }
        &'catalog;help;policies;reset'= {
        }
        &'catalog;help;alerts'= {
            cand list 'List budget alerts, newest first'
        }
        &'catalog;help;alerts;list'= {
        }
        &'catalog;help;audit'= {
            cand show 'Show one change: who, when, the request, and each field before and after'
        }
        &'catalog;help;audit;show'= {
        }
        &'catalog;help;api-keys'= {
            cand list 'List API keys (of one workspace with --workspace)'
            cand create 'Create an API key; the key is shown once'
            cand delete 'Delete an API key (asks for confirmation, or pass --yes)'
        }
        &'catalog;help;api-keys;list'= {
        }
        &'catalog;help;api-keys;create'= {
        }
        &'catalog;help;api-keys;delete'= {
        }
        &'catalog;help;migrate-vkeys'= {
        }
        &'catalog;help;check'= {
        }
        &'catalog;help;usage'= {
        }
        &'catalog;help;export'= {
        }
        &'catalog;help;plan'= {
        }
        &'catalog;help;apply'= {
        }
        &'catalog;help;schema'= {
        }
        &'catalog;help;serve'= {
        }
        &'catalog;help;admin'= {
            cand rotate-master-key 'Re-seal every stored secret under a new master key, while servers keep running'
            cand master-key 'The master key: where it lives and what it sealed'
        }
        &'catalog;help;admin;rotate-master-key'= {
        }
        &'catalog;help;admin;master-key'= {
            cand status 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed'
        }
        &'catalog;help;admin;master-key;status'= {
        }
        &'catalog;help;db'= {
            cand copy 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log'
        }
        &'catalog;help;db;copy'= {
        }
        &'catalog;help;completion'= {
        }
        &'catalog;help;help'= {
        }
    ]
    $completions[$command]
}
