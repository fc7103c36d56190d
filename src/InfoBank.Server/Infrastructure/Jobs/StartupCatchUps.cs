namespace InfoBank.Server.Infrastructure.Jobs;

/// <summary>
/// Work a feature re-derives from its own tables once the host has started, for one-off jobs that
/// may have been lost: Hangfire's in-memory storage (SQLite) forgets queued jobs on a crash or
/// restart, and without this only the next run of a recurring job (up to its interval later) would
/// pick them up. Must be idempotent, like every job; it may run while the same job runs elsewhere.
/// </summary>
public interface IStartupCatchUp
{
    /// <summary>A stable name for the logs (the recurring job it shadows, where there is one).</summary>
    string Name { get; }

    /// <summary>Does the work, with services from a scope of its own.</summary>
    Task RunAsync(IServiceProvider services, CancellationToken cancellationToken);
}

/// <summary>
/// Runs every <see cref="IStartupCatchUp"/> once, one after another, in the background after the
/// host has started: start-up and readiness never wait for them. Each gets a time limit
/// (<see cref="JobsOptions.StartupCatchUpTimeoutSeconds"/>; the recurring jobs finish what it cuts
/// short); a failure is logged with its exception and the others still run. Only on nodes that run
/// the job server (<see cref="JobsOptions.RunServer"/>): a node that runs no jobs runs no catch-ups.
/// </summary>
internal sealed partial class StartupCatchUpRunner(
    IEnumerable<IStartupCatchUp> catchUps,
    IServiceScopeFactory scopes,
    IHostApplicationLifetime lifetime,
    Microsoft.Extensions.Options.IOptions<JobsOptions> options,
    TimeProvider time,
    ILogger<StartupCatchUpRunner> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private CancellationTokenRegistration _started;
    private Task _run = Task.CompletedTask;

    /// <summary>Completes when every catch-up has finished, failed or timed out (for tests and shutdown).</summary>
    public Task Completion => _run;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _started = lifetime.ApplicationStarted.Register(() => _run = Task.Run(() => RunAllAsync(_stopping.Token)));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        try
        {
            await _run.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Shutdown's own deadline passed; the recurring jobs pick up what is left.
        }
    }

    public void Dispose()
    {
        _started.Dispose();
        _stopping.Dispose();
    }

    private async Task RunAllAsync(CancellationToken stopping)
    {
        var limit = TimeSpan.FromSeconds(options.Value.StartupCatchUpTimeoutSeconds);
        foreach (var catchUp in catchUps)
        {
            if (stopping.IsCancellationRequested)
            {
                return;
            }
            var started = time.GetTimestamp();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(limit);
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await catchUp.RunAsync(scope.ServiceProvider, timeout.Token);
                LogDone(logger, catchUp.Name, (long)time.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                LogStopped(logger, catchUp.Name);
                return;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                LogTimedOut(logger, catchUp.Name, limit.TotalSeconds);
            }
            catch (Exception ex)
            {
                LogFailed(logger, catchUp.Name, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Start-up catch-up {Name} done in {Milliseconds} ms")]
    private static partial void LogDone(ILogger logger, string name, long milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Start-up catch-up {Name} stopped by shutdown; its recurring job will finish it")]
    private static partial void LogStopped(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Start-up catch-up {Name} ran past {Seconds} s and was stopped; its recurring job will finish it")]
    private static partial void LogTimedOut(ILogger logger, string name, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Start-up catch-up {Name} failed; its recurring job will retry")]
    private static partial void LogFailed(ILogger logger, string name, Exception exception);
}
