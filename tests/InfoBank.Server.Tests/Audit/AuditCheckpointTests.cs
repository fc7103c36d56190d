using System.Net.Http.Json;
using System.Text;
using InfoBank.Cli;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Audit;

public sealed class AuditCheckpointTests : IDisposable
{
    private static readonly Guid[] Residents = [Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid()];
    private readonly InfoBankFactory _factory = new();
    private readonly HttpClient _client;

    public AuditCheckpointTests()
    {
        _client = _factory.CreateClient();
    }

    public void Dispose()
    {
        _client.Dispose();
        _factory.Dispose();
    }

    private T Get<T>() where T : notnull => _factory.Services.GetRequiredService<T>();

    private async Task AppendAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await Get<IAuditLog>().AppendAsync(new AuditEntryDraft(AuditKinds.SignInSucceeded, $"resident:{Residents[i % 3]}", Residents[i % 3].ToString(), Payload: new { i }));
        }
    }

    private async Task<string> ExportAsync(long upto)
    {
        using var stream = new MemoryStream();
        await Get<AuditExporter>().WriteAsync(stream, upto);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public async Task The_job_signs_only_when_the_log_has_grown_and_the_key_stays_out_of_the_database()
    {
        var job = Get<AuditCheckpointJob>();
        Assert.Null(await job.RunAsync(CancellationToken.None));

        await AppendAsync(5);
        var first = await job.RunAsync(CancellationToken.None);
        Assert.NotNull(first);
        Assert.Equal(5, first.TreeSize);
        Assert.Null(await job.RunAsync(CancellationToken.None));

        var note = SignedNote.TryParse(first.Note, out _)!;
        Assert.Single(note.VerifiedBy([(await Get<ICheckpointSigner>().CurrentAsync())]));
        var checkpoint = Checkpoint.TryParse(note.Text, out _)!;
        Assert.Equal((await Get<AuditStore>().CurrentFrontierAsync()).Root(), checkpoint.Root);

        // The signing key is a file in the key folder, never a database row.
        Assert.Single(Directory.GetFiles(_factory.KeyDirectory, "checkpoint.*.key.json"));
    }

    [Fact]
    public async Task The_public_key_is_published_without_a_token()
    {
        var response = await _client.GetFromJsonAsync<AuditKeysResponse>("/api/v1/audit/keys");
        var key = Assert.Single(response!.Keys);
        Assert.Equal((await Get<ICheckpointSigner>().CurrentAsync()).VerifierKey, key.VerifierKey);
        Assert.Equal("infobank.local/audit", key.Name);

        // The same key appears in the service-wide JWKS under its RFC 7638 kid.
        var jwks = await _client.GetStringAsync("/api/v1/keys");
        Assert.Contains($"\"kid\":\"{key.Kid}\"", jwks);
    }

    [Fact]
    public async Task Stored_proofs_verify_against_signed_checkpoints()
    {
        var job = Get<AuditCheckpointJob>();
        await AppendAsync(13);
        var small = (await job.RunAsync(CancellationToken.None))!;
        await AppendAsync(20);
        var large = (await job.RunAsync(CancellationToken.None))!;
        var proofs = Get<AuditProofs>();
        var store = Get<AuditStore>();

        for (long seq = 0; seq < 33; seq += 4)
        {
            var leaf = (await store.EntryAsync(seq))!.LeafHash;
            var proof = await proofs.InclusionAsync(seq, 33);
            Assert.True(Merkle.VerifyInclusion(seq, 33, leaf, proof, large.RootHash));
        }
        var consistency = await proofs.ConsistencyAsync(13, 33);
        Assert.True(Merkle.VerifyConsistency(13, 33, consistency, small.RootHash, large.RootHash));
        Assert.Equal(small.RootHash, await proofs.RootAsync(13));
    }

    [Fact]
    public async Task An_export_verifies_offline_and_a_later_export_extends_it()
    {
        await AppendAsync(30);
        await Get<AuditCheckpointJob>().RunAsync(CancellationToken.None);
        var pinned = (await Get<ICheckpointSigner>().CurrentAsync());

        var report = AuditVerifier.Verify(new MemoryStream(Encoding.UTF8.GetBytes(await ExportAsync(30))), new AuditVerifierOptions { PinnedKeys = [pinned] });
        Assert.True(report.Ok, report.Failure);
        Assert.Equal(30, report.Entries);

        await AppendAsync(10);
        await Get<AuditCheckpointJob>().RunAsync(CancellationToken.None);
        var next = AuditVerifier.Verify(new MemoryStream(Encoding.UTF8.GetBytes(await ExportAsync(40))),
            new AuditVerifierOptions { PinnedKeys = [pinned], TrustedCheckpoint = report.LatestCheckpoint });
        Assert.True(next.Ok, next.Failure);
        Assert.True(next.TrustedCheckpointConsistent);
    }

    [Fact]
    public async Task The_cli_verifies_an_export_and_fails_a_tampered_one()
    {
        await AppendAsync(12);
        await Get<AuditCheckpointJob>().RunAsync(CancellationToken.None);
        var directory = Path.GetDirectoryName(_factory.KeyDirectory)!;
        var bundle = Path.Combine(directory, "bundle.ndjson");
        var trusted = Path.Combine(directory, "trusted.txt");
        await File.WriteAllTextAsync(bundle, await ExportAsync(12));
        var vkey = (await Get<ICheckpointSigner>().CurrentAsync()).VerifierKey;

        Assert.Equal(0, await InfoBankCli.BuildRoot().Parse(["audit", "verify", bundle, "--key", vkey, "--write-trusted", trusted]).InvokeAsync());
        Assert.StartsWith("infobank.local/audit\n12\n", await File.ReadAllTextAsync(trusted));
        Assert.Equal(0, await InfoBankCli.BuildRoot().Parse(["audit", "verify", bundle, "--trusted", trusted]).InvokeAsync());

        var tampered = (await File.ReadAllTextAsync(bundle)).Replace("\"actor\":\"resident:ap_", "\"actor\":\"resident:ap_x", StringComparison.Ordinal);
        await File.WriteAllTextAsync(bundle, tampered);
        Assert.Equal(1, await InfoBankCli.BuildRoot().Parse(["audit", "verify", bundle, "--key", vkey]).InvokeAsync());
        Assert.Equal(2, await InfoBankCli.BuildRoot().Parse(["audit", "verify", bundle, "--key", "not-a-key"]).InvokeAsync());
    }

    [Theory]
    [InlineData("consent.given", "operator:alice")]
    [InlineData("grant.reinstated", "operator:alice")]
    [InlineData("access.allowed", "operator:alice")]
    [InlineData("key.rotated", "system")]
    public async Task The_cli_cannot_write_evidence_the_verifier_replays_nor_speak_as_the_service(string kind, string actor) =>
        Assert.Equal(2, await InfoBankCli.BuildRoot().Parse(["audit", "record", "--kind", kind, "--actor", actor]).InvokeAsync());
}
