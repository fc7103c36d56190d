using System.Security.Cryptography;
using InfoBank.Core.Audit;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// What <c>infobank audit checkpoint status --check</c> prints for an operator facing a halted
/// signer: the whole log recomputed from its rows and compared with the signer's own state and with
/// every stored checkpoint that verifies, narrowed to the range of sequences where the log first
/// differs from what was signed.
/// </summary>
public sealed record SignerDiagnosisReport(
    long ClaimedSize,
    long RowsRead,
    bool FrontierAgrees,
    IReadOnlyList<string> RowFindings,
    long? SignedSize,
    IReadOnlyList<string> SignedSubtrees,
    int CheckpointsAgreeing,
    IReadOnlyList<string> CheckpointFindings,
    long? FirstChangeFrom,
    long? FirstChangeTo)
{
    /// <summary>True when the rows, the database's own claims, the signer's state and every stored checkpoint agree.</summary>
    public bool Consistent { get; init; }
}

/// <summary>
/// Read-only: reads every row (so it costs a full scan, unlike the signer), changes nothing, and
/// trusts nothing but the signer's state and the checkpoint keys. It is the tool to find what was
/// changed, never a way to make the signer accept it.
/// </summary>
public sealed class SignerDiagnosis(AuditStore store, ICheckpointSigner signer, SignerStateFile stateFile, IOptions<AuditOptions> options)
{
    private const int Page = 5_000;
    private const int MaxListed = 20;

    public async Task<SignerDiagnosisReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var origin = options.Value.Origin;
        SignerState? state;
        try
        {
            state = stateFile.Read();
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // The status already says why; the rows and checkpoints can still be checked against each other.
            state = null;
        }
        if (state is not null && state.Origin != origin)
        {
            state = null;
        }
        var published = await signer.PublishedKeysAsync(cancellationToken);
        var claimed = await store.CurrentFrontierAsync(cancellationToken);

        var rowFindings = new List<string>();
        var checkpointFindings = new List<string>();
        var signedSubtrees = state is null ? [] : TreeExtension.FrontierSubtrees(state.Size);
        var wanted = signedSubtrees.ToDictionary(s => (s.Level, s.Index), s => s);
        var recomputedSubtrees = new Dictionary<(int, long), byte[]>();
        var range = new CompactRange();
        byte[]? rootAtClaimed = claimed.Size == 0 ? Merkle.EmptyRoot : null;
        long rows = 0;
        var leafMismatches = 0;
        var checkpointsAgreeing = 0;
        long? firstBad = null;
        long lastGood = 0;
        DateTimeOffset? lastTime = null;

        void Note(long size, bool good)
        {
            if (good && firstBad is null)
            {
                lastGood = Math.Max(lastGood, size);
            }
            else if (!good)
            {
                firstBad = firstBad is { } bad ? Math.Min(bad, size) : size;
            }
        }

        var checkpoints = new Queue<CheckpointRow>();
        long nextCheckpoint = 1;
        var moreCheckpoints = true;
        async Task RefillAsync()
        {
            if (checkpoints.Count > 0 || !moreCheckpoints)
            {
                return;
            }
            var page = await store.CheckpointsAsync(nextCheckpoint, long.MaxValue, Page, cancellationToken);
            foreach (var row in page)
            {
                checkpoints.Enqueue(row);
            }
            moreCheckpoints = page.Count == Page;
            nextCheckpoint = page.Count > 0 ? page[^1].TreeSize + 1 : nextCheckpoint;
        }

        void Judge(CheckpointRow row, byte[] root)
        {
            var verified = SignedNote.TryParse(row.Note, out _) is { } note && note.VerifiedBy(published).Count > 0
                && Checkpoint.TryParse(note.Text, out _) is { } body && body.Origin == origin && body.Size == row.TreeSize
                && CryptographicOperations.FixedTimeEquals(body.Root, row.RootHash);
            if (!verified)
            {
                Add(checkpointFindings, $"checkpoint at size {row.TreeSize}: no valid signature from a checkpoint key of {origin}");
                return;
            }
            if (CryptographicOperations.FixedTimeEquals(row.RootHash, root))
            {
                checkpointsAgreeing++;
                Note(row.TreeSize, good: true);
            }
            else
            {
                Add(checkpointFindings, $"checkpoint at size {row.TreeSize} (signed {AuditBundle.FormatTime(row.CreatedAt)}): signed root {Convert.ToBase64String(row.RootHash)}, the rows now give {Convert.ToBase64String(root)}");
                Note(row.TreeSize, good: false);
            }
        }

