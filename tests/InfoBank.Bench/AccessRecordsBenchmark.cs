using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InfoBank.Core.Applications;
using InfoBank.Core.Consent;
using InfoBank.Core.Rules;
using InfoBank.Server.Features.Applications;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Bench;

/// <summary>
/// Records/s served by GET /api/v1/grants/{id}/records over HTTP with a real business token, paging
/// through one whole fetch with the cursor: 10,000 consenting residents × 30 daily step records
/// (2,000 with --quick), pages of 200 (the largest limit). Each page decides consent for its residents, decrypts
/// their records, projects the approved fields and writes the audit entry, access log and passbook
/// lines before answering. Set-up (enrolment, links, deposits, consents) goes through the stores;
/// the approval through the applications service, as the committee's votes would.
/// </summary>
public sealed class AccessRecordsBenchmark : IBenchmark
{
    private const int RecordsPerResident = 30;
    private const int PageSize = 200; // the list convention's maximum (Paging.MaxLimit)

    public string Name => "access-records";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var residentCount = context.Quick ? 2_000 : 10_000;
        using var server = new BenchServer(context, "access-records");
        var setup = Stopwatch.StartNew();
        var (grantId, token) = await ApprovedGrantAsync(server);
        var (_, sourceId, residents) = await server.SourceWithResidentsAsync(residentCount, "steps.daily");
        await DepositAsync(server, sourceId, residents.Select(r => r.Resident).ToList());
        await ConsentAsync(server, grantId, residents.Select(r => r.Resident).ToList());
        setup.Stop();
        Console.Error.WriteLine($"  set-up of {residentCount:N0} residents × {RecordsPerResident} records: {setup.Elapsed.TotalSeconds:N0} s");

