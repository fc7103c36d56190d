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
using InfoBank.Server.Infrastructure.Errors;
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

    public const string DashboardPath = "/jobs";

    public static WebApplication MapInfoBankJobsDashboard(this WebApplication app)
    {
        // Operators only: the endpoint's policy accepts an operator's token or sign-in cookie, so
        // Hangfire's own filter (local requests only by default) is replaced by nothing. The
        // authorization middleware runs before the endpoint, so StatsGuard sees operators only.
        app.MapHangfireDashboard(DashboardPath, new DashboardOptions
        {
            DashboardTitle = "InfoBank jobs",
            Authorization = [],
        }).RequireAuthorization(IdentitySetup.JobsDashboardPolicy)
            .Add(endpoint =>
            {
                var dashboard = endpoint.RequestDelegate!;
                endpoint.RequestDelegate = context => StatsGuard(context, dashboard);
            });
        return app;
    }

    /// <summary>
    /// Hangfire's <c>/stats</c> (what the dashboard polls) reads a form on any method, so a GET,
    /// or a POST that is not a form, failed inside it with a 500. Every Hangfire POST is a form:
    /// anything else is a 415 before it. <c>GET /jobs/stats</c> answers the job counts as JSON
    /// (what an operator's script would want); other methods on it are a 405.
    /// </summary>
    private static async Task StatsGuard(HttpContext context, RequestDelegate dashboard)
    {
        var request = context.Request;
        var isStats = request.Path.Equals(DashboardPath + "/stats", StringComparison.OrdinalIgnoreCase);
        if (HttpMethods.IsPost(request.Method) && !request.HasFormContentType)
        {
            await RefuseAsync(context, ProblemTypes.UnsupportedMediaType, "The jobs dashboard takes form posts (application/x-www-form-urlencoded) only.");
            return;
        }
        if (!isStats || HttpMethods.IsPost(request.Method))
        {
            await dashboard(context);
            return;
        }
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            context.Response.Headers.Allow = "GET, HEAD, POST";
            await RefuseAsync(context, ProblemTypes.MethodNotAllowed, $"{DashboardPath}/stats takes GET (the job counts) or the dashboard's form POST.");
            return;
        }
        var statistics = context.RequestServices.GetRequiredService<JobStorage>().GetMonitoringApi().GetStatistics();
        await context.Response.WriteAsJsonAsync(new JobStatistics(
            statistics.Enqueued, statistics.Scheduled, statistics.Processing, statistics.Succeeded, statistics.Failed,
            statistics.Deleted, statistics.Awaiting, statistics.Retries, statistics.Recurring, statistics.Servers, statistics.Queues),
            context.RequestAborted);
    }

    private static Task RefuseAsync(HttpContext context, ProblemType type, string detail)
    {
        context.Response.StatusCode = type.Status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>()
            .TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = type.ToDetails(detail) }).AsTask();
    }

    /// <summary>The answer of <c>GET /jobs/stats</c>: how many jobs are in each state, servers and queues (null: the storage does not count it).</summary>
    public sealed record JobStatistics(
        long Enqueued, long Scheduled, long Processing, long Succeeded, long Failed, long Deleted,
        long? Awaiting, long? Retries, long Recurring, long Servers, long Queues);

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
