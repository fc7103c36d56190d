using System.Text.Json;
using System.Text.Json.Serialization;
using InfoBank.Core.Crypto;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Infrastructure.Crypto;

/// <summary>Bound from the <c>Signing</c> configuration section.</summary>
public sealed class SigningOptions
{
    public const string Section = "Signing";

    /// <summary>
    /// Folder holding the private signing keys, one file per key (mode 0600). Kept outside the
    /// database on purpose: a database backup or dump must not carry the keys that sign its evidence.
    /// </summary>
    public string KeyDirectory { get; set; } = Path.Combine("data", "keys");
}

/// <summary>What a signing key is for. One current key per purpose; a key never signs for another purpose.</summary>
public static class SigningKeyPurposes
{
    /// <summary>Consent receipts (compact JWS, <c>alg: EdDSA</c>).</summary>
    public const string Receipt = "receipt";

    /// <summary>Signed checkpoints of the audit log.</summary>
    public const string Checkpoint = "checkpoint";

    public static readonly IReadOnlyList<string> All = [Receipt, Checkpoint];

    public static bool IsKnown(string purpose) => All.Contains(purpose, StringComparer.Ordinal);
}

/// <summary>
/// One Ed25519 signing key with its lifecycle. <see cref="RetiredAt"/> is null for the current key
/// of its purpose; retired keys no longer sign but stay published so old signatures verify.
/// </summary>
public sealed record SigningKey(string Purpose, Ed25519Key Key, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt)
{
    public string KeyId => Key.KeyId;

    public bool IsCurrent => RetiredAt is null;
}

/// <summary>
/// The Ed25519 keys that sign consent receipts and audit checkpoints, kept as files under
/// <see cref="SigningOptions.KeyDirectory"/> (never in the database, never logged). A purpose's key
/// is generated on first use; <see cref="RotateAsync"/> makes a new current key and retires the old
/// one, which stays available for verification and in the published JWKS. Keys are cached in memory
/// and reloaded when the folder changes, so a rotation by another process (the CLI) is picked up.
/// </summary>
public sealed partial class SigningKeyStore(IOptions<SigningOptions> options, TimeProvider time, ILogger<SigningKeyStore> logger)
{
    private const string FileSuffix = ".key.json";

    private static readonly JsonSerializerOptions FileJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly SemaphoreSlim _lock = new(1, 1);
    private IReadOnlyList<SigningKey>? _keys;
    private DateTime _loadedStamp;

    private string Directory => Path.GetFullPath(options.Value.KeyDirectory);

