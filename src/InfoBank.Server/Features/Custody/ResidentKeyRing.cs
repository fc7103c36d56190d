using System.Security.Cryptography;
using Dapper;
using InfoBank.Core.Custody;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Custody;

/// <summary>A fresh data key and its wrapped form, not yet stored.</summary>
public sealed record NewResidentKey(byte[] Key, byte[] Wrapped, Guid KekId);

/// <summary>A resident's data key of one version, unwrapped.</summary>
public sealed record ResidentKey(int Version, byte[] Key);

/// <summary>
/// Residents' data keys (DEKs): random 256-bit keys, versioned, stored wrapped by a key-encryption
/// key (KEK) from ASP.NET Core DataProtection, whose key ring is in the database and encrypted at rest
/// under the master key file. Unwrapped keys are cached in memory, bounded in count and lifetime.
/// Deleting a resident's key rows is crypto-shredding: their records can no longer be opened.
/// </summary>
public sealed class ResidentKeyRing : IDisposable
{
    /// <summary>The DataProtection purpose of the KEK. Changing it would orphan every wrapped key.</summary>
    public const string KekPurpose = "InfoBank.Custody.ResidentKeys.v1";

    // "DEK1" ‖ resident id: names the format and ties the wrapped key to its resident.
    private static ReadOnlySpan<byte> BindingLabel => "DEK1"u8;

    private const int BindingSize = 4 + 16;

    private const string SelectKeys = """
        SELECT version, wrapped_key, retired_at
        FROM resident_keys WHERE resident_id = @residentId
        """;

    private const string NextVersion = "UPDATE residents SET last_key_version = last_key_version + 1 WHERE account_id = @residentId";
    private const string ReadVersion = "SELECT last_key_version FROM residents WHERE account_id = @residentId";

    private const string InsertKey = """
        INSERT INTO resident_keys (resident_id, version, wrapped_key, kek_id, created_at)
        VALUES (@residentId, @version, @wrappedKey, @kekId, @now)
        """;

    private readonly DbConnectionFactory _db;
    private readonly IDataProtector _kek;
    private readonly KeyRingRefresh _ring;
    private readonly MemoryCache _cache;
    private readonly TimeSpan _lifetime;

