using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Demo;
using InfoBank.Server.Infrastructure.Jobs;

namespace InfoBank.Server.Features.Consent;

public static class ConsentSetup
{
    /// <summary>The consent ledger, offers, receipts, the expiry job, the demo offers and the HTTP API.</summary>
    public static IServiceCollection AddConsentFeature(this IServiceCollection services)
    {
        services.AddConsentServices();
        services.AddSingleton<IRecurringJobSetup, ConsentJobsSetup>();
        services.AddSingleton<IDemoSeedPart, ConsentDemoSeed>();
        services.AddSingleton<IResidentExportSection, ConsentExportSection>();
        services.AddSingleton<IResidentErasureStep, ConsentErasureStep>();
        return services;
    }

    /// <summary>The services without the web parts, for the CLI and for features that call them (applications, access).</summary>
    public static IServiceCollection AddConsentServices(this IServiceCollection services)
    {
        services.AddOptions<ConsentOptions>().BindConfiguration(ConsentOptions.Section);
        services.AddSingleton<ConsentStore>();
        services.AddSingleton<ConsentAuditor>();
        services.AddSingleton<ConsentReceipts>();
        services.AddSingleton<ConsentService>();
        services.AddSingleton<ConsentDecisions>();
        services.AddSingleton<OfferService>();
        services.AddTransient<ConsentExpiryJob>();
        return services;
    }
}