        using var http = server.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var latencies = new List<double>();
        long records = 0;
        string? next = $"/api/v1/grants/{grantId}/records?limit={PageSize}";
        var watch = Stopwatch.StartNew();
        do
        {
            var url = next;
            var pageWatch = Stopwatch.StartNew();
            var response = await http.GetAsync(url);
            var body = await response.Content.ReadAsByteArrayAsync();
            pageWatch.Stop();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"records page failed: {(int)response.StatusCode} {Encoding.UTF8.GetString(body)}");
            }
            latencies.Add(pageWatch.Elapsed.TotalMilliseconds);
            using var page = JsonDocument.Parse(body);
            records += page.RootElement.GetProperty("items").GetArrayLength();
            next = page.RootElement.GetProperty("next").ValueKind == JsonValueKind.String ? page.RootElement.GetProperty("next").GetString() : null;
        }
        while (next is not null);
        watch.Stop();
        if (records != (long)residentCount * RecordsPerResident)
        {
            throw new InvalidOperationException($"served {records} records, expected {residentCount * RecordsPerResident}");
        }
        latencies.Sort();
        var label = $"{residentCount:N0} consenting residents × {RecordsPerResident} records, pages of {PageSize:N0}";
        return
        [
            new BenchResult($"brokered records over HTTP (real token, consent + decrypt + audit per page), {label}", Measure.PerSecond(records, watch), "records/s",
                Note: $"{latencies.Count} pages in {watch.Elapsed.TotalSeconds:N1} s"),
            new BenchResult("brokered records page latency, p50", Measure.Percentile(latencies, 0.50), "ms", HigherIsBetter: false, Note: label),
            new BenchResult("brokered records page latency, p99", Measure.Percentile(latencies, 0.99), "ms", HigherIsBetter: false, Note: label),
        ];
    }

    /// <summary>The health-research application (record level), with no volume cap, approved by three committee members; a token for its business.</summary>
    internal static async Task<(Guid GrantId, string Token)> ApprovedGrantAsync(BenchServer server)
    {
        using var scope = server.Services.CreateScope();
        var services = scope.ServiceProvider;
        var client = await services.GetRequiredService<ClientRegistry>().RegisterMachineClientAsync(ClientKind.Business, "Bench research institute");
        var applications = services.GetRequiredService<ApplicationService>();
        var path = Path.Combine(services.GetRequiredService<RuleCatalogProvider>().PiaDirectory, "examples", "health-research.yaml");
        var file = YamlFile.Load(path, "health-research.yaml");
        var spec = ApplicationSpecYaml.Parse(file, file.Root!) with { Fetch = new FetchSpec("monthly", null) };
        var created = await applications.CreateAsync(client.ClientId, spec, default);
        var id = created.Value?.Id ?? throw new InvalidOperationException("the bench application is not valid");
        await applications.SubmitAsync(client.ClientId, id, default);
        Outcome<CommitteeApplicationView>? decided = null;
        foreach (var role in new[] { "secretariat", "member", "chair" })
        {
            var member = Actor.Committee(Guid.NewGuid(), role);
            await applications.VoteAsync(member, id, new VoteRequest("approve", "bench", []), default);
            if (role == "chair")
            {
                decided = await applications.DecideAsync(member, id, new InfoBank.Server.Features.Applications.DecisionRequest("bench"), default);
            }
        }
        var grantId = decided?.Value?.Grant?.Id ?? throw new InvalidOperationException("the bench application was not approved");

        using var http = server.CreateClient();
        var response = await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = client.ClientId,
            ["client_secret"] = client.ClientSecret,
        }));
        response.EnsureSuccessStatusCode();
        var token = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
        return (grantId, token);
    }

    // Observed just after the approval, inside the grant's data window.
    private static async Task DepositAsync(BenchServer server, string sourceId, List<Guid> residents)
    {
        using var scope = server.Services.CreateScope();
        var vault = scope.ServiceProvider.GetRequiredService<RecordVault>();
        var db = scope.ServiceProvider.GetRequiredService<DbConnectionFactory>();
        var at = DateTimeOffset.UtcNow;
        var batch = new List<NewRecord>(5_000);
        foreach (var resident in residents)
        {
            for (var d = 0; d < RecordsPerResident; d++)
            {
                var payload = Encoding.UTF8.GetBytes($"{{\"steps\":{8_000 + d},\"distanceMeters\":5600.5,\"activeMinutes\":{30 + d}}}");
                batch.Add(new NewRecord(resident, "steps.daily", at.AddTicks(-d), $"{resident:N}-{d}", payload));
            }
            if (batch.Count >= 5_000)
            {
                await vault.InsertAsync(db, sourceId, batch, default);
                batch.Clear();
            }
        }
        if (batch.Count > 0)
        {
            await vault.InsertAsync(db, sourceId, batch, default);
        }
    }

    // Through the consent ledger's own command and append (no HTTP, no receipts): 1,000 a transaction.
    internal static async Task ConsentAsync(BenchServer server, Guid grantId, List<Guid> residents)
    {
        using var scope = server.Services.CreateScope();
        var store = scope.ServiceProvider.GetRequiredService<ConsentStore>();
        var offer = await scope.ServiceProvider.GetRequiredService<OfferService>().FindByGrantAsync(grantId)
            ?? throw new InvalidOperationException("the approval published no offer");
        var request = new GiveConsent(offer.OfferId, offer.NoticeVersion, offer.NoticeHash, offer.Notice.SpecialCareItems);
        foreach (var chunk in residents.Chunk(1_000))
        {
            await store.Db.InTransactionAsync(async s =>
            {
                foreach (var resident in chunk)
                {
                    var now = DateTimeOffset.UtcNow;
                    var (e, refusal) = ConsentCommands.Give(resident, offer, null, request, Guid.CreateVersion7(now), now);
                    if (e is null)
                    {
                        throw new InvalidOperationException(refusal!.Message);
                    }
                    await store.AppendAsync(s, e, ConsentLedger.Apply(null, e));
                }
                return true;
            });
        }
    }
}
