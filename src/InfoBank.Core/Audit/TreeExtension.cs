using System.Numerics;
using System.Security.Cryptography;

namespace InfoBank.Core.Audit;

/// <summary>
/// Something a checkpoint signer found that it did not compute: the database's claim about the log
/// disagrees with the signer's own record of what it signed. <see cref="Detail"/> names the
/// sequence and what differs, and holds no entry content beyond its kind and time (never an actor,
/// subject or payload), so it may go into log lines, health reports and the auditor API.
/// </summary>
public sealed record SignerFinding(string Code, long? Sequence, string Detail);

/// <summary>Stable codes of <see cref="SignerFinding"/>; operators and monitoring match on them.</summary>
public static class SignerFindingCodes
{
    /// <summary>The log holds fewer entries than the signer signed, or a signed checkpoint lies beyond its end.</summary>
    public const string Truncated = "truncated";

    /// <summary>An entry the log's size claims is missing.</summary>
    public const string SequenceGap = "sequence-gap";

    /// <summary>A row's stored leaf hash is not the hash of its content.</summary>
    public const string LeafMismatch = "leaf-mismatch";

    /// <summary>An entry is dated before the one preceding it.</summary>
    public const string TimeOrder = "time-order";

    /// <summary>The last entry under the signed checkpoint is no longer the one the signer signed.</summary>
    public const string LastEntryChanged = "last-entry-changed";

    /// <summary>A stored subtree under the signed checkpoint differs from the one the signer signed.</summary>
    public const string HistoryChanged = "history-changed";

    /// <summary>The database's frontier (tree head) differs from the signer's extension of what it signed.</summary>
    public const string FrontierMismatch = "frontier-mismatch";

    /// <summary>A stored subtree over new entries is missing or is not the hash of those entries.</summary>
    public const string NodeMismatch = "node-mismatch";

    /// <summary>The checkpoint row the signer wrote for its last signed size is gone.</summary>
    public const string CheckpointMissing = "checkpoint-missing";

    /// <summary>A stored checkpoint disagrees with the tree the signer computed at its size.</summary>
    public const string CheckpointMismatch = "checkpoint-mismatch";

    /// <summary>A stored checkpoint carries no valid signature from a current or retired checkpoint key.</summary>
    public const string CheckpointUnsigned = "checkpoint-unsigned";

    /// <summary>The signer's own state file cannot be read, or belongs to another log.</summary>
    public const string StateUnreadable = "state-unreadable";
}

/// <summary>
/// A checkpoint signer's extension of the tree it last signed: it starts from the frontier it kept
/// (its own record, not the database's) and appends entries whose leaf hashes it recomputes from
/// their content, checking on the way that each entry is the next in sequence, is not dated before
/// its predecessor and that the database's stored leaf hash agrees. What it ends with is the only
/// tree the signer may sign, because it extends the last signed one by construction.
/// </summary>
public sealed class TreeExtension
{
    private readonly CompactRange _range;

    public TreeExtension(CompactRange signed, DateTimeOffset? lastTime)
    {
        _range = signed.Clone();
        LastTime = lastTime;
    }

    /// <summary>Leaves covered so far.</summary>
    public long Size => _range.Size;

    /// <summary>Time of the last entry appended (or of the last signed one).</summary>
    public DateTimeOffset? LastTime { get; private set; }

    /// <summary>Leaf hash of the last entry appended here; null until one is.</summary>
    public byte[]? LastLeaf { get; private set; }

    /// <summary>A copy of the frontier reached.</summary>
    public CompactRange Frontier => _range.Clone();

    public byte[] Root() => _range.Root();

    /// <summary>
    /// Appends <paramref name="entry"/> if it is the next entry, in time order, and its stored leaf
    /// hash is the hash of its content; otherwise appends nothing and says what is wrong.
    /// <paramref name="onPerfectNode"/> receives the interior subtrees the append completes.
    /// </summary>
    public SignerFinding? Append(AuditEntry entry, ReadOnlySpan<byte> storedLeafHash, Action<int, long, byte[]>? onPerfectNode = null)
    {
        if (entry.Sequence != Size)
        {
            return entry.Sequence > Size
                ? new SignerFinding(SignerFindingCodes.SequenceGap, Size,
                    $"entry {Size} is missing: the next row in the log holds sequence {entry.Sequence}")
                : new SignerFinding(SignerFindingCodes.SequenceGap, entry.Sequence,
                    $"entry {entry.Sequence} appears again where entry {Size} was expected");
        }
        if (LastTime is { } last && entry.Time < last)
        {
            return new SignerFinding(SignerFindingCodes.TimeOrder, entry.Sequence,
                $"entry {entry.Sequence} ({entry.Kind}) is dated {AuditBundle.FormatTime(entry.Time)}, before its predecessor's {AuditBundle.FormatTime(last)}");
        }
        var leaf = entry.LeafHash();
        if (storedLeafHash.Length != Merkle.HashSize || !CryptographicOperations.FixedTimeEquals(leaf, storedLeafHash))
        {
            return new SignerFinding(SignerFindingCodes.LeafMismatch, entry.Sequence,
                $"entry {entry.Sequence} ({entry.Kind}): its stored leaf hash {Convert.ToBase64String(storedLeafHash)} is not the hash of its content, {Convert.ToBase64String(leaf)}");
        }
        _range.Append(leaf, onPerfectNode);
        LastTime = entry.Time;
        LastLeaf = leaf;
        return null;
    }

    /// <summary>
    /// The perfect subtrees a frontier of <paramref name="size"/> leaves holds, largest (leftmost)
    /// first, in the order of <see cref="CompactRange.Hashes"/>: each subtree's level, its index at
    /// that level, and the leaves [Start, End) it covers.
    /// </summary>
    public static IReadOnlyList<FrontierSubtree> FrontierSubtrees(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var result = new List<FrontierSubtree>(BitOperations.PopCount((ulong)size));
        long start = 0;
        for (var level = 62; level >= 0; level--)
        {
            var width = 1L << level;
            if ((size & width) != 0)
            {
                result.Add(new FrontierSubtree(level, start >> level, start, start + width));
                start += width;
            }
        }
        return result;
    }
}

/// <summary>A perfect subtree: leaves [<paramref name="Start"/>, <paramref name="End"/>), at (<paramref name="Level"/>, <paramref name="Index"/>).</summary>
public sealed record FrontierSubtree(int Level, long Index, long Start, long End);
