using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using InfoBank.Core.Consent;
using InfoBank.Core.Crypto;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Bench;

/// <summary>
/// HTTP latency of giving and withdrawing consent: the real server in-process (TestServer, SQLite
/// file, real audit log with durable appends, receipts signed), residents signed in through the
/// authorization-code + PKCE flow for real tokens, one client issuing requests one after another.
/// </summary>
public sealed partial class ConsentHttpBenchmark : IBenchmark
{
    private const string AppClientId = "infobank-bench";
    private const string Password = "bench password of some length";
    private static readonly Uri Redirect = new("http://localhost/bench-callback");

    public string Name => "consent-http";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var rounds = context.Quick ? 150 : 1_000;
        var residentCount = context.Quick ? 5 : 20;
        var directory = Path.Combine(context.WorkDirectory, "consent-http-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        // WebApplicationFactory looks for the server's folder beside a solution of the test
        // project's name; point it at the server's source folder (its appsettings.json) instead.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_INFOBANK_SERVER", ServerFolder() ?? directory);
        using var factory = new Server(directory);

        var offer = (await factory.Services.GetRequiredService<OfferService>().PublishAsync(new OfferDraft(
            Guid.NewGuid(),
            new Notice(new Recipient("business-fitness-club", "Sapporo fitness club chain", "JP"),
            Purposes.ServiceOptimisation,
            new("区・年代別の歩数の傾向を集計します。", "Step-count trends by ward and age band, aggregated."),
            [DataCategories.StepsDaily], [], Granularity.AggregateOnly, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), 180, 100,
            new("同意で100ポイント", "100 points for consenting"), OfferService.StandardWithdrawal)))).Offer;
        var residents = new List<HttpClient>();
        for (var i = 0; i < residentCount; i++)
        {
            residents.Add(await SignedInResidentAsync(factory));
        }

        var give = new List<double>(rounds);
        var withdraw = new List<double>(rounds);
        var body = new { offerId = offer.OfferId, noticeVersion = offer.NoticeVersion, noticeHash = offer.NoticeHash };
        for (var round = 0; round < rounds + 20; round++)
        {
            var http = residents[round % residents.Count];
            var start = Stopwatch.GetTimestamp();
            var given = await http.PostAsJsonAsync("/api/v1/me/consents", body);
            var giveMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            Require(given, HttpStatusCode.Created);
            var id = (await given.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("consent").GetProperty("consentId").GetGuid();

            start = Stopwatch.GetTimestamp();
            var withdrawn = await http.DeleteAsync($"/api/v1/me/consents/{id}");
            var withdrawMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            Require(withdrawn, HttpStatusCode.OK);
            if (round >= 20)
            {
                // The first rounds warm up the JIT, pools and caches.
                give.Add(giveMs);
                withdraw.Add(withdrawMs);
            }
        }
        give.Sort();
        withdraw.Sort();
        foreach (var http in residents)
        {
            http.Dispose();
        }
        SqliteConnection.ClearAllPools();

        var note = $"{rounds:N0} sequential rounds, {residentCount} residents, TestServer + SQLite, audit appended and receipt signed per request";
        return
        [
            new BenchResult("consent give over HTTP, p50", Measure.Percentile(give, 0.5), "ms", HigherIsBetter: false, Note: note),
            new BenchResult("consent give over HTTP, p99", Measure.Percentile(give, 0.99), "ms", HigherIsBetter: false),
            new BenchResult("consent withdraw over HTTP, p50", Measure.Percentile(withdraw, 0.5), "ms", HigherIsBetter: false),
            new BenchResult("consent withdraw over HTTP, p99", Measure.Percentile(withdraw, 0.99), "ms", HigherIsBetter: false),
        ];
    }

