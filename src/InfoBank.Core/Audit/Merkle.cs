using System.Numerics;
using System.Security.Cryptography;

namespace InfoBank.Core.Audit;

/// <summary>
/// RFC 9162 §2.1 Merkle tree hashing over SHA-256: leaf = H(0x00 ‖ data), node = H(0x01 ‖ left ‖ right),
/// the root of n leaves splits at the largest power of two below n. Proofs are generated from a
/// source of <em>perfect subtree</em> hashes (level, index) — the hash of leaves
/// [index·2^level, (index+1)·2^level) — which is what the server stores, so a proof costs
/// O(log² n) lookups and never a scan of the log.
/// </summary>
public static class Merkle
{
    public const int HashSize = 32;

    /// <summary>The root of the empty tree, SHA-256 of the empty string.</summary>
    public static byte[] EmptyRoot => SHA256.HashData(ReadOnlySpan<byte>.Empty);

    /// <summary>RFC 9162 leaf hash: SHA-256(0x00 ‖ <paramref name="leafData"/>).</summary>
    public static byte[] LeafHash(ReadOnlySpan<byte> leafData)
    {
        // One-shot hashing over a pooled copy is several times cheaper than an IncrementalHash per leaf.
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(leafData.Length + 1);
        try
        {
            buffer[0] = 0x00;
            leafData.CopyTo(buffer.AsSpan(1));
            return SHA256.HashData(buffer.AsSpan(0, leafData.Length + 1));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>RFC 9162 interior node hash: SHA-256(0x01 ‖ <paramref name="left"/> ‖ <paramref name="right"/>).</summary>
    public static byte[] NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> buffer = stackalloc byte[1 + HashSize + HashSize];
        buffer[0] = 0x01;
        left.CopyTo(buffer[1..]);
        right.CopyTo(buffer[(1 + HashSize)..]);
        return SHA256.HashData(buffer);
    }

    /// <summary>The tree head over the given leaf hashes (MTH of RFC 9162 §2.1.1).</summary>
    public static byte[] RootOf(IEnumerable<byte[]> leafHashes)
    {
        var range = new CompactRange();
        foreach (var leaf in leafHashes)
        {
            range.Append(leaf);
        }
        return range.Root();
    }

    /// <summary>The largest power of two strictly less than <paramref name="n"/> (n ≥ 2).</summary>
    internal static long SplitPoint(long n) => 1L << (63 - BitOperations.LeadingZeroCount((ulong)(n - 1)));

    /// <summary>MTH of leaves [start, end), built from the perfect subtrees that tile the range.</summary>
    public static byte[] RangeHash(long start, long end, Func<int, long, byte[]> perfectNode)
    {
        var size = end - start;
        if (size <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(end), "A range hash needs at least one leaf.");
        }
        if (BitOperations.IsPow2(size) && start % size == 0)
        {
            var level = BitOperations.Log2((ulong)size);
            return perfectNode(level, start >> level);
        }
        var k = SplitPoint(size);
        return NodeHash(RangeHash(start, start + k, perfectNode), RangeHash(start + k, end, perfectNode));
    }

