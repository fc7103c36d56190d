using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Applications;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Access;

/// <summary>
/// The steps every brokered-access HTTP test goes through, each over HTTP with real tokens: a
/// business applies and the committee approves, residents enrol, link a data source that deposits,
/// and consent to the offer the approval published.
/// </summary>
internal sealed class AccessScenario(InfoBankFactory factory)
{
    public static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private readonly Dictionary<string, string> _secrets = new(StringComparer.Ordinal);

    public sealed record Person(Guid Id, HttpClient Http);

    public static async Task<JsonElement> JsonOf(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
    }

    /// <summary>An approved grant of the example application <paramref name="example"/> (pia/examples) for a new business.</summary>
    public Task<(Guid GrantId, string ClientId, HttpClient Business)> ApprovedGrantAsync(string example = "health-research") =>
        ApprovedGrantAsync(ApplicationServiceTests<SqliteFixture>.Example(example));

    /// <summary>An approved grant of <paramref name="spec"/> for a new business.</summary>
    public async Task<(Guid GrantId, string ClientId, HttpClient Business)> ApprovedGrantAsync(InfoBank.Core.Applications.ApplicationSpec spec)
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var clientId = client.ClientId;
        _secrets[clientId] = client.ClientSecret;
        var business = factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(clientId, client.ClientSecret));
        return (await ApprovedGrantAsync(business, spec), clientId, business);
    }

    /// <summary>Another approved grant of <paramref name="spec"/> for a business that already has a token.</summary>
    public async Task<Guid> ApprovedGrantAsync(HttpClient business, InfoBank.Core.Applications.ApplicationSpec spec)
    {
        var created = await JsonOf(await business.PostAsJsonAsync("/api/v1/applications", spec, Web), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetGuid();
        await JsonOf(await business.PostAsync($"/api/v1/applications/{id}/submit", null), HttpStatusCode.OK);
        HttpClient? chair = null;
        foreach (var role in new[] { CommitteeRoles.Member, CommitteeRoles.Secretariat, CommitteeRoles.Chair })
        {
            var member = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Committee, role)).AccessToken);
            await JsonOf(await member.PostAsJsonAsync($"/api/v1/committee/applications/{id}/votes", new { vote = "approve", reason = "necessary and proportionate", conditions = Array.Empty<string>() }), HttpStatusCode.OK);
            chair = member;
        }
        var decided = await JsonOf(await chair!.PostAsJsonAsync($"/api/v1/committee/applications/{id}/decision", new { note = "approved" }), HttpStatusCode.OK);
        return decided.GetProperty("grant").GetProperty("id").GetGuid();
    }

    /// <summary>A new token for a business of <see cref="ApprovedGrantAsync"/> (after the test moved the clock past the old one's expiry).</summary>
    public async Task<HttpClient> FreshBusinessAsync(string clientId) =>
        factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(clientId, _secrets[clientId]));

    /// <summary>The offer the committee's approval published for the grant (applications → consent).</summary>
    public async Task<OfferTerms> OfferOfAsync(Guid grantId)
    {
        using var scope = factory.Services.CreateScope();
        var offer = await scope.ServiceProvider.GetRequiredService<OfferService>().FindByGrantAsync(grantId);
        Assert.NotNull(offer);
        return offer;
    }

    /// <summary>A resident signed in, and enrolled unless <paramref name="enrol"/> is false.</summary>
    public async Task<Person> ResidentAsync(bool enrol = true)
    {
        var (id, token) = await factory.SignInAsync(AccountKind.Resident);
        var http = factory.CreateClientWithToken(token);
        if (enrol)
        {
            await EnrolAsync(http);
        }
        return new Person(id, http);
    }

    /// <summary>A resident with a password, enrolled, who can sign in again after the test moved the clock past a token's lifetime.</summary>
    public sealed record Member(Guid Id, string Username);

    public async Task<Member> MemberAsync()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        await EnrolAsync(await SignInAsync(account.Account.Username));
        return new Member(account.Account.Id, account.Account.Username);
    }

    /// <summary>A fresh sign-in through the authorization code flow.</summary>
    public async Task<HttpClient> SignInAsync(string username) =>
        factory.CreateClientWithToken((await factory.RunCodeFlowAsync(username, TestTokens.TestPassword, AccountKind.Resident.Scope())).AccessToken);

    public async Task<Person> PersonAsync(Member member) => new(member.Id, await SignInAsync(member.Username));

    private static async Task EnrolAsync(HttpClient http)
    {
        var terms = await http.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        await JsonOf(await http.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        }), HttpStatusCode.Created);
    }

    /// <summary>Links the source for <paramref name="categories"/> and returns the resident's reference for it.</summary>
    public static async Task<string> LinkAsync(Person resident, string sourceClientId, params string[] categories)
    {
        var link = await resident.Http.PutAsJsonAsync($"/api/v1/me/sources/{sourceClientId}", new { categories });
        return (await JsonOf(link, link.StatusCode == HttpStatusCode.Created ? HttpStatusCode.Created : HttpStatusCode.OK)).GetProperty("residentRef").GetString()!;
    }

    /// <summary>Deposits <paramref name="days"/> daily step records observed just before <paramref name="at"/> (default: now).</summary>
    public static async Task DepositStepsAsync(HttpClient source, string sourceClientId, Person resident, int days, DateTimeOffset? at = null, string? ward = null)
    {
        var residentRef = await LinkAsync(resident, sourceClientId, "steps.daily");
        var now = at ?? DateTimeOffset.UtcNow;
        var records = Enumerable.Range(0, days).Select(d => new
        {
            resident = residentRef,
            category = "steps.daily",
            observedAt = now.AddMilliseconds(-d), // the data window opens at approval, moments ago
            payload = (object)(ward is null
                ? new { steps = 8000 + d, distanceMeters = 5600.5, activeMinutes = 30 }
                : new { steps = 8000 + d, distanceMeters = 5600.5, activeMinutes = 30, ward }),
            sourceRecordId = $"{resident.Id:N}-{now.UtcTicks}-{d}",
        }).ToArray();
        await JsonOf(await source.PostAsJsonAsync("/api/v1/records", new { records }), HttpStatusCode.OK);
    }

    /// <summary>Consents to the offer, naming each special-care item it lists.</summary>
    public static async Task<Guid> ConsentAsync(Person resident, OfferTerms offer)
    {
        var given = await JsonOf(await resident.Http.PostAsJsonAsync("/api/v1/me/consents", new
        {
            offerId = offer.OfferId,
            noticeVersion = offer.NoticeVersion,
            noticeHash = offer.NoticeHash,
            specialCareItems = offer.Notice.SpecialCareItems,
        }), HttpStatusCode.Created);
        return given.GetProperty("consent").GetProperty("consentId").GetGuid();
    }

    /// <summary>What an auditor gets from verifying the whole audit log offline, exported over HTTP with an auditor's token.</summary>
    public async Task<InfoBank.Core.Audit.AuditVerificationReport> VerifyExportedLogAsync()
    {
        var (_, auditorToken) = await factory.SignInAsync(AccountKind.Auditor);
        using var auditor = factory.CreateClientWithToken(auditorToken);
        using var export = await auditor.GetAsync("/api/v1/audit/export", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        await using var bundle = await export.Content.ReadAsStreamAsync();
        return InfoBank.Core.Audit.AuditVerifier.Verify(bundle, new InfoBank.Core.Audit.AuditVerifierOptions());
    }

    /// <summary>Every record of a grant, following <c>next</c> through all pages of one fetch.</summary>
    public static async Task<List<JsonElement>> ReadAllAsync(HttpClient business, Guid grantId, int limit = 100)
    {
        var records = new List<JsonElement>();
        string? next = $"/api/v1/grants/{grantId}/records?limit={limit}";
        do
        {
            var page = await JsonOf(await business.GetAsync(next), HttpStatusCode.OK);
            records.AddRange(page.GetProperty("items").EnumerateArray());
            next = page.GetProperty("next").ValueKind == JsonValueKind.String ? page.GetProperty("next").GetString() : null;
        }
        while (next is not null);
        return records;
    }
}
