using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Audit;

namespace InfoBank.Core.Tests.Audit;

public sealed class TreeExtensionTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);

    private static AuditEntry Entry(long sequence, int secondsAfterStart = -1) => new(
        sequence, Start.AddSeconds(secondsAfterStart < 0 ? sequence : secondsAfterStart), "access.denied", $"client:c{sequence % 3}", null, null, null, null,
        $"{{\"n\":{sequence}}}", null);

    [Property(MaxTest = 60)]
    public Property Extending_a_saved_frontier_gives_the_tree_of_all_entries()
    {
        var gen =
            from signed in Gen.Choose(0, 200)
            from added in Gen.Choose(0, 200)
            select (signed, added);
        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (signed, added) = t;
            var entries = Enumerable.Range(0, signed + added).Select(i => Entry(i)).ToList();
            var saved = new CompactRange();
            foreach (var entry in entries.Take(signed))
            {
                saved.Append(entry.LeafHash());
            }
            var extension = new TreeExtension(saved, signed == 0 ? null : entries[signed - 1].Time);
            var nodes = new Dictionary<(int, long), byte[]>();
            foreach (var entry in entries.Skip(signed))
            {
                if (extension.Append(entry, entry.LeafHash(), (level, index, hash) => nodes[(level, index)] = hash) is { } finding)
                {
                    return false.Label(finding.Detail);
                }
            }
            var all = entries.Select(e => e.LeafHash()).ToList();
            // Every subtree the extension completes is the hash of the entries under it.
            var nodesRight = nodes.All(n => n.Value.SequenceEqual(Merkle.RootOf(all.Skip((int)(n.Key.Item2 << n.Key.Item1)).Take(1 << n.Key.Item1))));
            return (extension.Root().SequenceEqual(Merkle.RootOf(all)) && extension.Size == signed + added && nodesRight)
                .Label($"signed {signed}, added {added}");
        });
    }

    [Fact]
    public void The_saved_frontier_is_not_changed_by_an_extension()
    {
        var saved = new CompactRange();
        saved.Append(Entry(0).LeafHash());
        var root = saved.Root();
        var extension = new TreeExtension(saved, null);
        Assert.Null(extension.Append(Entry(1), Entry(1).LeafHash()));
        Assert.Equal(root, saved.Root());
        Assert.Equal(1, saved.Size);
    }

    [Fact]
    public void A_stored_leaf_hash_that_is_not_the_content_s_hash_is_refused_and_not_appended()
    {
        var extension = new TreeExtension(new CompactRange(), null);
        Assert.Null(extension.Append(Entry(0), Entry(0).LeafHash()));
        var finding = extension.Append(Entry(1), Entry(2).LeafHash());
        Assert.Equal(SignerFindingCodes.LeafMismatch, finding!.Code);
        Assert.Equal(1, finding.Sequence);
        Assert.Contains("entry 1 (access.denied)", finding.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("client:", finding.Detail, StringComparison.Ordinal);
        Assert.Equal(1, extension.Size);
        Assert.Equal(SignerFindingCodes.LeafMismatch, extension.Append(Entry(1), new byte[5])!.Code);
    }

    [Fact]
    public void Entries_out_of_sequence_or_dated_before_their_predecessor_are_refused()
    {
        var extension = new TreeExtension(new CompactRange(), null);
        Assert.Null(extension.Append(Entry(0), Entry(0).LeafHash()));
        var gap = extension.Append(Entry(2), Entry(2).LeafHash());
        Assert.Equal((SignerFindingCodes.SequenceGap, 1L), (gap!.Code, gap.Sequence));
        var repeat = extension.Append(Entry(0), Entry(0).LeafHash());
        Assert.Equal((SignerFindingCodes.SequenceGap, 0L), (repeat!.Code, repeat.Sequence));

        var late = new TreeExtension(new CompactRange(), Start.AddSeconds(10));
        var early = Entry(0, secondsAfterStart: 5);
        Assert.Equal(SignerFindingCodes.TimeOrder, late.Append(early, early.LeafHash())!.Code);
        Assert.Equal(0, late.Size);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(13)]
    [InlineData(64)]
    [InlineData(1_000_003)]
    public void Frontier_subtrees_tile_the_tree_in_the_order_of_the_frontier_hashes(long size)
    {
        var subtrees = TreeExtension.FrontierSubtrees(size);
        Assert.Equal(System.Numerics.BitOperations.PopCount((ulong)size), subtrees.Count);
        long next = 0;
        foreach (var subtree in subtrees)
        {
            Assert.Equal(next, subtree.Start);
            Assert.Equal(subtree.Start + (1L << subtree.Level), subtree.End);
            Assert.Equal(subtree.Start >> subtree.Level, subtree.Index);
            next = subtree.End;
        }
        Assert.Equal(size, next);
        if (size <= 64)
        {
            var leaves = Enumerable.Range(0, (int)size).Select(i => Entry(i).LeafHash()).ToList();
            var range = new CompactRange();
            leaves.ForEach(l => range.Append(l));
            for (var i = 0; i < subtrees.Count; i++)
            {
                Assert.Equal(Merkle.RootOf(leaves.Skip((int)subtrees[i].Start).Take((int)(subtrees[i].End - subtrees[i].Start))), range.Hashes[i]);
            }
        }
    }
}
