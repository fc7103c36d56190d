using System.Net;
using System.Net.Http.Json;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Web;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Audit;

/// <summary>The auditor API over HTTP with real tokens.</summary>
public sealed class AuditApiTests : IClassFixture<InfoBankFactory>, IAsyncLifetime
{
    private static readonly Guid Someone = Guid.NewGuid();
    private readonly InfoBankFactory _factory;
    private HttpClient _auditor = null!;

    public AuditApiTests(InfoBankFactory factory) => _factory = factory;

    public async Task InitializeAsync()
    {
        var (_, token) = await _factory.SignInAsync(AccountKind.Auditor);
        _auditor = _factory.CreateClientWithToken(token);
    }

    public Task DisposeAsync()
    {
        _auditor.Dispose();
        return Task.CompletedTask;
    }

    private T Get<T>() where T : notnull => _factory.Services.GetRequiredService<T>();

    private async Task<List<AuditAppended>> AppendAsync(int count, string? subject = null)
    {
        var appended = new List<AuditAppended>();
        for (var i = 0; i < count; i++)
        {
            appended.Add(await Get<IAuditLog>().AppendAsync(new AuditEntryDraft(AuditKinds.AccessDenied, "client:biz", subject ?? Someone.ToString(), "fitness.stats", Payload: new { i })));
        }
        return appended;
    }

    private async Task<CheckpointRow> CheckpointAsync() =>
        await Get<AuditCheckpointJob>().RunAsync(CancellationToken.None) ?? (await Get<AuditStore>().LatestCheckpointAsync())!;

    [Fact]
    public async Task Entries_page_and_filter_by_subject()
    {
        var resident = Guid.NewGuid();
        var mine = await AppendAsync(5, resident.ToString());
        await AppendAsync(2);
        // The auditor filters by the pseudonym the log names the resident by.
        var subject = await Get<AuditStore>().PseudonymOfAsync(resident);

        using var first = await _auditor.GetAsync($"/api/v1/audit/entries?subject={subject}&limit=3");
        var page = await first.Content.ReadFromJsonAsync<Page<AuditEntryView>>();
        Assert.Equal(mine.Take(3).Select(a => a.Sequence), page!.Items.Select(e => e.Sequence));
        Assert.NotNull(page.Next);
        Assert.Equal($"<{page.Next}>; rel=\"next\"", first.Headers.GetValues("Link").Single());
        var rest = await _auditor.GetFromJsonAsync<Page<AuditEntryView>>(page.Next);
        Assert.Equal(mine.Skip(3).Select(a => a.Sequence), rest!.Items.Select(e => e.Sequence));
        Assert.Null(rest.Next);

        var one = await _auditor.GetFromJsonAsync<AuditEntryView>($"/api/v1/audit/entries/{mine[0].Sequence}");
        Assert.Equal(mine[0].LeafHash, one!.LeafHash);
        Assert.Equal("{\"i\":0}", one.Payload);
    }