        await RefillAsync();
        for (long from = 0; ;)
        {
            var page = await store.EntriesAsync(from, long.MaxValue, Page, cancellationToken: cancellationToken);
            if (page.Count == 0)
            {
                break;
            }
            foreach (var row in page)
            {
                // The rows are taken in order as leaves 0, 1, 2…: a gap or a renumbering both show
                // as a tree that differs from the signed one from that point on.
                if (row.Sequence != rows)
                {
                    Add(rowFindings, $"row {rows} of the log holds sequence {row.Sequence}: {(row.Sequence > rows ? $"entries {rows}…{row.Sequence - 1} are missing" : "a sequence appears twice")}");
                }
                var leaf = row.ToEntry().LeafHash();
                if (!CryptographicOperations.FixedTimeEquals(leaf, row.LeafHash))
                {
                    leafMismatches++;
                    Add(rowFindings, $"entry {row.Sequence} ({row.Kind}): stored leaf hash {Convert.ToBase64String(row.LeafHash)} is not the hash of its content");
                }
                if (lastTime is { } last && row.Time < last)
                {
                    Add(rowFindings, $"entry {row.Sequence} ({row.Kind}) is dated before its predecessor");
                }
                lastTime = row.Time;
                if (wanted.ContainsKey((0, rows)))
                {
                    recomputedSubtrees[(0, rows)] = leaf;
                }
                range.Append(leaf, (level, index, hash) =>
                {
                    if (wanted.ContainsKey((level, index)))
                    {
                        recomputedSubtrees[(level, index)] = hash;
                    }
                });
                rows++;
                if (rows == claimed.Size)
                {
                    rootAtClaimed = range.Root();
                }
                if (state is not null && rows == state.Size)
                {
                    Note(rows, CryptographicOperations.FixedTimeEquals(range.Root(), state.Root));
                }
                while (checkpoints.TryPeek(out var checkpoint) && checkpoint.TreeSize <= rows)
                {
                    checkpoints.Dequeue();
                    if (checkpoint.TreeSize == rows)
                    {
                        Judge(checkpoint, range.Root());
                    }
                    await RefillAsync();
                }
            }
            from = page[^1].Sequence + 1;
        }
        if (rows != claimed.Size)
        {
            Add(rowFindings, $"the log holds {rows} rows but its frontier claims {claimed.Size} entries");
        }
        while (checkpoints.Count > 0 || moreCheckpoints)
        {
            await RefillAsync();
            if (checkpoints.TryDequeue(out var beyond))
            {
                Add(checkpointFindings, $"checkpoint at size {beyond.TreeSize} lies beyond the {rows} rows the log holds");
                Note(beyond.TreeSize, good: false);
            }
        }
        if (state is not null && rows < state.Size)
        {
            Note(state.Size, good: false);
        }

        var subtreeLines = new List<string>();
        long? changeFrom = null;
        long? changeTo = null;
        for (var i = 0; i < signedSubtrees.Count; i++)
        {
            var subtree = signedSubtrees[i];
            var recomputed = recomputedSubtrees.GetValueOrDefault((subtree.Level, subtree.Index));
            var agrees = recomputed is not null && CryptographicOperations.FixedTimeEquals(recomputed, state!.Frontier[i]);
            subtreeLines.Add($"entries {subtree.Start}…{subtree.End - 1}: {(agrees ? "as signed" : recomputed is null ? "no longer all present" : "DIFFERS from what was signed")}");
            if (!agrees && changeFrom is null)
            {
                changeFrom = subtree.Start;
                changeTo = subtree.End;
            }
        }
        if (firstBad is { } firstBadSize)
        {
            changeFrom = Math.Max(changeFrom ?? 0, lastGood);
            changeTo = Math.Min(changeTo ?? firstBadSize, firstBadSize);
        }
        var frontierAgrees = rootAtClaimed is not null && CryptographicOperations.FixedTimeEquals(rootAtClaimed, claimed.Root());
        if (!frontierAgrees)
        {
            Add(rowFindings, $"the database's tree head at size {claimed.Size} is not the root of its rows");
        }
        return new SignerDiagnosisReport(claimed.Size, rows, frontierAgrees, rowFindings, state?.Size, subtreeLines,
            checkpointsAgreeing, checkpointFindings, changeFrom, changeTo)
        {
            Consistent = rowFindings.Count == 0 && checkpointFindings.Count == 0 && changeFrom is null && leafMismatches == 0,
        };
    }

    private static void Add(List<string> list, string line)
    {
        if (list.Count < MaxListed)
        {
            list.Add(line);
        }
        else if (list.Count == MaxListed)
        {
            list.Add("… (more not listed)");
        }
    }
}
