using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using InfoBank.Core;
using InfoBank.Core.Applications;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Access;
using InfoBank.Server.Tests.Applications;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Custody;

/// <summary>
/// Retention over HTTP on a server whose clock the test moves: a record past its category's
/// retention (<c>location.visit</c>, 180 days) is gone from the resident's records, the export and
/// the grant's pages the moment it expires, before any job runs; the retention job then deletes
/// it under one audit entry, and a run cut short is finished without a second one. Deposits
/// older than retention are refused with their own problem type.
/// </summary>
public sealed class RetentionHttpTests(RetentionHttpTests.Factory factory) : IClassFixture<RetentionHttpTests.Factory>
{
    public sealed class Factory : ClockedInfoBankFactory;

    private static readonly TimeSpan VisitRetention = TimeSpan.FromDays(180);

    // The tests share one server and only ever move its clock forward: the audit log's times never go
    // back, so a test that rewound the clock would see grants approved in its future.

    // A record-level grant of visits, valid for longer than visits are kept.
    private static ApplicationSpec VisitsGrant() => ApplicationServiceTests<SqliteFixture>.Example("health-research") with
    {
        Purpose = new PurposeSpec("dpv:ResearchAndDevelopment", new LocalizedText("来訪の研究", "Research on visits")),
        Data = [new DataRequest("location.visit", ["placeId", "ward"])],
        RetentionDays = 90,
        ValidityDays = 365,
    };

    private sealed record Signed(Person Person, string Username);

    private async Task<Signed> ResidentAsync()
    {
        var scenario = new AccessScenario(factory);
        var member = await scenario.MemberAsync();
        return new Signed(await scenario.PersonAsync(member), member.Username);
    }

    private Task<HttpClient> SignInAsync(string username) => new AccessScenario(factory).SignInAsync(username);

    private static object Visit(string residentRef, DateTimeOffset observedAt, string id) => new
    {
        resident = residentRef,
        category = "location.visit",
        observedAt,
        payload = new { placeId = "chikaho-odori", ward = "Chuo", dwellSeconds = 600 },
        sourceRecordId = id,
    };

