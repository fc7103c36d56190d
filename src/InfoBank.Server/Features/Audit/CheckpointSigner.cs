using InfoBank.Core.Audit;
using InfoBank.Core.Crypto;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// Signs audit checkpoints. The key lives outside the database so that whoever can write the
/// database still cannot produce a checkpoint an auditor would accept.
/// </summary>
public interface ICheckpointSigner
{
    /// <summary>The note key name (the log's origin) and public key auditors verify with.</summary>
    NoteVerifier Verifier { get; }

    /// <summary>Every key whose checkpoints remain verifiable, current first.</summary>
    IReadOnlyList<NoteVerifier> PublishedKeys { get; }

    SignedNote Sign(Checkpoint checkpoint);
}

/// <summary>
/// An Ed25519 seed in a file (<see cref="AuditOptions.CheckpointKeyFile"/>), created with mode 0600
/// on first use. Loaded lazily so processes that never sign (tests, most CLI commands) never touch it.
/// </summary>
public sealed class FileCheckpointSigner : ICheckpointSigner
{
    private readonly Lazy<Ed25519Key> _key;
    private readonly string _name;

    public FileCheckpointSigner(IOptions<AuditOptions> options, IHostEnvironment environment)
    {
        _name = options.Value.Origin;
        var path = Path.Combine(environment.ContentRootPath, options.Value.CheckpointKeyFile);
        _key = new Lazy<Ed25519Key>(() => LoadOrCreate(path), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public NoteVerifier Verifier => NoteVerifier.For(_name, _key.Value.PublicKey);

    public IReadOnlyList<NoteVerifier> PublishedKeys => [Verifier];

    public SignedNote Sign(Checkpoint checkpoint) => checkpoint.Sign(_name, _key.Value);

    private static Ed25519Key LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            var seed = File.ReadAllBytes(path);
            try
            {
                return seed.Length == Ed25519Key.SeedLength
                    ? Ed25519Key.FromSeed(seed)
                    : throw new InvalidOperationException($"The checkpoint key file {path} is not a {Ed25519Key.SeedLength}-byte Ed25519 seed.");
            }
            finally
            {
                Array.Clear(seed);
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var key = Ed25519Key.Generate();
        var created = key.ExportSeed();
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using var file = new FileStream(path, fileOptions);
            file.Write(created);
            file.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first; use theirs so both sign with the same key.
            return LoadOrCreate(path);
        }
        finally
        {
            Array.Clear(created);
        }
        return key;
    }
}
