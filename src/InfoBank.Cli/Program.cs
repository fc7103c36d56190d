using System.CommandLine;
using InfoBank.Cli.Commands;

namespace InfoBank.Cli;

public static class InfoBankCli
{
    public static Task<int> Main(string[] args) => BuildRoot().Parse(args).InvokeAsync();

    /// <summary>The command tree; tests invoke it in-process.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("""
            infobank — operate an InfoBank information bank from the command line.

            Reads the same configuration as the server (appsettings.json from the application's folder,
            environment variables such as Database__Provider and Database__ConnectionString) and works on
            the same data directory: --data <dir>, else INFOBANK_DATA, else the per-user data folder.
            Relative paths in the settings (the SQLite file, the key files) are taken under it.
            """);
        root.Options.Add(CliHost.Data);
        root.Options.Add(CliHost.Provider);
        root.Options.Add(CliHost.ConnectionString);
        root.Subcommands.Add(MigrateCommand.Create());
        root.Subcommands.Add(RuleCommands.Pia());
        root.Subcommands.Add(RuleCommands.Policy());
        root.Subcommands.Add(AuditCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        root.Subcommands.Add(AdminCommand.Create());
        CliGuardedAction.Apply(root);
        return root;
    }
}
