using InfoBank.Core.Audit;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>Writes the verifiable bundle (see <see cref="AuditBundle"/>) of the log's first entries.</summary>
public sealed class AuditExporter(AuditStore store, ICheckpointSigner signer, IOptions<AuditOptions> options)
{
    private const int Page = 2_000;

    /// <summary>The default export size: the latest checkpoint, so the whole bundle is vouched for.</summary>
    public async Task<(long Default, long Current)> SizesAsync(CancellationToken cancellationToken = default)
    {
        var current = (await store.CurrentFrontierAsync(cancellationToken)).Size;
        var latest = await store.LatestCheckpointAsync(cancellationToken);
        return (latest?.TreeSize ?? current, current);
    }

    /// <summary>Streams entries [0, <paramref name="upto"/>) with every checkpoint up to that size and the public keys.</summary>
    public async Task WriteAsync(Stream output, long upto, CancellationToken cancellationToken = default)
    {
        // Lines are built in memory a page at a time and copied out asynchronously (no sync I/O on responses).
        using var buffer = new MemoryStream();
        await using var writer = new AuditBundleWriter(buffer);
        writer.WriteHeader(options.Value.Origin, upto);
        foreach (var key in await signer.PublishedKeysAsync(cancellationToken))
        {
            writer.WriteKey(key);
        }
        for (long from = 0; ;)
        {
            var checkpoints = await store.CheckpointsAsync(from, upto, Page, cancellationToken);
            foreach (var checkpoint in checkpoints)
            {
                writer.WriteCheckpoint(checkpoint.Note);
            }
            await FlushAsync(buffer, output, cancellationToken);
            if (checkpoints.Count < Page)
            {
                break;
            }
            from = checkpoints[^1].TreeSize + 1;
        }
        for (long from = 0; from < upto;)
        {
            var rows = await store.EntriesAsync(from, upto, Page, cancellationToken: cancellationToken);
            if (rows.Count == 0)
            {
                throw new InvalidOperationException($"The audit log has no entry {from} though its tree covers {upto}.");
            }
            foreach (var row in rows)
            {
                writer.WriteEntry(row.ToEntry(), row.LeafHash);
            }
            from = rows[^1].Sequence + 1;
            await FlushAsync(buffer, output, cancellationToken);
        }
        writer.WriteEnd(upto);
        await FlushAsync(buffer, output, cancellationToken);
    }

    private static async Task FlushAsync(MemoryStream buffer, Stream output, CancellationToken cancellationToken)
    {
        await output.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), cancellationToken);
        await output.FlushAsync(cancellationToken);
        buffer.SetLength(0);
    }
}
