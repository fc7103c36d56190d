using InfoBank.Server.Features.Access;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.FileProviders;

namespace InfoBank.Server.Infrastructure.Data;

/// <summary>
/// Where configuration and data come from, the same for the server, the CLI and the tests: the
/// settings files from the application's own folder, and every data path under the
/// <see cref="DataDirectory"/>.
/// </summary>
public static class DataDirectorySetup
{
    /// <summary>Default data paths, relative to the data directory (the features' options classes bind over them).</summary>
    public const string DefaultKeyDirectory = "keys";
    public static readonly string DefaultMasterKeyFile = Path.Combine("keys", "keyring-master.key");
    public static readonly string DefaultAccessSecretFile = Path.Combine("keys", "access.key");
    public const string DefaultDemoNotesFile = "demo-credentials.txt";

    /// <summary>
    /// Reads <c>appsettings.json</c> and <c>appsettings.{Environment}.json</c> from the folder the
    /// application was built or published to, whatever the working folder and content root are.
    /// The host's defaults look in the content root (the working folder), so a server started from
    /// elsewhere silently ran without its settings, and with the framework's logging defaults.
    /// <c>appsettings.json</c> is required: running without it is a broken deployment, not a choice.
    /// Settings are read once, at start (a change takes a restart): watching the files costs an
    /// inotify instance per file and host, and a half-written file would change the running server.
    /// </summary>
    public static IConfigurationBuilder UseApplicationFolderSettings(this IConfigurationBuilder configuration, string environmentName)
    {
        var folder = AppContext.BaseDirectory;
        var environmentFile = $"appsettings.{environmentName}.json";
        var sources = configuration.Sources;
        var replaced = false;
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is JsonConfigurationSource { Path: { } path } json
                && (path.Equals("appsettings.json", StringComparison.OrdinalIgnoreCase) || path.Equals(environmentFile, StringComparison.OrdinalIgnoreCase)))
            {
                // Replaced in place so the precedence of the sources after it (environment, command line) is kept.
                sources[i] = ApplicationFolderJson(folder, path, optional: !path.Equals("appsettings.json", StringComparison.OrdinalIgnoreCase), reloadOnChange: false);
                replaced = true;
            }
        }
        if (!replaced)
        {
            sources.Insert(0, ApplicationFolderJson(folder, "appsettings.json", optional: false, reloadOnChange: false));
            sources.Insert(1, ApplicationFolderJson(folder, environmentFile, optional: true, reloadOnChange: false));
        }
        return configuration;
    }

    /// <summary>Maps <c>--data &lt;dir&gt;</c> on the command line to <see cref="DataDirectory.Variable"/>, above the environment.</summary>
    public static IConfigurationBuilder AddDataDirectoryArgument(this IConfigurationBuilder configuration, string[] args)
    {
        // Only --data is taken from this source; every other argument is left to the host's own parsing.
        var data = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == DataDirectory.Option && i + 1 < args.Length)
            {
                data.AddRange([args[i], args[i + 1]]);
                i++;
            }
            else if (args[i].StartsWith(DataDirectory.Option + "=", StringComparison.Ordinal))
            {
                data.Add(args[i]);
            }
        }
        configuration.Add(new CommandLineConfigurationSource
        {
            Args = data,
            SwitchMappings = new Dictionary<string, string> { [DataDirectory.Option] = DataDirectory.Variable },
        });
        return configuration;
    }

    /// <summary>
    /// The data directory as a service, and every data path resolved under it: the SQLite file
    /// (<c>Database:ConnectionString</c>), <c>Signing:KeyDirectory</c>, <c>Custody:MasterKeyFile</c>
    /// and <c>Access:SecretFile</c>. Call before the features bind their options, so the defaults
    /// set here come first and configuration binds over them.
    /// </summary>
    public static IServiceCollection AddInfoBankDataDirectory(this IServiceCollection services)
    {
        services.TryAddSingleton(provider => DataDirectory.FromConfiguration(provider.GetRequiredService<IConfiguration>()));
        services.TryAddSingleton<StorageStartupCheck>();

        services.Configure<SigningOptions>(o => o.KeyDirectory = DefaultKeyDirectory);
        services.Configure<CustodyOptions>(o => o.MasterKeyFile = DefaultMasterKeyFile);
        services.Configure<AccessOptions>(o => o.SecretFile = DefaultAccessSecretFile);

        services.AddOptions<DatabaseOptions>().PostConfigure<DataDirectory>((o, data) =>
        {
            if (o.Provider == DatabaseProvider.Sqlite && !string.IsNullOrWhiteSpace(o.ConnectionString))
            {
                o.ConnectionString = DbConnectionFactory.ResolveSqliteFile(o.ConnectionString, data.Resolve);
            }
        });
        services.AddOptions<SigningOptions>().PostConfigure<DataDirectory>((o, data) => o.KeyDirectory = data.Resolve(o.KeyDirectory));
        services.AddOptions<CustodyOptions>().PostConfigure<DataDirectory>((o, data) =>
        {
            if (!string.IsNullOrWhiteSpace(o.MasterKeyFile))
            {
                o.MasterKeyFile = data.Resolve(o.MasterKeyFile);
            }
        });
        services.AddOptions<AccessOptions>().PostConfigure<DataDirectory>((o, data) =>
        {
            if (!string.IsNullOrWhiteSpace(o.SecretFile))
            {
                o.SecretFile = data.Resolve(o.SecretFile);
            }
        });
        return services;
    }

    private static JsonConfigurationSource ApplicationFolderJson(string folder, string path, bool optional, bool reloadOnChange) => new()
    {
        FileProvider = new PhysicalFileProvider(folder),
        Path = path,
        Optional = optional,
        ReloadOnChange = reloadOnChange,
    };
}