    public ResidentKeyRing(DbConnectionFactory db, IDataProtectionProvider dataProtection, KeyRingRefresh ring, IOptions<CustodyOptions> options)
    {
        _db = db;
        _ring = ring;
        _kek = dataProtection.CreateProtector(KekPurpose);
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = options.Value.DekCacheSize, Clock = null });
        _lifetime = TimeSpan.FromSeconds(options.Value.DekCacheSeconds);
    }

    /// <summary>
    /// A new random data key, already wrapped. Wrapping happens before any write transaction opens:
    /// DataProtection may write a new key to the key ring (in this database) on first use or
    /// roll-over, and on SQLite that write would wait on our own transaction's lock.
    /// </summary>
    public NewResidentKey NewKey(Guid residentId)
    {
        var key = RecordSeal.NewKey();
        var wrapped = Wrap(residentId, key);
        return new NewResidentKey(key, wrapped, KekIdOf(wrapped));
    }

    /// <summary>
    /// Stores a key from <see cref="NewKey"/> as the resident's next version, inside the caller's
    /// transaction (enrolment, rotation). The version counter lives on the resident's row, so versions
    /// never repeat, even after erasure and re-enrolment.
    /// </summary>
    public async Task<ResidentKey> InsertKeyAsync(DbSession s, Guid residentId, NewResidentKey key, DateTimeOffset now)
    {
        await s.ExecuteAsync(NextVersion, new { residentId });
        var version = await s.ExecuteScalarAsync<int>(ReadVersion, new { residentId });
        await s.ExecuteAsync(InsertKey, new
        {
            residentId,
            version,
            wrappedKey = key.Wrapped,
            kekId = key.KekId,
            now,
        });
        return new ResidentKey(version, key.Key);
    }

    /// <summary>The key new records are sealed with (the newest unretired version), or null when the resident has none (not enrolled, erased).</summary>
    public async Task<ResidentKey?> GetActiveAsync(Guid residentId, CancellationToken cancellationToken = default) =>
        (await LoadAsync(residentId, cancellationToken))?.Active;

    /// <summary>A specific version (to open older records), or null when it no longer exists (shredded).</summary>
    public async Task<byte[]?> GetAsync(Guid residentId, int version, CancellationToken cancellationToken = default) =>
        (await LoadAsync(residentId, cancellationToken))?.Versions.GetValueOrDefault(version);

    /// <summary>Drops the resident's keys from memory (after erasure or rotation) so the next use reads the table.</summary>
    public void Forget(Guid residentId) => _cache.Remove(residentId);

    /// <summary>
    /// Wraps a data key under the current KEK, bound to the resident so a wrapped key cannot be moved
    /// to another resident. (Moving it to another version of the same resident only breaks reads:
    /// the key version is part of every record's associated data.)
    /// </summary>
    public byte[] Wrap(Guid residentId, ReadOnlySpan<byte> key)
    {
        var plain = new byte[BindingSize + key.Length];
        WriteBinding(plain, residentId);
        key.CopyTo(plain.AsSpan(BindingSize));
        try
        {
            return _kek.Protect(plain);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>Unwraps a data key; throws <see cref="CryptographicException"/> if the KEK is unavailable or the key belongs to another row.</summary>
    public byte[] Unwrap(Guid residentId, byte[] wrapped)
    {
        var plain = _kek.Unprotect(wrapped);
        try
        {
            Span<byte> expected = stackalloc byte[BindingSize];
            WriteBinding(expected, residentId);
            if (plain.Length != BindingSize + RecordSeal.KeySize || !CryptographicOperations.FixedTimeEquals(plain.AsSpan(0, BindingSize), expected))
            {
                throw new CryptographicException("A wrapped data key does not belong to the row it was read from.");
            }
            return plain[BindingSize..];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>
    /// <see cref="Unwrap"/>, reloading the shared key ring when the key was wrapped under a
    /// key-encryption key this node has not loaded yet (rotated by the CLI or by another node).
    /// DataProtection reloads in the background and serves the old ring meanwhile, so this waits a
    /// little for the new one; a key the reloaded ring does not have either is a real failure.
    /// </summary>
    public async Task<byte[]> UnwrapAsync(Guid residentId, byte[] wrapped, CancellationToken cancellationToken)
    {
        try
        {
            return Unwrap(residentId, wrapped);
        }
        catch (CryptographicException)
        {
            _ring.Refresh();
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return Unwrap(residentId, wrapped);
            }
            catch (CryptographicException) when (attempt < 20)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 * Math.Min(attempt, 4)), cancellationToken);
            }
        }
    }

    /// <summary>The DataProtection key id a wrapped value was protected with (from its header: magic ‖ key id).</summary>
    public static Guid KekIdOf(byte[] wrapped) =>
        wrapped.Length >= 20 ? new Guid(wrapped.AsSpan(4, 16)) : throw new CryptographicException("A wrapped data key is truncated.");

    /// <summary>The KEK id this process currently wraps with (DataProtection's default key).</summary>
    public Guid CurrentKekId() => KekIdOf(_kek.Protect([0]));

    public void Dispose() => _cache.Dispose();

    private async Task<CachedKeys?> LoadAsync(Guid residentId, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(residentId, out CachedKeys? cached))
        {
            return cached;
        }
        await using var connection = await _db.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<KeyRow>(new CommandDefinition(SelectKeys, new { residentId }, cancellationToken: cancellationToken))).ToList();
        if (rows.Count == 0)
        {
            return null;
        }
        var versions = new Dictionary<int, byte[]>(rows.Count);
        foreach (var row in rows)
        {
            versions[row.Version] = await UnwrapAsync(residentId, row.WrappedKey, cancellationToken);
        }
        var active = rows.Where(r => r.RetiredAt is null).MaxBy(r => r.Version);
        var keys = new CachedKeys(active is null ? null : new ResidentKey(active.Version, versions[active.Version]), versions);
        _cache.Set(residentId, keys, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = _lifetime });
        return keys;
    }

    private static void WriteBinding(Span<byte> destination, Guid residentId)
    {
        BindingLabel.CopyTo(destination);
        residentId.TryWriteBytes(destination[BindingLabel.Length..], bigEndian: true, out _);
    }

    private sealed record CachedKeys(ResidentKey? Active, Dictionary<int, byte[]> Versions);

    private sealed class KeyRow
    {
        public int Version { get; init; }

        public byte[] WrappedKey { get; init; } = [];

        public DateTimeOffset? RetiredAt { get; init; }
    }
}
