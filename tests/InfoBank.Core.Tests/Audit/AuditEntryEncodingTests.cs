using InfoBank.Core.Audit;

namespace InfoBank.Core.Tests.Audit;

public sealed class AuditEntryEncodingTests
{
    private static readonly AuditEntry Sample = new(
        5, new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero).AddTicks(1230), "consent.given", "resident:r1",
        "r1", "fitness.stats", Guid.Parse("6f0c2a43-9d7e-4d7b-8a53-0c1c3b0a9e11"), "sha256:ab", "{\"items\":[\"steps.daily\"]}", [1, 2, 3]);

    [Fact]
    public void Encoding_is_the_documented_length_prefixed_form()
    {
        var bytes = Sample with { SubjectRef = null, Purpose = null, GrantId = null, PolicyHash = null, Payload = null, SealedPersonalData = null, Kind = "k", Actor = "" };
        var expected = new List<byte> { 1 };
        expected.AddRange(new byte[] { 0, 0, 0, 0, 0, 0, 0, 5 });
        var micros = AuditEntryEncoding.ToUnixMicroseconds(Sample.Time);
        expected.AddRange(BitConverter.GetBytes(micros).Reverse());
        expected.AddRange(new byte[] { 1, 0, 0, 0, 1, (byte)'k' });
        expected.AddRange(new byte[] { 1, 0, 0, 0, 0 });
        expected.AddRange(new byte[] { 0, 0, 0, 0, 0, 0 });
        Assert.Equal(expected.ToArray(), bytes.CanonicalBytes());
        Assert.Equal(1_795_338_000_000_123, micros);
    }

    [Fact]
    public void Absent_and_empty_differ_and_every_field_changes_the_leaf()
    {
        var leaf = Convert.ToHexString(Sample.LeafHash());
        AuditEntry[] variants =
        [
            Sample with { Sequence = 6 },
            Sample with { Time = Sample.Time.AddTicks(10) },
            Sample with { Kind = "consent.withdrawn" },
            Sample with { Actor = "resident:r2" },
            Sample with { SubjectRef = "" },
            Sample with { SubjectRef = null },
            Sample with { Purpose = null },
            Sample with { GrantId = Guid.Empty },
            Sample with { PolicyHash = null },
            Sample with { Payload = "{}" },
            Sample with { SealedPersonalData = [1, 2, 4] },
            Sample with { SealedPersonalData = [] },
        ];
        Assert.All(variants, v => Assert.NotEqual(leaf, Convert.ToHexString(v.LeafHash())));
        Assert.Equal(variants.Length, variants.Select(v => Convert.ToHexString(v.LeafHash())).Distinct().Count());
    }

    [Fact]
    public void Times_truncate_to_microseconds_and_round_trip()
    {
        var time = new DateTimeOffset(2026, 11, 22, 18, 0, 0, TimeSpan.FromHours(9)).AddTicks(1234567);
        var truncated = AuditEntryEncoding.Truncate(time);
        Assert.Equal(TimeSpan.Zero, truncated.Offset);
        Assert.Equal(time.UtcTicks - 7, truncated.UtcTicks);
        Assert.Equal(truncated, AuditEntryEncoding.FromUnixMicroseconds(AuditEntryEncoding.ToUnixMicroseconds(truncated)));
    }
}
