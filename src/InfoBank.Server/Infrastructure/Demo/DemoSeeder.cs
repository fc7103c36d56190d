namespace InfoBank.Server.Infrastructure.Demo;

/// <summary>Bound from the <c>Demo</c> configuration section.</summary>
public sealed class DemoOptions
{
    public const string Section = "Demo";

    /// <summary>Seed the Sapporo "Kenko Point" demo on start-up (scripts/run.sh turns this on).</summary>
    public bool Seed { get; set; }
}

/// <summary>
/// One feature's share of the demo data. Parts run in <see cref="Order"/> and must be idempotent:
/// the seeder runs on every start with seeding on, and a part that finds its data skips it.
/// Parts go through the same services the API uses, so the demo exercises the real code paths.
/// </summary>
public interface IDemoSeedPart
{
    int Order { get; }

    Task SeedAsync(DemoSeedContext context, CancellationToken cancellationToken);
}

/// <summary>What the parts tell the person who started the demo (credentials, ids), printed once at the end.</summary>
public sealed class DemoSeedContext
{
    public List<string> Notes { get; } = [];
}

// Parts use request-scoped services (client registry, audit-recording services), so the seeder
// resolves them in a scope of its own rather than capturing them in a singleton.
public sealed partial class DemoSeeder(IServiceScopeFactory scopes, ILogger<DemoSeeder> logger)
{
    public async Task<DemoSeedContext> SeedAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var parts = scope.ServiceProvider.GetServices<IDemoSeedPart>();
        var context = new DemoSeedContext();
        foreach (var part in parts.OrderBy(p => p.Order))
        {
            await part.SeedAsync(context, cancellationToken);
            LogPartSeeded(logger, part.GetType().Name);
        }
        return context;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo data part {Part} is in place")]
    private static partial void LogPartSeeded(ILogger logger, string part);
}
