using InfoBank.Core.Access;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Jobs;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Access;

public static class AccessFeature
{
    public static IServiceCollection AddAccessFeature(this IServiceCollection services)
    {
        services.AddOptions<AccessOptions>().BindConfiguration(AccessOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(provider => AccessSecret.LoadOrCreate(provider.GetRequiredService<IOptions<AccessOptions>>().Value.SecretFile));
        services.AddSingleton(provider => new RecipientPseudonyms(provider.GetRequiredService<AccessKeys>().PseudonymKey));
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<AccessOptions>>().Value;
            return new PageCursors(provider.GetRequiredService<AccessKeys>().CursorKey, TimeSpan.FromMinutes(options.CursorMinutes), TimeSpan.FromHours(options.FetchHours));
        });
        services.AddSingleton<AccessStore>();
        services.AddSingleton<IResidentErasureStep, AccessErasureStep>();
        services.AddSingleton<IStartupCatchUp, AccessCellsCatchUp>();
        services.AddScoped<GrantAccessService>();
        services.AddTransient<AccessAlertJob>();
        services.AddSingleton<IRecurringJobSetup, AccessAlertJobSetup>();
        return services;
    }
}