    [Theory]
    [InlineData("/api/v1/audit/entries?limit=0", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/entries?limit=5000", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/entries?cursor=not-ours", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/entries?from=-1", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/entries?from=5&to=2", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/entries?from=abc", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/entries/999999999", HttpStatusCode.NotFound)]
    [InlineData("/api/v1/audit/checkpoints?limit=0", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/proofs/inclusion", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/proofs/inclusion?sequence=-3", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/proofs/inclusion?sequence=999999999", HttpStatusCode.NotFound)]
    [InlineData("/api/v1/audit/proofs/inclusion?sequence=0&size=999999999", HttpStatusCode.NotFound)]
    [InlineData("/api/v1/audit/proofs/consistency?from=0&to=1", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/proofs/consistency?from=5&to=2", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/proofs/consistency?from=1&to=999999999", HttpStatusCode.NotFound)]
    [InlineData("/api/v1/audit/export?upto=-1", HttpStatusCode.BadRequest)]
    [InlineData("/api/v1/audit/export?upto=999999999", HttpStatusCode.BadRequest)]
    public async Task Bad_queries_get_problem_details(string path, HttpStatusCode expected)
    {
        await AppendAsync(1);
        var response = await _auditor.GetAsync(path);
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>();
        Assert.False(string.IsNullOrWhiteSpace(problem!.Detail ?? problem.Title));
    }

    [Fact]
    public async Task An_inclusion_proof_verifies_against_the_signed_checkpoint_and_waits_for_one()
    {
        var appended = await AppendAsync(9);
        var checkpoint = await CheckpointAsync();
        var target = appended[4];

        var proof = await _auditor.GetFromJsonAsync<InclusionProofView>($"/api/v1/audit/proofs/inclusion?sequence={target.Sequence}");
        Assert.Equal(checkpoint.TreeSize, proof!.TreeSize);
        Assert.Equal(target.LeafHash, proof.LeafHash);
        Assert.True(Merkle.VerifyInclusion(target.Sequence, proof.TreeSize, target.LeafHash, proof.Proof, proof.RootHash));
        var note = SignedNote.TryParse(proof.Checkpoint, out _)!;
        Assert.Single(note.VerifiedBy([await Get<ICheckpointSigner>().CurrentAsync()]));
        Assert.Equal(proof.RootHash, Checkpoint.TryParse(note.Text, out _)!.Root);

        var late = (await AppendAsync(1))[0];
        var pending = await _auditor.GetAsync($"/api/v1/audit/proofs/inclusion?sequence={late.Sequence}");
        Assert.Equal(HttpStatusCode.Conflict, pending.StatusCode);
    }

    [Fact]
    public async Task A_consistency_proof_links_two_checkpoints()
    {
        await AppendAsync(3);
        var older = await CheckpointAsync();
        await AppendAsync(6);
        var newer = await CheckpointAsync();

        var proof = await _auditor.GetFromJsonAsync<ConsistencyProofView>($"/api/v1/audit/proofs/consistency?from={older.TreeSize}&to={newer.TreeSize}");
        Assert.Equal(older.RootHash, proof!.FromRoot);
        Assert.Equal(newer.RootHash, proof.ToRoot);
        Assert.True(Merkle.VerifyConsistency(older.TreeSize, newer.TreeSize, proof.Proof, older.RootHash, newer.RootHash));

        var checkpoints = await _auditor.GetFromJsonAsync<Page<CheckpointView>>($"/api/v1/audit/checkpoints?from={older.TreeSize}&limit=1");
        Assert.Equal(older.TreeSize, Assert.Single(checkpoints!.Items).TreeSize);
        var following = await _auditor.GetFromJsonAsync<Page<CheckpointView>>(checkpoints.Next!);
        Assert.Contains(following!.Items, c => c.TreeSize == newer.TreeSize && c.Note == newer.Note);
        var latest = await _auditor.GetFromJsonAsync<CheckpointView>("/api/v1/audit/checkpoints/latest");
        Assert.Equal(newer.TreeSize, latest!.TreeSize);
    }

    [Fact]
    public async Task The_export_streams_a_bundle_that_verifies_offline()
    {
        await AppendAsync(25);
        var checkpoint = await CheckpointAsync();
        var keys = await _auditor.GetFromJsonAsync<AuditKeysResponse>("/api/v1/audit/keys");

        var response = await _auditor.GetAsync("/api/v1/audit/export", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var report = AuditVerifier.Verify(stream, new AuditVerifierOptions { PinnedKeys = [NoteVerifier.TryParse(keys!.Keys[0].VerifierKey, out _)!] });
        Assert.True(report.Ok, report.Failure);
        Assert.Equal(checkpoint.TreeSize, report.Entries);
        Assert.Equal(checkpoint.Note, report.LatestCheckpoint);
    }

    [Fact]
    public async Task Other_callers_are_refused()
    {
        var (_, residentToken) = await _factory.SignInAsync(AccountKind.Resident);
        using var resident = _factory.CreateClientWithToken(residentToken);
        Assert.Equal(HttpStatusCode.Forbidden, (await resident.GetAsync("/api/v1/audit/export")).StatusCode);
        using var anonymous = _factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/audit/proofs/consistency?from=1&to=1")).StatusCode);
    }
}

/// <summary>A resident proves an entry about them is in the signed log; nobody else's.</summary>
public sealed class ResidentAuditProofTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task A_resident_gets_a_proof_for_their_own_entry_only()
    {
        var (accountId, token) = await factory.SignInAsync(AccountKind.Resident);
        var log = factory.Services.GetRequiredService<IAuditLog>();
        var mine = await log.AppendAsync(new AuditEntryDraft(AuditKinds.ConsentGiven, $"resident:{accountId}", accountId.ToString("D"), "fitness.stats"));
        var theirs = await log.AppendAsync(new AuditEntryDraft(AuditKinds.ConsentGiven, $"resident:{Guid.NewGuid()}", Guid.NewGuid().ToString(), "fitness.stats"));
        using var resident = factory.CreateClientWithToken(token);

        Assert.Equal(HttpStatusCode.Conflict, (await resident.GetAsync($"/api/v1/me/audit/proofs/{mine.Sequence}")).StatusCode);
        await factory.Services.GetRequiredService<AuditCheckpointJob>().RunAsync(CancellationToken.None);

        var proof = await resident.GetFromJsonAsync<ResidentProofView>($"/api/v1/me/audit/proofs/{mine.Sequence}");
        Assert.Equal(mine.Sequence, proof!.Entry.Sequence);
        Assert.True(Merkle.VerifyInclusion(mine.Sequence, proof.TreeSize, mine.LeafHash, proof.Proof, proof.RootHash));
        Assert.Single(SignedNote.TryParse(proof.Checkpoint, out _)!.VerifiedBy([await factory.Services.GetRequiredService<ICheckpointSigner>().CurrentAsync()]));

        var other = await resident.GetAsync($"/api/v1/me/audit/proofs/{theirs.Sequence}");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await resident.GetAsync("/api/v1/me/audit/proofs/99999999")).StatusCode);
        using var anonymous = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/api/v1/me/audit/proofs/{mine.Sequence}")).StatusCode);
    }
}
