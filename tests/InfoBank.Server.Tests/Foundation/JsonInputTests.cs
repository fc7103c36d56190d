using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Applications;
using InfoBank.Server.Tests.Infrastructure;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// JSON bodies on the real routes with real tokens: UTF-8 only, one value per key (JsonElement
/// members included), integers written as integers, and nothing recorded for a refused request.
/// </summary>
public sealed class JsonInputTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    private static StringContent Json(string text, string contentType = "application/json")
    {
        var content = new StringContent(text, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private async Task<(HttpClient Source, string ResidentRef, Guid ResidentId)> LinkedSourceAsync()
    {
        var (residentId, residentToken) = await factory.SignInAsync(AccountKind.Resident);
        using var resident = factory.CreateClientWithToken(residentToken);
        await HardeningKit.EnrolAsync(resident);
        var (clientId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        var link = await resident.PutAsJsonAsync($"/api/v1/me/sources/{clientId}", new { categories = new[] { "steps.daily", "body.composition" } });
        Assert.Equal(HttpStatusCode.Created, link.StatusCode);
        var reference = (await link.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("residentRef").GetString()!;
        return (factory.CreateClientWithToken(sourceToken), reference, residentId);
    }

    private static string Deposit(string residentRef, string category, string payload) =>
        $$"""{"records":[{"resident":"{{residentRef}}","category":"{{category}}","observedAt":"{{DateTimeOffset.UtcNow.Date.AddDays(-1):O}}","payload":{{payload}},"sourceRecordId":"{{Guid.NewGuid():N}}"}]}""";

    private async Task<long> StoredAsync(Guid residentId)
    {
        await using var connection = await factory.Connections.OpenAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM custody_records WHERE resident_id = @residentId", new { residentId });
    }

    [Theory]
    [InlineData("application/json; charset=latin-99")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/json; charset=\"latin-99\"")]
    [InlineData("application/merge-patch+json; charset=latin-99")]
    public async Task A_json_body_in_another_charset_is_a_415_on_authenticated_routes(string contentType)
    {
        var (source, reference, residentId) = await LinkedSourceAsync();
        var response = await source.PostAsync("/api/v1/records", Json(Deposit(reference, "steps.daily", """{"steps":100}"""), contentType));
        var problem = await HardeningKit.AssertProblemType(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        Assert.Contains("UTF-8", problem.GetProperty("detail").GetString());
        Assert.Equal(0, await StoredAsync(residentId));

        var (_, token) = await factory.SignInAsync(AccountKind.Resident);
        using var resident = factory.CreateClientWithToken(token);
        await HardeningKit.AssertProblemType(
            await resident.PostAsync("/api/v1/me/enrollment", Json("""{"agree":true}""", contentType)), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json; charset=UTF-8")]
    [InlineData("application/json; charset=\"utf-8\"")]
    public async Task Utf8_in_any_spelling_is_read(string contentType)
    {
        var (source, reference, residentId) = await LinkedSourceAsync();
        var response = await source.PostAsync("/api/v1/records", Json(Deposit(reference, "steps.daily", """{"steps":100}"""), contentType));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, await StoredAsync(residentId));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=xyz")]
    [InlineData("multipart/form-data")]
    [InlineData("application/xml")]
    public async Task A_body_that_is_not_json_on_a_json_route_is_a_4xx_problem(string contentType)
    {
        var (source, reference, residentId) = await LinkedSourceAsync();
        var response = await source.PostAsync("/api/v1/records", Json(Deposit(reference, "steps.daily", """{"steps":100}"""), contentType));
        Assert.True(response.StatusCode is HttpStatusCode.UnsupportedMediaType or HttpStatusCode.BadRequest, $"{(int)response.StatusCode}");
        var problem = await HostTests.AssertProblem(response, response.StatusCode);
        // Other types are the framework's 415; a multipart body that is not one is a 400 before that.
        Assert.Equal(contentType.StartsWith("multipart", StringComparison.Ordinal) ? "/problems/malformed-request" : "/problems/unsupported-media-type",
            problem.GetProperty("type").GetString());
        Assert.Equal(0, await StoredAsync(residentId));
    }

    [Fact]
    public async Task A_repeated_key_is_refused_not_resolved_last_wins()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Resident);
        using var resident = factory.CreateClientWithToken(token);
        var terms = await resident.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        var body = $$"""{"termsVersion":"{{terms.GetProperty("version").GetString()}}","termsHash":"{{terms.GetProperty("hash").GetString()}}","agree":false,"agree":true}""";
        var problem = await HardeningKit.AssertProblemType(await resident.PostAsync("/api/v1/me/enrollment", Json(body)), HttpStatusCode.BadRequest, "malformed-request");
        Assert.Contains("agree", problem.GetProperty("detail").GetString());
        Assert.Equal("not-enrolled", await HardeningKit.EnrollmentStatusAsync(resident));
        // Case variants of one member are the same member.
        await HardeningKit.AssertProblemType(
            await resident.PostAsync("/api/v1/me/enrollment", Json(body.Replace("\"agree\":true", "\"Agree\":true", StringComparison.Ordinal))), HttpStatusCode.BadRequest, "malformed-request");
    }

    [Fact]
    public async Task A_committee_vote_with_two_votes_in_it_records_none()
    {
        using var business = factory.CreateClientWithToken((await factory.ClientTokenAsync(ClientKind.Business)).AccessToken);
        using var member = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Member)).AccessToken);
        var created = await business.PostAsJsonAsync("/api/v1/applications", ApplicationServiceTests<SqliteFixture>.Example("fitness-club"), new JsonSerializerOptions(JsonSerializerDefaults.Web));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.OK, (await business.PostAsync($"/api/v1/applications/{id}/submit", null)).StatusCode);

        var vote = await member.PostAsync($"/api/v1/committee/applications/{id}/votes",
            Json("""{"vote":"reject","reason":"the data is too fine","vote":"approve"}"""));
        var problem = await HardeningKit.AssertProblemType(vote, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Contains("$.vote", problem.GetProperty("detail").GetString());

        var application = await member.GetFromJsonAsync<JsonElement>($"/api/v1/committee/applications/{id}");
        Assert.Equal(0, application.GetProperty("votes").GetArrayLength());
        // The same member can still cast the vote they meant.
        Assert.Equal(HttpStatusCode.OK, (await member.PostAsJsonAsync($"/api/v1/committee/applications/{id}/votes", new { vote = "reject", reason = "the data is too fine" })).StatusCode);
    }

    [Theory]
    [InlineData("""{"steps":100,"steps":200000}""")]
    [InlineData("""{"steps":100,"\u0073teps":200000}""")]
    [InlineData("""{"steps":100,"activeMinutes":5,"activeMinutes":6}""")]
    public async Task A_repeated_key_inside_a_deposit_payload_is_refused_and_nothing_stored(string payload)
    {
        var (source, reference, residentId) = await LinkedSourceAsync();
        var response = await source.PostAsync("/api/v1/records", Json(Deposit(reference, "steps.daily", payload)));
        var problem = await HardeningKit.AssertProblemType(response, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Contains("$.records[0].payload", problem.GetProperty("detail").GetString());
        Assert.Equal(0, await StoredAsync(residentId));
    }

    [Theory]
    [InlineData("1E2")]
    [InlineData("1e2")]
    [InlineData("100.000")]
    [InlineData("100.0")]
    [InlineData("1.5")]
    [InlineData("-0.0")]
    [InlineData("1e400")]
    [InlineData("99999999999999999999999999999999999999")]
    [InlineData("\"100\"")]
    public async Task An_integer_field_takes_an_integer_literal_only(string steps)
    {
        var (source, reference, residentId) = await LinkedSourceAsync();
        var response = await source.PostAsync("/api/v1/records", Json(Deposit(reference, "steps.daily", $$"""{"steps":{{steps}}}""")));
        var problem = await HostTests.AssertProblem(response, HttpStatusCode.UnprocessableEntity);
        Assert.True(problem.GetProperty("errors").TryGetProperty("records[0].payload.steps", out var messages), problem.GetRawText());
        Assert.Contains("integer", messages[0].GetString());
        Assert.Equal(0, await StoredAsync(residentId));
    }

    [Theory]
    [InlineData("99999999999999999999", "above the maximum")]
    [InlineData("-1", "below the minimum")]
    public async Task An_integer_literal_out_of_range_is_refused_by_its_range(string steps, string message)
    {
        var (source, reference, residentId) = await LinkedSourceAsync();
        var response = await source.PostAsync("/api/v1/records", Json(Deposit(reference, "steps.daily", $$"""{"steps":{{steps}}}""")));
        var problem = await HostTests.AssertProblem(response, HttpStatusCode.UnprocessableEntity);
        Assert.Contains(message, problem.GetProperty("errors").GetProperty("records[0].payload.steps")[0].GetString());
        Assert.Equal(0, await StoredAsync(residentId));
    }

    [Fact]
    public async Task A_number_field_still_takes_fractions_and_exponents_but_not_infinity()
    {
        var (source, reference, residentId) = await LinkedSourceAsync();
        var accepted = await source.PostAsync("/api/v1/records", Json(Deposit(reference, "body.composition", """{"weightKg":6.12E1}""")));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var refused = await source.PostAsync("/api/v1/records", Json(Deposit(reference, "body.composition", """{"weightKg":1e400}""")));
        var problem = await HostTests.AssertProblem(refused, HttpStatusCode.UnprocessableEntity);
        Assert.Contains("out of range", problem.GetProperty("errors").GetProperty("records[0].payload.weightKg")[0].GetString());
        Assert.Equal(1, await StoredAsync(residentId));
    }

    [Theory]
    [InlineData("1E2")]
    [InlineData("100.000")]
    [InlineData("1.0")]
    [InlineData("1e400")]
    [InlineData("99999999999999999999")]
    [InlineData("\"1\"")]
    public async Task A_typed_integer_member_takes_an_integer_literal_only(string noticeVersion)
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Resident);
        using var resident = factory.CreateClientWithToken(token);
        await HardeningKit.EnrolAsync(resident);
        var response = await resident.PostAsync("/api/v1/me/consents", Json($$"""{"offerId":"{{Guid.NewGuid()}}","noticeVersion":{{noticeVersion}}}"""));
        var problem = await HardeningKit.AssertProblemType(response, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Contains("$.noticeVersion", problem.GetProperty("detail").GetString());
    }
}
