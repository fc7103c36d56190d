using Hangfire.AspNetCore;
using Hangfire.Logging;

namespace InfoBank.Server.Infrastructure.Jobs;

/// <summary>
/// Hangfire's log provider is process-wide, and Hangfire.AspNetCore sets it to the logger factory of
/// whichever host configured Hangfire last. Every BackgroundJobClient asks it for a logger when it is
/// built, so once that host was disposed, another host's first erasure (whose endpoint builds the
/// client) failed with ObjectDisposedException: the intermittent 500 on DELETE /api/v1/me in parallel
/// test runs. This provider forwards to a host that is still running (the newest one), and logs
/// nothing when none is, so one host's shutdown never breaks another.
/// </summary>
internal sealed class HangfireLogBridge : ILogProvider
{
    public static readonly HangfireLogBridge Instance = new();

    private readonly Lock _gate = new();
    private ILoggerFactory[] _hosts = [];

    private HangfireLogBridge()
    {
    }

    public ILog GetLogger(string name) => new ForwardingLog(this, name);

    /// <summary>Makes a host's logger factory available until the returned registration is disposed (with the host).</summary>
    public IDisposable Register(ILoggerFactory loggerFactory)
    {
        lock (_gate)
        {
            _hosts = [.. _hosts, loggerFactory];
        }
        return new Registration(this, loggerFactory);
    }

    private ILoggerFactory? Newest()
    {
        var hosts = Volatile.Read(ref _hosts);
        return hosts.Length == 0 ? null : hosts[^1];
    }

    private void Unregister(ILoggerFactory loggerFactory)
    {
        lock (_gate)
        {
            _hosts = _hosts.Where(f => !ReferenceEquals(f, loggerFactory)).ToArray();
        }
    }

    private sealed class Registration(HangfireLogBridge bridge, ILoggerFactory loggerFactory) : IDisposable
    {
        public void Dispose() => bridge.Unregister(loggerFactory);
    }

    private sealed class ForwardingLog(HangfireLogBridge bridge, string name) : ILog
    {
        public bool Log(Hangfire.Logging.LogLevel logLevel, Func<string>? messageFunc, Exception? exception = null)
        {
            if (bridge.Newest() is not { } loggerFactory)
            {
                return false;
            }
            try
            {
                return new AspNetCoreLogProvider(loggerFactory).GetLogger(name).Log(logLevel, messageFunc, exception);
            }
            catch (ObjectDisposedException)
            {
                // That host is shutting down between our read and its unregistration.
                return false;
            }
        }
    }
}

/// <summary>A host's registration with <see cref="HangfireLogBridge"/>, a DI singleton disposed with the host.</summary>
internal sealed class HangfireLogRegistration(ILoggerFactory loggerFactory) : IDisposable
{
    private readonly IDisposable _registration = HangfireLogBridge.Instance.Register(loggerFactory);

    public void Dispose() => _registration.Dispose();
}
