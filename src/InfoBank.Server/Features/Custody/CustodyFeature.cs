using InfoBank.Core.Custody;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Demo;
using InfoBank.Server.Infrastructure.Jobs;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Custody;

public static class CustodyFeature
{
    /// <summary>What both the server and the CLI need: options, the master key, data keys, stores and rotation.</summary>
    public static IServiceCollection AddCustodyCore(this IServiceCollection services)
    {
        services.AddOptions<CustodyOptions>().BindConfiguration(CustodyOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(provider => KeyRingMasterKey.LoadOrCreate(provider.GetRequiredService<IOptions<CustodyOptions>>().Value.MasterKeyFile));
        services.AddSingleton(DataInventory.Default);
        services.AddSingleton<ResidentKeyRing>();
        services.AddSingleton<CustodyStore>();
        services.AddSingleton<RecordVault>();
        services.AddScoped<KeyRotation>();
        services.AddSingleton<ErasureSweeper>();
        return services;
    }

    /// <summary>The web part: services behind the endpoints, jobs, demo data and the API module.</summary>
    public static IServiceCollection AddCustodyFeature(this IServiceCollection services)
    {
        services.AddScoped<DepositService>();
        // TryAdd: a deployment (or a test) may ship another catalogue of terms versions.
        services.TryAddSingleton(CustodyTermsCatalog.Embedded);
        services.AddScoped<ResidentCustodyService>();
        services.AddScoped<ResidentExporter>();
        services.AddSingleton<RetentionStore>();
        services.AddSingleton<RetentionSweeper>();
        services.AddTransient<CustodyJobs>();
        services.AddSingleton<IRecurringJobSetup, CustodyRecurringJobs>();
        services.AddSingleton<IStartupCatchUp, CustodyStartupCatchUp>();
        services.AddScoped<IDemoSeedPart, CustodyDemoSeed>();
        return services;
    }
}
