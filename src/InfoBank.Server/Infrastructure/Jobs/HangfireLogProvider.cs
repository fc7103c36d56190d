using Hangfire.AspNetCore;
using Hangfire.Logging;

namespace InfoBank.Server.Infrastructure.Jobs;

/// <summary>
/// Hangfire's log provider is process-global, while the logger factory behind it belongs to one
/// host. When several hosts share a process (the test suite, a host rebuilt in place) and the host
/// that set the provider is disposed, every later Hangfire logger request threw
/// ObjectDisposedException, and because Hangfire builds its job client lazily that surfaced as a 500
/// on the first request that needed the client (DELETE /api/v1/me). A disposed factory now means a
/// silent logger instead; the live host's logging is unchanged.
/// </summary>
internal sealed class HangfireLogProvider(ILoggerFactory loggerFactory) : ILogProvider
{
    private readonly AspNetCoreLogProvider _inner = new(loggerFactory);

    public ILog GetLogger(string name)
    {
        try
        {
            return _inner.GetLogger(name);
        }
        catch (ObjectDisposedException)
        {
            return SilentLog.Instance;
        }
    }

    private sealed class SilentLog : ILog
    {
        public static readonly SilentLog Instance = new();

        public bool Log(Hangfire.Logging.LogLevel logLevel, Func<string>? messageFunc, Exception? exception = null) => false;
    }
}
