using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using Microsoft.Data.Sqlite;

namespace InfoBank.Server.Tests.Audit;

/// <summary>
/// Kill -9 a process in the middle of a burst of audited appends, restart the real server on the
/// same database, and check that the log still verifies and holds every acknowledged entry.
/// </summary>
public sealed class AuditCrashTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "infobank-crash", Guid.NewGuid().ToString("N"));

    public AuditCrashTests() => Directory.CreateDirectory(_directory);

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

    private string DatabasePath => Path.Combine(_directory, "infobank.db");

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    /// <summary>Starts a child; both pipes are drained continuously so a chatty child never blocks on a full pipe.</summary>
    private Process Start(string assembly, Action<string>? onLine, params string[] args)
    {
        var info = new ProcessStartInfo(Dotnet)
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["Database__Provider"] = "Sqlite";
        info.Environment["Database__ConnectionString"] = $"Data Source={DatabasePath}";
        info.Environment["Signing__KeyDirectory"] = Path.Combine(_directory, "keys");
        info.Environment["Audit__CheckpointIntervalSeconds"] = "1";
        info.Environment["Demo__Seed"] = "false";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Production refuses to start with the issuer taken from the Host header.
        info.Environment["Identity__Issuer"] = "http://127.0.0.1/";
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                onLine?.Invoke(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _errors.Enqueue(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private readonly ConcurrentQueue<string> _errors = new();

    private string Errors => string.Join('\n', _errors.TakeLast(20));

    private async Task RunCliAsync(params string[] args)
    {
        using var process = Start("infobank.dll", null, args);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, $"infobank {string.Join(' ', args)} failed: {Errors}");
    }

    [Fact]
    public async Task Killing_the_process_mid_burst_loses_no_acknowledged_entry_and_the_log_still_verifies()
    {
        await RunCliAsync("migrate");

        // A burst of 32 concurrent appenders, killed with SIGKILL once 1,500 appends were acknowledged.
        var acknowledged = new ConcurrentBag<long>();
        var enough = new TaskCompletionSource();
        void OnLine(string line)
        {
            if (line.StartsWith("recorded ", StringComparison.Ordinal))
            {
                acknowledged.Add(long.Parse(line["recorded ".Length..], System.Globalization.CultureInfo.InvariantCulture));
                if (acknowledged.Count >= 1_500)
                {
                    enough.TrySetResult();
                }
            }
        }
        using (var burst = Start("infobank.dll", OnLine, "audit", "record", "--kind", AuditKinds.KeyRotated, "--actor", "operator:drill",
            "--payload", "{\"drill\":true}", "--count", "10000000", "--parallel", "32"))
        {
            await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));
            burst.Kill(entireProcessTree: true);
            await burst.WaitForExitAsync();
            Assert.NotEqual(0, burst.ExitCode);
        }
        // Lines printed after the kill signal raced it; every one of them was acknowledged before it.
        var acked = acknowledged.ToHashSet();

        // Restart: the real server on the same database signs a checkpoint from its recurring job.
        var port = FreePort();
        using var server = Start("InfoBank.Server.dll", null, "--urls", $"http://127.0.0.1:{port}");
        string vkey;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
            await WaitUntilAsync(async () => (await TryGetAsync(http, "/health/ready")) == HttpStatusCode.OK, "the server to start", server);
            long size = 0;
            await WaitUntilAsync(async () =>
            {
                await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
                size = await connection.ExecuteScalarAsync<long>("SELECT tree_size FROM audit_frontier");
                return await connection.ExecuteScalarAsync<long?>("SELECT MAX(tree_size) FROM audit_checkpoints") == size;
            }, "a checkpoint of the recovered log", server);
            Assert.True(size > acked.Max(), $"tree size {size} lost acknowledged entry {acked.Max()}");
            vkey = (await http.GetFromJsonAsync<AuditKeysResponse>("/api/v1/audit/keys"))!.Keys[0].VerifierKey;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }

        // Offline: export and verify against the published key.
        var bundle = Path.Combine(_directory, "bundle.ndjson");
        await RunCliAsync("audit", "export", "--out", bundle);
        AuditVerificationReport report;
        await using (var stream = File.OpenRead(bundle))
        {
            report = AuditVerifier.Verify(stream, new AuditVerifierOptions { PinnedKeys = [NoteVerifier.TryParse(vkey, out _)!] });
        }
        Assert.True(report.Ok, report.Failure);
        Assert.All(acked, seq => Assert.True(seq < report.Entries, $"acknowledged entry {seq} is missing"));
        Assert.Equal(acked.Count, acked.Distinct().Count());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<HttpStatusCode?> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            return (await http.GetAsync(path)).StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private async Task WaitUntilAsync(Func<Task<bool>> condition, string what, Process process)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.False(process.HasExited, $"the process exited while waiting for {what}: {Errors}");
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(40), $"timed out waiting for {what}");
            await Task.Delay(200);
        }
    }
}
