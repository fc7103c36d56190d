using Dapper;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Infrastructure.Crypto;

/// <summary>
/// DataProtection's key manager, with one addition: the cached key ring can be dropped on demand.
/// DataProtection caches the ring for up to a day and only sees keys added through its own
/// process; a key-encryption key rotated by the CLI or by another node is written to the shared ring
/// in the database, and until this node reloads the ring every data key re-wrapped under the new
/// key fails to unwrap here. <see cref="Refresh"/> expires the cache, so the next use reloads it.
/// </summary>
public sealed class RefreshableKeyManager(IKeyManager inner) : IKeyManager, IDeletableKeyManager
{
    private CancellationTokenSource _changed = new();

    /// <summary>Makes the next key-ring use read the ring again from the database.</summary>
    public void Refresh()
    {
        // The old source is not disposed: a caller may be linking to its token right now.
        Interlocked.Exchange(ref _changed, new CancellationTokenSource()).Cancel();
    }

    public CancellationToken GetCacheExpirationToken() =>
        CancellationTokenSource.CreateLinkedTokenSource(inner.GetCacheExpirationToken(), Volatile.Read(ref _changed).Token).Token;

    public IKey CreateNewKey(DateTimeOffset activationDate, DateTimeOffset expirationDate) => inner.CreateNewKey(activationDate, expirationDate);

    public IReadOnlyCollection<IKey> GetAllKeys() => inner.GetAllKeys();

    public void RevokeAllKeys(DateTimeOffset revocationDate, string? reason = null) => inner.RevokeAllKeys(revocationDate, reason);

    public void RevokeKey(Guid keyId, string? reason = null) => inner.RevokeKey(keyId, reason);

    public bool CanDeleteKeys => inner is IDeletableKeyManager { CanDeleteKeys: true };

    public bool DeleteKeys(Func<IKey, bool> shouldDelete) =>
        inner is IDeletableKeyManager deletable ? deletable.DeleteKeys(shouldDelete) : throw new NotSupportedException("The key manager cannot delete keys.");
}

/// <summary>
/// What custody calls when the key ring may have changed under it (an unwrap found a key id this
/// node does not know). A no-op where DataProtection's ring is not the database's (the tests'
/// ephemeral provider).
/// </summary>
public sealed class KeyRingRefresh(IServiceProvider services)
{
    private readonly Lazy<RefreshableKeyManager?> _manager = new(() => services.GetService<IKeyManager>() as RefreshableKeyManager);

    public void Refresh() => _manager.Value?.Refresh();
}

/// <summary>Bound from <c>Custody:KeyRingPollSeconds</c>.</summary>
public sealed class KeyRingWatchOptions
{
    /// <summary>How often each node looks for ring changes made elsewhere (seconds; 0 turns the watch off).</summary>
    public int KeyRingPollSeconds { get; set; } = 15;
}

/// <summary>
/// Watches the shared key ring in the database and refreshes this node's cached ring when it
/// changes (a key added or revoked by another node or the CLI), so a rotation takes effect on every
/// node within seconds, without a restart.
/// </summary>
public sealed partial class KeyRingWatcher(
    DbConnectionFactory db, KeyRingRefresh refresh, IOptions<KeyRingWatchOptions> options, TimeProvider time, ILogger<KeyRingWatcher> logger) : BackgroundService
{
    private const string Fingerprint = "SELECT COUNT(*) AS Count, MAX(friendly_name) AS Newest FROM dataprotection_keys";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromSeconds(options.Value.KeyRingPollSeconds);
        if (period <= TimeSpan.Zero)
        {
            return;
        }
        RingFingerprint? seen = null;
        using var timer = new PeriodicTimer(period, time);
        do
        {
            try
            {
                var now = await db.ReadAsync(s => s.QuerySingleAsync<RingFingerprint>(Fingerprint, cancellationToken: stoppingToken), stoppingToken);
                if (seen is not null && now != seen)
                {
                    LogChanged(logger);
                    refresh.Refresh();
                }
                seen = now;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The next tick tries again; an unwrap that meets an unknown key refreshes on its own.
                LogFailed(logger, ex.GetType().Name);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private sealed record RingFingerprint
    {
        public long Count { get; init; }

        public string? Newest { get; init; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The shared key ring changed; this node reloads it")]
    private static partial void LogChanged(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the key ring's fingerprint ({ExceptionType}); will try again")]
    private static partial void LogFailed(ILogger logger, string exceptionType);
}