    /// <summary>The key that signs for <paramref name="purpose"/> now, generated and saved if there is none yet.</summary>
    public async Task<SigningKey> GetCurrentAsync(string purpose, CancellationToken cancellationToken = default)
    {
        RequireKnown(purpose);
        var current = Current(await LoadAsync(cancellationToken), purpose);
        if (current is not null)
        {
            return current;
        }
        await _lock.WaitAsync(cancellationToken);
        try
        {
            var keys = Reload();
            current = Current(keys, purpose);
            if (current is not null)
            {
                return current;
            }
            current = Create(purpose);
            _keys = [.. keys, current];
            _loadedStamp = Stamp();
            LogGenerated(logger, purpose, current.KeyId);
            return current;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Every key of every purpose, current and retired, oldest first (what the JWKS publishes).</summary>
    public async Task<IReadOnlyList<SigningKey>> ListAsync(CancellationToken cancellationToken = default) =>
        await LoadAsync(cancellationToken);

    /// <summary>A key by its RFC 7638 key id, current or retired; null if unknown.</summary>
    public async Task<SigningKey?> FindAsync(string keyId, CancellationToken cancellationToken = default) =>
        (await LoadAsync(cancellationToken)).FirstOrDefault(k => k.KeyId == keyId);

    /// <summary>
    /// Generates a new current key for <paramref name="purpose"/> and retires the previous one. The new
    /// key is written before the old one is marked retired, so a crash in between leaves two current
    /// keys (the newest wins) rather than none. Returns the new key.
    /// </summary>
    public async Task<SigningKey> RotateAsync(string purpose, CancellationToken cancellationToken = default)
    {
        RequireKnown(purpose);
        await _lock.WaitAsync(cancellationToken);
        try
        {
            var keys = Reload();
            var created = Create(purpose);
            var now = time.GetUtcNow();
            var updated = new List<SigningKey>();
            foreach (var key in keys)
            {
                if (key.Purpose == purpose && key.IsCurrent)
                {
                    var retired = key with { RetiredAt = now };
                    Write(retired);
                    updated.Add(retired);
                }
                else
                {
                    updated.Add(key);
                }
            }
            updated.Add(created);
            _keys = updated;
            _loadedStamp = Stamp();
            LogRotated(logger, purpose, created.KeyId);
            return created;
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task<IReadOnlyList<SigningKey>> LoadAsync(CancellationToken cancellationToken)
    {
        var keys = _keys;
        if (keys is not null && Stamp() == _loadedStamp)
        {
            return keys;
        }
        await _lock.WaitAsync(cancellationToken);
        try
        {
            return Reload();
        }
        finally
        {
            _lock.Release();
        }
    }

    // Callers hold the lock.
    private IReadOnlyList<SigningKey> Reload()
    {
        var stamp = Stamp();
        if (_keys is not null && stamp == _loadedStamp)
        {
            return _keys;
        }
        var keys = new List<SigningKey>();
        if (System.IO.Directory.Exists(Directory))
        {
            foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + FileSuffix))
            {
                keys.Add(Read(path));
            }
        }
        keys.Sort((a, b) => a.CreatedAt != b.CreatedAt ? a.CreatedAt.CompareTo(b.CreatedAt) : string.CompareOrdinal(a.KeyId, b.KeyId));
        _keys = keys;
        _loadedStamp = stamp;
        return keys;
    }

    // The newest non-retired key, so a crash mid-rotation still signs with the new key.
    private static SigningKey? Current(IReadOnlyList<SigningKey> keys, string purpose) =>
        keys.LastOrDefault(k => k.Purpose == purpose && k.IsCurrent);

    private SigningKey Create(string purpose)
    {
        var key = new SigningKey(purpose, Ed25519Key.Generate(), time.GetUtcNow(), null);
        Write(key);
        return key;
    }

    private DateTime Stamp() =>
        System.IO.Directory.Exists(Directory) ? System.IO.Directory.GetLastWriteTimeUtc(Directory) : DateTime.MinValue;

    private void Write(SigningKey key)
    {
        EnsureDirectory();
        var seed = key.Key.ExportSeed();
        var file = new KeyFile(key.Purpose, key.KeyId, key.CreatedAt, key.RetiredAt, Base64Url.Encode(seed));
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(seed);

        var path = Path.Combine(Directory, $"{key.Purpose}.{key.KeyId}{FileSuffix}");
        var temp = path + ".tmp";
        // Create the file with owner-only rights before the secret is written into it.
        var streamOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            streamOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temp, streamOptions))
        {
            JsonSerializer.Serialize(stream, file, FileJson);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    private static SigningKey Read(string path)
    {
        var file = JsonSerializer.Deserialize<KeyFile>(File.ReadAllBytes(path), FileJson)
            ?? throw new InvalidDataException($"Signing key file {Path.GetFileName(path)} is empty.");
        var seed = Base64Url.TryDecode(file.Seed);
        if (seed is null || seed.Length != Ed25519Key.SeedLength)
        {
            throw new InvalidDataException($"Signing key file {Path.GetFileName(path)} holds no valid Ed25519 seed.");
        }
        var key = Ed25519Key.FromSeed(seed);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(seed);
        if (key.KeyId != file.KeyId)
        {
            throw new InvalidDataException($"Signing key file {Path.GetFileName(path)} names key id {file.KeyId} but its seed gives {key.KeyId}.");
        }
        return new SigningKey(file.Purpose, key, file.CreatedAt, file.RetiredAt);
    }

    private void EnsureDirectory()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            return;
        }
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static void RequireKnown(string purpose)
    {
        if (!SigningKeyPurposes.IsKnown(purpose))
        {
            throw new ArgumentException($"Unknown signing key purpose '{purpose}'.", nameof(purpose));
        }
    }

    private sealed record KeyFile(
        [property: JsonPropertyName("purpose")] string Purpose,
        [property: JsonPropertyName("kid")] string KeyId,
        [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
        [property: JsonPropertyName("retiredAt")] DateTimeOffset? RetiredAt,
        [property: JsonPropertyName("seed")] string Seed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Generated the first {Purpose} signing key {KeyId}")]
    private static partial void LogGenerated(ILogger logger, string purpose, string keyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rotated the {Purpose} signing key; new key {KeyId}")]
    private static partial void LogRotated(ILogger logger, string purpose, string keyId);
}
