# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_catalog_global_optspecs
    string join \n profile= base-url= workspace= o/output= y/yes no-input q/quiet v/verbose color= h/help V/version
end

function __fish_catalog_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_catalog_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_catalog_using_subcommand
    set -l cmd (__fish_catalog_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c catalog -n "__fish_catalog_needs_command" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_needs_command" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_needs_command" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_needs_command" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_needs_command" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_needs_command" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_needs_command" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_needs_command" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c catalog -n "__fish_catalog_needs_command" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "auth" -d 'Log in to a catalog server, show or remove stored credentials'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "workspaces" -d 'Workspaces: teams and environments that use integrations'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "integrations" -d 'Integrations: provider credentials stored once for the organisation'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "models" -d 'Models: allow-lists, custom models and prices, and the Model Garden'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "providers" -d 'AI providers: integrations made callable in a workspace as `@slug/model`'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "configs" -d 'Saved gateway configs: routing, fallbacks and retries sent as `x-portkey-config`'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "org" -d 'Organisation-wide settings'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "policies" -d 'Usage-limit and rate-limit policies: budgets per user, per model, per metadata value'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "alerts" -d 'Budget alerts: alert thresholds crossed and limits reached, and their delivery'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "audit" -d 'The changes made through the Admin API: who changed what, when, from what'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "api-keys" -d 'API keys for the Admin API and the gateway'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "migrate-vkeys" -d 'Migrate legacy virtual keys to integrations and AI providers with the same slugs'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "check" -d 'Explain whether a workspace can call a model, step by step (no call is made)'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "usage" -d 'Every budget, rate limit and concurrency limit in scope with its live usage'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "export" -d 'Write the live catalog as a catalog file (YAML, or JSON with `-o json`)'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "plan" -d 'Show what applying a catalog file would change (`--exit-code` for drift detection)'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "apply" -d 'Apply a catalog file (`-f FILE`) or exactly a saved plan (`PLAN`)'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "schema" -d 'Print the JSON Schema of the catalog file'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "serve" -d 'Serve the catalog\'s Admin API and gateway over HTTP for a team'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "admin" -d 'Operations on the catalog\'s database file: master-key status and rotation'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "db" -d 'The catalog\'s database as a whole: copy a catalog file to PostgreSQL'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c catalog -n "__fish_catalog_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -f -a "login" -d 'Check an API key against a server and store it for a profile'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -f -a "status" -d 'Show the profile, the server and which credential source is used'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -f -a "logout" -d 'Remove a profile and its stored key'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -f -a "use" -d 'Make a profile current (or `embedded`: the embedded catalog)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and not __fish_seen_subcommand_from login status logout use help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -l api-key-stdin -d 'Read the API key from standard input (otherwise a hidden prompt)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -l insecure-storage -d 'Store the key in a 0600 file instead of the OS keyring'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from login" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from logout" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from use" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "login" -d 'Check an API key against a server and store it for a profile'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show the profile, the server and which credential source is used'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "logout" -d 'Remove a profile and its stored key'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "use" -d 'Make a profile current (or `embedded`: the embedded catalog)'
complete -c catalog -n "__fish_catalog_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -f -a "list" -d 'List workspaces'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -f -a "get" -d 'Show one workspace'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -f -a "create" -d 'Create a workspace'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -f -a "update" -d 'Change a workspace\'s name, description or metadata'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -f -a "delete" -d 'Delete a workspace (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -f -a "provision" -d 'Give workspaces access to an integration, with budgets and rate limits'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -f -a "revoke" -d 'Take an integration away from workspaces (their providers are disabled)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and not __fish_seen_subcommand_from list get create update delete provision revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -l name -d 'Only workspaces whose name contains this text' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -l description -d 'Description' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -l metadata -d 'Default request metadata, KEY=VALUE (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -l if-not-exists -d 'When a workspace with this name exists, print it and succeed instead of failing'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l name -d 'New name' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l description -d 'New description' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l metadata -d 'Replace the default metadata with these KEY=VALUE pairs (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l clear-description -d 'Remove the description'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l clear-metadata -d 'Remove the default metadata'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -l force -d 'Also delete what depends on it (workspace integrations, API keys)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l integration -d 'The integration to provision' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l budget -d 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l budget-type -d 'What the budget counts [default: cost, or the current type]' -r -f -a "cost\t''
tokens\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l reset -d 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l alert -d 'Alert when usage reaches this amount (below the budget, same unit)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l rate-limit -d 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l concurrency -d 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l provider-slug -d 'Slug of the AI provider created in each newly provisioned workspace [default: the integration\'s slug]' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l all -d 'Every existing workspace'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l new-workspaces -d 'Also provision workspaces created later, with the same limits'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l no-new-workspaces -d 'Stop provisioning workspaces created later (access already given stays)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l reset-usage -d 'Zero the usage of the budgets of these workspaces'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from provision" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -l integration -d 'The integration' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from help" -f -a "list" -d 'List workspaces'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one workspace'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a workspace'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a workspace\'s name, description or metadata'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a workspace (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from help" -f -a "provision" -d 'Give workspaces access to an integration, with budgets and rate limits'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Take an integration away from workspaces (their providers are disabled)'
complete -c catalog -n "__fish_catalog_using_subcommand workspaces; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -f -a "list" -d 'List integrations'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -f -a "get" -d 'Show one integration (secrets masked)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -f -a "connect" -d 'Connect a provider: service, credentials, configuration, name and scope'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -f -a "update" -d 'Change an integration\'s name, description, configuration or budget'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -f -a "rotate-key" -d 'Replace an integration\'s provider key'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -f -a "delete" -d 'Delete an integration (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -f -a "workspaces" -d 'Show which workspaces may use an integration, their limits, usage and next reset'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and not __fish_seen_subcommand_from list get connect update rotate-key delete workspaces help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -l type -d 'Which integrations: organisation-level, workspace-level, or all' -r -f -a "organisation\t''
workspace\t''
all\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l service -d 'Provider service' -r -f -a "openai\t''
anthropic\t''
azure-openai\t''
bedrock\t''
vertex-ai\t''
google\t''
mistral-ai\t''
groq\t''
together-ai\t''
fireworks-ai\t''
deepseek\t''
x-ai\t''
openrouter\t''
deepinfra\t''
cerebras\t''
perplexity-ai\t''
cohere\t''
ai21\t''
custom\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l name -d 'Display name (default: the slug)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l description -d 'Description' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l key-env -d 'Read the provider key from this environment variable' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l key-file -d 'Read the provider key from a file' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l key -d 'Refused: a secret in argv is visible in `ps` and shell history' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l openai-organization -d 'OpenAI organization id' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l openai-project -d 'OpenAI project id' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l azure-resource-name -d 'Azure OpenAI resource name' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l azure-auth-mode -d 'Azure authentication mode' -r -f -a "default\t''
entra\t''
entraFederated\t''
managed\t''
workload\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l azure-deployment -d 'Azure deployment: name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default] (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l azure-entra-tenant-id -d 'Entra tenant id (azure auth mode entra/entraFederated)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l azure-entra-client-id -d 'Entra client id (azure auth mode entra/entraFederated); the client secret is the key' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l azure-managed-client-id -d 'Managed identity client id (azure auth mode managed)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l azure-workload-tenant-id -d 'Workload identity tenant id (azure auth mode workload)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l azure-workload-client-id -d 'Workload identity client id (azure auth mode workload)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l aws-auth-type -d 'Bedrock authentication type; with accessKey the secret access key is the key' -r -f -a "accessKey\t''
assumedRole\t''
apiKey\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l aws-region -d 'AWS region, e.g. us-east-1' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l aws-access-key-id-env -d 'AWS access key id (auth type accessKey), read from this environment variable' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l aws-access-key-id-file -d 'AWS access key id (auth type accessKey), read from this file' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l aws-role-arn -d 'IAM role ARN to assume (auth type assumedRole)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l aws-external-id -d 'External id for the assumed role' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l vertex-auth-type -d 'Vertex AI authentication type' -r -f -a "serviceAccount\t''
basic\t''
workload\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l vertex-region -d 'Vertex AI region, e.g. us-central1' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l vertex-project-id -d 'Google Cloud project id (auth type basic or workload)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l vertex-service-account-file -d 'Service account JSON file (auth type serviceAccount)' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l custom-host -d 'Base URL of a custom or self-hosted service (http or https)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l header -d 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l header-env -d 'Header whose value is read from an environment variable, NAME=VAR (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l header-file -d 'Header whose value is read from a file, NAME=PATH (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l key-header -d 'Custom service: send the key (--key-env/--key-stdin/--key-file) in this header instead of `Authorization: Bearer`' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l config -d 'Any other configuration setting, KEY=VALUE (repeatable; not for secrets)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l config-env -d 'A secret configuration setting read from an environment variable, KEY=VAR (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l provision -d 'Step 2: provision these workspaces (id, slug or name; repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l budget -d 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l budget-type -d 'What the budget counts [default: cost, or the current type]' -r -f -a "cost\t''
tokens\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l reset -d 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l alert -d 'Alert when usage reaches this amount (below the budget, same unit)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l rate-limit -d 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l concurrency -d 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l models -d 'Step 3: enable only these models (comma-separated or repeated): an allow-list' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l key-stdin -d 'Read the provider key from standard input'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l provision-all -d 'Step 2: provision every existing workspace'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l new-workspaces -d 'Step 2: also provision workspaces created later'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l no-new-workspaces -d 'Step 2: stop provisioning workspaces created later'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l skip-provisioning -d 'Skip step 2 (workspace provisioning)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l all-models -d 'Step 3: enable every model of the service'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l custom-models -d 'Step 3: accept model ids the built-in registry does not know'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l skip-models -d 'Skip step 3 (model provisioning)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l dry-run -d 'Show the requests that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from connect" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l name -d 'New display name' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l description -d 'New description' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l price-multiplier -d 'Multiply every price of this integration\'s models (0.8 = a negotiated 20% discount)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l remove-azure-deployment -d 'Remove the Azure deployment with this alias (or model, or deployment name); repeatable' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l budget -d 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l budget-type -d 'What the budget counts [default: cost, or the current type]' -r -f -a "cost\t''
tokens\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l reset -d 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l alert -d 'Alert when usage reaches this amount (below the budget, same unit)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l openai-organization -d 'OpenAI organization id' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l openai-project -d 'OpenAI project id' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l azure-resource-name -d 'Azure OpenAI resource name' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l azure-auth-mode -d 'Azure authentication mode' -r -f -a "default\t''
entra\t''
entraFederated\t''
managed\t''
workload\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l azure-deployment -d 'Azure deployment: name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default] (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l azure-entra-tenant-id -d 'Entra tenant id (azure auth mode entra/entraFederated)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l azure-entra-client-id -d 'Entra client id (azure auth mode entra/entraFederated); the client secret is the key' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l azure-managed-client-id -d 'Managed identity client id (azure auth mode managed)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l azure-workload-tenant-id -d 'Workload identity tenant id (azure auth mode workload)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l azure-workload-client-id -d 'Workload identity client id (azure auth mode workload)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l aws-auth-type -d 'Bedrock authentication type; with accessKey the secret access key is the key' -r -f -a "accessKey\t''
assumedRole\t''
apiKey\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l aws-region -d 'AWS region, e.g. us-east-1' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l aws-access-key-id-env -d 'AWS access key id (auth type accessKey), read from this environment variable' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l aws-access-key-id-file -d 'AWS access key id (auth type accessKey), read from this file' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l aws-role-arn -d 'IAM role ARN to assume (auth type assumedRole)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l aws-external-id -d 'External id for the assumed role' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l vertex-auth-type -d 'Vertex AI authentication type' -r -f -a "serviceAccount\t''
basic\t''
workload\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l vertex-region -d 'Vertex AI region, e.g. us-central1' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l vertex-project-id -d 'Google Cloud project id (auth type basic or workload)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l vertex-service-account-file -d 'Service account JSON file (auth type serviceAccount)' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l custom-host -d 'Base URL of a custom or self-hosted service (http or https)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l header -d 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l header-env -d 'Header whose value is read from an environment variable, NAME=VAR (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l header-file -d 'Header whose value is read from a file, NAME=PATH (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l key-header -d 'Custom service: send the key (--key-env/--key-stdin/--key-file) in this header instead of `Authorization: Bearer`' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l config -d 'Any other configuration setting, KEY=VALUE (repeatable; not for secrets)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l config-env -d 'A secret configuration setting read from an environment variable, KEY=VAR (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l clear-description -d 'Remove the description'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l clear-price-multiplier -d 'Remove the price multiplier'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l clear-budget -d 'Remove the budget'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l key-env -d 'Read the provider key from this environment variable' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l key-file -d 'Read the provider key from a file' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l key -d 'Refused: a secret in argv is visible in `ps` and shell history' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l key-stdin -d 'Read the provider key from standard input'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from rotate-key" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -l force -d 'Also delete the AI providers that use it'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from workspaces" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from help" -f -a "list" -d 'List integrations'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one integration (secrets masked)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from help" -f -a "connect" -d 'Connect a provider: service, credentials, configuration, name and scope'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change an integration\'s name, description, configuration or budget'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from help" -f -a "rotate-key" -d 'Replace an integration\'s provider key'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete an integration (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from help" -f -a "workspaces" -d 'Show which workspaces may use an integration, their limits, usage and next reset'
complete -c catalog -n "__fish_catalog_using_subcommand integrations; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "allow" -d 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "deny" -d 'Disable models on an integration'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "add" -d 'Add a custom or fine-tuned model to an integration'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "remove" -d 'Remove a custom model (a built-in model is disabled instead)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "price" -d 'Override a model\'s price (USD per 1M tokens), or --reset to the registry\'s'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "list" -d 'The Model Garden: every model a workspace can call; or one integration\'s models with --integration'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "show" -d 'One model\'s details and ready-to-use code calling it'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "test" -d 'Call a model through the gateway as a workspace would, and show what answered'
complete -c catalog -n "__fish_catalog_using_subcommand models; and not __fish_seen_subcommand_from allow deny add remove price list show test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -l only -d 'Switch to an allow-list of exactly these models (comma-separated)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -l all -d 'Enable every model of the service (turns the allow-list off)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -l custom -d 'Accept models the built-in registry does not know'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from allow" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from deny" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l base -d 'The API-compatible model it is based on (its limits apply)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l input-price -d 'Input price, USD per 1M tokens' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l output-price -d 'Output price, USD per 1M tokens' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l custom-host -d 'Where this model is served, if not the integration\'s host' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l header -d 'Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names like authorization, *key*, *token*, *secret* need --header-env or --header-file)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l header-env -d 'Header whose value is read from an environment variable, NAME=VAR (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l header-file -d 'Header whose value is read from a file, NAME=PATH (repeatable)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l finetune -d 'A fine-tuned model (needs --base)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l input-price -d 'Input price, USD per 1M tokens' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l output-price -d 'Output price, USD per 1M tokens' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l cache-read-price -d 'Cached input price, USD per 1M tokens' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l custom -d 'Price a model the built-in registry does not know for the service'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l reset -d 'Drop the override and use the registry\'s price again'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from price" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l provider -d 'Only this provider\'s models (`@slug`)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l service -d 'Only this service\'s models (e.g. openai)' -r -f -a "openai\t''
anthropic\t''
azure-openai\t''
bedrock\t''
vertex-ai\t''
google\t''
mistral-ai\t''
groq\t''
together-ai\t''
fireworks-ai\t''
deepseek\t''
x-ai\t''
openrouter\t''
deepinfra\t''
cerebras\t''
perplexity-ai\t''
cohere\t''
ai21\t''
custom\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l search -d 'Only models whose id contains this text' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l limit -d 'Show at most this many models' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l integration -d 'Instead: what is enabled on this integration, and why (combines with --search)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l include-deprecated -d 'Also show models past their deprecation date (marked as such)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -l snippet -d 'Print ready-to-use code calling the model' -r -f -a "python\t'Portkey\'s Python SDK'
node\t'Portkey\'s Node SDK'
curl\t'curl'
openai-python\t'OpenAI\'s Python SDK pointed at the gateway'"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -l prompt -d 'What to send (default: a short greeting)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -l max-tokens -d 'Most tokens the reply may have' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -l stream -d 'Stream the reply as it is generated'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "allow" -d 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "deny" -d 'Disable models on an integration'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a custom or fine-tuned model to an integration'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a custom model (a built-in model is disabled instead)'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "price" -d 'Override a model\'s price (USD per 1M tokens), or --reset to the registry\'s'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "list" -d 'The Model Garden: every model a workspace can call; or one integration\'s models with --integration'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "show" -d 'One model\'s details and ready-to-use code calling it'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "test" -d 'Call a model through the gateway as a workspace would, and show what answered'
complete -c catalog -n "__fish_catalog_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -f -a "list" -d 'List a workspace\'s AI providers with their integration, status, budget and rate limit'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -f -a "get" -d 'Show one AI provider'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -f -a "create" -d 'Create an AI provider on an integration provisioned to the workspace'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -f -a "update" -d 'Change an AI provider\'s name, note, limits or expiry'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -f -a "delete" -d 'Delete an AI provider (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and not __fish_seen_subcommand_from list get create update delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l integration -d 'The integration it draws on (must be provisioned to the workspace)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l name -d 'Display name [default: the slug]' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l note -d 'A note for other admins' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l expires -d 'Expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l budget -d 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l budget-type -d 'What the budget counts [default: cost, or the current type]' -r -f -a "cost\t''
tokens\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l reset -d 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l alert -d 'Alert when usage reaches this amount (below the budget, same unit)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l rate-limit -d 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l concurrency -d 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l name -d 'New display name' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l note -d 'New note' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l expires -d 'New expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l budget -d 'Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l budget-type -d 'What the budget counts [default: cost, or the current type]' -r -f -a "cost\t''
tokens\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l reset -d 'When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l alert -d 'Alert when usage reaches this amount (below the budget, same unit)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l rate-limit -d 'Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l concurrency -d 'Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l clear-note -d 'Remove the note'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l clear-expires -d 'Remove the expiry'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l clear-budget -d 'Remove the budget'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l clear-rate-limit -d 'Remove the rate limit'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l reset-usage -d 'Zero the budget\'s usage and start a fresh window'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from help" -f -a "list" -d 'List a workspace\'s AI providers with their integration, status, budget and rate limit'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one AI provider'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an AI provider on an integration provisioned to the workspace'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change an AI provider\'s name, note, limits or expiry'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete an AI provider (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand providers; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -f -a "list" -d 'List saved gateway configs (one workspace\'s with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -f -a "get" -d 'Show one config with its current body'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -f -a "create" -d 'Save a gateway config from a JSON file (`-` reads stdin)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -f -a "update" -d 'Rename a config, or replace its body (a new version)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -f -a "delete" -d 'Delete a config and its versions (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -f -a "versions" -d 'List a config\'s versions, newest first'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and not __fish_seen_subcommand_from list get create update delete versions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l name -d 'Display name' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l file -d 'The config as a JSON file; `-` reads stdin' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l default -d 'Make it the workspace\'s default config'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l name -d 'New display name' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l file -d 'The new config as a JSON file (`-` reads stdin); a changed config is a new version' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l status -d '`archived` keeps the config but the gateway stops using it; `active` restores it' -r -f -a "active\t''
archived\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l default -d 'Make it the workspace\'s default config'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -l dry-run -d 'Show the request that would be made and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from versions" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from help" -f -a "list" -d 'List saved gateway configs (one workspace\'s with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one config with its current body'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from help" -f -a "create" -d 'Save a gateway config from a JSON file (`-` reads stdin)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from help" -f -a "update" -d 'Rename a config, or replace its body (a new version)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a config and its versions (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from help" -f -a "versions" -d 'List a config\'s versions, newest first'
complete -c catalog -n "__fish_catalog_using_subcommand configs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -f -a "settings" -d 'Show the organisation\'s settings, or change them with flags'
complete -c catalog -n "__fish_catalog_using_subcommand org; and not __fish_seen_subcommand_from settings help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -l allow-workspace-integrations -d 'Whether workspace admins (workspace API keys) may create their own integrations' -r -f -a "true\t''
false\t''"
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from settings" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from help" -f -a "settings" -d 'Show the organisation\'s settings, or change them with flags'
complete -c catalog -n "__fish_catalog_using_subcommand org; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -f -a "list" -d 'List the policies in scope (one workspace\'s with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -f -a "get" -d 'Show one policy, with its busiest value keys'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -f -a "create" -d 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -f -a "update" -d 'Change a policy\'s name, limit, reset, alert or conditions'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -f -a "delete" -d 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -f -a "entities" -d 'A policy\'s value keys with their usage, busiest first'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -f -a "reset" -d 'Start one value key of a usage-limit policy over'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and not __fish_seen_subcommand_from list get create update delete entities reset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -l archived -d 'Archived policies too'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l type -d 'What it counts: cost (USD), tokens or requests [default: cost; requests with --rate]' -r -f -a "cost\t''
tokens\t''
requests\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l limit -d 'A budget (usage-limit policy): USD, tokens or requests per group value' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l rate -d 'A rate limit (rate-limit policy) per group value: 100/min, 5000tokens/hour, 10/day' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l reset -d 'When the budget resets: weekly, monthly, none, or every N days (30d)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l alert -d 'Alert when a group value\'s usage reaches this amount' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l group-by -d 'One counter per distinct value of KEY: api_key, workspace_id, provider, model, config or metadata.<key>; repeatable' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l when -d 'Only requests whose KEY is VALUE (`*`: that have one); repeatable, all must hold' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l name -d 'A new name' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l limit -d 'A new budget (usage-limit policy)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l rate -d 'A new rate (rate-limit policy): 100/min, 10/day' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l reset -d 'When the budget resets: weekly, monthly, none, or every N days (30d)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l alert -d 'Alert at this amount' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l when -d 'Replace the conditions (repeatable); `--when none` applies it to every request' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l clear-alert -d 'Remove the alert'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -l exhausted -d 'Only value keys whose counter is spent'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from entities" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from reset" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the policies in scope (one workspace\'s with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one policy, with its busiest value keys'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a policy\'s name, limit, reset, alert or conditions'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from help" -f -a "entities" -d 'A policy\'s value keys with their usage, busiest first'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Start one value key of a usage-limit policy over'
complete -c catalog -n "__fish_catalog_using_subcommand policies; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'List budget alerts, newest first'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -l kind -d 'Only alerts of this kind: the alert threshold crossed, or the limit reached' -r -f -a "threshold\t''
limit\t''"
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -l since -d 'Only alerts raised at or after this time (2026-05-01, 2026-05-01T12:00:00Z, or 7d ago)' -r
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -l undelivered -d 'Only alerts some webhook has not acknowledged yet (or that no webhook received)'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from help" -f -a "list" -d 'List budget alerts, newest first'
complete -c catalog -n "__fish_catalog_using_subcommand alerts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l since -d 'Only changes at or after this time: an age (7d, 12h), a date or an RFC 3339 time' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l until -d 'Only changes before this time: an age (7d, 12h), a date or an RFC 3339 time' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l actor -d 'Only changes made with this API key (id or name), by the local CLI (`embedded`) or by the server itself (`system`)' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l object -d 'Only changes to this object, as TYPE/NAME: workspaces/eng, integrations/azure-prod, providers/@openai-prod, virtual-keys/SLUG, api-keys/ID, configs/SLUG, policies/NAME, org/settings' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l action -d 'Only changes of this kind' -r -f -a "create\t''
update\t''
delete\t''
provision_workspaces\t''
provision_models\t''
remove_models\t''
migrate\t''
reset\t''
prune\t''"
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l limit -d 'Show at most this many records, newest first' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Show one change: who, when, the request, and each field before and after'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one change: who, when, the request, and each field before and after'
complete -c catalog -n "__fish_catalog_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -f -a "list" -d 'List API keys (of one workspace with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -f -a "create" -d 'Create an API key; the key is shown once'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -f -a "delete" -d 'Delete an API key (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and not __fish_seen_subcommand_from list create delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l type -d 'Organisation (admin) key, or a key pinned to the workspace given by --workspace' -r -f -a "organisation\t''
workspace\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l sub-type -d 'Service key, or a user key (needs --user-id)' -r -f -a "service\t''
user\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l scope -d 'Scope granted to the key (repeatable), e.g. completions.write' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l user-id -d 'User the key belongs to (user keys)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l description -d 'Description' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l expires -d 'Expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l key-file -d 'Write the new key to this file (0600) instead of standard output' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from help" -f -a "list" -d 'List API keys (of one workspace with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an API key; the key is shown once'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete an API key (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand api-keys; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l rewrite-configs -d 'Instead of migrating keys, rewrite these gateway config files (JSON) from `virtual_key: "x"` to `provider: "@x"`, showing the diff first' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l all-workspaces -d 'Migrate the keys of every workspace (the default when --workspace is not given)'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l dry-run -d 'Show the plan and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l no-backup -d 'With --rewrite-configs: do not keep the original of each file as FILE.bak'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand migrate-vkeys" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand check" -l api-key-id -d 'Also check this API key: that it belongs to the workspace, is live and may call models' -r
complete -c catalog -n "__fish_catalog_using_subcommand check" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand check" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand check" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand check" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand check" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand check" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand check" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand check" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand check" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand check" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand check" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand usage" -l integration -d 'Only this integration\'s limits: its own budget, its access for each workspace and the AI providers built on it' -r
complete -c catalog -n "__fish_catalog_using_subcommand usage" -l provider -d 'The limits a call through this AI provider counts at: its workspace, integration, access and itself (needs --workspace)' -r
complete -c catalog -n "__fish_catalog_using_subcommand usage" -l watch -d 'Redraw every SECONDS (2 when not given) until interrupted; needs a terminal' -r
complete -c catalog -n "__fish_catalog_using_subcommand usage" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand usage" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand usage" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand usage" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand usage" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand usage" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand usage" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand usage" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand usage" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand usage" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand usage" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand export" -l out -d 'Write the file here instead of stdout (YAML; JSON with `-o json`)' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand export" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand export" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand export" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand export" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand export" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand export" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand export" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand export" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand export" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand export" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand export" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand plan" -s f -l file -d 'The catalog file (YAML or JSON; `-` reads stdin)' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand plan" -l out -d 'Save the plan, with a fingerprint of the live catalog, for `catalog apply PLAN`' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand plan" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand plan" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand plan" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand plan" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand plan" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand plan" -l prune -d 'Also delete what the live catalog has and the file does not mention'
complete -c catalog -n "__fish_catalog_using_subcommand plan" -l exit-code -d 'Exit 10 when the plan has changes or the live catalog holds objects the file does not mention (drift detection in CI); 0 when it matches the file'
complete -c catalog -n "__fish_catalog_using_subcommand plan" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand plan" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand plan" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand plan" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand plan" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand plan" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand apply" -s f -l file -d 'The catalog file to plan and apply (YAML or JSON; `-` reads stdin)' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand apply" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand apply" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand apply" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand apply" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand apply" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand apply" -l prune -d 'Also delete what the live catalog has and the file does not mention (asks, or `--yes`)'
complete -c catalog -n "__fish_catalog_using_subcommand apply" -l dry-run -d 'Show the plan and write nothing'
complete -c catalog -n "__fish_catalog_using_subcommand apply" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand apply" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand apply" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand apply" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand apply" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand apply" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand schema" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand schema" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand schema" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand schema" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand schema" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand schema" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand schema" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand schema" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand schema" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand schema" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand schema" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l listen -d 'Address to listen on (port 0 picks a free port)' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l db -d 'Database file (default: the embedded catalog\'s database)' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l database-url -d 'Run on PostgreSQL instead of a file (it takes precedence over --db): postgres://USER[:PASSWORD]@HOST[:PORT]/DB, over TLS with ?sslmode=verify-full&sslrootcert=FILE (as libpq). Several replicas may share one database; the master key must then be given (CATALOG_MASTER_KEY or --master-key-file), the same on every replica' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l redis-url -d 'Keep the admission counters replicas share (budgets, rate and concurrency limits) in Redis, redis://[:PASSWORD@]HOST[:PORT][/DB] (rediss:// over TLS); needs --database-url, and the same on every replica. Without it, replicas on one PostgreSQL still admit exactly, taking turns on the database' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l redis-ca-file -d 'The root certificates (a PEM file) that signed the certificate of a rediss:// Redis, when no public root did' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l master-key-file -d 'A file holding the base64 master key that seals provider secrets (instead of CATALOG_MASTER_KEY)' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l header-timeout -d 'Time a client has to send a request\'s headers before its connection is closed' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l idle-timeout -d 'Close a connection with no request in flight and no traffic for this long' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l shutdown-timeout -d 'On SIGINT/SIGTERM, how long in-flight requests may take to finish' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l workers -d 'Threads that answer requests [default: one fewer than the CPUs, at least one; the kernel\'s network work and the catalog\'s database writes keep the one left]' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l trusted-custom-host -d 'A private, loopback or internal upstream host the gateway may call when a `custom_host` names it (a self-hosted model server); repeatable' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l alert-webhook -d 'POST each budget alert as JSON to this http(s) URL, retrying until it answers 2xx; repeatable (the environment variable takes them comma-separated)' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l alert-backoff -d 'Retries of a failed alert delivery: the first wait, doubling up to the second' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l audit-retention -d 'Delete audit records older than this (90d, 52w; at least 1h), checked hourly; each pruning is itself recorded. Without it, every record is kept' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand serve" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand serve" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand serve" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand serve" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand serve" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand serve" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand serve" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -f -a "rotate-master-key" -d 'Re-seal every stored secret under a new master key, while servers keep running'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -f -a "master-key" -d 'The master key: where it lives and what it sealed'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and not __fish_seen_subcommand_from rotate-master-key master-key help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l new-key-file -d 'Read the new master key (base64 of 32 bytes) from this file' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l new-key-env -d 'Read the new master key (base64 of 32 bytes) from this environment variable' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l db -d 'Database file (default: the embedded catalog\'s)' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l batch-size -d 'Secrets re-sealed per write transaction' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l pause -d 'Wait this long between batches, leaving the database to other writers' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from rotate-master-key" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -f -a "status" -d 'Where the master key lives, its fingerprint, any rotation in progress, and how many secrets each key sealed'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from master-key" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "rotate-master-key" -d 'Re-seal every stored secret under a new master key, while servers keep running'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "master-key" -d 'The master key: where it lives and what it sealed'
complete -c catalog -n "__fish_catalog_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -f -a "copy" -d 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log'
complete -c catalog -n "__fish_catalog_using_subcommand db; and not __fish_seen_subcommand_from copy help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -l from -d 'The catalog\'s SQLite file' -r -F
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -l to -d 'The empty PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB' -r
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from copy" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "copy" -d 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log'
complete -c catalog -n "__fish_catalog_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand completion" -l profile -d 'Profile to use (a stored server and key)' -r
complete -c catalog -n "__fish_catalog_using_subcommand completion" -l base-url -d 'Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)' -r
complete -c catalog -n "__fish_catalog_using_subcommand completion" -l workspace -d 'Workspace (id, slug or name) for commands that act in one' -r
complete -c catalog -n "__fish_catalog_using_subcommand completion" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c catalog -n "__fish_catalog_using_subcommand completion" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c catalog -n "__fish_catalog_using_subcommand completion" -l static -d 'A static script (commands and flags only) instead of the dynamic one that also completes workspace and integration slugs by asking `catalog` at each TAB'
complete -c catalog -n "__fish_catalog_using_subcommand completion" -s y -l yes -d 'Assume yes for confirmations (needed for destructive commands without a terminal)'
complete -c catalog -n "__fish_catalog_using_subcommand completion" -l no-input -d 'Never prompt; a missing value is an error naming its flag'
complete -c catalog -n "__fish_catalog_using_subcommand completion" -s q -l quiet -d 'Silence status messages on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand completion" -s v -l verbose -d 'Print requests and raw error bodies on stderr'
complete -c catalog -n "__fish_catalog_using_subcommand completion" -s h -l help -d 'Print help'
complete -c catalog -n "__fish_catalog_using_subcommand completion" -s V -l version -d 'Print version'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "auth" -d 'Log in to a catalog server, show or remove stored credentials'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "workspaces" -d 'Workspaces: teams and environments that use integrations'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "integrations" -d 'Integrations: provider credentials stored once for the organisation'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "models" -d 'Models: allow-lists, custom models and prices, and the Model Garden'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "providers" -d 'AI providers: integrations made callable in a workspace as `@slug/model`'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "configs" -d 'Saved gateway configs: routing, fallbacks and retries sent as `x-portkey-config`'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "org" -d 'Organisation-wide settings'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "policies" -d 'Usage-limit and rate-limit policies: budgets per user, per model, per metadata value'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "alerts" -d 'Budget alerts: alert thresholds crossed and limits reached, and their delivery'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "audit" -d 'The changes made through the Admin API: who changed what, when, from what'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "api-keys" -d 'API keys for the Admin API and the gateway'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "migrate-vkeys" -d 'Migrate legacy virtual keys to integrations and AI providers with the same slugs'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "check" -d 'Explain whether a workspace can call a model, step by step (no call is made)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "usage" -d 'Every budget, rate limit and concurrency limit in scope with its live usage'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "export" -d 'Write the live catalog as a catalog file (YAML, or JSON with `-o json`)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "plan" -d 'Show what applying a catalog file would change (`--exit-code` for drift detection)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "apply" -d 'Apply a catalog file (`-f FILE`) or exactly a saved plan (`PLAN`)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "schema" -d 'Print the JSON Schema of the catalog file'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "serve" -d 'Serve the catalog\'s Admin API and gateway over HTTP for a team'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "admin" -d 'Operations on the catalog\'s database file: master-key status and rotation'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "db" -d 'The catalog\'s database as a whole: copy a catalog file to PostgreSQL'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "completion" -d 'Print a shell completion script'
complete -c catalog -n "__fish_catalog_using_subcommand help; and not __fish_seen_subcommand_from auth workspaces integrations models providers configs org policies alerts audit api-keys migrate-vkeys check usage export plan apply schema serve admin db completion help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "login" -d 'Check an API key against a server and store it for a profile'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "status" -d 'Show the profile, the server and which credential source is used'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "logout" -d 'Remove a profile and its stored key'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "use" -d 'Make a profile current (or `embedded`: the embedded catalog)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from workspaces" -f -a "list" -d 'List workspaces'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from workspaces" -f -a "get" -d 'Show one workspace'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from workspaces" -f -a "create" -d 'Create a workspace'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from workspaces" -f -a "update" -d 'Change a workspace\'s name, description or metadata'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from workspaces" -f -a "delete" -d 'Delete a workspace (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from workspaces" -f -a "provision" -d 'Give workspaces access to an integration, with budgets and rate limits'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from workspaces" -f -a "revoke" -d 'Take an integration away from workspaces (their providers are disabled)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from integrations" -f -a "list" -d 'List integrations'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from integrations" -f -a "get" -d 'Show one integration (secrets masked)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from integrations" -f -a "connect" -d 'Connect a provider: service, credentials, configuration, name and scope'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from integrations" -f -a "update" -d 'Change an integration\'s name, description, configuration or budget'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from integrations" -f -a "rotate-key" -d 'Replace an integration\'s provider key'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from integrations" -f -a "delete" -d 'Delete an integration (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from integrations" -f -a "workspaces" -d 'Show which workspaces may use an integration, their limits, usage and next reset'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "allow" -d 'Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "deny" -d 'Disable models on an integration'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "add" -d 'Add a custom or fine-tuned model to an integration'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "remove" -d 'Remove a custom model (a built-in model is disabled instead)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "price" -d 'Override a model\'s price (USD per 1M tokens), or --reset to the registry\'s'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "list" -d 'The Model Garden: every model a workspace can call; or one integration\'s models with --integration'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "show" -d 'One model\'s details and ready-to-use code calling it'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "test" -d 'Call a model through the gateway as a workspace would, and show what answered'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from providers" -f -a "list" -d 'List a workspace\'s AI providers with their integration, status, budget and rate limit'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from providers" -f -a "get" -d 'Show one AI provider'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from providers" -f -a "create" -d 'Create an AI provider on an integration provisioned to the workspace'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from providers" -f -a "update" -d 'Change an AI provider\'s name, note, limits or expiry'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from providers" -f -a "delete" -d 'Delete an AI provider (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from configs" -f -a "list" -d 'List saved gateway configs (one workspace\'s with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from configs" -f -a "get" -d 'Show one config with its current body'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from configs" -f -a "create" -d 'Save a gateway config from a JSON file (`-` reads stdin)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from configs" -f -a "update" -d 'Rename a config, or replace its body (a new version)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from configs" -f -a "delete" -d 'Delete a config and its versions (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from configs" -f -a "versions" -d 'List a config\'s versions, newest first'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from org" -f -a "settings" -d 'Show the organisation\'s settings, or change them with flags'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from policies" -f -a "list" -d 'List the policies in scope (one workspace\'s with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from policies" -f -a "get" -d 'Show one policy, with its busiest value keys'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from policies" -f -a "create" -d 'Create a usage-limit policy (--limit) or a rate-limit policy (--rate)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from policies" -f -a "update" -d 'Change a policy\'s name, limit, reset, alert or conditions'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from policies" -f -a "delete" -d 'Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from policies" -f -a "entities" -d 'A policy\'s value keys with their usage, busiest first'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from policies" -f -a "reset" -d 'Start one value key of a usage-limit policy over'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from alerts" -f -a "list" -d 'List budget alerts, newest first'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Show one change: who, when, the request, and each field before and after'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from api-keys" -f -a "list" -d 'List API keys (of one workspace with --workspace)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from api-keys" -f -a "create" -d 'Create an API key; the key is shown once'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from api-keys" -f -a "delete" -d 'Delete an API key (asks for confirmation, or pass --yes)'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "rotate-master-key" -d 'Re-seal every stored secret under a new master key, while servers keep running'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "master-key" -d 'The master key: where it lives and what it sealed'
complete -c catalog -n "__fish_catalog_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "copy" -d 'Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed secrets (the same master key opens them), usage and rate windows, alerts, audit log'