    [Fact]
    public async Task Expired_records_vanish_from_every_read_at_once_then_the_job_deletes_them_under_one_audit_entry()
    {
        var scenario = new AccessScenario(factory);
        var (grantId, businessId, _) = await scenario.ApprovedGrantAsync(VisitsGrant());
        var offer = await scenario.OfferOfAsync(grantId);
        var source = await factory.RegisterClientAsync(ClientKind.DataSource);
        var resident = await ResidentAsync();
        var residentRef = await LinkAsync(resident.Person, source.ClientId, "location.visit");
        await ConsentAsync(resident.Person, offer);

        // A day later, two visits: one from this morning's early hours, one from moments ago.
        factory.Time.Offset += TimeSpan.FromDays(1);
        // Whole seconds: PostgreSQL keeps microseconds, so finer times would not come back equal.
        var now = factory.Time.GetUtcNow();
        now = now.AddTicks(-(now.UtcTicks % TimeSpan.TicksPerSecond));
        var (older, newer) = (now.AddHours(-20), now.AddMinutes(-1));
        var tag = Guid.NewGuid().ToString("N");
        using (var deposit = factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(source.ClientId, source.ClientSecret)))
        {
            await JsonOf(await deposit.PostAsJsonAsync("/api/v1/records", new { records = new[] { Visit(residentRef, older, tag + "-old"), Visit(residentRef, newer, tag + "-new") } }), HttpStatusCode.OK);
        }
        var mine = await JsonOf(await (await SignInAsync(resident.Username)).GetAsync("/api/v1/me/records?category=location.visit"), HttpStatusCode.OK);
        var records = mine.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, records.Count);
        Assert.Equal(older + VisitRetention, records[0].GetProperty("expiresAt").GetDateTimeOffset());
        var business = await scenario.FreshBusinessAsync(businessId);
        var page = await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records"), HttpStatusCode.OK);
        Assert.Equal(2, page.GetProperty("items").GetArrayLength());
        var told = Assert.Single(page.GetProperty("retention").EnumerateArray());
        Assert.Equal("location.visit", told.GetProperty("category").GetString());
        Assert.Equal(180, told.GetProperty("retentionDays").GetInt32());

        // A minute before the older visit expires it is still there; a minute after, it is gone from
        // every read, though no job has run and its row is still stored.
        factory.Time.Offset = older + VisitRetention - TimeSpan.FromMinutes(1) - TimeProvider.System.GetUtcNow();
        var http = await SignInAsync(resident.Username);
        Assert.Equal(2, (await JsonOf(await http.GetAsync("/api/v1/me/records"), HttpStatusCode.OK)).GetProperty("items").GetArrayLength());
        factory.Time.Offset += TimeSpan.FromMinutes(2);
        var after = (await JsonOf(await http.GetAsync("/api/v1/me/records"), HttpStatusCode.OK)).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(newer, Assert.Single(after).GetProperty("observedAt").GetDateTimeOffset());
        var export = await JsonOf(await http.GetAsync("/api/v1/me/export"), HttpStatusCode.OK);
        var exported = Assert.Single(export.GetProperty("records").EnumerateArray());
        Assert.Equal(newer, exported.GetProperty("observedAt").GetDateTimeOffset());
        Assert.Equal(180, export.GetProperty("retention").GetProperty("location.visit").GetProperty("retentionDays").GetInt32());
        business = await scenario.FreshBusinessAsync(businessId);
        var later = await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records"), HttpStatusCode.OK);
        Assert.Equal(newer, Assert.Single(later.GetProperty("items").EnumerateArray()).GetProperty("observedAt").GetDateTimeOffset());
        Assert.Equal(2, await StoredAsync(tag));

        // The job: one audit entry naming the cut-off and the count, written before the rows go.
        var entriesBefore = await ExpiredEntriesAsync();
        var run = await factory.Services.GetRequiredService<RetentionSweeper>().RunAsync(default);
        Assert.NotNull(run);
        Assert.Equal(1, run.Deleted["location.visit"]);
        Assert.Equal(1, await StoredAsync(tag));
        var entries = await ExpiredEntriesAsync();
        var entry = Assert.Single(entries.Skip(entriesBefore.Count));
        using (var payload = JsonDocument.Parse(entry))
        {
            var visits = payload.RootElement.GetProperty("categories").GetProperty("location.visit");
            Assert.Equal(1, visits.GetProperty("expired").GetInt64());
            Assert.Equal(run.RunId, payload.RootElement.GetProperty("runId").GetGuid());
        }
        // Nothing more past retention: a second run deletes nothing and records nothing.
        Assert.Null(await factory.Services.GetRequiredService<RetentionSweeper>().RunAsync(default));
        Assert.Equal(entries.Count, (await ExpiredEntriesAsync()).Count);
        Assert.True((await scenario.VerifyExportedLogAsync()).Ok);
    }

    [Fact]
    public async Task A_run_cut_short_is_finished_under_its_own_cut_off_without_a_second_entry()
    {
        var source = await factory.RegisterClientAsync(ClientKind.DataSource);
        var resident = await ResidentAsync();
        var residentRef = await LinkAsync(resident.Person, source.ClientId, "location.visit");
        var tag = Guid.NewGuid().ToString("N");
        var now = factory.Time.GetUtcNow();
        using (var deposit = factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(source.ClientId, source.ClientSecret)))
        {
            await JsonOf(await deposit.PostAsJsonAsync("/api/v1/records", new { records = Enumerable.Range(0, 5).Select(i => Visit(residentRef, now.AddMinutes(-i - 1), $"{tag}-{i}")).ToArray() }), HttpStatusCode.OK);
        }
        factory.Time.Offset += VisitRetention + TimeSpan.FromMinutes(10);

        // What a run does first, its audited start; then the process dies before deleting anything.
        var keptFrom = factory.Time.GetUtcNow() - VisitRetention;
        var expired = await factory.Services.GetRequiredService<RecordVault>().CountExpiredAsync("location.visit", keptFrom, default);
        Assert.True(expired >= 5);
        var runId = Guid.CreateVersion7();
        await factory.Services.GetRequiredService<IAuditLog>().CommitAsync(async (scope, _) =>
        {
            await RetentionStore.StartAsync(scope.Db, runId, [("location.visit", keptFrom, expired)], scope.Now);
            scope.Append(new AuditEntryDraft(AuditKinds.RecordsExpired, "system", Payload: new { runId }));
            return true;
        });
        var entries = (await ExpiredEntriesAsync()).Count;

        var finished = await factory.Services.GetRequiredService<RetentionSweeper>().RunAsync(default);
        Assert.NotNull(finished);
        Assert.Equal(runId, finished.RunId);
        Assert.Equal(expired, finished.Deleted["location.visit"]);
        Assert.Equal(0, await StoredAsync(tag));
        Assert.Equal(entries, (await ExpiredEntriesAsync()).Count);
        Assert.Empty(await factory.Services.GetRequiredService<RetentionStore>().UnfinishedAsync(default));
    }

    [Fact]
    public async Task A_deposit_older_than_retention_is_refused_with_its_own_type_and_stores_nothing()
    {
        var source = await factory.RegisterClientAsync(ClientKind.DataSource);
        var resident = await ResidentAsync();
        var residentRef = await LinkAsync(resident.Person, source.ClientId, "location.visit");
        using var deposit = factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(source.ClientId, source.ClientSecret));
        var now = factory.Time.GetUtcNow();
        var tag = Guid.NewGuid().ToString("N");

        var stale = await JsonOf(await deposit.PostAsJsonAsync("/api/v1/records", new
        {
            records = new[] { Visit(residentRef, now.AddMinutes(-5), tag + "-fresh"), Visit(residentRef, now - VisitRetention - TimeSpan.FromMinutes(1), tag + "-stale") },
        }), HttpStatusCode.UnprocessableEntity);
        Assert.Equal("/problems/outside-retention", stale.GetProperty("type").GetString());
        Assert.Contains("180-day retention", stale.GetProperty("errors").GetProperty("records[1].observedAt")[0].GetString());

        // Another problem beside it: the batch is refused for both, with the deposit-refused type.
        var mixed = await JsonOf(await deposit.PostAsJsonAsync("/api/v1/records", new
        {
            records = new object[] { Visit(residentRef, now - VisitRetention - TimeSpan.FromMinutes(1), tag + "-stale"), new { resident = residentRef, category = "location.visit", observedAt = now, payload = new { }, sourceRecordId = tag + "-bad" } },
        }), HttpStatusCode.UnprocessableEntity);
        Assert.Equal("/problems/deposit-refused", mixed.GetProperty("type").GetString());
        Assert.Equal(0, await StoredAsync(tag));
    }

    private async Task<long> StoredAsync(string tag)
    {
        await using var connection = await factory.Connections.OpenAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM custody_records WHERE source_record_id LIKE @prefix", new { prefix = tag + "-%" });
    }

    private async Task<List<string>> ExpiredEntriesAsync()
    {
        await using var connection = await factory.Connections.OpenAsync();
        return [.. await connection.QueryAsync<string>("SELECT payload FROM audit_log WHERE kind = @kind ORDER BY seq", new { kind = AuditKinds.RecordsExpired })];
    }
}
