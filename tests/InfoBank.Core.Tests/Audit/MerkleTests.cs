using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Audit;

namespace InfoBank.Core.Tests.Audit;

/// <summary>The RFC 6962/9162 reference vectors (CT's and transparency-dev/merkle's test data) and properties over random sizes.</summary>
public sealed class MerkleTests
{
    private static readonly byte[][] Inputs =
    [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ];

    private static readonly string[] Roots =
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    public static TheoryData<long, long, string[]> InclusionVectors => new()
    {
        { 0, 1, [] },
        { 0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"] },
        { 5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"] },
        { 2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"] },
        { 1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"] },
    };

    public static TheoryData<long, long, string[]> ConsistencyVectors => new()
    {
        { 1, 1, [] },
        { 1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"] },
        { 6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"] },
        { 2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"] },
    };

    private static string Hex(byte[] value) => Convert.ToHexStringLower(value);

    private static byte[][] Leaves(IEnumerable<byte[]> inputs) => inputs.Select(i => Merkle.LeafHash(i)).ToArray();

    /// <summary>Perfect subtree hashes computed naively from the leaves, as a reference source for proofs.</summary>
    private static Func<int, long, byte[]> NaiveNodes(byte[][] leaves) =>
        (level, index) => NaiveRoot(leaves.Skip((int)(index << level)).Take(1 << level).ToArray());

    /// <summary>MTH straight from the RFC's recursive definition.</summary>
    private static byte[] NaiveRoot(byte[][] leaves) => leaves.Length switch
    {
        0 => Merkle.EmptyRoot,
        1 => leaves[0],
        _ => Merkle.NodeHash(
            NaiveRoot(leaves[..(int)Merkle.SplitPoint(leaves.Length)]),
            NaiveRoot(leaves[(int)Merkle.SplitPoint(leaves.Length)..])),
    };

    [Fact]
    public void Empty_tree_root_is_the_hash_of_nothing()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Hex(new CompactRange().Root()));
    }

    [Fact]
    public void Roots_match_the_reference_vectors_for_every_size()
    {
        var leaves = Leaves(Inputs);
        for (var size = 1; size <= 8; size++)
        {
            Assert.Equal(Roots[size - 1], Hex(Merkle.RootOf(leaves.Take(size))));
            Assert.Equal(Roots[size - 1], Hex(Merkle.RangeHash(0, size, NaiveNodes(leaves))));
        }
    }

    [Theory]
    [MemberData(nameof(InclusionVectors))]
    public void Inclusion_proofs_match_the_reference_vectors(long index, long size, string[] expected)
    {
        var leaves = Leaves(Inputs);
        var proof = Merkle.InclusionProof(index, size, NaiveNodes(leaves));
        Assert.Equal(expected, proof.Select(Hex));
        Assert.True(Merkle.VerifyInclusion(index, size, leaves[index], proof, Convert.FromHexString(Roots[size - 1])));
    }

    [Theory]
    [MemberData(nameof(ConsistencyVectors))]
    public void Consistency_proofs_match_the_reference_vectors(long oldSize, long newSize, string[] expected)
    {
        var leaves = Leaves(Inputs);
        var proof = Merkle.ConsistencyProof(oldSize, newSize, NaiveNodes(leaves));
        Assert.Equal(expected, proof.Select(Hex));
        Assert.True(Merkle.VerifyConsistency(oldSize, newSize, proof,
            Convert.FromHexString(Roots[oldSize - 1]), Convert.FromHexString(Roots[newSize - 1])));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    public void Every_proof_at_edge_sizes_verifies_and_a_wrong_one_does_not(int size)
    {
        var leaves = Enumerable.Range(0, size).Select(i => Merkle.LeafHash(BitConverter.GetBytes(i))).ToArray();
        var nodes = NaiveNodes(leaves);
        var root = Merkle.RootOf(leaves);
        Assert.Equal(Hex(NaiveRoot(leaves)), Hex(root));
        for (var i = 0; i < size; i++)
        {
            var proof = Merkle.InclusionProof(i, size, nodes);
            Assert.True(Merkle.VerifyInclusion(i, size, leaves[i], proof, root));
            Assert.False(Merkle.VerifyInclusion(i, size, Merkle.LeafHash([0xff, 0xfe]), proof, root));
            if (size > 1)
            {
                Assert.False(Merkle.VerifyInclusion((i + 1) % size, size, leaves[i], proof, root));
            }
        }
        for (var m = 1; m <= size; m++)
        {
            var oldRoot = Merkle.RootOf(leaves.Take(m));
            var proof = Merkle.ConsistencyProof(m, size, nodes);
            Assert.True(Merkle.VerifyConsistency(m, size, proof, oldRoot, root));
            if (m < size)
            {
                Assert.False(Merkle.VerifyConsistency(m, size, proof, Merkle.LeafHash([0xff]), root));
                Assert.False(Merkle.VerifyConsistency(m, size, proof, oldRoot, Merkle.LeafHash([0xff])));
            }
        }
    }

    [Fact]
    public void Frontier_reports_each_completed_subtree_and_survives_a_round_trip()
    {
        var leaves = Enumerable.Range(0, 13).Select(i => Merkle.LeafHash([(byte)i])).ToArray();
        var range = new CompactRange();
        var nodes = new Dictionary<(int, long), byte[]>();
        foreach (var leaf in leaves)
        {
            range.Append(leaf, (level, index, hash) => nodes[(level, index)] = hash);
            range = CompactRange.FromBytes(range.Size, range.ToBytes());
        }
        // 13 leaves complete 6 pairs, 3 fours and 1 eight.
        Assert.Equal(10, nodes.Count);
        var naive = NaiveNodes(leaves);
        foreach (var ((level, index), hash) in nodes)
        {
            Assert.Equal(Hex(naive(level, index)), Hex(hash));
        }
        Assert.Equal(Hex(NaiveRoot(leaves)), Hex(range.Root()));
        Assert.Throws<InvalidDataException>(() => CompactRange.FromBytes(15, range.ToBytes()));
    }

    [Property(MaxTest = 60)]
    public Property Proofs_hold_for_random_sizes_and_positions()
    {
        var gen =
            from size in Gen.Choose(1, 300)
            from index in Gen.Choose(0, size - 1)
            from old in Gen.Choose(1, size)
            select (size, index, old);
        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (size, index, old) = t;
            var leaves = Enumerable.Range(0, size).Select(i => Merkle.LeafHash(BitConverter.GetBytes(i * 7919))).ToArray();
            var range = new CompactRange();
            var stored = new Dictionary<(int, long), byte[]>();
            for (var i = 0; i < size; i++)
            {
                stored[(0, i)] = leaves[i];
                range.Append(leaves[i], (level, idx, hash) => stored[(level, idx)] = hash);
            }
            var nodes = new Func<int, long, byte[]>((level, idx) => stored[(level, idx)]);
            var root = range.Root();
            var oldRoot = Merkle.RootOf(leaves.Take(old));
            return Hex(root) == Hex(NaiveRoot(leaves))
                && Merkle.VerifyInclusion(index, size, leaves[index], Merkle.InclusionProof(index, size, nodes), root)
                && Merkle.VerifyConsistency(old, size, Merkle.ConsistencyProof(old, size, nodes), oldRoot, root)
                && (old == size || !Merkle.VerifyConsistency(old, size, Merkle.ConsistencyProof(old, size, nodes), root, root));
        });
    }
}
