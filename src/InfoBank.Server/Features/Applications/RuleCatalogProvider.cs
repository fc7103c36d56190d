using InfoBank.Core.Rules;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Applications;

/// <summary>Where the rule files are: <c>Pia:Directory</c> and <c>Policies:Directory</c>.</summary>
public sealed class RuleFilesOptions
{
    public string? PiaDirectory { get; set; }

    public string? PoliciesDirectory { get; set; }
}

/// <summary>
/// Holds the one rule catalog the server judges by, loaded at start-up. When the folders are not
/// configured it looks beside the repository (content root <c>src/InfoBank.Server</c> → <c>../../pia</c>),
/// then in the content root, then in the build output, where the build copies them.
/// </summary>
public sealed class RuleCatalogProvider(IOptions<RuleFilesOptions> options, IHostEnvironment environment)
{
    private readonly Lazy<RuleCatalog> _catalog = new(
        () => RuleCatalog.Load(Resolve(options.Value.PiaDirectory, "pia", environment.ContentRootPath), Resolve(options.Value.PoliciesDirectory, "policies", environment.ContentRootPath)),
        LazyThreadSafetyMode.ExecutionAndPublication);

    public RuleCatalog Catalog => _catalog.Value;

    /// <summary>The PIA folder in use (the demo reads its example applications from <c>examples/</c> there).</summary>
    public string PiaDirectory => Resolve(options.Value.PiaDirectory, "pia", environment.ContentRootPath);

    private static string Resolve(string? configured, string folder, string contentRoot)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured, contentRoot);
        }
        string[] candidates =
        [
            Path.GetFullPath(Path.Combine(contentRoot, "..", "..", folder)),
            Path.Combine(contentRoot, folder),
            Path.Combine(AppContext.BaseDirectory, folder),
        ];
        return candidates.FirstOrDefault(Directory.Exists) ?? candidates[0];
    }
}

/// <summary>
/// Loads every rule file before the server listens: a malformed file stops start-up with its
/// file and line, rather than the first application finding out.
/// </summary>
internal sealed partial class RuleFilesStartupCheck(RuleCatalogProvider provider, ILogger<RuleFilesStartupCheck> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var catalog = provider.Catalog;
        LogLoaded(logger, catalog.Pia.Rules.Count, catalog.Policies.Rules.Count, catalog.Hash);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {PiaRules} PIA rules and {PolicyRules} policy rules, content hash {Hash}")]
    private static partial void LogLoaded(ILogger logger, int piaRules, int policyRules, string hash);
}
