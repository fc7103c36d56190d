using System.ComponentModel.DataAnnotations;
using Hangfire;
using Hangfire.Dashboard;
using Hangfire.PostgreSql;
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
        services.AddHangfire((provider, config) =>
        {
            config
                .UseLogProvider(new HangfireLogProvider(provider.GetRequiredService<ILoggerFactory>()))
                .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings();
            UseStorage(config, database);
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
        }
        services.AddHostedService<RecurringJobRegistrar>();
        return services;
    }

    // Hangfire keeps its queues beside our tables on the server databases, so every node of a
    // deployment shares them. On SQLite (one node by definition) they live in memory: durable
    // business state is always in our own tables and recurring jobs re-derive their work from it.
    private static void UseStorage(IGlobalConfiguration config, DatabaseOptions database)
    {
        switch (database.Provider)
        {
            case DatabaseProvider.Postgres:
                config.UsePostgreSqlStorage(
                    options => options.UseNpgsqlConnection(database.ConnectionString),
                    new PostgreSqlStorageOptions { SchemaName = "hangfire", PrepareSchemaIfNecessary = true });
                break;
            case DatabaseProvider.SqlServer:
                config.UseSqlServerStorage(database.ConnectionString);
                break;
            default:
                config.UseInMemoryStorage();
                break;
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
