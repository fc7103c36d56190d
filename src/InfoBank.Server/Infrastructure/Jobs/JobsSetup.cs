using System.ComponentModel.DataAnnotations;
using Hangfire;
using Hangfire.AspNetCore;
using Hangfire.Dashboard;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.SqlServer;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Infrastructure.Jobs;

/// <summary>Bound from the <c>Jobs</c> configuration section.</summary>
public sealed class JobsOptions
{
    public const string Section = "Jobs";

    /// <summary>Run a Hangfire server in this process (one node of a deployment may leave it off).</summary>
    public bool RunServer { get; set; } = true;

    [Range(1, 64)]
    public int WorkerCount { get; set; } = 2;

    /// <summary>Longest one start-up catch-up (<see cref="IStartupCatchUp"/>) may run before it is stopped.</summary>
    [Range(1, 86_400)]
    public int StartupCatchUpTimeoutSeconds { get; set; } = 600;
}

/// <summary>
/// A feature's recurring jobs. Implementations register with <see cref="IRecurringJobManager"/>;
/// job arguments are ids only and every job is idempotent, because Hangfire may run a job twice.
/// </summary>
public interface IRecurringJobSetup
{
    void Register(IRecurringJobManager jobs);
}

public static class JobsSetup
{
    public static IServiceCollection AddInfoBankJobs(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var database = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        // Each host gets its own storage and job activator as DI singletons. AddHangfire's defaults
        // read the process-wide JobStorage.Current and JobActivator.Current, which the last host to
        // configure wins: with several hosts in one process (the tests' factories) one host enqueued
        // into another's storage, and failed once that host disposed it. AddHangfire only adds its
        // defaults when none are registered, so these come first; the client, the recurring-job
        // manager, the server and the dashboard all take the storage from DI.
        services.AddSingleton<JobStorage>(provider =>
        {
            // The serializer settings below are process-wide and must be in place before any job is written.
            provider.GetRequiredService<IGlobalConfiguration>();
            return CreateStorage(database);
        });
        services.AddSingleton<JobActivator>(provider => new AspNetCoreJobActivator(provider.GetRequiredService<IServiceScopeFactory>()));
        services.AddSingleton<HangfireLogRegistration>();
        services.AddHangfire((provider, config) =>
        {
            config
                .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings()
                // Replaces the default (this host's logger factory, process-wide): see HangfireLogBridge.
                .UseLogProvider(HangfireLogBridge.Instance);
            provider.GetRequiredService<HangfireLogRegistration>();
        });

        var jobs = configuration.GetSection(JobsOptions.Section).Get<JobsOptions>() ?? new JobsOptions();
        if (jobs.RunServer)
        {
            services.AddHangfireServer(options =>
            {
                options.WorkerCount = jobs.WorkerCount;
                // Recurring jobs with a seconds field (the audit checkpoint every few seconds) need a short poll.
                options.SchedulePollingInterval = TimeSpan.FromSeconds(1);
            });
            services.AddHostedService<StartupCatchUpRunner>();
        }
        services.AddHostedService<RecurringJobRegistrar>();
        return services;
    }

    // Hangfire keeps its queues beside our tables on the server databases, so every node of a
    // deployment shares them. On SQLite (one node by definition) they live in memory: durable
    // business state is always in our own tables and recurring jobs re-derive their work from it.
    private static JobStorage CreateStorage(DatabaseOptions database)
    {
        switch (database.Provider)
        {
            case DatabaseProvider.Postgres:
                var options = new PostgreSqlStorageOptions { SchemaName = "hangfire", PrepareSchemaIfNecessary = true };
                return new PostgreSqlStorage(new NpgsqlConnectionFactory(database.ConnectionString, options, null), options);
            case DatabaseProvider.SqlServer:
                return new SqlServerStorage(database.ConnectionString);
            default:
                return new InMemoryStorage();
        }
    }

    public static WebApplication MapInfoBankJobsDashboard(this WebApplication app)
    {
        // Operators only: the endpoint's policy accepts an operator's token or sign-in cookie, so
        // Hangfire's own filter (local requests only by default) is replaced by nothing.
        app.MapHangfireDashboard("/jobs", new DashboardOptions
        {
            DashboardTitle = "InfoBank jobs",
            Authorization = [],
        }).RequireAuthorization(IdentitySetup.JobsDashboardPolicy);
        return app;
    }

    private sealed class RecurringJobRegistrar(IEnumerable<IRecurringJobSetup> setups, IRecurringJobManager jobs) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            foreach (var setup in setups)
            {
                setup.Register(jobs);
            }
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
