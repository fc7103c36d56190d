using System.Buffers.Binary;
using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Access;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Custody;

/// <summary>
/// Erasure leaves nothing readable about the person, checked against the live schema rather than
/// a list of known tables: over HTTP a resident enrols, deposits, consents to a records grant and an
/// aggregate grant, is read by the one and counted in a released week of the other, and erases
/// their account. Then every column of every table (sqlite_master, pragma table_info) is searched
/// for their username, display name, id (text and bytes), audit pseudonym, source reference and
/// deposited values. A new table that keeps any of these fails this test without anyone
/// remembering to add it; what the law makes us keep is in <see cref="Kept"/>, each with its reason.
/// </summary>
public sealed class ErasureLeavesNothingHttpTests(ErasureLeavesNothingHttpTests.Factory factory) : IClassFixture<ErasureLeavesNothingHttpTests.Factory>
{
    public sealed class Factory : InfoBankFactory
    {
        public ShiftableTimeProvider Time { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Time));
        }
    }

    private const string Username = "username";
    private const string DisplayName = "display name";
    private const string ResidentId = "resident id";
    private const string Pseudonym = "audit pseudonym";
    private const string SourceReference = "source reference";
    private const string DepositedValue = "deposited value";

    /// <summary>
    /// Every (table, column, what) allowed to keep something of an erased resident, and why. Each
    /// must still match (a stale row fails the test), and none of it leads back to the person.
    /// </summary>
    private static readonly Dictionary<(string Table, string Column, string What), string> Kept = new()
    {
        [("accounts", "id", ResidentId)] =
            "The tombstone: the id alone, under a random username, with no display name, password or token. It is what lets a token issued before the erasure be refused as an erased account's without re-creating anything.",
        [("residents", "account_id", ResidentId)] =
            "The minimal record that the erasure happened (status, times) and the key-version counter that keeps versions unique; no terms of theirs beyond the version agreed.",
        [("resident_erasures", "resident_id", ResidentId)] =
            "The erasure's own record (when, up to which key version, rows swept), which the sweep works from.",
        [("audit_log", "actor", Pseudonym)] =
            "The append-only, signed audit log keeps its entries (accountability, APPI Art. 29/30 provision records); the pseudonym's only link to the person (resident_audit_pseudonyms) is deleted, so it names no one.",
        [("audit_log", "subject_ref", Pseudonym)] =
            "As for audit_log.actor: the entry stays verifiable, the pseudonym leads nowhere.",
        [("audit_log", "payload", Pseudonym)] =
            "Access entries list the residents provided, by pseudonym: the provision record the law keeps, unlinkable once the pseudonym row is gone.",
    };

    private readonly AccessScenario _scenario = new(factory);

    [SkippableFact]
    public async Task After_erasure_no_column_of_any_table_holds_anything_that_leads_back_to_the_resident()
    {
        Skip.If(factory.Provider != DatabaseProvider.Sqlite, "The schema is read from sqlite_master.");
        var (recordsGrant, _, recordsBusiness) = await _scenario.ApprovedGrantAsync("health-research");
        var (aggregateGrant, aggregateClientId, _) = await _scenario.ApprovedGrantAsync("fitness-club");
        var recordsOffer = await _scenario.OfferOfAsync(recordsGrant);
        var aggregateOffer = await _scenario.OfferOfAsync(aggregateGrant);
        var sourceClient = await factory.RegisterClientAsync(ClientKind.DataSource);
        var sourceId = sourceClient.ClientId;
        using var source = factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(sourceId, sourceClient.ClientSecret));

        // The resident, with a username and display name no one else has.
        var tag = Guid.NewGuid().ToString("N")[..10];
        var (username, displayName) = ($"erase-me-{tag}", $"Hanako Erasure {tag}");
        Guid id;
        using (var scope = factory.Services.CreateScope())
        {
            id = (await scope.ServiceProvider.GetRequiredService<AccountService>()
                .CreateAsync(new NewAccount(username, displayName, AccountKind.Resident, null, TestTokens.TestPassword))).Account.Id;
        }
        var first = new Person(id, factory.CreateClientWithToken((await factory.RunCodeFlowAsync(username, TestTokens.TestPassword, AccountKind.Resident.Scope())).AccessToken));
        var terms = await first.Http.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        await JsonOf(await first.Http.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        }), HttpStatusCode.Created);
        var residentRef = await LinkAsync(first, sourceId, "steps.daily");
        var now = DateTimeOffset.UtcNow;
        await JsonOf(await source.PostAsJsonAsync("/api/v1/records", new
        {
            records = Enumerable.Range(0, 3).Select(d => new
            {
                resident = residentRef,
                category = "steps.daily",
                observedAt = now.AddMilliseconds(-d),
                payload = new { steps = 123457, distanceMeters = 4321.987, activeMinutes = 1357 },
                sourceRecordId = $"erasure-{tag}-{d}",
            }).ToArray(),
        }), HttpStatusCode.OK);
        await ConsentAsync(first, recordsOffer);
        await ConsentAsync(first, aggregateOffer);
        // Nine more walkers, so the week's cell reaches k = 10 and is released with the resident in it.
        for (var i = 0; i < 9; i++)
        {
            var other = await _scenario.ResidentAsync();
            await DepositStepsAsync(source, sourceId, other, days: 3);
            await ConsentAsync(other, aggregateOffer);
        }
        Assert.Contains(await ReadAllAsync(recordsBusiness, recordsGrant), r => r.GetRawText().Contains("123457", StringComparison.Ordinal));

        factory.Time.Offset = TimeSpan.FromDays(9 + 31); // the week has closed and settled
        using (var business = await _scenario.FreshBusinessAsync(aggregateClientId))
        {
            var answer = await JsonOf(await business.PostAsJsonAsync($"/api/v1/grants/{aggregateGrant}/aggregates", new
            {
                category = "steps.daily",
                groupBy = new[] { "week" },
                measures = new object[] { new { function = "count" }, new { function = "median", field = "steps" } },
            }), HttpStatusCode.OK);
            Assert.Contains(answer.GetProperty("groups").EnumerateArray(), g => !g.GetProperty("suppressed").GetBoolean());
        }

        // A sign-in recent enough to erase; its tokens are the stale ones afterwards.
        var tokens = await factory.RunCodeFlowAsync(username, TestTokens.TestPassword, AccountKind.Resident.Scope());
        using var stale = factory.CreateClientWithToken(tokens.AccessToken);
        var pseudonym = await factory.Services.GetRequiredService<AuditStore>().PseudonymOfAsync(id);
        Assert.NotNull(pseudonym);
        var erased = await stale.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/v1/me") { Content = JsonContent.Create(new { confirmAccount = username }) });
        var erasure = await JsonOf(erased, HttpStatusCode.OK);
        var erasureId = erasure.GetProperty("erasureId").GetGuid();

        // The stale token: a specific 401 on every resident route, and not one row anywhere changes
        // (no key ring, account, pseudonym, consent or audit entry comes back).
        var before = await RowCountsAsync();
        var routes = AuthorizationMatrix.Routes
            .Where(r => r.Path.StartsWith("/api/", StringComparison.Ordinal) && r.Allowed.Contains(Caller.Resident) && !r.Allowed.Contains(Caller.None))
            .Append(new MatrixRoute("POST", "/api/v1/records", [Caller.Source], JsonBody: "{\"records\":[]}"))
            .ToList();
        Assert.Contains(routes, r => r.Path == "/api/v1/me/records");
        Assert.Contains(routes, r => r is { Method: "POST", Path: "/api/v1/me/consents" });
        foreach (var route in routes)
        {
            await AssertErasedAsync(stale, new HttpRequestMessage(new HttpMethod(route.Method), route.Path)
            {
                Content = route.JsonBody is null ? null : new StringContent(route.JsonBody, Encoding.UTF8, "application/json"),
            }, route.ToString());
        }
        // The requests that would re-create most if they got through, with well-formed bodies.
        await AssertErasedAsync(stale, Post("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        }), "re-enrol");
        await AssertErasedAsync(stale, Post("/api/v1/me/consents", new
        {
            offerId = recordsOffer.OfferId,
            noticeVersion = recordsOffer.NoticeVersion,
            noticeHash = recordsOffer.NoticeHash,
            specialCareItems = recordsOffer.Notice.SpecialCareItems,
        }), "consent");
        Assert.Equal(before, await RowCountsAsync());

        // Nor can the account be used any other way: the refresh token is gone, the password
        // verifies nothing, and the source's reference names no one any more.
        var refreshed = await factory.RequestTokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["client_id"] = TestTokens.TestAppClientId,
            ["refresh_token"] = tokens.RefreshToken!,
        });
        Assert.Equal(HttpStatusCode.BadRequest, refreshed.StatusCode);
        Assert.Equal("invalid_grant", (await refreshed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        using (var scope = factory.Services.CreateScope())
        {
            Assert.Null(await scope.ServiceProvider.GetRequiredService<AccountService>().SignInAsync(username, TestTokens.TestPassword));
        }
        using var laterSource = factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(sourceId, sourceClient.ClientSecret));
        var late = await laterSource.PostAsJsonAsync("/api/v1/records", new
        {
            records = new[] { new { resident = residentRef, category = "steps.daily", observedAt = DateTimeOffset.UtcNow, payload = new { steps = 123457 }, sourceRecordId = $"erasure-{tag}-late" } },
        });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, late.StatusCode);
        Assert.Null(await factory.Services.GetRequiredService<AuditStore>().PseudonymOfAsync(id));

        // The sealed records, unreadable since the erasure, are swept (the job the erasure enqueued).
        using (var scope = factory.Services.CreateScope())
        {
            await scope.ServiceProvider.GetRequiredService<CustodyJobs>().SweepErasureAsync(erasureId, CancellationToken.None);
        }

        var needles = Needles(id, username, displayName, pseudonym!, residentRef);
        var findings = new List<string>();
        var used = new HashSet<(string, string, string)>();
        await using (var db = await factory.Connections.OpenAsync())
        {
            foreach (var (table, column, value) in await EveryValueAsync(db))
            {
                foreach (var needle in needles.Where(n => n.In(value)))
                {
                    if (Kept.ContainsKey((table, column, needle.What)))
                    {
                        used.Add((table, column, needle.What));
                    }
                    else
                    {
                        findings.Add($"{table}.{column} holds the resident's {needle.What} ({needle.Form})");
                    }
                }
            }
            var tombstone = await db.QuerySingleAsync<(string Username, string DisplayName, string PasswordHash)>(
                "SELECT username, display_name, password_hash FROM accounts WHERE id = @id", new { id });
            Assert.StartsWith(AccountStore.TombstonePrefix, tombstone.Username, StringComparison.Ordinal);
            Assert.Equal(("", ""), (tombstone.DisplayName, tombstone.PasswordHash));
        }
        Assert.Empty(findings.Distinct());
        Assert.Empty(Kept.Keys.Where(k => !used.Contains(k)).Select(k => $"{k.Table}.{k.Column} ({k.What}) is allow-listed but keeps nothing: drop the entry"));

        // The exported log still verifies, names no one in clear, and the name is free again.
        await factory.Services.GetRequiredService<AuditCheckpointJob>().RunAsync(CancellationToken.None);
        var (_, auditorToken) = await factory.SignInAsync(AccountKind.Auditor);
        using var auditor = factory.CreateClientWithToken(auditorToken);
        var exported = await auditor.GetStringAsync("/api/v1/audit/export");
        foreach (var text in new[] { id.ToString("D"), id.ToString("N"), username, displayName, residentRef })
        {
            Assert.DoesNotContain(text, exported, StringComparison.OrdinalIgnoreCase);
        }
        var report = await _scenario.VerifyExportedLogAsync();
        Assert.Null(report.Failure);
        Assert.Empty(report.Findings);
        var entry = (await factory.Services.GetRequiredService<AuditStore>().EntriesAsync(0, long.MaxValue, 10_000, AuditKinds.Erasure)).Last();
        Assert.Contains("account-tombstoned-tokens-revoked", entry.Payload, StringComparison.Ordinal);
        using (var scope = factory.Services.CreateScope())
        {
            var again = await scope.ServiceProvider.GetRequiredService<AccountService>()
                .CreateAsync(new NewAccount(username, "Someone new", AccountKind.Resident, null, TestTokens.TestPassword));
            Assert.NotEqual(id, again.Account.Id);
        }
    }

    private static HttpRequestMessage Post(string path, object body) => new(HttpMethod.Post, path) { Content = JsonContent.Create(body) };

    private static async Task AssertErasedAsync(HttpClient stale, HttpRequestMessage request, string what)
    {
        using var response = await stale.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {(int)response.StatusCode} {body}");
        Assert.Equal("/problems/account-erased", JsonDocument.Parse(body).RootElement.GetProperty("type").GetString());
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    private async Task<Dictionary<string, long>> RowCountsAsync()
    {
        await using var db = await factory.Connections.OpenAsync();
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var table in await TablesAsync(db))
        {
            counts[table] = await db.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM \"{table}\"");
        }
        return counts;
    }

    private static async Task<List<string>> TablesAsync(DbConnection db) =>
        [.. await db.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")];

    private static async Task<List<(string Table, string Column, object Value)>> EveryValueAsync(DbConnection db)
    {
        var values = new List<(string, string, object)>();
        foreach (var table in await TablesAsync(db))
        {
            var columns = (await db.QueryAsync<string>("SELECT name FROM pragma_table_info(@table)", new { table })).ToList();
            Assert.NotEmpty(columns);
            await using var command = db.CreateCommand();
            command.CommandText = $"SELECT {string.Join(", ", columns.Select(c => $"\"{c}\""))} FROM \"{table}\"";
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                for (var i = 0; i < columns.Count; i++)
                {
                    if (!reader.IsDBNull(i))
                    {
                        values.Add((table, columns[i], reader.GetValue(i)));
                    }
                }
            }
        }
        return values;
    }

    /// <summary>One way the resident could be found in a stored value: as text (any case) or as bytes in a blob.</summary>
    private sealed record Needle(string What, string Form, string? Text, byte[]? Bytes)
    {
        public bool In(object value) => value switch
        {
            byte[] blob => (Bytes is not null && blob.AsSpan().IndexOf(Bytes) >= 0)
                || (Text is not null && Encoding.UTF8.GetString(blob).Contains(Text, StringComparison.OrdinalIgnoreCase)),
            _ => Text is not null && Convert.ToString(value, CultureInfo.InvariantCulture)!.Contains(Text, StringComparison.OrdinalIgnoreCase),
        };
    }

    private static List<Needle> Needles(Guid id, string username, string displayName, string pseudonym, string residentRef)
    {
        var bigEndian = new byte[16];
        id.TryWriteBytes(bigEndian, bigEndian: true, out _);
        var needles = new List<Needle>
        {
            new(Username, "text", username, null),
            new(DisplayName, "text", displayName, null),
            new(ResidentId, "guid D", id.ToString("D"), null),
            new(ResidentId, "guid N", id.ToString("N"), null),
            new(ResidentId, "16 bytes, .NET order", null, id.ToByteArray()),
            new(ResidentId, "16 bytes, RFC 9562 order", null, bigEndian),
            new(Pseudonym, "text", pseudonym, null),
            new(SourceReference, "text", residentRef, null),
            new(DepositedValue, "steps as text", "123457", null),
            new(DepositedValue, "distance as text", "4321.987", null),
            new(DepositedValue, "steps as int32", null, Int32Bytes(123457)),
        };
        foreach (var value in new[] { 123457, 4321.987, 1357 })
        {
            needles.Add(new(DepositedValue, $"{value.ToString(CultureInfo.InvariantCulture)} as float64", null, DoubleBytes(value)));
        }
        return needles;
    }

    private static byte[] Int32Bytes(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] DoubleBytes(double value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
        return bytes;
    }
}
