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

            Reads the same configuration as the server (appsettings.json in the current folder and
            environment variables such as Database__Provider and Database__ConnectionString).
            """);
        root.Options.Add(CliHost.Provider);
        root.Options.Add(CliHost.ConnectionString);
        root.Subcommands.Add(MigrateCommand.Create());
        root.Subcommands.Add(RuleCommands.Pia());
        root.Subcommands.Add(RuleCommands.Policy());
        root.Subcommands.Add(AuditCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        root.Subcommands.Add(AdminCommand.Create());
        return root;
    }
}
