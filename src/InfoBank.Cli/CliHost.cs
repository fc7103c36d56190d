using System.CommandLine;
using InfoBank.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InfoBank.Cli;

/// <summary>
/// Builds the same services the server uses, configured the same way (appsettings.json in the
/// working folder, INFOBANK_/Database__ environment variables), with command-line overrides.
/// </summary>
internal static class CliHost
{
    public static readonly Option<string?> Provider = new("--provider")
    {
        Description = "Database provider: sqlite, postgres or sqlserver (default: configuration, else sqlite).",
        Recursive = true,
    };

    public static readonly Option<string?> ConnectionString = new("--connection-string")
    {
        Description = "Database connection string (default: configuration, else Data Source=data/infobank.db).",
        Recursive = true,
    };

    public static IHost Build(ParseResult parse, Action<IServiceCollection>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = Directory.GetCurrentDirectory(),
            DisableDefaults = false,
        });
        var overrides = new Dictionary<string, string?>();
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
        builder.Services.AddInfoBankCore();
        configure?.Invoke(builder.Services);
        return builder.Build();
    }
}
