using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Jobs;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>The runner: once, after start-up, never blocking it; failures logged with their exception; each bounded in time.</summary>
public sealed class StartupCatchUpRunnerTests
{
    private sealed class Recording(string name, Func<CancellationToken, Task> work) : IStartupCatchUp
    {
        public string Name => name;

        public Task RunAsync(IServiceProvider services, CancellationToken cancellationToken) => work(cancellationToken);
    }

    private sealed class Logs : ILoggerProvider
    {
        public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(Logs logs) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                logs.Entries.Enqueue((logLevel, formatter(state, exception), exception));
        }
    }

    private static IHost Host(Logs logs, int timeoutSeconds, params IStartupCatchUp[] catchUps)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddProvider(logs);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.Configure<JobsOptions>(o => o.StartupCatchUpTimeoutSeconds = timeoutSeconds);
        foreach (var catchUp in catchUps)
        {
            builder.Services.AddSingleton(catchUp);
        }
        builder.Services.AddHostedService<StartupCatchUpRunner>();
        return builder.Build();
    }

    private static StartupCatchUpRunner Runner(IHost host) => host.Services.GetServices<IHostedService>().OfType<StartupCatchUpRunner>().Single();

    [Fact]
    public async Task A_failing_catch_up_is_logged_with_its_exception_and_the_next_one_still_runs()
    {
        var logs = new Logs();
        var ran = new List<string>();
        using var host = Host(logs, 60,
            new Recording("first", _ => throw new InvalidOperationException("broken")),
            new Recording("second", _ =>
            {
                ran.Add("second");
                return Task.CompletedTask;
            }));
        await host.StartAsync();
        await Runner(host).Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await host.StopAsync();

        Assert.Equal(["second"], ran);
        var failure = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains("first", failure.Message);
        Assert.IsType<InvalidOperationException>(failure.Exception);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("second", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_up_does_not_wait_for_a_catch_up_and_a_slow_one_is_stopped_at_its_time_limit()
    {
        var logs = new Logs();
        var started = new TaskCompletionSource();
        using var host = Host(logs, 1, new Recording("slow", async cancellationToken =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }));

        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(Runner(host).Completion.IsCompleted);

        await Runner(host).Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await host.StopAsync();
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("slow", StringComparison.Ordinal) && e.Message.Contains("1 s", StringComparison.Ordinal));
    }
}

/// <summary>
/// An erasure's sweep job enqueued just before a crash is lost with in-memory Hangfire storage. The
/// next start must sweep it at once, not when the recurring job next runs (up to ten minutes later).
/// </summary>
public sealed class ErasureSweepCatchUpTests
{
    private sealed class Restarted(InfoBankFactory before) : InfoBankFactory(before)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Jobs:RunServer", "true");
            builder.UseSetting("Jobs:WorkerCount", "1");
        }
    }

    [Fact]
    public async Task A_sweep_lost_with_the_in_memory_queue_runs_when_the_server_starts_again()
    {
        // The first server runs no job server: the sweep it enqueues stays in its memory and is lost.
        using var first = new InfoBankFactory();
        var (residentId, residentToken) = await first.SignInAsync(AccountKind.Resident);
        using var resident = first.CreateClientWithToken(residentToken);
        var terms = await resident.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        Assert.Equal(HttpStatusCode.Created, (await resident.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        })).StatusCode);
        var (sourceId, sourceToken) = await first.ClientTokenAsync(ClientKind.DataSource);
        var link = await resident.PutAsJsonAsync($"/api/v1/me/sources/{sourceId}", new { categories = new[] { "steps.daily" } });
        var reference = (await link.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("residentRef").GetString();
        using var source = first.CreateClientWithToken(sourceToken);
        var records = Enumerable.Range(1, 5).Select(i => new
        {
            resident = reference,
            category = "steps.daily",
            observedAt = DateTimeOffset.UtcNow.Date.AddDays(-i),
            payload = new { steps = 1000 * i },
            sourceRecordId = $"c{i}",
        }).ToArray();
        Assert.True((await source.PostAsJsonAsync("/api/v1/records", new { records })).IsSuccessStatusCode);
        var erased = await first.EraseAsync(resident, residentId);
        Assert.Equal(HttpStatusCode.OK, erased.StatusCode);
        var erasureId = (await erased.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("erasureId").GetGuid();

        Assert.Contains(erasureId, await first.Services.GetRequiredService<CustodyStore>().PendingErasuresAsync(default));
        Assert.Equal(5, await StoredAsync(first, residentId));

        // The restarted server (with a job server, as in production) sweeps it right after start-up.
        using var second = new Restarted(first);
        var runner = second.Services.GetServices<IHostedService>().OfType<StartupCatchUpRunner>().Single();
        await runner.Completion.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.DoesNotContain(erasureId, await second.Services.GetRequiredService<CustodyStore>().PendingErasuresAsync(default));
        Assert.Equal(0, await StoredAsync(second, residentId));
    }

    private static async Task<long> StoredAsync(InfoBankFactory factory, Guid residentId)
    {
        await using var connection = await factory.Connections.OpenAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM custody_records WHERE resident_id = @residentId", new { residentId });
    }
}
