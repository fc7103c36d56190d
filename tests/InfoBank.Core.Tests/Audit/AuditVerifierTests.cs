using System.Text;
using System.Text.Json.Nodes;
using InfoBank.Core.Audit;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Tests.Audit;

public sealed class AuditVerifierTests
{
    private const string Origin = "test.infobank/audit";
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private static readonly Guid Grant = Guid.Parse("11111111-2222-3333-4444-555555555555");
    private static readonly Guid Other = Guid.Parse("66666666-7777-8888-9999-aaaaaaaaaaaa");
    private readonly Ed25519Key _key = Ed25519Key.Generate();

    private NoteVerifier Verifier => NoteVerifier.For(Origin, _key.PublicKey);

    private static List<AuditEntry> Entries(int count) => Enumerable.Range(0, count).Select(i => new AuditEntry(
        i, Start.AddSeconds(i), i % 3 == 0 ? "signin.succeeded" : "deposit.batch", $"client:c{i % 5}", $"r{i % 4}", null, null,
        "sha256:policy", $"{{\"n\":{i}}}", i % 2 == 0 ? [(byte)i, 1, 2] : null)).ToList();

    /// <summary>A bundle as the server writes it, with checkpoints at the given sizes.</summary>
    private string Bundle(IReadOnlyList<AuditEntry> entries, long[] checkpointSizes, Ed25519Key? key = null, bool recomputeLeaves = true)
    {
        key ??= _key;
        using var stream = new MemoryStream();
        using (var writer = new AuditBundleWriter(stream))
        {
            writer.WriteHeader(Origin, entries.Count);
            writer.WriteKey(NoteVerifier.For(Origin, key.PublicKey));
            foreach (var size in checkpointSizes)
            {
                var root = Merkle.RootOf(entries.Take((int)size).Select(e => e.LeafHash()));
                writer.WriteCheckpoint(new Checkpoint(Origin, size, root).Sign(Origin, key).ToString());
            }
            foreach (var entry in entries)
            {
                writer.WriteEntry(entry, entry.LeafHash());
            }
            writer.WriteEnd(entries.Count);
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static AuditVerificationReport Verify(string bundle, string? trusted = null, params NoteVerifier[] pinned) =>
        AuditVerifier.Verify(new MemoryStream(Encoding.UTF8.GetBytes(bundle)),
            new AuditVerifierOptions { TrustedCheckpoint = trusted, PinnedKeys = pinned });

    private static string[] Lines(string bundle) => bundle.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string Join(IEnumerable<string> lines) => string.Join('\n', lines) + "\n";

    /// <summary>Index of entry <paramref name="seq"/>'s line: header, one key, the checkpoints, then entries.</summary>
    private static int EntryLine(int seq, int checkpoints) => 2 + checkpoints + seq;

    [Fact]
    public void An_intact_bundle_verifies_and_yields_the_latest_checkpoint()
    {
        var entries = Entries(50);
        var report = Verify(Bundle(entries, [10, 33, 50]), null, Verifier);
        Assert.True(report.Ok, report.Failure);
        Assert.Equal(50, report.Entries);
        Assert.Equal(3, report.CheckpointsVerified);
        Assert.Equal(50, report.LatestCheckpointSize);

        // The next audit trusts what this one printed, and the log has grown since.
        var grown = Entries(80);
        var next = Verify(Bundle(grown, [50, 80]), report.LatestCheckpoint, Verifier);
        Assert.True(next.Ok, next.Failure);
        Assert.True(next.TrustedCheckpointConsistent);
    }

    [Fact]
    public void Progress_is_reported_on_large_bundles()
    {
        var seen = new List<long>();
        var report = AuditVerifier.Verify(new MemoryStream(Encoding.UTF8.GetBytes(Bundle(Entries(250), [250]))),
            new AuditVerifierOptions { Progress = new Collect(seen), ProgressInterval = 100 });
        Assert.True(report.Ok, report.Failure);
        Assert.Equal([100L, 200L], seen);
    }

    private sealed class Collect(List<long> seen) : IProgress<long>
    {
        public void Report(long value) => seen.Add(value);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(19)]
    public void Changing_one_byte_of_any_entry_names_that_entry(int seq)
    {
        var lines = Lines(Bundle(Entries(20), [20]));
        var index = EntryLine(seq, 1);
        // Flip one character inside the actor value: still valid JSON, different content.
        lines[index] = lines[index].Replace("\"actor\":\"client:c", "\"actor\":\"client:d", StringComparison.Ordinal);
        var report = Verify(Join(lines), null, Verifier);
        Assert.False(report.Ok);
        Assert.Equal(seq, report.FirstBadEntry);
        Assert.Contains($"entry {seq} does not match its recorded leaf hash", report.Failure);
    }

    [Fact]
    public void Changing_an_entry_and_its_leaf_is_caught_by_the_signed_root()
    {
        var entries = Entries(20);
        entries[12] = entries[12] with { Payload = "{\"n\":999}" };
        var bundle = Bundle(entries, []);
        // Re-insert the genuine checkpoints, signed over the original entries.
        var genuine = Lines(Bundle(Entries(20), [8, 20]));
        var lines = Lines(bundle).ToList();
        lines.InsertRange(2, genuine[2..4]);
        var report = Verify(Join(lines), null, Verifier);
        Assert.False(report.Ok);
        Assert.Contains("checkpoint for size 20 does not match the entries: an entry in [8, 20)", report.Failure);
    }

    [Fact]
    public void A_byte_change_that_breaks_the_JSON_is_reported_with_the_entry()
    {
        var lines = Lines(Bundle(Entries(10), [10]));
        lines[EntryLine(4, 1)] = lines[EntryLine(4, 1)].Replace("\"kind\":", "\"kind\";", StringComparison.Ordinal);
        var report = Verify(Join(lines), null, Verifier);
        Assert.Equal(4, report.FirstBadEntry);
        Assert.Contains("entry 4 (line", report.Failure);
    }

    [Fact]
    public void Deleting_an_entry_is_detected_at_the_gap()
    {
        var lines = Lines(Bundle(Entries(20), [20])).ToList();
        lines.RemoveAt(EntryLine(6, 1));
        var report = Verify(Join(lines), null, Verifier);
        Assert.Equal(6, report.FirstBadEntry);
        Assert.Contains("entry 6 has sequence 7, expected 6: an entry is missing or out of order", report.Failure);
    }

    [Fact]
    public void Reordering_two_entries_is_detected()
    {
        var lines = Lines(Bundle(Entries(20), [20]));
        (lines[EntryLine(3, 1)], lines[EntryLine(11, 1)]) = (lines[EntryLine(11, 1)], lines[EntryLine(3, 1)]);
        var report = Verify(Join(lines), null, Verifier);
        Assert.Equal(3, report.FirstBadEntry);
        Assert.Contains("entry 3 has sequence 11, expected 3", report.Failure);
    }

    [Fact]
    public void Reordering_with_renumbered_sequences_is_caught_by_the_leaves()
    {
        var entries = Entries(20);
        var lines = Lines(Bundle(entries, [20]));
        // Swap the entries but keep the sequence numbers in place: content no longer matches the leaves.
        var a = JsonNode.Parse(lines[EntryLine(3, 1)])!;
        var b = JsonNode.Parse(lines[EntryLine(11, 1)])!;
        (a["seq"], b["seq"]) = (11, 3);
        lines[EntryLine(3, 1)] = b.ToJsonString();
        lines[EntryLine(11, 1)] = a.ToJsonString();
        var report = Verify(Join(lines), null, Verifier);
        Assert.Equal(3, report.FirstBadEntry);
        Assert.Contains("entry 3 does not match its recorded leaf hash", report.Failure);
    }

    [Fact]
    public void Truncating_the_tail_and_re_signing_with_another_key_is_detected()
    {
        var trusted = Verify(Bundle(Entries(40), [40]), null, Verifier).LatestCheckpoint!;
        var forger = Ed25519Key.Generate();
        var forged = Bundle(Entries(30), [30], forger);

        // With the auditor's trusted checkpoint, the bundle's own (forged) key vouches for nothing.
        var report = Verify(forged, trusted);
        Assert.False(report.Ok);
        Assert.Contains("the log was truncated and re-signed: the trusted checkpoint covers 40 entries but the bundle holds only 30", report.Failure);

        // With the log's key pinned, the forged signatures fail outright.
        report = Verify(forged, null, Verifier);
        Assert.Contains("checkpoint for size 30 has no valid signature from a trusted key", report.Failure);

        // Truncated but signed with the genuine key (an old bundle replayed): still caught by the trusted checkpoint.
        report = Verify(Bundle(Entries(30), [30]), trusted, Verifier);
        Assert.Contains("the log was truncated: the trusted checkpoint covers 40 entries but the bundle holds only 30", report.Failure);
    }

    [Fact]
    public void A_rewritten_history_is_inconsistent_with_the_trusted_checkpoint()
    {
        var trusted = Verify(Bundle(Entries(40), [40]), null, Verifier).LatestCheckpoint!;
        var rewritten = Entries(60);
        rewritten[5] = rewritten[5] with { Actor = "client:someone-else" };
        var report = Verify(Bundle(rewritten, [60]), trusted, Verifier);
        Assert.Contains("the log is inconsistent with the trusted checkpoint (size 40)", report.Failure);
    }

    [Fact]
    public void A_cut_short_bundle_and_time_going_backwards_fail()
    {
        var lines = Lines(Bundle(Entries(10), [10]));
        Assert.Contains("cut short", Verify(Join(lines[..^1]), null, Verifier).Failure);

        var entries = Entries(10);
        entries[6] = entries[6] with { Time = Start.AddSeconds(-1) };
        var report = Verify(Bundle(entries, [10]), null, Verifier);
        Assert.Contains("entry 6 is dated before entry 5", report.Failure);
    }

    [Fact]
    public void Consent_replay_flags_access_without_active_consent()
    {
        var t = Start;
        AuditEntry E(long seq, string kind, string? subject, string? purpose, Guid? grant = null) =>
            new(seq, t.AddMinutes(seq), kind, "system", subject, purpose, grant, null, null, null);
        List<AuditEntry> entries =
        [
            E(0, "access.allowed", "r1", "fitness.stats", Grant),   // before any consent: flagged
            E(1, "consent.given", "r1", "fitness.stats", Grant),
            E(2, "access.allowed", "r1", "fitness.stats", Grant),   // fine
            E(3, "access.allowed", "r2", "fitness.stats", Grant),   // another resident: flagged
            E(4, "access.denied", "r2", "fitness.stats", Grant),    // denials are fine
            E(5, "consent.withdrawn", "r1", "fitness.stats", Grant),
            E(6, "access.allowed", "r1", "fitness.stats", Grant),   // after withdrawal: flagged
            E(7, "consent.given", "r3", "research", null),
            E(8, "grant.revoked", "r3", null, Grant),
            E(9, "access.allowed", "r3", "research", Grant),        // revoked grant: flagged
            E(10, "consent.given", "r4", "walking", Other),
            E(11, "grant.suspended", "r4", null, Other),
            E(12, "access.allowed", "r4", "walking", Other),        // suspended grant: flagged
            E(13, "access.allowed", null, "walking", Other),        // an aggregate under it too
            E(14, "grant.reinstated", "r4", null, Other),
            E(15, "access.allowed", "r4", "walking", Other),        // reinstated: fine
            E(16, "access.allowed", null, "walking", Other),        // fine
        ];
        var report = Verify(Bundle(entries, [17]), null, Verifier);
        Assert.Null(report.Failure);
        Assert.False(report.Ok);
        Assert.Equal(6, report.Findings.Count);
        Assert.StartsWith("entry 0:", report.Findings[0]);
        Assert.StartsWith("entry 3:", report.Findings[1]);
        Assert.StartsWith("entry 6:", report.Findings[2]);
        Assert.Contains("after it was revoked", report.Findings[3]);
        Assert.Contains("entry 12: access allowed under grant", report.Findings[4]);
        Assert.Contains("while it was suspended", report.Findings[4]);
        Assert.StartsWith("entry 13:", report.Findings[5]);
    }

    [Fact]
    public void A_grant_change_audited_at_or_after_an_accesss_decision_horizon_is_a_race_not_a_violation()
    {
        var t = Start;
        AuditEntry E(long seq, string kind, Guid grant, long? decidedAfter = null) =>
            new(seq, t.AddMinutes(seq), kind, "system", null, "walking", grant,
                null, decidedAfter is { } h ? $"{{\"kind\":\"records\",\"decidedAfter\":{h}}}" : null, null);
        List<AuditEntry> entries =
        [
            E(0, "access.allowed", Grant, 0),
            E(1, "grant.suspended", Grant),
            E(2, "access.allowed", Grant, 1),        // read the grant before the suspension was audited: a race, fine
            E(3, "access.allowed", Grant, 2),        // read it after: flagged
            E(4, "access.allowed", Grant),           // no horizon: judged at its own position, flagged
            E(5, "access.allowed", Grant, 99),       // an impossible horizon counts as its own position: flagged
            E(6, "grant.reinstated", Grant),
            E(7, "grant.revoked", Other),
            E(8, "access.allowed", Other, 7),        // revocation at 7 raced the read at size 7: fine
            E(9, "access.allowed", Other, 9),        // flagged
        ];
        var report = Verify(Bundle(entries, [10]), null, Verifier);
        Assert.Null(report.Failure);
        Assert.Equal(4, report.Findings.Count);
        Assert.StartsWith("entry 3:", report.Findings[0]);
        Assert.StartsWith("entry 4:", report.Findings[1]);
        Assert.StartsWith("entry 5:", report.Findings[2]);
        Assert.StartsWith("entry 9:", report.Findings[3]);
        Assert.Contains("after it was revoked (entry 7)", report.Findings[3]);
    }

    [Fact]
    public void Page_accesses_must_cite_given_unended_consents_of_every_resident_they_provide()
    {
        var t = Start;
        Guid C(int n) => Guid.Parse($"00000000-0000-0000-0000-{n:D12}");
        string R(int n) => $"00000000-0000-0000-0000-{n + 100:D12}";
        AuditEntry Consent(long seq, string kind, int consent, int resident, string purpose = "walking", Guid? grant = null) =>
            new(seq, t.AddMinutes(seq), kind, "system", R(resident), purpose, grant ?? Grant, null, $"{{\"consentId\":\"{C(consent)}\"}}", null);
        AuditEntry Page(long seq, long horizon, int[] consents, int[] residents) =>
            new(seq, t.AddMinutes(seq), "access.allowed", "client:b", null, "walking", Grant, null,
                $"{{\"decidedAfter\":{horizon},\"details\":{{\"consents\":[{string.Join(",", consents.Select(c => $"\"{C(c)}\""))}],\"residents\":[{string.Join(",", residents.Select(r => $"\"{R(r)}\""))}]}}}}", null);
        List<AuditEntry> entries =
        [
            Consent(0, "consent.given", 1, 1),
            Consent(1, "consent.given", 2, 2),
            Page(2, 2, [1, 2], [1, 2]),                     // fine
            Page(3, 3, [1, 3], [1, 3]),                     // consent 3 is audited only later: used before it was durable, flagged
            Consent(4, "consent.given", 3, 3),
            Consent(5, "consent.withdrawn", 2, 2),
            Page(6, 5, [2], [2]),                           // read its grant before the withdrawal was audited: a race, fine
            Page(7, 7, [2], [2]),                           // cites a consent ended at 5 < 7: flagged
            Page(8, 8, [1], [1, 3]),                        // provides resident 3 without citing their consent: flagged
            Page(9, 9, [9], []),                            // a consent the log never records: flagged
            Consent(10, "consent.given", 4, 4, purpose: "research"),
            Page(11, 11, [4], [4]),                         // a consent for another purpose: flagged
        ];
        var report = Verify(Bundle(entries, [12]), null, Verifier);
        Assert.Null(report.Failure);
        Assert.Equal(5, report.Findings.Count);
        Assert.Contains($"entry 3: the access cites consent {C(3)}, which is recorded as given only later (entry 4)", report.Findings[0]);
        Assert.Contains("entry 7: the access cites consent", report.Findings[1]);
        Assert.Contains("ended at entry 5", report.Findings[1]);
        Assert.Equal($"entry 8: the access provided data of subject {R(3)} without citing a valid consent of theirs", report.Findings[2]);
        Assert.Contains("never records as given", report.Findings[3]);
        Assert.Contains("another purpose or grant", report.Findings[4]);
    }

    [Fact]
    public void A_consent_given_twice_or_given_again_after_it_ended_is_a_finding()
    {
        var t = Start;
        var consent = Guid.Parse("00000000-0000-0000-0000-000000000007");
        var other = Guid.Parse("00000000-0000-0000-0000-000000000008");
        AuditEntry E(long seq, string kind, Guid id, string subject = "r1") =>
            new(seq, t.AddMinutes(seq), kind, "system", subject, "walking", Grant, null, $"{{\"consentId\":\"{id}\"}}", null);
        AuditEntry Access(long seq, string subject) =>
            new(seq, t.AddMinutes(seq), "access.allowed", "client:b", subject, "walking", Grant, null, null, null);
        List<AuditEntry> entries =
        [
            E(0, "consent.given", consent),
            E(1, "consent.given", consent),          // audited twice: flagged
            E(2, "consent.withdrawn", consent),
            E(3, "consent.given", consent),          // re-opened after it ended: flagged, and it does not re-open
            Access(4, "r1"),                         // so this access has no consent: flagged
            E(5, "consent.withdrawn", other, "r2"),  // ended before it was ever given...
            E(6, "consent.given", other, "r2"),      // ...then given: out of causal order, flagged
            E(7, "consent.withdrawn", consent),      // ended a second time: flagged
        ];
        var report = Verify(Bundle(entries, [8]), null, Verifier);
        Assert.Null(report.Failure);
        Assert.Equal(
        [
            $"entry 1: consent {consent} is recorded as given a second time (first at entry 0)",
            $"entry 3: consent {consent} is recorded as given after it ended (entry 2): a consent is never re-opened",
            "entry 4: access allowed to subject r1 for purpose walking with no active consent at " + AuditBundle.FormatTime(t.AddMinutes(4)),
            $"entry 6: consent {other} is recorded as given after it ended (entry 5): a consent is never re-opened",
            $"entry 7: consent {consent} is recorded as ending again (it ended at entry 2)",
        ], report.Findings);
    }
}

