using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Access;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Custody;

/// <summary>Which changes of the terms ask residents to agree again: only material ones, and only those after their agreement.</summary>
public sealed class CustodyTermsCatalogTests
{
    private static CustodyTerms Version(string version, int day, bool material) =>
        new(version, new DateOnly(2026, 1, day), material, new TermsChanges("変更", "changed"), $"terms {version}");

    [Fact]
    public void Only_a_material_version_after_the_agreement_asks_for_a_new_one()
    {
        var catalog = new CustodyTermsCatalog([Version("v1", 1, true), Version("v2", 2, false), Version("v3", 3, true), Version("v4", 4, false)]);

        Assert.Equal("v3", catalog.AgreementNeeded("v1")?.Version);
        Assert.Equal("v3", catalog.AgreementNeeded("v2")?.Version);
        Assert.Null(catalog.AgreementNeeded("v3"));
        Assert.Null(catalog.AgreementNeeded("v4"));
        // An agreement to words this deployment does not know cannot count as one to the current words.
        Assert.Equal("v4", catalog.AgreementNeeded("v0")?.Version);
        Assert.Equal(["v3", "v4"], catalog.StillAgreed());
        Assert.Equal("v4", catalog.Current.Version);
    }

    [Fact]
    public void Versions_are_unique_and_in_the_order_they_took_effect()
    {
        Assert.Throws<ArgumentException>(() => new CustodyTermsCatalog([]));
        Assert.Throws<ArgumentException>(() => new CustodyTermsCatalog([Version("v1", 1, true), Version("v1", 2, false)]));
        Assert.Throws<ArgumentException>(() => new CustodyTermsCatalog([Version("v1", 2, true), Version("v2", 1, false)]));
    }

    [Fact]
    public void The_shipped_terms_have_a_history_whose_first_version_is_material()
    {
        var shipped = CustodyTermsCatalog.Embedded;
        Assert.True(shipped.Versions.Count >= 2);
        Assert.True(shipped.Versions[0].Material);
        Assert.All(shipped.Versions, v => Assert.Contains(v.Version, v.Text, StringComparison.Ordinal));
        Assert.All(shipped.Versions, v => Assert.False(string.IsNullOrWhiteSpace(v.Changes.Ja) || string.IsNullOrWhiteSpace(v.Changes.En)));
    }
}

/// <summary>
/// Over HTTP: every version stays readable; a resident who agreed to an older version keeps
/// depositing across editorial changes, and after a material one nothing more is stored for them
/// until they agree to the current version.
/// </summary>
public sealed class CustodyTermsHttpTests(CustodyTermsHttpTests.Factory factory) : IClassFixture<CustodyTermsHttpTests.Factory>
{
    /// <summary>The shipped history plus a material version, as a deployment that changed what residents agree to.</summary>
    public sealed class Factory : InfoBankFactory
    {
        public static readonly CustodyTerms Material = new("2099-01", new DateOnly(2099, 1, 1), true,
            new TermsChanges("提供先の範囲を変更しました。", "Changes who data may be provided to."), "# InfoBank custody terms (version 2099-01)\n");

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
                services.AddSingleton(new CustodyTermsCatalog([.. CustodyTermsCatalog.Embedded.Versions, Material])));
        }
    }

    private readonly AccessScenario _scenario = new(factory);

    [Fact]
    public async Task Every_version_is_readable_and_the_history_says_what_each_changed()
    {
        using var anonymous = factory.CreateClient();
        var current = await anonymous.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        Assert.Equal("2099-01", current.GetProperty("version").GetString());
        Assert.True(current.GetProperty("current").GetBoolean());
        var history = current.GetProperty("history").EnumerateArray().Select(v => v.GetProperty("version").GetString()).ToList();
        Assert.Equal([.. CustodyTermsCatalog.Embedded.Versions.Select(v => v.Version), "2099-01"], history);

        var first = CustodyTermsCatalog.Embedded.Versions[0];
        var old = await anonymous.GetFromJsonAsync<JsonElement>($"/api/v1/custody/terms?version={first.Version}");
        Assert.Equal(first.Text, old.GetProperty("text").GetString());
        Assert.Equal(first.Hash, old.GetProperty("hash").GetString());
        Assert.False(old.GetProperty("current").GetBoolean());
        Assert.True(old.GetProperty("material").GetBoolean());
        Assert.False(string.IsNullOrEmpty(old.GetProperty("changes").GetProperty("ja").GetString()));

        var unknown = await anonymous.GetAsync("/api/v1/custody/terms?version=1999-01");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("/problems/not-found", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task After_a_material_change_deposits_wait_for_a_new_agreement()
    {
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);
        // A resident who agreed to the last shipped version before the material one was deployed.
        var resident = await _scenario.ResidentAsync(enrol: false);
        using (var scope = factory.Services.CreateScope())
        {
            await scope.ServiceProvider.GetRequiredService<ResidentCustodyService>().EnrolAsync(resident.Id, CustodyTermsCatalog.Embedded.Current, default);
        }
        var enrollment = (await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me")).GetProperty("enrollment");
        Assert.True(enrollment.GetProperty("agreeAgain").GetBoolean());
        Assert.Equal("2099-01", enrollment.GetProperty("currentTermsVersion").GetString());

        var reference = await LinkAsync(resident, sourceId, "steps.daily");
        object Batch(string id) => new
        {
            records = new[]
            {
                new { resident = reference, category = "steps.daily", observedAt = DateTimeOffset.UtcNow, sourceRecordId = id,
                    payload = new { steps = 1000, distanceMeters = 700.0, activeMinutes = 10 } },
            },
        };
        var refused = await source.PostAsJsonAsync("/api/v1/records", Batch("before"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("2099-01", problem.GetProperty("errors").GetProperty("records[0].resident")[0].GetString());
        Assert.Empty((await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/records")).GetProperty("items").EnumerateArray());

        // Agreeing to an outdated version is refused with its own type; agreeing to the current one lets deposits in again.
        var stale = await resident.Http.PostAsJsonAsync("/api/v1/me/enrollment",
            new { termsVersion = CustodyTermsCatalog.Embedded.Current.Version, termsHash = CustodyTermsCatalog.Embedded.Current.Hash, agree = true });
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal("/problems/terms-not-current", (await stale.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        var agreed = await resident.Http.PostAsJsonAsync("/api/v1/me/enrollment",
            new { termsVersion = Factory.Material.Version, termsHash = Factory.Material.Hash, agree = true });
        Assert.Equal(HttpStatusCode.OK, agreed.StatusCode);
        Assert.False((await agreed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("agreeAgain").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await source.PostAsJsonAsync("/api/v1/records", Batch("after"))).StatusCode);
        Assert.Single((await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/records")).GetProperty("items").EnumerateArray());
    }
}
