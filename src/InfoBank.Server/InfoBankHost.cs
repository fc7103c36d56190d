using InfoBank.Server.Features.Access;
using InfoBank.Server.Features.Applications;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Data;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Demo;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Health;
using InfoBank.Server.Infrastructure.Jobs;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.Internal;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Scalar.AspNetCore;

namespace InfoBank.Server;

/// <summary>
/// The composition root, kept out of Program.cs so the CLI and the tests build the same service.
/// Each feature contributes an <c>AddXxx</c> for its services and a <c>MapXxxApi</c> for its routes.
/// </summary>
public static class InfoBankHost
{
    /// <summary>Services every entry point needs: options, the database, the clock, DataProtection.</summary>
    public static IServiceCollection AddInfoBankCore(this IServiceCollection services)
    {
        services.AddInfoBankDataDirectory();
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.Section);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<DbConnectionFactory>();
        services.AddSingleton<Migrator>();
        services.AddSingleton<DemoSeeder>();
        services.AddSigningKeys();
        SqliteTypeHandlers.Register();

        services.AddDataProtection().SetApplicationName("InfoBank");
        // Every node (and the CLI) shares the ring in the database; this node reloads it when it changes.
        services.Replace(ServiceDescriptor.Singleton<IKeyManager>(provider => new RefreshableKeyManager(new XmlKeyManager(
            provider.GetRequiredService<IOptions<KeyManagementOptions>>(), provider.GetRequiredService<IActivator>(), provider.GetRequiredService<ILoggerFactory>()))));
        services.AddSingleton<KeyRingRefresh>();
        services.AddOptions<KeyRingWatchOptions>().BindConfiguration("Custody");
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(provider =>
            new ConfigureOptions<KeyManagementOptions>(options =>
            {
                options.XmlRepository = new DbXmlRepository(provider.GetRequiredService<DbConnectionFactory>(), provider.GetRequiredService<TimeProvider>());
                // The key ring is encrypted under a master key kept outside the database (Custody:MasterKeyFile).
                options.XmlEncryptor = new MasterKeyXmlEncryptor(provider.GetRequiredService<KeyRingMasterKey>);
            }));
        services.AddCustodyCore();
        return services;
    }

    public static WebApplicationBuilder AddInfoBank(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddInfoBankCore();
        services.AddOptions<LimitsOptions>().BindConfiguration(LimitsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddInfoBankProblemDetails();
        services.AddValidation();
        services.AddInfoBankOpenApi();
        services.AddInfoBankHealthChecks();
        services.AddHostedService<KeyRingWatcher>();
        services.AddInfoBankJobs(builder.Configuration);
        services.AddCustodyFeature();
        services.AddIdentityFeature();
        services.AddAuditFeature();
        services.AddConsentFeature();
        services.AddApplicationsFeature();
        services.AddAccessFeature();
        return builder;
    }

    public static WebApplication UseInfoBank(this WebApplication app)
    {
        app.UseInfoBankSecurityHeaders();
        app.UseInfoBankProblemDetails();
        app.UseRequestTargetGuard();
        app.UseRouting();
        app.UseCredentialRateLimits();
        app.UseRequestBodyGate(RequestBodyStage.BeforeAuthentication);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRequestBodyGate(RequestBodyStage.AfterAuthorization);

        // Deny by default (IdentitySetup's fallback policy); these are the routes open to anyone.
        app.MapHealthChecks("/health/live", new() { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new() { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = HealthResponse.WriteAsync }).AllowAnonymous();
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapScalarApiReference("/reference", options => options
            .WithTitle("InfoBank API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json")
            // "Send" with a pasted access token (the OpenAPI document's bearer scheme); never kept in the browser's storage.
            .AddPreferredSecuritySchemes([OpenApiSetup.BearerSchemeName])
            // Per-request nonce for its inline script (SecurityHeaders); nothing from third-party hosts.
            .WithNonce()
            .DisableDefaultFonts()
            .DisableTelemetry()
            .DisableAgent()).AllowAnonymous();
        app.MapRazorPages();
        app.MapInfoBankJobsDashboard();

        // The route table: each feature's routes, under prefixes no other feature maps.
        app.MapProblemTypesApi();       // /problems
        app.MapKeysApi();               // /api/v1/keys
        app.MapConnectEndpoints();      // /connect/*
        app.MapAdminApi();              // /api/v1/admin
        app.MapCustodyApi();            // /api/v1/custody, /api/v1/inventory, /api/v1/me, /api/v1/records
        app.MapConsentApi();            // /api/v1/offers, /api/v1/me/consents
        app.MapApplicationsApi();       // /api/v1/applications, /api/v1/committee/applications, /api/v1/committee/grants
        app.MapGrantAccessApi();        // /api/v1/grants
        app.MapAccessApi();             // /api/v1/me/passbook, /api/v1/committee/access-log, /api/v1/committee/alerts
        app.MapAuditApi();              // /api/v1/audit, /api/v1/me/audit

        // Endpoints an embedding host adds (the tests' probes of the shared middleware); none in production.
        foreach (var module in app.Services.GetServices<IApiModule>())
        {
            module.MapEndpoints(app);
        }
        return app;
    }

    /// <summary>Start-up work before the server listens: storage checks, migrations, then (when asked) the demo data.</summary>
    public static async Task PrepareAsync(this WebApplication app, CancellationToken cancellationToken = default)
    {
        app.Services.GetRequiredService<StorageStartupCheck>().Run();
        var db = app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (db.MigrateOnStart)
        {
            app.Services.GetRequiredService<Migrator>().Migrate();
        }
        if (app.Services.GetRequiredService<IOptions<DemoOptions>>().Value.Seed)
        {
            var seeded = await app.Services.GetRequiredService<DemoSeeder>().SeedAsync(cancellationToken);
            DemoNotes.Write(app.Configuration, seeded);
        }
    }
}
