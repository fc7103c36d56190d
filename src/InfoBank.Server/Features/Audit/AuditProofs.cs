using InfoBank.Core.Audit;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// Inclusion and consistency proofs from the stored subtree hashes. Each proof is computed twice:
/// once to learn which subtree hashes it needs, then with those fetched in a few queries.
/// </summary>
public sealed class AuditProofs(AuditStore store)
{
    public Task<List<byte[]>> InclusionAsync(long sequence, long treeSize, CancellationToken cancellationToken = default) =>
        ComputeAsync(nodes => Merkle.InclusionProof(sequence, treeSize, nodes), cancellationToken);

    public Task<List<byte[]>> ConsistencyAsync(long oldSize, long newSize, CancellationToken cancellationToken = default) =>
        ComputeAsync(nodes => Merkle.ConsistencyProof(oldSize, newSize, nodes), cancellationToken);

    /// <summary>The root of the tree's first <paramref name="treeSize"/> leaves (any size up to the current one).</summary>
    public async Task<byte[]> RootAsync(long treeSize, CancellationToken cancellationToken = default) =>
        treeSize == 0 ? Merkle.EmptyRoot : await ComputeAsync(nodes => Merkle.RangeHash(0, treeSize, nodes), cancellationToken);

    private async Task<T> ComputeAsync<T>(Func<Func<int, long, byte[]>, T> compute, CancellationToken cancellationToken)
    {
        var wanted = new HashSet<(int, long)>();
        var placeholder = new byte[Merkle.HashSize];
        compute((level, index) =>
        {
            wanted.Add((level, index));
            return placeholder;
        });
        var nodes = await store.NodesAsync(wanted, cancellationToken);
        return compute((level, index) => nodes.TryGetValue((level, index), out var hash)
            ? hash
            : throw new InvalidOperationException($"Audit subtree ({level}, {index}) is missing from the database."));
    }
}