    private static string? ServerFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "InfoBank.Server");
            if (File.Exists(Path.Combine(dir.FullName, "InfoBank.sln")) && Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static void Require(HttpResponseMessage response, HttpStatusCode status)
    {
        if (response.StatusCode != status)
        {
            // The problem's type and detail say which refusal it was; a bench never sends personal data.
            var problem = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            throw new InvalidOperationException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}, expected {(int)status}: {problem}");
        }
    }

    /// <summary>Creates a resident and runs the authorization-code + PKCE flow through the sign-in page, as a browser would.</summary>
    private static async Task<HttpClient> SignedInResidentAsync(Server factory)
    {
        var username = $"bench-{Guid.NewGuid():N}"[..24];
        using (var scope = factory.Services.CreateScope())
        {
            var clients = scope.ServiceProvider.GetRequiredService<ClientRegistry>();
            if (!await clients.ExistsAsync(AppClientId))
            {
                await clients.RegisterPeopleAppAsync(AppClientId, "Benchmark", [Redirect]);
            }
            await scope.ServiceProvider.GetRequiredService<AccountService>()
                .CreateAsync(new NewAccount(username, "Bench resident", AccountKind.Resident, null, Password));
        }
        var verifier = Base64Url.Encode(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        using var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var authorize = QueryHelpers.AddQueryString("/connect/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = AppClientId,
            ["redirect_uri"] = Redirect.ToString(),
            ["response_type"] = "code",
            ["scope"] = $"openid {AccountKind.Resident.Scope()}",
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
            ["state"] = "bench",
        });
        var signInUrl = (await browser.GetAsync(authorize)).Headers.Location!.ToString();
        var html = await browser.GetStringAsync(signInUrl);
        var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Username"] = username,
            ["Password"] = Password,
            ["ReturnUrl"] = Hidden(html, "ReturnUrl") ?? "",
            ["__RequestVerificationToken"] = Hidden(html, "__RequestVerificationToken") ?? "",
        });
        var back = await browser.PostAsync(signInUrl, form);
        var callback = (await browser.GetAsync(back.Headers.Location)).Headers.Location!;
        var code = QueryHelpers.ParseQuery(callback.Query)["code"].ToString();
        var token = await browser.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = AppClientId,
            ["redirect_uri"] = Redirect.ToString(),
            ["code"] = code,
            ["code_verifier"] = verifier,
        }));
        Require(token, HttpStatusCode.OK);
        var accessToken = (await token.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString();
        var http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        // Consent is only for residents who agreed to the custody terms, as a new resident does first.
        var terms = await http.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        Require(await http.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        }), HttpStatusCode.Created);
        return http;
    }

    private static string? Hidden(string html, string name)
    {
        foreach (Match input in InputTag().Matches(html))
        {
            if (input.Value.Contains($"name=\"{name}\"", StringComparison.Ordinal))
            {
                var value = ValueAttribute().Match(input.Value);
                return value.Success ? WebUtility.HtmlDecode(value.Groups[1].Value) : "";
            }
        }
        return null;
    }

    [GeneratedRegex("<input[^>]*>")]
    private static partial Regex InputTag();

    [GeneratedRegex("value=\"([^\"]*)\"")]
    private static partial Regex ValueAttribute();

    // Any type of the server assembly names its entry point; the bench has its own Program.
    private sealed class Server(string directory) : WebApplicationFactory<InfoBank.Server.Infrastructure.IApiModule>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            // Production refuses to start with the issuer taken from the Host header; TestServer's is localhost.
            builder.UseSetting("Identity:Issuer", "http://localhost/");
            builder.UseSetting("INFOBANK_DATA", directory);
            builder.UseSetting("Database:Provider", "Sqlite");
            builder.UseSetting("Database:ConnectionString", $"Data Source={Path.Combine(directory, "infobank.db")}");
            builder.UseSetting("Jobs:RunServer", "false");
            builder.UseSetting("Demo:Seed", "false");
            builder.UseSetting("Signing:KeyDirectory", Path.Combine(directory, "keys"));
            builder.UseSetting("Identity:AllowInsecureHttp", "true");
            // Every client here shares one in-process address; the limits have their own tests.
            builder.UseSetting("Identity:RateLimits:SignInsPerMinute", "1000000");
            builder.UseSetting("Identity:RateLimits:TokenRequestsPerMinute", "1000000");
            builder.UseSetting("Logging:LogLevel:Default", "Warning");
            // TestServer cannot apply a request body limit; the warning would drown the table.
            builder.UseSetting("Logging:LogLevel:Microsoft.AspNetCore.Routing.EndpointRoutingMiddleware", "Error");
            builder.ConfigureTestServices(services => services.AddSingleton<IDataProtectionProvider, EphemeralDataProtectionProvider>());
        }

        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // A file still held by a finishing background task; the temp cleaner gets it.
            }
        }
    }
}