    /// <summary>RFC 9162 §2.1.3.1 inclusion proof (PATH) of leaf <paramref name="index"/> in the tree of <paramref name="size"/> leaves, leaf-side first.</summary>
    public static List<byte[]> InclusionProof(long index, long size, Func<int, long, byte[]> perfectNode)
    {
        if (index < 0 || index >= size)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Leaf {index} is not in a tree of {size}.");
        }
        var proof = new List<byte[]>();
        Path(index, 0, size, perfectNode, proof);
        return proof;
    }

    private static void Path(long m, long start, long end, Func<int, long, byte[]> node, List<byte[]> proof)
    {
        if (end - start == 1)
        {
            return;
        }
        var k = SplitPoint(end - start);
        if (m < start + k)
        {
            Path(m, start, start + k, node, proof);
            proof.Add(RangeHash(start + k, end, node));
        }
        else
        {
            Path(m, start + k, end, node, proof);
            proof.Add(RangeHash(start, start + k, node));
        }
    }

    /// <summary>RFC 9162 §2.1.4.1 consistency proof between tree sizes <paramref name="oldSize"/> and <paramref name="newSize"/> (0 &lt; old ≤ new).</summary>
    public static List<byte[]> ConsistencyProof(long oldSize, long newSize, Func<int, long, byte[]> perfectNode)
    {
        if (oldSize <= 0 || oldSize > newSize)
        {
            throw new ArgumentOutOfRangeException(nameof(oldSize), $"No consistency proof from {oldSize} to {newSize}.");
        }
        var proof = new List<byte[]>();
        if (oldSize < newSize)
        {
            SubProof(oldSize, 0, newSize, true, perfectNode, proof);
        }
        return proof;
    }

    private static void SubProof(long m, long start, long end, bool complete, Func<int, long, byte[]> node, List<byte[]> proof)
    {
        var n = end - start;
        if (m == n)
        {
            if (!complete)
            {
                proof.Add(RangeHash(start, end, node));
            }
            return;
        }
        var k = SplitPoint(n);
        if (m <= k)
        {
            SubProof(m, start, start + k, complete, node, proof);
            proof.Add(RangeHash(start + k, end, node));
        }
        else
        {
            SubProof(m - k, start + k, end, false, node, proof);
            proof.Add(RangeHash(start, start + k, node));
        }
    }

    /// <summary>RFC 9162 §2.1.3.2: does <paramref name="proof"/> show leaf <paramref name="index"/> with <paramref name="leafHash"/> in the tree of <paramref name="size"/> with <paramref name="root"/>?</summary>
    public static bool VerifyInclusion(long index, long size, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> root)
    {
        if (index < 0 || index >= size || proof.Any(p => p.Length != HashSize))
        {
            return false;
        }
        var fn = index;
        var sn = size - 1;
        var r = leafHash.ToArray();
        foreach (var p in proof)
        {
            if (sn == 0)
            {
                return false;
            }
            if ((fn & 1) == 1 || fn == sn)
            {
                r = NodeHash(p, r);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                r = NodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && CryptographicOperations.FixedTimeEquals(r, root);
    }

    /// <summary>RFC 9162 §2.1.4.2: does <paramref name="proof"/> show the tree of <paramref name="oldSize"/> with <paramref name="oldRoot"/> is a prefix of the tree of <paramref name="newSize"/> with <paramref name="newRoot"/>?</summary>
    public static bool VerifyConsistency(long oldSize, long newSize, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> oldRoot, ReadOnlySpan<byte> newRoot)
    {
        if (oldSize < 0 || oldSize > newSize || proof.Any(p => p.Length != HashSize))
        {
            return false;
        }
        if (oldSize == newSize)
        {
            return proof.Count == 0 && CryptographicOperations.FixedTimeEquals(oldRoot, newRoot);
        }
        if (oldSize == 0)
        {
            // Every tree extends the empty one; there is nothing to prove.
            return proof.Count == 0;
        }
        if (proof.Count == 0)
        {
            return false;
        }
        var path = new List<byte[]>(proof.Count + 1);
        if (BitOperations.IsPow2(oldSize))
        {
            path.Add(oldRoot.ToArray());
        }
        path.AddRange(proof);

        var fn = oldSize - 1;
        var sn = newSize - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }
        var fr = path[0];
        var sr = path[0];
        foreach (var c in path.Skip(1))
        {
            if (sn == 0)
            {
                return false;
            }
            if ((fn & 1) == 1 || fn == sn)
            {
                fr = NodeHash(c, fr);
                sr = NodeHash(c, sr);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                sr = NodeHash(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0
            && CryptographicOperations.FixedTimeEquals(fr, oldRoot)
            && CryptographicOperations.FixedTimeEquals(sr, newRoot);
    }
}
