using System.CommandLine;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Cli.Commands;

internal static class MigrateCommand
{
    public static Command Create()
    {
        var command = new Command("migrate", "Apply pending schema migrations to the configured database. Safe to run again: applied scripts are skipped.");
        command.SetAction(parse =>
        {
            using var host = CliHost.Build(parse);
            var applied = host.Services.GetRequiredService<Migrator>().Migrate();
            if (applied.Count == 0)
            {
                Console.WriteLine("Database is up to date; nothing to apply.");
            }
            else
            {
                Console.WriteLine($"Applied {applied.Count} migration(s):");
                foreach (var name in applied)
                {
                    Console.WriteLine($"  {name}");
                }
            }
            return 0;
        });
        return command;
    }
}
