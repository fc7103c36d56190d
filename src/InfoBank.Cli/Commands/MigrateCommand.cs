using System.CommandLine;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace InfoBank.Cli.Commands;

internal static class MigrateCommand
{
    public static Command Create()
    {
        var command = new Command("migrate", "Apply pending schema migrations to the configured database, creating a SQLite database (owner-only) if there is none. Safe to run again: applied scripts are skipped.");
        command.SetAction(parse =>
        {
            using var host = CliHost.Build(parse, mayCreateDatabase: true);
            var applied = host.Services.GetRequiredService<Migrator>().Migrate();
            if (DbConnectionFactory.SqliteFileOf(host.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value) is { } file)
            {
                Console.WriteLine($"Database: {file}");
            }
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
