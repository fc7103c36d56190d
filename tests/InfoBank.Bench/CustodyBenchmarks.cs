using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Bench;

/// <summary>
/// The real server in-process (WebApplicationFactory's TestServer: the whole ASP.NET Core pipeline,
/// authentication, routing, JSON, validation, encryption and the database, but no sockets), on a
/// file SQLite database with the server's pragmas — or, given a connection string, on a fresh
/// PostgreSQL database configured exactly as a server node would be — with a real DataProtection key
/// ring in that database and the real audit log.
/// </summary>
// Any public type of the server assembly names its entry point; the bench's own top-level Program
// would hide the server's.
internal sealed class BenchServer : WebApplicationFactory<InfoBank.Server.Infrastructure.IApiModule>
{
    private readonly string _directory;
    private readonly string? _postgres;

    /// <param name="postgres">A PostgreSQL connection string (see <see cref="StartAsync"/>), or null for SQLite.</param>
    public BenchServer(BenchContext context, string name, string? postgres = null)
    {
        _postgres = postgres;
        _directory = Path.Combine(context.WorkDirectory, $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_directory);
        // The bench is not a test project, so WebApplicationFactory has no manifest naming the server's folder.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_INFOBANK_SERVER", ServerFolder());
    }

    /// <summary>A server on <paramref name="database"/>: a new SQLite file, or a new database on the run's PostgreSQL.</summary>
    public static async Task<BenchServer> StartAsync(BenchContext context, string name, string database) =>
        new(context, name, database == BenchDatabase.Postgres ? await context.NewPostgresDatabaseAsync(name) : null);

