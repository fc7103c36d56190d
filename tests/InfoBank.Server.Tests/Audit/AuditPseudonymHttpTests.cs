using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Access;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Audit;

/// <summary>
/// The log names residents only by their audit pseudonyms: over HTTP a resident enrols, deposits,
/// consents and is read by a business, proves the access entry that names them, and erases their
/// account; the exported log still verifies and holds none of their ids, and the pseudonym is gone.
/// </summary>
public sealed class AuditPseudonymHttpTests(AuditPseudonymHttpTests.Factory factory) : IClassFixture<AuditPseudonymHttpTests.Factory>
{
    public sealed class Factory : InfoBankFactory;

    private readonly AccessScenario _scenario = new(factory);

    [Fact]
    public async Task The_log_names_residents_by_pseudonym_and_erasure_leaves_it_verifiable_and_unlinkable()
    {
        var (grantId, _, business) = await _scenario.ApprovedGrantAsync();
        var offer = await _scenario.OfferOfAsync(grantId);
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);
        var residents = new List<Person> { await _scenario.ResidentAsync(), await _scenario.ResidentAsync() };
        foreach (var resident in residents)
        {
            await DepositStepsAsync(source, sourceId, resident, days: 2);
            await ConsentAsync(resident, offer);
        }
        Assert.Equal(4, (await ReadAllAsync(business, grantId)).Count);

        var store = factory.Services.GetRequiredService<AuditStore>();
        var erased = residents[0];
        var pseudonym = await store.PseudonymOfAsync(erased.Id);
        Assert.NotNull(pseudonym);
        Assert.NotEqual(pseudonym, await store.PseudonymOfAsync(residents[1].Id));

        // The access entry names both residents by pseudonym; each can prove it to themselves.
        await factory.Services.GetRequiredService<AuditCheckpointJob>().RunAsync(CancellationToken.None);
        var access = (await store.EntriesAsync(0, long.MaxValue, 1000, AuditKinds.AccessAllowed)).Last(e => e.GrantId == grantId);
        var named = JsonDocument.Parse(access.Payload!).RootElement.GetProperty("residents").EnumerateArray().Select(r => r.GetString()).ToList();
        Assert.Contains(pseudonym, named);
        var proof = await erased.Http.GetFromJsonAsync<ResidentProofView>($"/api/v1/me/audit/proofs/{access.Sequence}");
        Assert.Equal(pseudonym, proof!.Pseudonym);
        Assert.True(Merkle.VerifyInclusion(access.Sequence, proof.TreeSize, access.LeafHash, proof.Proof, proof.RootHash));

        Assert.Equal(HttpStatusCode.OK, (await factory.EraseAsync(erased.Http, erased.Id)).StatusCode);

        // Nothing links the erased resident to the entries about them any more...
        Assert.Null(await store.PseudonymOfAsync(erased.Id));
        Assert.NotNull(await store.PseudonymOfAsync(residents[1].Id));
        // ...the log still verifies, consent replay included, and holds no resident's id in clear
        // (an export runs up to the latest signed checkpoint: sign one over the erasure first).
        await factory.Services.GetRequiredService<AuditCheckpointJob>().RunAsync(CancellationToken.None);
        var (_, auditorToken) = await factory.SignInAsync(AccountKind.Auditor);
        using var auditor = factory.CreateClientWithToken(auditorToken);
        var exported = await auditor.GetStringAsync("/api/v1/audit/export");
        foreach (var resident in residents)
        {
            Assert.DoesNotContain(resident.Id.ToString(), exported, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(resident.Id.ToString("N"), exported, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Contains(pseudonym!, exported, StringComparison.Ordinal);
        var report = await _scenario.VerifyExportedLogAsync();
        Assert.Null(report.Failure);
        Assert.Empty(report.Findings);
        Assert.True(report.CountsByKind.GetValueOrDefault(AuditKinds.Erasure) >= 1);
    }
}
