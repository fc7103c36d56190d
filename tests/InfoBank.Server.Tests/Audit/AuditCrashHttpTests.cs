using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.TestSupport;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace InfoBank.Server.Tests.Audit;

/// <summary>
/// Audit before effect, under SIGKILL, over HTTP. The real server runs as a Kestrel child process on
/// one SQLite file; real callers with real tokens (residents giving and withdrawing consent to a
/// record-level offer, two data sources depositing, the business reading pages under the grant) hammer
/// it concurrently, and it is killed in the middle of the burst, three times, restarting on the same
/// database in between. Afterwards an auditor exports the log over HTTP and it must verify against the
/// log's pinned key with no finding, and every acknowledged change, every consent event and every
/// stored record must be accounted for by exactly one audit entry, in causal order.
/// </summary>
/// <remarks>
/// Set-up is the demo seed (<c>Demo__Seed=true</c> on the first start): it brings the committee, the
/// auditor, the data sources, the research institute with its record-level application in review and
/// the public app <c>infobank-portal</c>, and writes their credentials to <c>Demo__NotesFile</c>. The
/// committee approves the application over HTTP, which publishes the offer. Four more residents are
/// made with <c>infobank admin add-user</c> before the first start; they enrol and link both sources
/// over HTTP. Everything else is the public API.
/// </remarks>
public sealed partial class AuditCrashHttpTests(ITestOutputHelper output) : IDisposable
{
    private const int Rounds = 3;
    private const int NewResidents = 4;
    private const int ConsentLoopsPerResident = 2;
    private const int DepositLoopsPerSource = 2;
    private const int BurstBatch = 10;
    private const int PageSize = 5;
    private static readonly TimeSpan PagePause = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MinBurst = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxBurst = TimeSpan.FromSeconds(25);

    private const string Portal = IdentityDemoSeed.PortalClientId;
    private const string StepsSource = "source-kenko-steps";
    private const string ScaleSource = "source-body-scale";
    private const string Business = "business-health-research";

