using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// The database turns read-only under a running server (a mount remounted read-only, a standby
/// after fail-over). A second server shares the first one's database, keys and key ring, but every
/// connection its stores open is read-only: SQLite <c>Mode=ReadOnly</c>, or PostgreSQL's
/// <c>default_transaction_read_only</c>. It must say so: writes answer 503 with Retry-After and the
/// storage-unavailable type (never 500), and readiness is Unhealthy while liveness stays up.
/// </summary>
public sealed class ReadOnlyStorageTests : IDisposable
{
    private readonly SharedKeyRingFactory _primary = new();

    public void Dispose() => _primary.Dispose();

    private sealed class SharedKeyRingFactory : InfoBankFactory
    {
        protected override bool UseEphemeralKeyRing => false;
    }

    private sealed class ReadOnlyFactory(InfoBankFactory primary) : InfoBankFactory(primary)
    {
        protected override bool UseEphemeralKeyRing => false;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            var readOnly = new DatabaseOptions { Provider = Provider, ConnectionString = ReadOnly(Provider, ConnectionString) };
            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<DbConnectionFactory>();
                services.AddSingleton(new DbConnectionFactory(Microsoft.Extensions.Options.Options.Create(readOnly)));
            });
        }

        private static string ReadOnly(DatabaseProvider provider, string connectionString) => provider switch
        {
            DatabaseProvider.Sqlite => new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadOnly }.ToString(),
            DatabaseProvider.Postgres => new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c default_transaction_read_only=on" }.ToString(),
            _ => throw new InvalidOperationException($"No read-only connection for {provider} in this test."),
        };
    }

    [Fact]
    public async Task A_read_only_database_answers_503_with_retry_after_on_writes_and_readiness_is_unhealthy()
    {
        // Accounts, clients and tokens come from the writable server, as they would have before the outage.
        var (_, residentToken) = await _primary.SignInAsync(AccountKind.Resident);
        var source = await _primary.RegisterClientAsync(ClientKind.DataSource);
        using var primaryClient = _primary.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await primaryClient.GetAsync("/health/ready")).StatusCode);

        using var readOnly = new ReadOnlyFactory(_primary);
        using var anonymous = readOnly.CreateClient();
        var statuses = new List<(string What, HttpStatusCode Status)>();

        var live = await anonymous.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        var ready = await anonymous.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.StartsWith("Unhealthy", await ready.Content.ReadAsStringAsync());

        // A write route with a valid token: the resident's enrolment.
        using var resident = readOnly.CreateClientWithToken(residentToken);
        var me = await resident.GetAsync("/api/v1/me");
        statuses.Add(("GET /api/v1/me", me.StatusCode));
        var terms = await resident.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        var enrolment = await resident.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        });
        statuses.Add(("POST /api/v1/me/enrollment", enrolment.StatusCode));
        var problem = await HostTests.AssertProblem(enrolment, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(ProblemTypes.StorageUnavailable.Uri, problem.GetProperty("type").GetString());
        Assert.NotNull(enrolment.Headers.RetryAfter?.Delta);
        Assert.DoesNotContain("readonly", problem.GetRawText(), StringComparison.OrdinalIgnoreCase);

        // Issuing a token writes its entry: the token endpoint is a write route too.
        var token = await anonymous.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = source.ClientId,
            ["client_secret"] = source.ClientSecret,
        }));
        statuses.Add(("POST /connect/token", token.StatusCode));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, token.StatusCode);
        Assert.NotNull(token.Headers.RetryAfter);

        Assert.DoesNotContain(statuses, s => (int)s.Status >= 500 && s.Status != HttpStatusCode.ServiceUnavailable);

        // The storage itself is fine: the writable server is still ready.
        Assert.Equal(HttpStatusCode.OK, (await primaryClient.GetAsync("/health/ready")).StatusCode);
    }
}