    private static string ServerFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "InfoBank.Server");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("src/InfoBank.Server not found above the bench's folder.");
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        // Production refuses to start with the issuer taken from the Host header; TestServer's is localhost.
        builder.UseSetting("Identity:Issuer", "http://localhost/");
        builder.UseSetting("Database:Provider", _postgres is null ? "Sqlite" : "Postgres");
        builder.UseSetting("Database:ConnectionString", _postgres ?? $"Data Source={Path.Combine(_directory, "infobank.db")}");
        builder.UseSetting("Jobs:RunServer", "false");
        builder.UseSetting("Demo:Seed", "false");
        builder.UseSetting("Identity:AllowInsecureHttp", "true");
        builder.UseSetting("Signing:KeyDirectory", Path.Combine(_directory, "keys"));
        builder.UseSetting("Custody:MasterKeyFile", Path.Combine(_directory, "keys", "keyring-master.key"));
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        // TestServer has no request-body-size feature, so routing warns on every deposit that the
        // endpoint's limit could not be applied (Kestrel applies it in production); not a finding.
        builder.UseSetting("Logging:LogLevel:Microsoft.AspNetCore.Routing.EndpointRoutingMiddleware", "Error");
    }

    /// <summary>Enrols <paramref name="count"/> residents and links them to a new data source; returns the source's token and the references.</summary>
    public async Task<(string Token, string ClientId, List<(Guid Resident, string Ref)> Residents)> SourceWithResidentsAsync(int count, string category)
    {
        using var scope = Services.CreateScope();
        var client = await scope.ServiceProvider.GetRequiredService<ClientRegistry>().RegisterMachineClientAsync(ClientKind.DataSource, "Bench source");
        var store = scope.ServiceProvider.GetRequiredService<CustodyStore>();
        var db = scope.ServiceProvider.GetRequiredService<DbConnectionFactory>();
        var keys = scope.ServiceProvider.GetRequiredService<ResidentKeyRing>();
        var residents = new List<(Guid, string)>();
        for (var i = 0; i < count; i++)
        {
            var id = Guid.NewGuid();
            await store.EnrolAsync(db, keys, id, CustodyTerms.Current.Version, CustodyTerms.Current.Hash, default);
            var (link, _) = await store.UpsertLinkAsync(db, id, client.ClientId, [category], default);
            residents.Add((id, link.ResidentRef));
        }

        using var http = CreateClient();
        var response = await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = client.ClientId,
            ["client_secret"] = client.ClientSecret,
        }));
        response.EnsureSuccessStatusCode();
        var token = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
        return (token, client.ClientId, residents);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_postgres is not null)
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// Deposits over HTTP with a real client-credentials token: batches of 1,000 records with ~200-byte
/// payloads (search.query) for 100 linked residents, each batch validated against the inventory,
/// sealed with AES-256-GCM per record and committed in one transaction before the response.
/// </summary>
public sealed class DepositBenchmark : IBenchmark
{
    public string Name => "deposit";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var results = new List<BenchResult>();
        foreach (var database in context.Databases)
        {
            results.Add(await RunOnAsync(context, database));
        }
        return results;
    }

    private static async Task<BenchResult> RunOnAsync(BenchContext context, string database)
    {
        var records = context.Quick ? 20_000 : 100_000;
        const int batchSize = 1_000;
        using var server = await BenchServer.StartAsync(context, "deposit", database);
        var (token, _, residents) = await server.SourceWithResidentsAsync(100, "search.query");
        using var http = server.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var now = DateTimeOffset.UtcNow;
        var query = new string('q', 150);
        byte[] Batch(int start) => JsonSerializer.SerializeToUtf8Bytes(new
        {
            records = Enumerable.Range(start, batchSize).Select(i => new
            {
                resident = residents[i % residents.Count].Ref,
                category = "search.query",
                observedAt = now.AddMinutes(-i % 100_000),
                payload = new { query = $"{i:D8} {query}", portal = "sapporo-city-portal" },
                sourceRecordId = $"q-{i}",
            }),
        });

        // Warm-up (JIT, key cache, prepared statements), then the measured run with bodies built beforehand.
        await Post(http, Batch(10_000_000));
        var bodies = Enumerable.Range(0, records / batchSize).Select(b => Batch(b * batchSize)).ToList();
        var payloadBytes = JsonSerializer.SerializeToUtf8Bytes(new { query = $"{0:D8} {query}", portal = "sapporo-city-portal" }).Length;
        var watch = Stopwatch.StartNew();
        foreach (var body in bodies)
        {
            await Post(http, body);
        }
        watch.Stop();
        return new BenchResult(
            $"deposit over HTTP (TestServer, real token), {payloadBytes} B payloads, batches of {batchSize:N0}",
            Measure.PerSecond(records, watch), "records/s",
            Note: $"{records:N0} records, {residents.Count} residents, {watch.Elapsed.TotalMilliseconds / bodies.Count:N0} ms per batch",
            Database: database);
    }

    private static async Task Post(HttpClient http, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await http.PostAsync("/api/v1/records", content);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"deposit failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}

/// <summary>
/// Erasure (crypto-shredding: the resident's key rows, links and status in one transaction, plus
/// the audit entry) for a resident with 10 records and one with 100,000, through the service the
/// DELETE /api/v1/me endpoint calls. The sweep of the unreadable rows runs later and is not part of it.
/// </summary>
public sealed class ErasureBenchmark : IBenchmark
{
    public string Name => "erasure";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var large = context.Quick ? 20_000 : 100_000;
        using var server = new BenchServer(context, "erasure");
        var (_, clientId, residents) = await server.SourceWithResidentsAsync(6, "search.query");
        using var scope = server.Services.CreateScope();
        var vault = scope.ServiceProvider.GetRequiredService<RecordVault>();
        var db = scope.ServiceProvider.GetRequiredService<DbConnectionFactory>();
        var custody = scope.ServiceProvider.GetRequiredService<ResidentCustodyService>();

        async Task Fill(Guid resident, int count)
        {
            for (var done = 0; done < count; done += 5_000)
            {
                var batch = Enumerable.Range(done, Math.Min(5_000, count - done))
                    .Select(i => new NewRecord(resident, "search.query", DateTimeOffset.UtcNow.AddMinutes(-i), $"{resident:N}-{i}", Encoding.UTF8.GetBytes($"{{\"query\":\"{new string('q', 180)}\"}}")))
                    .ToList();
                await vault.InsertAsync(db, clientId, batch, default);
            }
        }

        async Task<double> EraseMs(Guid resident)
        {
            var watch = Stopwatch.StartNew();
            var erasure = await custody.EraseAsync(resident, default) ?? throw new InvalidOperationException("not erased");
            watch.Stop();
            return watch.Elapsed.TotalMilliseconds;
        }

        // Three residents of each size; the median of each.
        var small = new List<double>();
        var big = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            await Fill(residents[i].Resident, 10);
            small.Add(await EraseMs(residents[i].Resident));
        }
        for (var i = 3; i < 6; i++)
        {
            await Fill(residents[i].Resident, large);
            big.Add(await EraseMs(residents[i].Resident));
        }
        small.Sort();
        big.Sort();
        return
        [
            new BenchResult("erasure, resident with 10 records", small[1], "ms", HigherIsBetter: false, Note: "median of 3"),
            new BenchResult($"erasure, resident with {large:N0} records", big[1], "ms", HigherIsBetter: false, Note: $"median of 3; {big[1] / small[1]:0.00}× the 10-record time"),
        ];
    }
}
