using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Foundation;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Custody;

/// <summary>Custody over HTTP with real tokens: enrolment, links, deposits, reading, export, erasure, and every refusal.</summary>
public sealed class CustodyApiTests(CustodyApiTests.Factory factory) : IClassFixture<CustodyApiTests.Factory>
{
    public const int MaxRecords = 50;
    public const int MaxBytes = 64 * 1024;

    public sealed class Factory : ClockedInfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Custody:MaxBatchRecords", MaxRecords.ToString());
            builder.UseSetting("Custody:MaxBatchBytes", MaxBytes.ToString());
        }
    }

    private sealed record Resident(Guid Id, HttpClient Http);

    private sealed record Source(string ClientId, HttpClient Http);

    private async Task<Resident> ResidentAsync(bool enrol = true)
    {
        var (id, token) = await factory.SignInAsync(AccountKind.Resident);
        var http = factory.CreateClientWithToken(token);
        if (enrol)
        {
            var terms = await http.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
            var response = await http.PostAsJsonAsync("/api/v1/me/enrollment", new
            {
                termsVersion = terms.GetProperty("version").GetString(),
                termsHash = terms.GetProperty("hash").GetString(),
                agree = true,
            });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
        return new Resident(id, http);
    }

    private async Task<Source> SourceAsync()
    {
        var (clientId, token) = await factory.ClientTokenAsync(ClientKind.DataSource);
        return new Source(clientId, factory.CreateClientWithToken(token));
    }

    private static async Task<string> LinkAsync(Resident resident, Source source, params string[] categories)
    {
        var response = await resident.Http.PutAsJsonAsync($"/api/v1/me/sources/{source.ClientId}", new { categories });
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("residentRef").GetString()!;
    }

    private static object StepsRecord(string resident, string sourceRecordId, int steps, int daysAgo = 1, string category = "steps.daily") => new
    {
        resident,
        category,
        observedAt = DateTimeOffset.UtcNow.Date.AddDays(-daysAgo),
        payload = new { steps },
        sourceRecordId,
    };

    private static Task<HttpResponseMessage> DepositAsync(Source source, params object[] records) =>
        source.Http.PostAsJsonAsync("/api/v1/records", new { records });

    private async Task<long> StoredCountAsync(Guid residentId)
    {
        await using var connection = await factory.Connections.OpenAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM custody_records WHERE resident_id = @residentId", new { residentId });
    }

    private static async Task<JsonElement> RecordsAsync(Resident resident, string query = "")
    {
        var response = await resident.Http.GetAsync("/api/v1/me/records" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Enrolment_records_the_terms_agreed_and_shows_on_the_profile()
    {
        var resident = await ResidentAsync(enrol: false);
        var before = await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me");
        Assert.Equal("not-enrolled", before.GetProperty("enrollment").GetProperty("status").GetString());

        var noAgreement = await resident.Http.PostAsJsonAsync("/api/v1/me/enrollment", new { termsVersion = CustodyTerms.Current.Version, termsHash = CustodyTerms.Current.Hash, agree = false });
        var problem = await HostTests.AssertProblem(noAgreement, HttpStatusCode.UnprocessableEntity);
        Assert.True(problem.GetProperty("errors").TryGetProperty("agree", out _));

        var stale = await resident.Http.PostAsJsonAsync("/api/v1/me/enrollment", new { termsVersion = "2020-01", termsHash = "sha256:00", agree = true });
        await HostTests.AssertProblem(stale, HttpStatusCode.Conflict);

        var enrolled = await resident.Http.PostAsJsonAsync("/api/v1/me/enrollment", new { termsVersion = CustodyTerms.Current.Version, termsHash = CustodyTerms.Current.Hash, agree = true });
        Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);
        var again = await resident.Http.PostAsJsonAsync("/api/v1/me/enrollment", new { termsVersion = CustodyTerms.Current.Version, termsHash = CustodyTerms.Current.Hash, agree = true });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        var profile = await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me");
        Assert.Equal(resident.Id, profile.GetProperty("accountId").GetGuid());
        var enrollment = profile.GetProperty("enrollment");
        Assert.Equal("enrolled", enrollment.GetProperty("status").GetString());
        Assert.Equal(CustodyTerms.Current.Hash, enrollment.GetProperty("termsHash").GetString());
    }

    [Fact]
    public async Task Deposits_from_a_linked_source_are_stored_once_and_read_back_by_the_resident()
    {
        var resident = await ResidentAsync();
        var source = await SourceAsync();
        var reference = await LinkAsync(resident, source, "steps.daily", "body.composition");
        Assert.StartsWith("rr_", reference);

        var batch = new[]
        {
            StepsRecord(reference, "d1", 8000, 3),
            StepsRecord(reference, "d2", 9500, 2),
            new { resident = reference, category = "body.composition", observedAt = DateTimeOffset.UtcNow.AddDays(-1), payload = (object)new { weightKg = 61.2, muscleRatePercent = 31.5 }, sourceRecordId = "b1" },
        };
        var first = await DepositAsync(source, batch);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var body = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(3, body.GetProperty("stored").GetInt32());
        Assert.All(body.GetProperty("results").EnumerateArray(), r => Assert.Equal("stored", r.GetProperty("status").GetString()));

        // A retried batch stores nothing twice and says so per record.
        var retry = await DepositAsync(source, batch);
        var retried = await retry.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(0, retried.GetProperty("stored").GetInt32());
        Assert.Equal(3, retried.GetProperty("duplicates").GetInt32());
        Assert.All(retried.GetProperty("results").EnumerateArray(), r => Assert.Equal("duplicate", r.GetProperty("status").GetString()));
        Assert.Equal(3, await StoredCountAsync(resident.Id));

        var all = await RecordsAsync(resident);
        var records = all.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["d1", "d2", "b1"], records.Select(r => r.GetProperty("sourceRecordId").GetString()));
        Assert.Equal(8000, records[0].GetProperty("payload").GetProperty("steps").GetInt32());
        Assert.Equal(source.ClientId, records[0].GetProperty("source").GetString());

        var steps = await RecordsAsync(resident, "?category=steps.daily");
        Assert.Equal(2, steps.GetProperty("items").GetArrayLength());

        // Paging: one at a time, following next.
        var seen = new List<string>();
        string? next = "/api/v1/me/records?limit=1";
        do
        {
            var page = await resident.Http.GetFromJsonAsync<JsonElement>(next);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("sourceRecordId").GetString()!));
            next = page.GetProperty("next").ValueKind == JsonValueKind.String ? page.GetProperty("next").GetString() : null;
        }
        while (next is not null);
        Assert.Equal(["d1", "d2", "b1"], seen);

        // The raw table holds no plaintext.
        await using var connection = await factory.Connections.OpenAsync();
        var raw = await connection.QueryAsync<byte[]>("SELECT ciphertext FROM custody_records WHERE resident_id = @id", new { id = resident.Id });
        Assert.All(raw, c => Assert.DoesNotContain("8000", Encoding.Latin1.GetString(c)));
    }

    [Fact]
    public async Task Bad_deposits_are_refused_with_the_field_named_and_nothing_stored()
    {
        var resident = await ResidentAsync();
        var source = await SourceAsync();
        var reference = await LinkAsync(resident, source, "steps.daily");

        async Task Refused(HttpResponseMessage response, string path, string fragment)
        {
            var problem = await HostTests.AssertProblem(response, HttpStatusCode.UnprocessableEntity);
            var errors = problem.GetProperty("errors");
            Assert.True(errors.TryGetProperty(path, out var messages), $"no error for {path}: {errors}");
            Assert.Contains(fragment, messages[0].GetString());
        }

        // A good record next to each bad one: the whole batch is refused.
        var good = StepsRecord(reference, "ok", 100);
        await Refused(await DepositAsync(source, good, StepsRecord("rr_nobody", "x", 1)), "records[1].resident", "linked");
        await Refused(await DepositAsync(source, good, StepsRecord(reference, "x", 1, category: "body.composition")), "records[1].category", "not authorised");
        await Refused(await DepositAsync(source, good, StepsRecord(reference, "x", 1, category: "heart.rate")), "records[1].category", "Unknown category");
        await Refused(await DepositAsync(source, good, StepsRecord(reference, "ok", 1)), "records[1].sourceRecordId", "Duplicate within the batch");
        await Refused(await DepositAsync(source, good, StepsRecord(reference, "x", -5)), "records[1].payload.steps", "below the minimum");
        await Refused(await DepositAsync(source, good, new { resident = reference, category = "steps.daily", observedAt = DateTimeOffset.UtcNow.AddDays(-1), payload = new { stpes = 1 }, sourceRecordId = "x" }), "records[1].payload.stpes", "Unknown field");
        await Refused(await DepositAsync(source, good, new { resident = reference, category = "steps.daily", observedAt = DateTimeOffset.UtcNow.AddDays(-1), payload = new { steps = "many" }, sourceRecordId = "x" }), "records[1].payload.steps", "integer");
        await Refused(await DepositAsync(source, good, new { resident = reference, category = "steps.daily", observedAt = DateTimeOffset.UtcNow.AddDays(2), payload = new { steps = 1 }, sourceRecordId = "x" }), "records[1].observedAt", "future");
        await Refused(await DepositAsync(source, good, new { resident = reference, category = "steps.daily", observedAt = DateTimeOffset.UtcNow.AddDays(-4000), payload = new { steps = 1 }, sourceRecordId = "x" }), "records[1].observedAt", "retention");
        await Refused(await DepositAsync(source, good, new { resident = reference, category = "steps.daily", observedAt = DateTimeOffset.UtcNow.AddDays(-1), payload = new[] { 1 }, sourceRecordId = "x" }), "records[1].payload", "JSON object");
        await Refused(await source.Http.PostAsJsonAsync("/api/v1/records", new { records = Array.Empty<object>() }), "records", "no records");

        var tooMany = Enumerable.Range(0, MaxRecords + 1).Select(i => StepsRecord(reference, $"m{i}", i)).ToArray();
        var problem = await HostTests.AssertProblem(await DepositAsync(source, tooMany), HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains($"at most {MaxRecords}", problem.GetProperty("detail").GetString());

        var big = new { records = new[] { new { resident = reference, category = "search.query", observedAt = DateTimeOffset.UtcNow, payload = new { query = new string('q', MaxBytes) }, sourceRecordId = "big" } } };
        await HostTests.AssertProblem(await source.Http.PostAsJsonAsync("/api/v1/records", big), HttpStatusCode.RequestEntityTooLarge);

        var malformed = await source.Http.PostAsync("/api/v1/records", new StringContent("{\"records\": [ {\"resident\": ", Encoding.UTF8, "application/json"));
        await HostTests.AssertProblem(malformed, HttpStatusCode.BadRequest);

        Assert.Equal(0, await StoredCountAsync(resident.Id));
    }

    [Fact]
    public async Task A_source_cannot_deposit_for_residents_who_are_not_enrolled_or_with_another_sources_reference()
    {
        var notEnrolled = await ResidentAsync(enrol: false);
        var source = await SourceAsync();
        var link = await notEnrolled.Http.PutAsJsonAsync($"/api/v1/me/sources/{source.ClientId}", new { categories = new[] { "steps.daily" } });
        await HostTests.AssertProblem(link, HttpStatusCode.Conflict);

        var resident = await ResidentAsync();
        var other = await SourceAsync();
        var otherReference = await LinkAsync(resident, other, "steps.daily");
        var response = await DepositAsync(source, StepsRecord(otherReference, "s1", 10));
        await HostTests.AssertProblem(response, HttpStatusCode.UnprocessableEntity);
        Assert.Equal(0, await StoredCountAsync(resident.Id));
    }

    [Fact]
    public async Task Linking_checks_the_client_and_the_categories()
    {
        var resident = await ResidentAsync();
        await HostTests.AssertProblem(await resident.Http.PutAsJsonAsync("/api/v1/me/sources/no-such-client", new { categories = new[] { "steps.daily" } }), HttpStatusCode.NotFound);
        var (business, _) = await factory.ClientTokenAsync(ClientKind.Business);
        await HostTests.AssertProblem(await resident.Http.PutAsJsonAsync($"/api/v1/me/sources/{business}", new { categories = new[] { "steps.daily" } }), HttpStatusCode.UnprocessableEntity);
        var source = await SourceAsync();
        var bad = await resident.Http.PutAsJsonAsync($"/api/v1/me/sources/{source.ClientId}", new { categories = new[] { "steps.daily", "dna.sequence" } });
        var problem = await HostTests.AssertProblem(bad, HttpStatusCode.UnprocessableEntity);
        Assert.True(problem.GetProperty("errors").TryGetProperty("categories[1]", out _));
        await HostTests.AssertProblem(await resident.Http.PutAsJsonAsync($"/api/v1/me/sources/{source.ClientId}", new { categories = Array.Empty<string>() }), HttpStatusCode.UnprocessableEntity);

        // Re-linking updates the categories and keeps the reference.
        var first = await LinkAsync(resident, source, "steps.daily");
        var second = await LinkAsync(resident, source, "steps.daily", "location.visit");
        Assert.Equal(first, second);
        var profile = await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me");
        var linked = Assert.Single(profile.GetProperty("sources").EnumerateArray());
        Assert.Equal(["steps.daily", "location.visit"], linked.GetProperty("categories").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task Unlinking_takes_effect_at_once()
    {
        var resident = await ResidentAsync();
        var source = await SourceAsync();
        var reference = await LinkAsync(resident, source, "steps.daily");
        Assert.Equal(HttpStatusCode.OK, (await DepositAsync(source, StepsRecord(reference, "u1", 10))).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await resident.Http.DeleteAsync($"/api/v1/me/sources/{source.ClientId}")).StatusCode);
        await HostTests.AssertProblem(await resident.Http.DeleteAsync($"/api/v1/me/sources/{source.ClientId}"), HttpStatusCode.NotFound);
        await HostTests.AssertProblem(await DepositAsync(source, StepsRecord(reference, "u2", 20)), HttpStatusCode.UnprocessableEntity);
        Assert.Equal(1, await StoredCountAsync(resident.Id));
    }

    [Fact]
    public async Task A_resident_reads_only_their_own_records_and_other_callers_are_refused()
    {
        var alice = await ResidentAsync();
        var bob = await ResidentAsync();
        var source = await SourceAsync();
        var reference = await LinkAsync(alice, source, "steps.daily");
        await DepositAsync(source, StepsRecord(reference, "a1", 4321));

        Assert.Single(((await RecordsAsync(alice)).GetProperty("items")).EnumerateArray());
        Assert.Empty(((await RecordsAsync(bob)).GetProperty("items")).EnumerateArray());
        var bobExport = await bob.Http.GetStringAsync("/api/v1/me/export");
        Assert.DoesNotContain("4321", bobExport);

        Assert.Equal(HttpStatusCode.Forbidden, (await source.Http.GetAsync("/api/v1/me/records")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.Http.PostAsJsonAsync("/api/v1/records", new { records = new[] { StepsRecord(reference, "self", 1) } })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient().GetAsync("/api/v1/me/records")).StatusCode);
        await HostTests.AssertProblem(await alice.Http.GetAsync("/api/v1/me/records?cursor=not-a-cursor"), HttpStatusCode.BadRequest);
        await HostTests.AssertProblem(await alice.Http.GetAsync("/api/v1/me/records?limit=0"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Export_is_one_json_document_with_profile_sources_and_records()
    {
        var resident = await ResidentAsync();
        var source = await SourceAsync();
        var reference = await LinkAsync(resident, source, "steps.daily");
        await DepositAsync(source, Enumerable.Range(0, 30).Select(i => StepsRecord(reference, $"x{i}", 1000 + i, i + 1)).ToArray());

        var response = await resident.Http.GetAsync("/api/v1/me/export");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var export = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = export.RootElement;
        Assert.Equal(resident.Id, root.GetProperty("profile").GetProperty("accountId").GetGuid());
        Assert.Equal("enrolled", root.GetProperty("profile").GetProperty("status").GetString());
        Assert.Equal(reference, root.GetProperty("sources")[0].GetProperty("residentRef").GetString());
        Assert.Equal(30, root.GetProperty("records").GetArrayLength());
        Assert.Equal(1029, root.GetProperty("records")[0].GetProperty("payload").GetProperty("steps").GetInt32());
        // The last member says the document was written to the end.
        Assert.Equal(("complete", JsonValueKind.True), root.EnumerateObject().Select(p => (p.Name, p.Value.ValueKind)).Last());
    }

    [Fact]
    public async Task A_record_that_fails_its_integrity_check_is_withheld_and_shown_as_such_not_a_server_error()
    {
        var resident = await ResidentAsync();
        var source = await SourceAsync();
        var reference = await LinkAsync(resident, source, "steps.daily");
        Assert.Equal(HttpStatusCode.OK, (await DepositAsync(source, StepsRecord(reference, "i1", 1001, 3), StepsRecord(reference, "i2", 1002, 2), StepsRecord(reference, "i3", 1003, 1))).StatusCode);

        // Flip one byte of the middle record's ciphertext, as bit rot or a hand in the database would.
        Guid tampered;
        await using (var connection = await factory.Connections.OpenAsync())
        {
            var row = await connection.QuerySingleAsync<(Guid Id, byte[] Ciphertext)>(
                "SELECT id, ciphertext FROM custody_records WHERE resident_id = @residentId AND source_record_id = 'i2'", new { residentId = resident.Id });
            row.Ciphertext[^1] ^= 0x01;
            await connection.ExecuteAsync("UPDATE custody_records SET ciphertext = @ciphertext WHERE id = @id", new { ciphertext = row.Ciphertext, id = row.Id });
            tampered = row.Id;
        }

        var items = (await RecordsAsync(resident)).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(3, items.Count);
        var withheld = Assert.Single(items, i => i.GetProperty("integrity").GetString() == "failed");
        Assert.Equal(tampered, withheld.GetProperty("id").GetGuid());
        Assert.Equal(JsonValueKind.Null, withheld.GetProperty("payload").ValueKind);
        Assert.Equal([1001, 1003], items.Where(i => i.GetProperty("integrity").GetString() == "intact")
            .Select(i => i.GetProperty("payload").GetProperty("steps").GetInt32()).Order().ToArray());

        // The export is whole (it ends with complete: true) and lists the record without a value.
        var export = await resident.Http.GetAsync("/api/v1/me/export");
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        using var document = JsonDocument.Parse(await export.Content.ReadAsStringAsync());
        Assert.True(document.RootElement.GetProperty("complete").GetBoolean());
        var exported = document.RootElement.GetProperty("records").EnumerateArray().Single(r => r.GetProperty("id").GetGuid() == tampered);
        Assert.Equal("failed", exported.GetProperty("integrity").GetString());
        Assert.Equal(JsonValueKind.Null, exported.GetProperty("payload").ValueKind);
    }

    [Fact]
    public async Task Erasure_needs_the_account_named_in_the_body_and_a_recent_sign_in()
    {
        var resident = await ResidentAsync();
        async Task<HttpResponseMessage> Erase(object? body) => await resident.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/v1/me")
        {
            Content = body is null ? null : JsonContent.Create(body),
        });

        foreach (var body in new object?[] { null, new { }, new { confirmAccount = "someone-else" }, new { confirmAccount = "" } })
        {
            var refused = await HostTests.AssertProblem(await Erase(body), HttpStatusCode.BadRequest);
            Assert.Equal("/problems/confirmation-required", refused.GetProperty("type").GetString());
        }
        Assert.Equal("enrolled", (await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me")).GetProperty("enrollment").GetProperty("status").GetString());

        // A sign-in older than Custody:ErasureMaxAuthAgeSeconds (300) cannot erase, even confirmed:
        // the answer is an RFC 9470 step-up challenge.
        factory.Time.Offset = TimeSpan.FromMinutes(6);
        try
        {
            var stale = await factory.EraseAsync(resident.Http, resident.Id);
            var problem = await HostTests.AssertProblem(stale, HttpStatusCode.Unauthorized);
            Assert.Equal("/problems/reauthentication-required", problem.GetProperty("type").GetString());
            var challenge = stale.Headers.WwwAuthenticate.ToString();
            Assert.Contains("error=\"insufficient_user_authentication\"", challenge);
            Assert.Contains("max_age=300", challenge);
        }
        finally
        {
            factory.Time.Offset = TimeSpan.Zero;
        }
        Assert.Equal("enrolled", (await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me")).GetProperty("enrollment").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await factory.EraseAsync(resident.Http, resident.Id)).StatusCode);
    }

    [Fact]
    public async Task Erasure_shreds_the_keys_at_once_refuses_further_deposits_and_the_sweep_deletes_the_rows()
    {
        var resident = await ResidentAsync();
        var source = await SourceAsync();
        var reference = await LinkAsync(resident, source, "steps.daily");
        await DepositAsync(source, Enumerable.Range(0, 20).Select(i => StepsRecord(reference, $"e{i}", i, i + 1)).ToArray());

        var erased = await factory.EraseAsync(resident.Http, resident.Id);
        Assert.Equal(HttpStatusCode.OK, erased.StatusCode);
        var erasureId = (await erased.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("erasureId").GetGuid();

        // Rows are still there, but no key for them is: nothing can be decrypted even from a copy of the table.
        await using (var connection = await factory.Connections.OpenAsync())
        {
            Assert.Equal(20, await StoredCountAsync(resident.Id));
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM resident_keys WHERE resident_id = @id", new { id = resident.Id }));
        }
        await using (var connection = await factory.Connections.OpenAsync())
        {
            Assert.Equal("erased", await connection.ExecuteScalarAsync<string>("SELECT status FROM residents WHERE account_id = @id", new { id = resident.Id }));
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM source_links WHERE resident_id = @id", new { id = resident.Id }));
        }
        // The resident's token outlives the account only to be told so: no profile, records or second erasure.
        foreach (var stale in new[] { await resident.Http.GetAsync("/api/v1/me"), await resident.Http.GetAsync("/api/v1/me/records"), await factory.EraseAsync(resident.Http, resident.Id) })
        {
            Assert.Equal("/problems/account-erased", (await HostTests.AssertProblem(stale, HttpStatusCode.Unauthorized)).GetProperty("type").GetString());
        }
        await HostTests.AssertProblem(await DepositAsync(source, StepsRecord(reference, "late", 1)), HttpStatusCode.UnprocessableEntity);

        using (var scope = factory.Services.CreateScope())
        {
            await scope.ServiceProvider.GetRequiredService<CustodyJobs>().SweepErasureAsync(erasureId, default);
        }
        Assert.Equal(0, await StoredCountAsync(resident.Id));
    }
}

/// <summary>An export that fails half-way, on a server whose export has a section that fails.</summary>
public sealed class FailedExportTests(FailedExportTests.Factory factory) : IClassFixture<FailedExportTests.Factory>
{
    public sealed class Factory : InfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<IResidentExportSection, FailingSection>());
        }
    }

    /// <summary>A section that fails once the export has started streaming.</summary>
    private sealed class FailingSection : IResidentExportSection
    {
        public string Name => "failing";

        public Task WriteAsync(Guid residentId, Utf8JsonWriter writer, CancellationToken cancellationToken) =>
            throw new IOException("the section's storage went away");
    }

    [Fact]
    public async Task An_export_that_fails_after_it_started_is_a_failed_transfer_not_a_short_document()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Resident);
        using var http = factory.CreateClientWithToken(token);
        var terms = await http.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        })).StatusCode);

        // The client cannot mistake it for a whole document: reading the body fails.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var response = await http.GetAsync("/api/v1/me/export", HttpCompletionOption.ResponseHeadersRead);
            await response.Content.ReadAsStringAsync();
        });
    }
}
