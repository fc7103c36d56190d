using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using InfoBank.Core.Audit;
using InfoBank.Server.Infrastructure.Crypto;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// The checkpoint signer's own record of the last checkpoint it signed: tree size, root, the
/// frontier hashes at that size (all it needs to extend that tree), the last signed entry's leaf
/// and time, the signed note, how it started (bootstrap) and whether it is halted and why.
/// </summary>
public sealed record SignerState
{
    public const string CurrentFormat = "infobank-checkpoint-signer/1";

    public string Format { get; init; } = CurrentFormat;

    public required string Origin { get; init; }

    public long Size { get; init; }

    public byte[] Root { get; init; } = Merkle.EmptyRoot;

    /// <summary>The frontier at <see cref="Size"/>, largest subtree first (see <see cref="CompactRange"/>).</summary>
    public List<byte[]> Frontier { get; init; } = [];

    public byte[]? LastLeaf { get; init; }

    public DateTimeOffset? LastTime { get; init; }

    /// <summary>The signed note at <see cref="Size"/>; null only while nothing has been signed.</summary>
    public string? Note { get; init; }

    public DateTimeOffset? SignedAt { get; init; }

    /// <summary>Null until the signer has started from the database once (see <see cref="CheckpointSigner"/>).</summary>
    public SignerBootstrap? Bootstrap { get; init; }

    public SignerHalt? Halt { get; init; }

    public CompactRange FrontierRange() => CompactRange.FromBytes(Size, Frontier.SelectMany(h => h).ToArray());

    public static SignerState Empty(string origin) => new() { Origin = origin };
}

/// <summary>
/// The signer's first start: it had no state file, so it recomputed every leaf from the rows
/// (<paramref name="Size"/> of them) and checked the result against the latest stored checkpoint
/// that verified under a checkpoint key (<paramref name="CheckedAgainstSize"/>, null if none).
/// Everything it signs from then on extends that tree.
/// </summary>
public sealed record SignerBootstrap(DateTimeOffset At, long Size, long? CheckedAgainstSize);

/// <summary>Why the signer stopped signing: the first finding's code and sequence, and every finding.</summary>
public sealed record SignerHalt(DateTimeOffset At, string Code, long? Sequence, string Reason, IReadOnlyList<string> Findings);

/// <summary>
/// The signer's state file and lock, in a folder inside the signing key folder
/// (<c>{Signing:KeyDirectory}/checkpoint-signer/</c>): outside the database, on the same protected
/// volume as the key that the state guards. A subfolder rather than the key folder itself because
/// the key store reloads its keys whenever the key folder's timestamp moves, and the state is
/// replaced on every checkpoint. Written atomically (a 0600 temp file, fsync, rename), so a reader
/// sees the old state or the new one, never half of either. Every read-decide-write cycle holds an
/// exclusive lock on <c>lock</c> (<c>flock</c> on Unix, a share-none handle on Windows), so two
/// nodes or the CLI signing at the same time take turns.
/// </summary>
public sealed class SignerStateFile(IOptions<SigningOptions> options)
{
    // Relaxed escaping keeps the note readable ('+' rather than \u002B) for an operator who opens the file.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string Directory => Path.Combine(Path.GetFullPath(options.Value.KeyDirectory), "checkpoint-signer");

    public string StatePath => Path.Combine(Directory, "state.json");

    private string LockPath => Path.Combine(Directory, "lock");

    /// <summary>
    /// Takes the exclusive lock, waiting up to <paramref name="timeout"/> for another signer to
    /// finish; null if it did not. Dispose the result to release it.
    /// </summary>
    public async Task<IDisposable?> LockAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        EnsureDirectory();
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(LockPath, options);
            }
            catch (IOException) when (watch.Elapsed < timeout)
            {
                // Held by another signer (a sharing violation); try again shortly.
            }
            catch (IOException)
            {
                return null;
            }
            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>The saved state, or null if there is none yet; throws <see cref="InvalidDataException"/> if it is not a valid state.</summary>
    public SignerState? Read()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(StatePath);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        SignerState? state;
        try
        {
            state = JsonSerializer.Deserialize<SignerState>(bytes, Json);
        }
        catch (JsonException ex)
        {
            // Where, not the serializer's message: that names .NET types ("could not be converted to System.Int64"), which mean nothing to an auditor.
            throw new InvalidDataException(
                $"the signer state file {StatePath} is not a valid signer state at {ex.Path ?? "$"} (line {(ex.LineNumber ?? 0) + 1}, byte {ex.BytePositionInLine ?? 0})");
        }
        if (state is null || state.Format != SignerState.CurrentFormat)
        {
            throw new InvalidDataException($"the signer state file {StatePath} is not in the format {SignerState.CurrentFormat}");
        }
        Validate(state);
        return state;
    }

    /// <summary>Replaces the state atomically and durably. Callers hold the lock.</summary>
    public void Write(SignerState state)
    {
        Validate(state);
        EnsureDirectory();
        var temp = StatePath + ".tmp";
        using (var stream = SecretFile.OpenOwnerOnly(temp, FileMode.Create))
        {
            JsonSerializer.Serialize(stream, state, Json);
            stream.Flush(flushToDisk: true);
        }
        // The rename is not followed by a directory fsync (no portable API): if a power cut undoes
        // it, the previous state comes back, and the signer then finds its own newer checkpoint
        // row above that state's size, checks it like any other and carries on from it.
        File.Move(temp, StatePath, overwrite: true);
    }

    private void Validate(SignerState state)
    {
        if (state.Size < 0 || state.Frontier.Any(h => h is null || h.Length != Merkle.HashSize))
        {
            throw new InvalidDataException($"the signer state file {StatePath} holds a malformed frontier");
        }
        var root = state.FrontierRange().Root();
        if (!CryptographicOperations.FixedTimeEquals(root, state.Root))
        {
            throw new InvalidDataException($"the signer state file {StatePath} holds a root that is not its frontier's");
        }
        if (state.Note is { } note)
        {
            var parsed = SignedNote.TryParse(note, out _) is { } signed ? Checkpoint.TryParse(signed.Text, out _) : null;
            if (parsed is null || parsed.Size != state.Size || !CryptographicOperations.FixedTimeEquals(parsed.Root, state.Root))
            {
                throw new InvalidDataException($"the signer state file {StatePath} holds a note that is not a checkpoint of its size and root");
            }
        }
        else if (state.Size > 0)
        {
            throw new InvalidDataException($"the signer state file {StatePath} covers {state.Size} entries but holds no signed note");
        }
    }

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
            return;
        }
        // Parent folders would be created with the default mode: create the key folder owner-only
        // first, as the key store would have, in case the signer runs before any key is written.
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(Directory)!, OwnerOnly);
        System.IO.Directory.CreateDirectory(Directory, OwnerOnly);
    }
}
