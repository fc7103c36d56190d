using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Custody;

public sealed record KekInfo(Guid KeyId, DateTimeOffset Created, DateTimeOffset Activation, DateTimeOffset Expiration, bool Revoked, bool Current, long WrappedDeks);

public sealed record KeyStatus(Guid CurrentKekId, IReadOnlyList<KekInfo> Keks, long DeksUnderOtherKeks, long ResidentsWithRetiredKeys, long RecordsAwaitingReseal);

/// <summary>
/// Key rotation. The key-encryption key (a DataProtection key) rotates by creating a new key and
/// re-wrapping every data key under it in batches; the old key stays in the ring, so reads never
/// stop. A resident's data key rotates by creating a new version (new records use it at once),
/// re-sealing their records in batches, then destroying the old version after a grace period.
/// </summary>
public sealed partial class KeyRotation(
    DbConnectionFactory db,
    ResidentKeyRing keys,
    RecordVault vault,
    IKeyManager keyManager,
    IAuditLog audit,
    TimeProvider time,
    IOptions<CustodyOptions> options,
    ILogger<KeyRotation> logger)
{
    private const int Batch = 500;

    private const string SelectToRewrap = """
        SELECT resident_id, version, wrapped_key, kek_id
        FROM resident_keys
        WHERE kek_id <> @current AND (resident_id > @afterResident OR (resident_id = @afterResident AND version > @afterVersion))
        ORDER BY resident_id, version
        """;

    private const string UpdateWrapped = """
        UPDATE resident_keys SET wrapped_key = @wrappedKey, kek_id = @kekId
        WHERE resident_id = @residentId AND version = @version AND kek_id = @oldKekId
        """;

    private const string RetireOlder = """
        UPDATE resident_keys SET retired_at = @now
        WHERE resident_id = @residentId AND version < @version AND retired_at IS NULL
        """;

    private const string SelectWithRetired = "SELECT DISTINCT resident_id FROM resident_keys WHERE retired_at IS NOT NULL";

    private const string DestroyRetired = """
        DELETE FROM resident_keys
        WHERE resident_id = @residentId AND retired_at IS NOT NULL AND retired_at <= @cutoff
          AND NOT EXISTS (SELECT 1 FROM custody_records r WHERE r.resident_id = resident_keys.resident_id AND r.key_version = resident_keys.version)
        """;

    private const string CountByKek = "SELECT kek_id, COUNT(*) AS Count FROM resident_keys GROUP BY kek_id";

    private const string CountStale = """
        SELECT COUNT(*) FROM custody_records r
        WHERE r.key_version < (SELECT MAX(k.version) FROM resident_keys k WHERE k.resident_id = r.resident_id)
        """;

    private const string IsEnrolled = "SELECT COUNT(*) FROM residents WHERE account_id = @residentId AND status = 'enrolled'";

    /// <summary>Creates and activates a new key-encryption key now; returns its id. Re-wrapping follows with <see cref="RewrapAsync"/>.</summary>
    public async Task<Guid> RotateKekAsync(string actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var key = keyManager.CreateNewKey(now, now.AddDays(90));
        await audit.AppendAsync(new AuditEntryDraft(AuditKinds.KeyRotated, actor, Payload: new { key = "kek", keyId = key.KeyId }), cancellationToken);
        LogKekRotated(logger, key.KeyId);
        return key.KeyId;
    }

    /// <summary>
    /// Waits until this process wraps with <paramref name="keyId"/>: DataProtection refreshes its cached
    /// key ring in the background, so a key just created becomes the default a moment later.
    /// </summary>
    public async Task<bool> WaitUntilCurrentAsync(Guid keyId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + timeout;
        while (keys.CurrentKekId() != keyId)
        {
            if (time.GetUtcNow() >= deadline)
            {
                return false;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
        return true;
    }

    /// <summary>
    /// Re-wraps data keys that are not under this process's current KEK. Never moves a key to an
    /// older KEK: if the ring holds a newer active key than this process uses (its cached ring is
    /// stale), it does nothing and a later run finishes the job. Returns how many keys it re-wrapped.
    /// </summary>
    public async Task<int> RewrapAsync(CancellationToken cancellationToken)
    {
        var current = keys.CurrentKekId();
        var now = time.GetUtcNow();
        var all = keyManager.GetAllKeys();
        var currentKey = all.FirstOrDefault(k => k.KeyId == current);
        if (currentKey is not null && all.Any(k => !k.IsRevoked && k.ActivationDate > currentKey.ActivationDate && k.ActivationDate <= now))
        {
            LogRingStale(logger, current);
            return 0;
        }

        var rewrapped = 0;
        var afterResident = Guid.Empty;
        var afterVersion = int.MinValue;
        while (true)
        {
            var rows = await db.ReadAsync(s => s.QueryAsync<WrappedRow>(
                SelectToRewrap + db.Dialect.Limit("batch"), new { current, afterResident, afterVersion, batch = Batch }, cancellationToken), cancellationToken);
            if (rows.Count == 0)
            {
                break;
            }
            // Unwrapped and wrapped again before the transaction: DataProtection may write to the ring.
            var updates = new List<object>(rows.Count);
            foreach (var row in rows)
            {
                var key = await keys.UnwrapAsync(row.ResidentId, row.WrappedKey, cancellationToken);
                var wrapped = keys.Wrap(row.ResidentId, key);
                updates.Add(new { residentId = row.ResidentId, version = row.Version, wrappedKey = wrapped, kekId = ResidentKeyRing.KekIdOf(wrapped), oldKekId = row.KekId });
            }
            // Re-wrapping changes no key and no record, so it is bookkeeping, not an audited change.
            rewrapped += await db.InTransactionAsync(s => s.Connection.ExecuteAsync(new CommandDefinition(UpdateWrapped, updates, s.Transaction, cancellationToken: cancellationToken)), cancellationToken);
            afterResident = rows[^1].ResidentId;
            afterVersion = rows[^1].Version;
        }
        if (rewrapped > 0)
        {
            LogRewrapped(logger, rewrapped, current);
        }
        return rewrapped;
    }

    /// <summary>Gives the resident a new data key version (used for new records at once) and retires the older ones. Null if not enrolled.</summary>
    public async Task<int?> RotateResidentKeyAsync(Guid residentId, string actor, CancellationToken cancellationToken)
    {
        var newKey = keys.NewKey(residentId);
        var version = await audit.CommitAsync<int?>(async (scope, ct) =>
        {
            if (await scope.Db.ExecuteScalarAsync<long>(IsEnrolled, new { residentId }, ct) == 0)
            {
                return null;
            }
            var inserted = (await keys.InsertKeyAsync(scope.Db, residentId, newKey, scope.Now)).Version;
            await scope.Db.ExecuteAsync(RetireOlder, new { residentId, version = inserted, now = scope.Now }, ct);
            scope.Append(new AuditEntryDraft(AuditKinds.KeyRotated, actor, SubjectRef: residentId.ToString(), Payload: new { key = "dek", version = inserted }));
            return inserted;
        }, cancellationToken);
        keys.Forget(residentId);
        return version;
    }

    /// <summary>
    /// Re-seals the resident's records under their active key, then destroys retired versions no record
    /// uses any more once the grace period has passed. Idempotent; returns how many records it re-sealed.
    /// </summary>
    public async Task<long> ResealResidentAsync(Guid residentId, CancellationToken cancellationToken)
    {
        long resealed = 0;
        int done;
        while ((done = await vault.ResealBatchAsync(residentId, Batch, cancellationToken)) > 0)
        {
            resealed += done;
        }
        var cutoff = time.GetUtcNow().AddSeconds(-options.Value.RetiredKeyGraceSeconds);
        var destroyed = await audit.CommitAsync(async (scope, ct) =>
        {
            var count = await scope.Db.ExecuteAsync(DestroyRetired, new { residentId, cutoff }, ct);
            if (count > 0)
            {
                scope.Append(new AuditEntryDraft(AuditKinds.KeyDestroyed, "system", SubjectRef: residentId.ToString(), Payload: new { key = "dek", versions = count, reason = "rotated" }));
            }
            return count;
        }, cancellationToken);
        if (destroyed > 0)
        {
            keys.Forget(residentId);
        }
        return resealed;
    }

    /// <summary>Residents who still have retired key versions (re-sealing or destruction pending).</summary>
    public async Task<IReadOnlyList<Guid>> ResidentsWithRetiredKeysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<Guid>(new CommandDefinition(SelectWithRetired, cancellationToken: cancellationToken))).ToList();
    }

    public async Task<KeyStatus> StatusAsync(CancellationToken cancellationToken)
    {
        var current = keys.CurrentKekId();
        await using var connection = await db.OpenAsync(cancellationToken);
        var counts = (await connection.QueryAsync<KekCount>(new CommandDefinition(CountByKek, cancellationToken: cancellationToken))).ToDictionary(c => c.KekId, c => c.Count);
        var keks = keyManager.GetAllKeys()
            .OrderBy(k => k.ActivationDate)
            .Select(k => new KekInfo(k.KeyId, k.CreationDate, k.ActivationDate, k.ExpirationDate, k.IsRevoked, k.KeyId == current, counts.GetValueOrDefault(k.KeyId)))
            .ToList();
        var retired = (await connection.QueryAsync<Guid>(new CommandDefinition(SelectWithRetired, cancellationToken: cancellationToken))).Count();
        var stale = await connection.ExecuteScalarAsync<long>(new CommandDefinition(CountStale, cancellationToken: cancellationToken));
        return new KeyStatus(current, keks, counts.Where(c => c.Key != current).Sum(c => c.Value), retired, stale);
    }

    private sealed class WrappedRow
    {
        public Guid ResidentId { get; init; }

        public int Version { get; init; }

        public byte[] WrappedKey { get; init; } = [];

        public Guid KekId { get; init; }
    }

    private sealed class KekCount
    {
        public Guid KekId { get; init; }

        public long Count { get; init; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Key-encryption key rotated: new key {KeyId} is active")]
    private static partial void LogKekRotated(ILogger logger, Guid keyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-wrapped {Count} data keys under key-encryption key {KeyId}")]
    private static partial void LogRewrapped(ILogger logger, int count, Guid keyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-wrap skipped: this process still wraps with {KeyId} but the key ring has a newer active key")]
    private static partial void LogRingStale(ILogger logger, Guid keyId);
}