    // The portal's registered redirect; the code is read from the redirect, which is never followed.
    private static readonly Uri PortalRedirect = new("http://127.0.0.1:5080/signin/callback");

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "infobank-crash-http", Guid.NewGuid().ToString("N"));
    private readonly int _port = FreePort();

    // What callers were told: only 2xx answers, each with the ids it carried.
    private readonly ConcurrentQueue<(int Round, Guid ConsentId)> _given = new();
    private readonly ConcurrentQueue<(int Round, Guid ConsentId)> _withdrawn = new();
    private readonly ConcurrentQueue<AckedDeposit> _deposits = new();
    private readonly ConcurrentQueue<AckedPage> _pages = new();
    private readonly ConcurrentQueue<string> _unexpected = new();

    // Batches sent but not answered when the server died: their data sources send them again.
    private readonly ConcurrentDictionary<string, DepositBatch> _unanswered = new();
    private readonly List<RoundFigures> _figures = [];
    private volatile bool _killing;
    private int _inFlight;
    private int _round;
    private string? _next;
    private volatile bool _fetchDone;

    /// <param name="Steady">Keeps the consent given at set-up through the drill, so one fetch has residents to read from start to end.</param>
    private sealed record Resident(string Username, string Token, Dictionary<string, string> Refs, bool Steady);

    private sealed record Setting(Guid GrantId, JsonElement Offer, string AuditorToken, string BusinessToken,
        Dictionary<string, string> SourceTokens, IReadOnlyList<Resident> Residents);

    private sealed record DepositRecord(string Resident, string Category, DateTimeOffset ObservedAt, object Payload, string SourceRecordId);

    private sealed record DepositBatch(string Source, IReadOnlyList<DepositRecord> Records);

    private sealed record AckedDeposit(int Round, string Source, bool Retry, IReadOnlyList<(string SourceRecordId, string Status, Guid? RecordId)> Results);

    private sealed record AckedPage(int Round, Guid FetchId, int ServedInFetch, int Records);

    private sealed class RoundFigures(int round)
    {
        public int Round { get; } = round;
        public int Gives;
        public int Withdrawals;
        public int Deposits;
        public int Pages;
        public int InFlightAtKill;
        public TimeSpan KilledAfter;
        public long AuditSizeAtStart;
    }

    private string DatabasePath => Path.Combine(_directory, "infobank.db");

    private string KeyDirectory => Path.Combine(_directory, "keys");

    private string NotesFile => Path.Combine(_directory, "demo-credentials.txt");

    private Uri ServerUri => new($"http://127.0.0.1:{_port}/");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Killing_the_server_mid_burst_leaves_every_acknowledged_change_audited_once_and_in_order()
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(_directory);

        // Four residents of our own, made by the operator's CLI before the server first starts, on
        // the database `infobank migrate` creates (the CLI works only on an existing bank).
        await RunCliAsync("migrate");
        Task<string> AddResidentAsync(int n) => RunCliAsync("admin", "add-user", "--role", "resident", "--username", $"crash.resident{n}");
        var created = (await Task.WhenAll(Enumerable.Range(1, NewResidents).Select(AddResidentAsync))).ToList();
        var newPasswords = created.Select((text, n) => ($"crash.resident{n + 1}", CliValue(text, "password"))).ToList();
        output.WriteLine($"set-up CLI done at {clock.Elapsed.TotalSeconds:0.0} s");

        Setting? setting = null;
        for (var round = 1; round <= Rounds; round++)
        {
            _round = round;
            using var server = StartServer(seed: round == 1);
            await WaitReadyAsync(server);
            var figures = new RoundFigures(round) { AuditSizeAtStart = await AuditSizeAsync() };
            _figures.Add(figures);
            setting ??= await SetUpAsync(newPasswords);
            output.WriteLine($"round {round}: server up at {clock.Elapsed.TotalSeconds:0.0} s (log size {figures.AuditSizeAtStart})");
            await BurstAndKillAsync(server, setting, figures);
            output.WriteLine($"round {round}: killed at {clock.Elapsed.TotalSeconds:0.0} s after {figures.KilledAfter.TotalSeconds:0.0} s of burst, "
                + $"{figures.InFlightAtKill} request(s) in flight; acknowledged {figures.Gives} give(s), {figures.Withdrawals} withdrawal(s), "
                + $"{figures.Deposits} deposit(s), {figures.Pages} page(s)");
        }

        // The last restart: an auditor exports the whole log once a checkpoint covers it.
        string bundlePath;
        string vkey;
        using (var server = StartServer(seed: false))
        {
            await WaitReadyAsync(server);
            _round = Rounds + 1;
            await RetryUnansweredDepositsAsync(setting!);
            (bundlePath, vkey) = await ExportAsync(server, setting!.AuditorToken);
            server.Kill();
            await server.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        var report = await VerifyAsync(bundlePath, vkey);
        var entries = ReadEntries(bundlePath);
        output.WriteLine($"verified {report.Entries} entries, {report.CheckpointsVerified} checkpoints; kinds: "
            + string.Join(", ", report.CountsByKind.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}")));

        // Every check runs and every problem is reported together: which invariant broke says why.
        var problems = new List<string>(_unexpected);
        if (report.Failure is not null)
        {
            problems.Add($"the exported log does not verify: {report.Failure}");
        }
        problems.AddRange(report.Findings.Select(f => $"verifier finding: {f}"));
        if (entries.Count != report.Entries || await AuditSizeAsync() != entries.Count)
        {
            problems.Add($"the bundle holds {entries.Count} entries, the verifier read {report.Entries}, the database holds {await AuditSizeAsync()}");
        }
        problems.AddRange(CheckAcknowledgedConsents(entries));
        problems.AddRange(await CheckConsentEventsAsync(entries));
        problems.AddRange(await CheckDepositsAsync(entries));
        problems.AddRange(await CheckAccessesAsync(entries));
        // Each round really was killed mid-burst, with every kind of change acknowledged in it.
        foreach (var f in _figures)
        {
            if (f.InFlightAtKill == 0)
            {
                problems.Add($"round {f.Round} was killed at a quiet moment");
            }
            if (f.Gives == 0 || f.Withdrawals == 0 || f.Deposits == 0 || f.Pages == 0)
            {
                problems.Add($"round {f.Round} acknowledged {f.Gives} gives, {f.Withdrawals} withdrawals, {f.Deposits} deposits, {f.Pages} pages: not every kind of change was under way");
            }
        }
        output.WriteLine($"total {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(problems.Count == 0, $"{problems.Count} problem(s):\n" + string.Join('\n', problems.Take(40)));
    }

    // ---- set-up ------------------------------------------------------------------------------

    private async Task<Setting> SetUpAsync(IReadOnlyList<(string Username, string Password)> newResidents)
    {
        var notes = await File.ReadAllTextAsync(NotesFile);
        var passwords = PasswordLine().Matches(notes).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
        var secrets = SecretLine().Matches(notes).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
        var tokens = new ServerTokens(ServerUri);
        Task<string> SignInAsync(string username, string password, AccountKind kind) =>
            tokens.SignInAsync(Portal, PortalRedirect, username, password, kind.Scope());

        // The committee approves the research institute's record-level application: that publishes the offer.
        var auditorToken = await SignInAsync("yamamoto.audit", passwords["yamamoto.audit"], AccountKind.Auditor);
        var committee = new List<HttpClient>();
        foreach (var member in new[] { "tanaka.security", "watanabe.law", "ito.ethics" })
        {
            committee.Add(Client(await SignInAsync(member, passwords[member], AccountKind.Committee)));
        }
        var inReview = await JsonOf(await committee[0].GetAsync("/api/v1/committee/applications?status=in_review&limit=200"), HttpStatusCode.OK);
        var applicationId = inReview.GetProperty("items").EnumerateArray().Single(a => a.GetProperty("ownerClientId").GetString() == Business).GetProperty("id").GetGuid();
        foreach (var member in committee)
        {
            await JsonOf(await member.PostAsJsonAsync($"/api/v1/committee/applications/{applicationId}/votes",
                new { vote = "approve", reason = "Pseudonymised, necessary fields only.", conditions = Array.Empty<string>() }), HttpStatusCode.OK);
        }
        var decided = await JsonOf(await committee[^1].PostAsJsonAsync($"/api/v1/committee/applications/{applicationId}/decision",
            new { note = "Approved for the crash drill." }), HttpStatusCode.OK);
        var grantId = decided.GetProperty("grant").GetProperty("id").GetGuid();
        committee.ForEach(c => c.Dispose());
        using var anonymous = Client(null);
        var offers = await JsonOf(await anonymous.GetAsync("/api/v1/offers?limit=200"), HttpStatusCode.OK);
        var offer = offers.GetProperty("items").EnumerateArray().Single(o => o.GetProperty("grantId").GetGuid() == grantId).Clone();

        var sourceTokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in new[] { StepsSource, ScaleSource })
        {
            sourceTokens[source] = await tokens.ClientCredentialsAsync(source, secrets[source]);
        }
        var businessToken = await tokens.ClientCredentialsAsync(Business, secrets[Business]);

        // Residents: the demo's three (enrolled by the seed), who consent once and keep it, and ours, who
        // enrol and link both sources here and then give and withdraw as fast as they can. A fetch moves
        // past a resident it finds withdrawn, so without steady ones it would soon run out of residents.
        var terms = await JsonOf(await anonymous.GetAsync("/api/v1/custody/terms"), HttpStatusCode.OK);
        var people = IdentityDemoSeed.People.Where(p => p.Kind == AccountKind.Resident).Select(p => (p.Username, passwords[p.Username])).Concat(newResidents);
        var residents = await Task.WhenAll(people.Select(async person =>
        {
            var (username, password) = person;
            var steady = !username.StartsWith("crash.", StringComparison.Ordinal);
            var token = await SignInAsync(username, password, AccountKind.Resident);
            using var http = Client(token);
            // The demo's residents are enrolled and linked already: the same requests answer 200 for them.
            var expected = steady ? HttpStatusCode.OK : HttpStatusCode.Created;
            await JsonOf(await http.PostAsJsonAsync("/api/v1/me/enrollment", new
            {
                termsVersion = terms.GetProperty("version").GetString(),
                termsHash = terms.GetProperty("hash").GetString(),
                agree = true,
            }), expected);
            var refs = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (source, category) in new[] { (StepsSource, "steps.daily"), (ScaleSource, "body.composition") })
            {
                var link = await http.PutAsJsonAsync($"/api/v1/me/sources/{source}", new { categories = new[] { category } });
                refs[source] = (await JsonOf(link, expected)).GetProperty("residentRef").GetString()!;
            }
            return new Resident(username, token, refs, steady);
        }));

        // Enough records of the steady residents after the approval (the grant's data window opens there)
        // that one fetch of small pages lasts the whole drill; the others get theirs during the bursts.
        var setting = new Setting(grantId, offer, auditorToken, businessToken, sourceTokens, residents);
        await Task.WhenAll(new[] { (StepsSource, 100), (ScaleSource, 20) }.Select(async deposit =>
        {
            var (source, perResident) = deposit;
            using var http = Client(sourceTokens[source]);
            foreach (var resident in residents.Where(r => r.Steady))
            {
                var batch = NewBatch(source, $"seed.{resident.Username}", perResident, [resident]);
                Assert.True(await DepositAsync(http, batch, retry: false), $"the set-up deposit of {source} failed: {string.Join('\n', _unexpected)}");
            }
        }));

        // Everyone consents once before the burst, so the business's first page finds residents to read
        // (a fetch that finds nobody is over at once, and the grant allows one a month).
        foreach (var resident in residents)
        {
            using var http = Client(resident.Token);
            var given = await JsonOf(await http.PostAsJsonAsync("/api/v1/me/consents", ConsentRequest(offer)), HttpStatusCode.Created);
            _given.Enqueue((_round, given.GetProperty("consent").GetProperty("consentId").GetGuid()));
        }
        return setting;
    }

    // ---- the burst ---------------------------------------------------------------------------

    private async Task BurstAndKillAsync(ChildProcess server, Setting setting, RoundFigures figures)
    {
        using var stop = new CancellationTokenSource();
        var clients = new List<HttpClient>();
        HttpClient NewClient(string token)
        {
            var client = Client(token);
            clients.Add(client);
            return client;
        }
        var workers = new List<Task>();
        foreach (var resident in setting.Residents.Where(r => !r.Steady))
        {
            var http = NewClient(resident.Token);
            for (var loop = 0; loop < ConsentLoopsPerResident; loop++)
            {
                workers.Add(Worker(() => ConsentLoopAsync(http, setting, figures, stop.Token)));
            }
        }
        foreach (var source in new[] { StepsSource, ScaleSource })
        {
            var http = NewClient(setting.SourceTokens[source]);
            for (var loop = 0; loop < DepositLoopsPerSource; loop++)
            {
                var name = $"{source}#{loop}";
                workers.Add(Worker(() => DepositLoopAsync(http, setting, source, name, figures, stop.Token)));
            }
        }
        var business = NewClient(setting.BusinessToken);
        workers.Add(Worker(() => ReadLoopAsync(business, setting, figures, stop.Token)));

        // Kill once every kind of change has been acknowledged in this round and the burst has run a
        // while, at a moment that varies, with requests in flight.
        var burst = Stopwatch.StartNew();
        while (burst.Elapsed < MaxBurst
            && (burst.Elapsed < MinBurst || figures.Gives == 0 || figures.Withdrawals == 0 || figures.Deposits == 0 || (figures.Pages == 0 && !_fetchDone)))
        {
            Assert.False(server.HasExited, $"the server exited during the burst: {server.RecentOutput}");
            await Task.Delay(50);
        }
        await Task.Delay(Random.Shared.Next(0, 1_000));
        _killing = true;
        figures.InFlightAtKill = Volatile.Read(ref _inFlight);
        figures.KilledAfter = burst.Elapsed;
        server.Kill();
        await server.WaitForExitAsync(TimeSpan.FromSeconds(10));
        stop.Cancel();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        clients.ForEach(c => c.Dispose());
        _killing = false;
    }

    private Task Worker(Func<Task> loop) => Task.Run(async () =>
    {
        try
        {
            await loop();
        }
        catch (Exception ex)
        {
            _unexpected.Enqueue($"a caller failed: {ex}");
        }
    });

    /// <summary>Gives consent when it holds none, withdraws the one it holds; two loops per resident race each other.</summary>
    private async Task ConsentLoopAsync(HttpClient http, Setting setting, RoundFigures figures, CancellationToken stop)
    {
        var offerId = setting.Offer.GetProperty("offerId").GetGuid();
        var active = await ActiveConsentAsync(http, offerId);
        while (!stop.IsCancellationRequested)
        {
            if (active is null)
            {
                var (status, body) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Post, "/api/v1/me/consents")
                {
                    Content = JsonContent.Create(ConsentRequest(setting.Offer)),
                });
                switch (status)
                {
                    case HttpStatusCode.Created:
                        active = body.GetProperty("consent").GetProperty("consentId").GetGuid();
                        _given.Enqueue((_round, active.Value));
                        Interlocked.Increment(ref figures.Gives);
                        break;
                    case HttpStatusCode.Conflict:
                        // The other loop of this resident got there first.
                        active = await ActiveConsentAsync(http, offerId);
                        break;
                    case null:
                        return;
                    default:
                        Unexpected("POST /api/v1/me/consents", status.Value, body);
                        return;
                }
            }
            else
            {
                var consentId = active.Value;
                var (status, body) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/me/consents/{consentId}"));
                switch (status)
                {
                    case HttpStatusCode.OK:
                        Assert.Equal(consentId, body.GetProperty("consent").GetProperty("consentId").GetGuid());
                        _withdrawn.Enqueue((_round, consentId));
                        Interlocked.Increment(ref figures.Withdrawals);
                        active = null;
                        break;
                    case HttpStatusCode.Conflict:
                        // Already withdrawn by the other loop.
                        active = await ActiveConsentAsync(http, offerId);
                        break;
                    case null:
                        return;
                    default:
                        Unexpected($"DELETE /api/v1/me/consents/{consentId}", status.Value, body);
                        return;
                }
            }
        }
    }

    /// <summary>Consent at the offer's current notice, naming its special-care items (body composition is one).</summary>
    private static object ConsentRequest(JsonElement offer) => new
    {
        offerId = offer.GetProperty("offerId").GetGuid(),
        noticeVersion = offer.GetProperty("noticeVersion").GetInt32(),
        noticeHash = offer.GetProperty("noticeHash").GetString(),
        specialCareItems = offer.GetProperty("specialCareItems"),
    };

    private async Task<Guid?> ActiveConsentAsync(HttpClient http, Guid offerId)
    {
        // Newest first: a consent still given is the newest of its offer, on the first page.
        var (status, body) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/api/v1/me/consents?limit=200"));
        if (status != HttpStatusCode.OK)
        {
            if (status is { } s)
            {
                Unexpected("GET /api/v1/me/consents", s, body);
            }
            return null;
        }
        return body.GetProperty("items").EnumerateArray()
            .Where(c => c.GetProperty("offerId").GetGuid() == offerId && c.GetProperty("state").GetString() == nameof(ConsentState.ConsentGiven))
            .Select(c => (Guid?)c.GetProperty("consentId").GetGuid())
            .FirstOrDefault();
    }

    private async Task DepositLoopAsync(HttpClient http, Setting setting, string source, string name, RoundFigures figures, CancellationToken stop)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            // A batch the source got no answer for before the outage goes first, again (deposits are
            // idempotent per source record id): what a data source does after a restart.
            var retry = _unanswered.TryGetValue(name, out var unanswered);
            var batch = unanswered ?? NewBatch(source, $"{name}.{_round}.{n}", BurstBatch, setting.Residents);
            _unanswered[name] = batch;
            if (!await DepositAsync(http, batch, retry))
            {
                return;
            }
            _unanswered.TryRemove(name, out _);
            Interlocked.Increment(ref figures.Deposits);
        }
    }

    /// <summary>Before the final export: every batch still unanswered is sent again, so every batch ends acknowledged.</summary>
    private async Task RetryUnansweredDepositsAsync(Setting setting)
    {
        foreach (var (name, batch) in _unanswered.ToList())
        {
            using var http = Client(setting.SourceTokens[batch.Source]);
            Assert.True(await DepositAsync(http, batch, retry: true), $"retrying {name} failed: {string.Join('\n', _unexpected)}");
            _unanswered.TryRemove(name, out _);
        }
    }

    private async Task<bool> DepositAsync(HttpClient http, DepositBatch batch, bool retry)
    {
        var (status, body) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Post, "/api/v1/records")
        {
            Content = JsonContent.Create(new { records = batch.Records }, options: Web),
        });
        if (status != HttpStatusCode.OK)
        {
            if (status is { } s)
            {
                Unexpected("POST /api/v1/records", s, body);
            }
            return false;
        }
        var results = body.GetProperty("results").EnumerateArray().Select(r => (
            r.GetProperty("sourceRecordId").GetString()!,
            r.GetProperty("status").GetString()!,
            r.GetProperty("recordId").ValueKind == JsonValueKind.Null ? (Guid?)null : r.GetProperty("recordId").GetGuid())).ToList();
        _deposits.Enqueue(new AckedDeposit(_round, batch.Source, retry, results));
        return true;
    }

    private static DepositBatch NewBatch(string source, string prefix, int count, IReadOnlyList<Resident> residents)
    {
        var now = DateTimeOffset.UtcNow;
        var records = Enumerable.Range(0, count).Select(i =>
        {
            var resident = residents[Random.Shared.Next(residents.Count)];
            object payload = source == StepsSource
                ? new { steps = 4_000 + Random.Shared.Next(8_000), activeMinutes = Random.Shared.Next(90) }
                : new { weightKg = 60.5, heightCm = 165.0, bmi = 22.2, bodyFatPercent = 24.5, muscleRatePercent = 31.0 };
            return new DepositRecord(resident.Refs[source], source == StepsSource ? "steps.daily" : "body.composition",
                now.AddMilliseconds(-i), payload, $"{prefix}.{i}");
        }).ToList();
        return new DepositBatch(source, records);
    }

    /// <summary>One fetch of small pages, followed by its cursor across restarts (the cursor key is a file, not memory).</summary>
    private async Task ReadLoopAsync(HttpClient http, Setting setting, RoundFigures figures, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested && !_fetchDone)
        {
            var url = _next ?? $"/api/v1/grants/{setting.GrantId}/records?limit={PageSize}";
            var (status, body) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, url));
            if (status != HttpStatusCode.OK)
            {
                if (status is { } s)
                {
                    Unexpected($"GET /api/v1/grants/{setting.GrantId}/records", s, body);
                }
                return;
            }
            _pages.Enqueue(new AckedPage(_round, body.GetProperty("fetchId").GetGuid(), body.GetProperty("servedInFetch").GetInt32(),
                body.GetProperty("items").GetArrayLength()));
            Interlocked.Increment(ref figures.Pages);
            _next = body.GetProperty("next").ValueKind == JsonValueKind.String ? body.GetProperty("next").GetString() : null;
            // The grant allows one fetch a month: once this one is through, the business is done.
            _fetchDone = _next is null;
            await Task.Delay(PagePause, CancellationToken.None);
        }
    }

    /// <summary>Sends one request; null status when the connection died (only expected once the kill is under way).</summary>
    private async Task<(HttpStatusCode? Status, JsonElement Body)> SendAsync(HttpClient http, HttpRequestMessage request)
    {
        using var message = request;
        Interlocked.Increment(ref _inFlight);
        try
        {
            using var response = await http.SendAsync(message);
            var text = await response.Content.ReadAsStringAsync();
            var body = text.Length > 0 && response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true
                ? JsonSerializer.Deserialize<JsonElement>(text)
                : JsonSerializer.SerializeToElement(text);
            return (response.StatusCode, body);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            if (!_killing)
            {
                _unexpected.Enqueue($"{message.Method} {message.RequestUri}: {ex.GetType().Name} ({ex.Message}) while the server was up");
            }
            return (null, default);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private void Unexpected(string request, HttpStatusCode status, JsonElement body)
    {
        var text = body.ValueKind == JsonValueKind.Undefined ? "" : body.GetRawText();
        _unexpected.Enqueue($"{request}: {(int)status} {text[..Math.Min(text.Length, 400)]}");
    }

    // ---- export and checks -------------------------------------------------------------------

    private async Task<(string BundlePath, string VerifierKey)> ExportAsync(ChildProcess server, string auditorToken)
    {
        using var auditor = Client(auditorToken);
        var size = await AuditSizeAsync();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var latest = await auditor.GetAsync("/api/v1/audit/checkpoints/latest");
            if (latest.StatusCode == HttpStatusCode.OK && (await latest.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("treeSize").GetInt64() >= size)
            {
                break;
            }
            Assert.False(server.HasExited, $"the server exited: {server.RecentOutput}");
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"no checkpoint covered the log's {size} entries");
            await Task.Delay(200);
        }
        using var anonymous = Client(null);
        var keys = await JsonOf(await anonymous.GetAsync("/api/v1/audit/keys"), HttpStatusCode.OK);
        var vkey = keys.GetProperty("keys")[0].GetProperty("verifierKey").GetString()!;
        var path = Path.Combine(_directory, "audit.ndjson");
        using var export = await auditor.GetAsync($"/api/v1/audit/export?upto={size}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        await using (var file = File.Create(path))
        {
            await export.Content.CopyToAsync(file);
        }
        return (path, vkey);
    }

    private static async Task<AuditVerificationReport> VerifyAsync(string bundlePath, string vkey)
    {
        var key = NoteVerifier.TryParse(vkey, out var error);
        Assert.True(key is not null, $"the published key does not parse: {error}");
        await using var stream = File.OpenRead(bundlePath);
        return AuditVerifier.Verify(stream, new AuditVerifierOptions { PinnedKeys = [key] });
    }

    private sealed record Entry(long Sequence, string Kind, string Actor, JsonElement Payload);

    private static List<Entry> ReadEntries(string bundlePath)
    {
        var entries = new List<Entry>();
        foreach (var line in File.ReadLines(bundlePath))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.GetProperty("type").GetString() != "entry")
            {
                continue;
            }
            var payload = root.TryGetProperty("payload", out var text) ? JsonSerializer.Deserialize<JsonElement>(text.GetString()!) : default;
            entries.Add(new Entry(root.GetProperty("seq").GetInt64(), root.GetProperty("kind").GetString()!, root.GetProperty("actor").GetString()!, payload));
        }
        return entries;
    }

    private static Guid? GuidOf(JsonElement payload, string name) =>
        payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.TryGetGuid(out var id) ? id : null;

    /// <summary>Every acknowledged give and withdrawal has exactly one entry of its kind naming its consent.</summary>
    private IEnumerable<string> CheckAcknowledgedConsents(List<Entry> entries)
    {
        var byKind = entries.Where(e => e.Kind.StartsWith("consent.", StringComparison.Ordinal))
            .GroupBy(e => (e.Kind, Consent: GuidOf(e.Payload, "consentId")))
            .ToDictionary(g => g.Key, g => g.Count());
        foreach (var (round, consentId) in _given)
        {
            if (byKind.GetValueOrDefault((AuditKinds.ConsentGiven, consentId)) is var n and not 1)
            {
                yield return $"acknowledged give of consent {consentId} (round {round}) has {n} consent.given entries";
            }
        }
        foreach (var (round, consentId) in _withdrawn)
        {
            if (byKind.GetValueOrDefault((AuditKinds.ConsentWithdrawn, consentId)) is var n and not 1)
            {
                yield return $"acknowledged withdrawal of consent {consentId} (round {round}) has {n} consent.withdrawn entries";
            }
        }
    }

    /// <summary>
    /// consent_events ↔ consent_event_audit ↔ audit_log: every event has exactly one entry of its kind
    /// naming it (consent id and ledger sequence), linked from the event; no consent entry names an
    /// event the ledger does not hold.
    /// </summary>
    private async Task<IEnumerable<string>> CheckConsentEventsAsync(List<Entry> entries)
    {
        await using var db = Open();
        var events = (await db.QueryAsync<(long Sequence, string ConsentId, string EventType, long? AuditSequence)>(
            """
            SELECT e.sequence, e.consent_id, e.event_type, a.audit_sequence
            FROM consent_events e LEFT JOIN consent_event_audit a ON a.event_sequence = e.sequence
            ORDER BY e.sequence
            """)).ToList();
        var consentEntries = entries.Where(e => e.Kind.StartsWith("consent.", StringComparison.Ordinal)).ToList();
        var named = consentEntries.ToLookup(e => (GuidOf(e.Payload, "consentId"), EventSequenceOf(e)));
        var problems = new List<string>();
        foreach (var e in events)
        {
            var kind = ConsentAuditor.KindOf(Enum.Parse<ConsentState>(e.EventType));
            var own = named[(Guid.Parse(e.ConsentId), e.Sequence)].ToList();
            var what = $"consent event {e.Sequence} ({kind} of {e.ConsentId})";
            if (own.Count == 0)
            {
                problems.Add($"{what} has no audit entry: it took effect unaudited");
            }
            else if (own.Count > 1)
            {
                problems.Add($"{what} is audited {own.Count} times (entries {string.Join(", ", own.Select(o => o.Sequence))})");
            }
            else if (own[0].Kind != kind)
            {
                problems.Add($"{what} is audited as {own[0].Kind} (entry {own[0].Sequence})");
            }
            else if (e.AuditSequence != own[0].Sequence)
            {
                problems.Add($"{what} is audited at entry {own[0].Sequence} but consent_event_audit links {e.AuditSequence?.ToString(CultureInfo.InvariantCulture) ?? "nothing"}");
            }
        }
        var ledger = events.Select(e => (Guid.Parse(e.ConsentId), e.Sequence)).ToHashSet();
        foreach (var stray in consentEntries.Where(c => !ledger.Contains((GuidOf(c.Payload, "consentId") ?? Guid.Empty, EventSequenceOf(c) ?? -1))))
        {
            problems.Add($"audit entry {stray.Sequence} ({stray.Kind} of {GuidOf(stray.Payload, "consentId")}) records a consent event the ledger does not hold");
        }
        output.WriteLine($"consent events {events.Count}, consent entries {consentEntries.Count}; acknowledged gives {_given.Count}, withdrawals {_withdrawn.Count}");
        return problems;
    }

    private static long? EventSequenceOf(Entry entry) =>
        entry.Payload.ValueKind == JsonValueKind.Object && entry.Payload.TryGetProperty("eventSequence", out var value) && value.TryGetInt64(out var sequence) ? sequence : null;

    /// <summary>Every stored record is counted by a deposit.batch entry of its source; every acknowledged record is stored.</summary>
    private async Task<IEnumerable<string>> CheckDepositsAsync(List<Entry> entries)
    {
        await using var db = Open();
        var stored = (await db.QueryAsync<(string Id, string Source, string SourceRecordId)>(
            "SELECT id, source_client_id, source_record_id FROM custody_records")).ToList();
        var problems = new List<string>();
        foreach (var source in stored.Select(r => r.Source).Concat([StepsSource, ScaleSource]).Distinct(StringComparer.Ordinal))
        {
            var audited = entries.Where(e => e.Kind == AuditKinds.DepositBatch && e.Actor == $"client:{source}").Sum(e => e.Payload.GetProperty("stored").GetInt32());
            var count = stored.Count(r => r.Source == source);
            if (audited != count)
            {
                problems.Add($"{source}: {count} records stored but deposit.batch entries account for {audited}: {count - audited} stored unaudited");
            }
        }
        var ids = stored.Select(r => Guid.Parse(r.Id)).ToHashSet();
        var keys = stored.Select(r => (r.Source, r.SourceRecordId)).ToHashSet();
        var acked = 0;
        foreach (var deposit in _deposits)
        {
            foreach (var (sourceRecordId, status, recordId) in deposit.Results)
            {
                acked++;
                if (!keys.Contains((deposit.Source, sourceRecordId)) || (status == "stored" && !ids.Contains(recordId!.Value)))
                {
                    problems.Add($"{deposit.Source} record {sourceRecordId} was acknowledged {status} (round {deposit.Round}) but is not stored");
                }
            }
        }
        output.WriteLine($"custody records {stored.Count}; acknowledged deposits {_deposits.Count} ({acked} records, {_deposits.Count(d => d.Retry)} retried after a kill, "
            + $"{_deposits.Where(d => d.Retry).Sum(d => d.Results.Count(r => r.Status == "duplicate"))} records of them already stored)");
        return problems;
    }

    /// <summary>
    /// Every acknowledged page and every access-log row has its access.allowed entry; no access cites a
    /// consent whose consent.given entry comes after it (it would have been used before it was audited).
    /// </summary>
    private async Task<IEnumerable<string>> CheckAccessesAsync(List<Entry> entries)
    {
        var problems = new List<string>();
        var allowed = entries.Where(e => e.Kind == AuditKinds.AccessAllowed).ToList();
        // A page is known by its fetch, the fetch's running total and its count; an empty page repeats the
        // total before it, and a page served but not answered (the kill) has an entry but no answer, so
        // each acknowledged page needs an entry of its own: at least as many entries as answers per key.
        var pages = allowed
            .Where(e => e.Payload.TryGetProperty("details", out var d) && d.ValueKind == JsonValueKind.Object && d.TryGetProperty("fetchId", out _))
            .GroupBy(e => (GuidOf(e.Payload.GetProperty("details"), "fetchId"), e.Payload.GetProperty("details").GetProperty("servedInFetch").GetInt32(),
                e.Payload.GetProperty("count").GetInt32()))
            .ToDictionary(g => g.Key, g => g.Count());
        foreach (var answered in _pages.GroupBy(p => ((Guid?)p.FetchId, p.ServedInFetch, p.Records)))
        {
            if (pages.GetValueOrDefault(answered.Key) < answered.Count())
            {
                problems.Add($"{answered.Count()} acknowledged page(s) (fetch {answered.Key.Item1}, served {answered.Key.ServedInFetch}, {answered.Key.Records} records, "
                    + $"round {answered.First().Round}) but {pages.GetValueOrDefault(answered.Key)} access.allowed entries");
            }
        }

        var givenAt = entries.Where(e => e.Kind == AuditKinds.ConsentGiven && GuidOf(e.Payload, "consentId") is not null)
            .GroupBy(e => GuidOf(e.Payload, "consentId")!.Value).ToDictionary(g => g.Key, g => g.Min(e => e.Sequence));
        var citations = 0;
        foreach (var access in allowed)
        {
            if (!access.Payload.TryGetProperty("details", out var details) || details.ValueKind != JsonValueKind.Object
                || !details.TryGetProperty("consents", out var consents))
            {
                continue;
            }
            foreach (var cited in consents.EnumerateArray().Select(c => c.GetGuid()))
            {
                citations++;
                if (!givenAt.TryGetValue(cited, out var at))
                {
                    problems.Add($"access entry {access.Sequence} cites consent {cited}, which has no consent.given entry");
                }
                else if (at > access.Sequence)
                {
                    problems.Add($"access entry {access.Sequence} cites consent {cited}, whose consent.given entry {at} comes after it");
                }
            }
        }

        await using var db = Open();
        var rows = (await db.QueryAsync<(string Id, string Outcome, long? AuditSequence)>("SELECT id, outcome, audit_sequence FROM access_log")).ToList();
        foreach (var row in rows)
        {
            var entry = row.AuditSequence is { } seq && seq < entries.Count ? entries[(int)seq] : null;
            if (entry is null || GuidOf(entry.Payload, "accessId") != Guid.Parse(row.Id))
            {
                problems.Add($"access-log row {row.Id} ({row.Outcome}) has no audit entry of its own (audit sequence {row.AuditSequence})");
            }
        }
        // And the other way: an audited access without its access-log row has no passbook line either.
        var logged = rows.Select(r => Guid.Parse(r.Id)).ToHashSet();
        foreach (var access in entries.Where(e => e.Kind is AuditKinds.AccessAllowed or AuditKinds.AccessDenied))
        {
            if (GuidOf(access.Payload, "accessId") is { } id && !logged.Contains(id))
            {
                problems.Add($"audit entry {access.Sequence} ({access.Kind} {id}) has no access-log row");
            }
        }
        output.WriteLine($"access.allowed entries {allowed.Count} ({citations} consent citations), access-log rows {rows.Count}, acknowledged pages {_pages.Count} "
            + $"({_pages.Sum(p => p.Records)} records){(_fetchDone ? "; the fetch reached its end" : "")}");
        return problems;
    }

    // ---- processes and plumbing --------------------------------------------------------------

    private Dictionary<string, string> Settings(bool seed) => new(StringComparer.Ordinal)
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ASPNETCORE_URLS"] = ServerUri.GetLeftPart(UriPartial.Authority),
        ["Database__Provider"] = "Sqlite",
        ["Database__ConnectionString"] = $"Data Source={DatabasePath}",
        ["Signing__KeyDirectory"] = KeyDirectory,
        ["Custody__MasterKeyFile"] = Path.Combine(KeyDirectory, "keyring-master.key"),
        ["Access__SecretFile"] = Path.Combine(KeyDirectory, "access.key"),
        ["Identity__Issuer"] = ServerUri.ToString(),
        // Plain HTTP on loopback; everything else about identity (lifetimes, rate limits) is as shipped.
        ["Identity__AllowInsecureHttp"] = "true",
        ["Audit__CheckpointIntervalSeconds"] = "1",
        ["Demo__Seed"] = seed ? "true" : "false",
        ["Demo__NotesFile"] = NotesFile,
        ["Logging__LogLevel__Default"] = "Warning",
    };

    private ChildProcess StartServer(bool seed) =>
        ChildProcess.Start(Path.Combine(AppContext.BaseDirectory, "InfoBank.Server.dll"), _directory, Settings(seed));

    private async Task<string> RunCliAsync(params string[] args)
    {
        var lines = new ConcurrentQueue<string>();
        using var cli = ChildProcess.Start(Path.Combine(AppContext.BaseDirectory, "infobank.dll"), _directory, Settings(seed: false), args, lines.Enqueue);
        await cli.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(cli.ExitCode == 0, $"infobank {string.Join(' ', args)} failed: {cli.RecentOutput}");
        return string.Join('\n', lines);
    }

    private static string CliValue(string output, string name) =>
        output.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();

    private async Task WaitReadyAsync(ChildProcess server)
    {
        using var http = Client(null);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if ((await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }
            Assert.False(server.HasExited, $"the server exited while starting: {server.RecentOutput}");
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "the server did not become ready");
            await Task.Delay(100);
        }
    }

    private HttpClient Client(string? token)
    {
        var http = new HttpClient { BaseAddress = ServerUri, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return http;
    }

    private SqliteConnection Open() => new($"Data Source={DatabasePath};Pooling=False");

    private async Task<long> AuditSizeAsync()
    {
        await using var db = Open();
        return await db.ExecuteScalarAsync<long>("SELECT tree_size FROM audit_frontier");
    }

    private static async Task<JsonElement> JsonOf(HttpResponseMessage response, HttpStatusCode expected)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
            return text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"username (\S+)\s+password (\S+)")]
    private static partial Regex PasswordLine();

    [GeneratedRegex(@"client_id (\S+)\s+client_secret (\S+)")]
    private static partial Regex SecretLine();
}
