using Hangfire;
using InfoBank.Server.Infrastructure.Demo;
using InfoBank.Server.Infrastructure.Jobs;

namespace InfoBank.Server.Features.Applications;

public static class ApplicationsFeature
{
    /// <summary>Applications, PIA, committee policies, votes, decisions and grants.</summary>
    public static IServiceCollection AddApplicationsFeature(this IServiceCollection services)
    {
        services.AddApplicationRules();
        services.AddSingleton<ApplicationStore>();
        services.AddScoped<ApplicationService>();
        services.AddScoped<IGrantOffers, ConsentGrantOffers>();
        services.AddHostedService<RuleFilesStartupCheck>();
        services.AddSingleton<IRecurringJobSetup, GrantExpiryJob>();
        services.AddSingleton<IDemoSeedPart, ApplicationsDemoSeed>();
        return services;
    }

    /// <summary>The rule files alone (also what the CLI needs to judge applications without a server).</summary>
    public static IServiceCollection AddApplicationRules(this IServiceCollection services)
    {
        services.AddOptions<RuleFilesOptions>().Configure<IConfiguration>((options, configuration) =>
        {
            options.PiaDirectory = configuration["Pia:Directory"];
            options.PoliciesDirectory = configuration["Policies:Directory"];
        });
        services.AddSingleton<RuleCatalogProvider>();
        return services;
    }
}

/// <summary>Moves grants past their validity to expired, hourly. Idempotent: an expired grant is not touched again.</summary>
public sealed class GrantExpiryJob(IServiceScopeFactory scopes) : IRecurringJobSetup
{
    public const string Id = "applications.grant-expiry";

    public void Register(IRecurringJobManager jobs)
    {
        jobs.AddOrUpdate<GrantExpiryJob>(Id, job => job.RunAsync(CancellationToken.None), Cron.Hourly());
        // The offer-repair job of earlier versions is gone: a grant and its offer now commit together.
        // Storages that outlive the process (PostgreSQL, SQL Server) still hold its schedule.
        jobs.RemoveIfExists("applications.grant-offer-sync");
    }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ApplicationService>().ExpireDueGrantsAsync(cancellationToken);
    }
}
