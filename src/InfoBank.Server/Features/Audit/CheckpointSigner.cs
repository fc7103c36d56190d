using InfoBank.Core.Audit;
using InfoBank.Server.Infrastructure.Crypto;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// Signs audit checkpoints. The key lives outside the database (the shared signing key store,
/// purpose <c>checkpoint</c>) so that whoever can write the database still cannot produce a
/// checkpoint an auditor would accept. The note key name is the log's origin.
/// </summary>
public interface ICheckpointSigner
{
    /// <summary>The current key, as auditors pin it.</summary>
    Task<NoteVerifier> CurrentAsync(CancellationToken cancellationToken = default);

    /// <summary>Every checkpoint key, current and retired, so checkpoints signed before a rotation still verify.</summary>
    Task<IReadOnlyList<NoteVerifier>> PublishedKeysAsync(CancellationToken cancellationToken = default);

    Task<SignedNote> SignAsync(Checkpoint checkpoint, CancellationToken cancellationToken = default);
}

public sealed class CheckpointSigner(SigningKeyStore keys, IOptions<AuditOptions> options) : ICheckpointSigner
{
    private string Name => options.Value.Origin;

    public async Task<NoteVerifier> CurrentAsync(CancellationToken cancellationToken = default) =>
        NoteVerifier.For(Name, (await keys.GetCurrentAsync(SigningKeyPurposes.Checkpoint, cancellationToken)).Key.PublicKey);

    public async Task<IReadOnlyList<NoteVerifier>> PublishedKeysAsync(CancellationToken cancellationToken = default)
    {
        var current = await CurrentAsync(cancellationToken);
        var all = (await keys.ListAsync(cancellationToken))
            .Where(k => k.Purpose == SigningKeyPurposes.Checkpoint)
            .Select(k => NoteVerifier.For(Name, k.Key.PublicKey))
            .Where(k => k.KeyId != current.KeyId);
        return [current, .. all];
    }

    public async Task<SignedNote> SignAsync(Checkpoint checkpoint, CancellationToken cancellationToken = default)
    {
        var key = await keys.GetCurrentAsync(SigningKeyPurposes.Checkpoint, cancellationToken);
        return checkpoint.Sign(Name, key.Key);
    }
}
