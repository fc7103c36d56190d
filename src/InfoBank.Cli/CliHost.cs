using System.CommandLine;
using System.CommandLine.Invocation;
using InfoBank.Server;
using InfoBank.Server.Infrastructure.Data;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace InfoBank.Cli;

/// <summary>
/// Builds the same services the server uses, configured the same way (appsettings.json from the
/// application's folder, environment variables, the same data directory), with command-line overrides.
/// </summary>
internal static class CliHost
{
    public static readonly Option<string?> Data = new(DataDirectory.Option)
    {
        Description = $"The data directory: the SQLite database, keys and secrets (default: {DataDirectory.Variable}, else the per-user data folder). Use the server's: scripts/run.sh prints it.",
        Recursive = true,
    };

    public static readonly Option<string?> Provider = new("--provider")
    {
        Description = "Database provider: sqlite, postgres or sqlserver (default: configuration, else sqlite).",
        Recursive = true,
    };

    public static readonly Option<string?> ConnectionString = new("--connection-string")
    {
        Description = "Database connection string (default: configuration, else Data Source=infobank.db in the data directory).",
        Recursive = true,
    };

    /// <summary>
    /// The host for a command that works on an existing database. Only <c>migrate</c> passes
    /// <paramref name="mayCreateDatabase"/>: any other command refuses, naming the path it looked at,
    /// rather than quietly starting a new, empty bank in whatever folder it was run from.
    /// </summary>
    public static IHost Build(ParseResult parse, Action<IServiceCollection>? configure = null, bool mayCreateDatabase = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = Directory.GetCurrentDirectory(),
            DisableDefaults = false,
        });
        builder.Configuration.UseApplicationFolderSettings(builder.Environment.EnvironmentName);
        var overrides = new Dictionary<string, string?>();
        if (parse.GetValue(Data) is { } data)
        {
            overrides[DataDirectory.Variable] = data;
        }
        if (parse.GetValue(Provider) is { } provider)
        {
            overrides["Database:Provider"] = provider;
        }
        if (parse.GetValue(ConnectionString) is { } connection)
        {
            overrides["Database:ConnectionString"] = connection;
        }
        builder.Configuration.AddInMemoryCollection(overrides);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        // The settings file's levels are the server's (Information); a command prints its own results
        // and only warnings besides. A rule for the console provider takes precedence over them.
        builder.Logging.AddFilter<ConsoleLoggerProvider>(level => level >= LogLevel.Warning);
        builder.Services.AddInfoBankCore();
        configure?.Invoke(builder.Services);
        var host = builder.Build();
        if (!mayCreateDatabase)
        {
            try
            {
                RequireDatabase(host.Services);
            }
            catch
            {
                host.Dispose();
                throw;
            }
        }
        return host;
    }

    private static void RequireDatabase(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (DbConnectionFactory.SqliteFileOf(options) is { } file && !File.Exists(file))
        {
            var data = services.GetRequiredService<DataDirectory>();
            throw new CliException(2, $"""
                error: there is no database at {file}
                  data directory: {data}
                Point the CLI at the server's data directory with {DataDirectory.Variable}=<dir> or {DataDirectory.Option} <dir>
                (scripts/run.sh prints the one it uses), or name the database with --connection-string.
                `infobank migrate` creates a new database there.
                """);
        }
    }
}

/// <summary>A refusal the CLI explains in its own words and exit code, without a stack trace.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Runs a command's action and turns a <see cref="CliException"/> into its message and exit code.</summary>
internal sealed class CliGuardedAction(CommandLineAction inner) : AsynchronousCommandLineAction
{
    public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
    {
        try
        {
            return inner switch
            {
                AsynchronousCommandLineAction asynchronous => await asynchronous.InvokeAsync(parseResult, cancellationToken),
                SynchronousCommandLineAction synchronous => synchronous.Invoke(parseResult),
                _ => throw new InvalidOperationException($"Unknown command action {inner.GetType().Name}."),
            };
        }
        catch (CliException e)
        {
            await parseResult.InvocationConfiguration.Error.WriteLineAsync(e.Message);
            return e.ExitCode;
        }
    }

    /// <summary>Wraps the action of <paramref name="command"/> and of every subcommand.</summary>
    public static void Apply(Command command)
    {
        if (command.Action is { } action and not CliGuardedAction)
        {
            command.Action = new CliGuardedAction(action);
        }
        foreach (var sub in command.Subcommands)
        {
            Apply(sub);
        }
    }
}
