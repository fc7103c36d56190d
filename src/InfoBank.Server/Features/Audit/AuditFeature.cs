using InfoBank.Server.Infrastructure.Jobs;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace InfoBank.Server.Features.Audit;

public static class AuditFeature
{
    /// <summary>The audit log itself: store, single writer and checkpoint signer. The CLI calls this too.</summary>
    public static IServiceCollection AddAuditLog(this IServiceCollection services)
    {
        services.AddOptions<AuditOptions>().BindConfiguration(AuditOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<AuditStore>();
        services.AddSingleton<SignerStateFile>();
        services.AddSingleton<AuditLogWriter>();
        services.AddSingleton<IAuditLog>(provider => provider.GetRequiredService<AuditLogWriter>());
        services.TryAddSingleton<ICheckpointSigner, CheckpointSigner>();
        services.AddSingleton<AuditProofs>();
        services.AddSingleton<AuditExporter>();
        services.AddSingleton<AuditCheckpointJob>();
        services.AddSingleton<SignerDiagnosis>();
        return services;
    }

    /// <summary>Everything the server adds for auditing.</summary>
    public static IServiceCollection AddAuditFeature(this IServiceCollection services)
    {
        services.AddAuditLog();
        services.AddSingleton<IRecurringJobSetup>(provider => provider.GetRequiredService<AuditCheckpointJob>());
        services.AddHealthChecks().AddCheck<AuditSignerHealthCheck>(AuditSignerHealthCheck.Name, tags: ["ready"]);
        return services;
    }
}
