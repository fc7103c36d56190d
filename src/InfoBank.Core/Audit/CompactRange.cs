using System.Numerics;

namespace InfoBank.Core.Audit;

/// <summary>
/// The right-edge frontier of a Merkle tree: the roots of the perfect subtrees that tile leaves
/// [0, size), largest (leftmost) first — one per set bit of <see cref="Size"/>. It is all an
/// appender needs to extend the tree and compute its root, so the server keeps it in one row
/// updated in the same transaction as the appended entries.
/// </summary>
public sealed class CompactRange
{
    private readonly List<byte[]> _hashes;

    public CompactRange()
    {
        _hashes = [];
    }

    private CompactRange(long size, List<byte[]> hashes)
    {
        Size = size;
        _hashes = hashes;
    }

    /// <summary>Number of leaves covered.</summary>
    public long Size { get; private set; }

    /// <summary>The frontier hashes, largest subtree first.</summary>
    public IReadOnlyList<byte[]> Hashes => _hashes;

    /// <summary>
    /// Appends a leaf hash. <paramref name="onPerfectNode"/> receives every interior perfect subtree
    /// the append completes (level ≥ 1, index at that level, hash), for storage as proof material.
    /// </summary>
    public void Append(byte[] leafHash, Action<int, long, byte[]>? onPerfectNode = null)
    {
        if (leafHash.Length != Merkle.HashSize)
        {
            throw new ArgumentException($"A leaf hash is {Merkle.HashSize} bytes.", nameof(leafHash));
        }
        var hash = leafHash;
        var index = Size;
        var level = 0;
        // Each set low bit of the old size is a finished subtree of that level waiting for a right sibling.
        while (((Size >> level) & 1) == 1)
        {
            var left = _hashes[^1];
            _hashes.RemoveAt(_hashes.Count - 1);
            hash = Merkle.NodeHash(left, hash);
            level++;
            index >>= 1;
            onPerfectNode?.Invoke(level, index, hash);
        }
        _hashes.Add(hash);
        Size++;
    }

    /// <summary>The tree head (RFC 9162 MTH) of the leaves appended so far.</summary>
    public byte[] Root()
    {
        if (_hashes.Count == 0)
        {
            return Merkle.EmptyRoot;
        }
        var root = _hashes[^1];
        for (var i = _hashes.Count - 2; i >= 0; i--)
        {
            root = Merkle.NodeHash(_hashes[i], root);
        }
        return root;
    }

    /// <summary>An independent copy (the audit writer keeps one to undo a change that rolled back).</summary>
    public CompactRange Clone() => new(Size, [.. _hashes]);

    /// <summary>The frontier hashes concatenated, for storage next to <see cref="Size"/>.</summary>
    public byte[] ToBytes() => _hashes.SelectMany(h => h).ToArray();

    /// <summary>Restores a frontier stored with <see cref="ToBytes"/>; refuses bytes that do not fit the size.</summary>
    public static CompactRange FromBytes(long size, ReadOnlySpan<byte> hashes)
    {
        var expected = BitOperations.PopCount((ulong)size);
        if (size < 0 || hashes.Length != expected * Merkle.HashSize)
        {
            throw new InvalidDataException($"A frontier for {size} leaves holds {expected} hashes, not {hashes.Length} bytes.");
        }
        var list = new List<byte[]>(expected);
        for (var i = 0; i < expected; i++)
        {
            list.Add(hashes.Slice(i * Merkle.HashSize, Merkle.HashSize).ToArray());
        }
        return new CompactRange(size, list);
    }
}
