using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Consent;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InfoBank.Server.Tests.Audit;

/// <summary>
/// The finding end to end, on the real server over each database: a resident withdraws a consent,
/// someone with write access to the database (not the key folder) erases the withdrawal from the
/// ledger and the audit log and makes the database consistent again — and the checkpoint job, the
/// CLI and every later run refuse to sign, with a Critical log line, failing readiness and the
/// reason at GET /api/v1/audit/signer.
/// </summary>
public abstract class CheckpointSignerHttpTests<TFixture> : IDisposable
    where TFixture : DatabaseFixture, new()
{
    private readonly TFixture _database = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly SignerHostFactory? _factory;

    protected CheckpointSignerHttpTests()
    {
        _database.InitializeAsync().GetAwaiter().GetResult();
        Skip.If(_database.SkipReason is not null, _database.SkipReason);
        _factory = new SignerHostFactory(_database, _logs);
    }

    public void Dispose()
    {
        _factory?.Dispose();
        _database.DisposeAsync().GetAwaiter().GetResult();
        GC.SuppressFinalize(this);
    }

    private SignerHostFactory Factory => _factory!;

    private T Get<T>() where T : notnull => Factory.Services.GetRequiredService<T>();

    private async Task AppendAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await Get<IAuditLog>().AppendAsync(new AuditEntryDraft(AuditKinds.KeyRotated, "system", Payload: new { i }));
        }
    }

    private async Task<JsonElement> SignerStatusAsync(HttpClient auditor)
    {
        var response = await auditor.GetAsync("/api/v1/audit/signer");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [SkippableFact]
    public async Task A_normal_growing_log_keeps_being_signed_and_the_signer_reports_what_it_signed()
    {
        var job = Get<AuditCheckpointJob>();
        var (_, token) = await Factory.SignInAsync(AccountKind.Auditor);
        using var auditor = Factory.CreateClientWithToken(token);
        CheckpointRow? last = null;
        for (var round = 0; round < 4; round++)
        {
            await AppendAsync(round + 1);
            last = await job.RunAsync(CancellationToken.None);
            Assert.NotNull(last);
            Assert.Null(await job.RunAsync(CancellationToken.None));
        }
        var status = await SignerStatusAsync(auditor);
        Assert.False(status.GetProperty("halted").GetBoolean());
        Assert.Equal(last!.TreeSize, status.GetProperty("signedSize").GetInt64());
        Assert.Equal(last.Note, status.GetProperty("checkpoint").GetString());
        // The first run found no state and bootstrapped from the rows the sign-in had written, with no checkpoint yet to check them against.
        var bootstrap = status.GetProperty("bootstrap");
        Assert.InRange(bootstrap.GetProperty("size").GetInt64(), 1, last.TreeSize - 1);
        Assert.Equal(JsonValueKind.Null, bootstrap.GetProperty("checkedAgainstSize").ValueKind);
        using var anonymous = Factory.CreateClient();
        var ready = await anonymous.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    [SkippableFact]
    public async Task Erasing_a_withdrawal_from_the_database_stops_the_signer_and_is_reported_through_logs_readiness_and_the_auditor_api()
    {
        var research = ConsentKit.ResearchDraft(recipient: "research-" + Guid.NewGuid().ToString("N")[..8]);
        var offer = (await Get<OfferService>().PublishAsync(research with
        {
            Notice = research.Notice with { ValidFrom = DateTimeOffset.UtcNow.AddDays(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(30) },
        })).Offer;
        var (resident, residentToken) = await Factory.SignInAsync(AccountKind.Resident);
        using var http = Factory.CreateClientWithToken(residentToken);
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = Features.Custody.CustodyTerms.Current.Version,
            termsHash = Features.Custody.CustodyTerms.Current.Hash,
            agree = true,
        })).StatusCode);
        var given = await http.PostAsJsonAsync("/api/v1/me/consents", new
        {
            offerId = offer.OfferId,
            noticeVersion = offer.NoticeVersion,
            noticeHash = offer.NoticeHash,
            specialCareItems = new[] { DataCategories.BodyComposition },
        });
        Assert.Equal(HttpStatusCode.Created, given.StatusCode);
        var consentId = JsonDocument.Parse(await given.Content.ReadAsStringAsync()).RootElement.GetProperty("consent").GetProperty("consentId").GetGuid();
        Assert.True((await http.DeleteAsync($"/api/v1/me/consents/{consentId}")).IsSuccessStatusCode);

        var job = Get<AuditCheckpointJob>();
        Assert.NotNull(await job.RunAsync(CancellationToken.None));
        var (_, auditorToken) = await Factory.SignInAsync(AccountKind.Auditor);
        using var auditor = Factory.CreateClientWithToken(auditorToken);
        await AppendAsync(3);
        var signed = (await job.RunAsync(CancellationToken.None))!;
        using var anonymous = Factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode);

        // The forger finds the withdrawal in the ledger and in the audit log…
        var db = _database.Connections;
        long eventSequence, auditSequence;
        await using (var connection = await db.OpenAsync())
        {
            (eventSequence, auditSequence) = await connection.QuerySingleAsync<(long, long)>(
                "SELECT e.sequence, a.audit_sequence FROM consent_events e JOIN consent_event_audit a ON a.event_sequence = e.sequence " +
                "WHERE e.consent_id = @consentId AND e.event_type = 'ConsentWithdrawn'", new { consentId });
        }
        var store = Get<AuditStore>();
        Assert.Equal(AuditKinds.ConsentWithdrawn, (await store.EntryAsync(auditSequence))!.Kind);
        Assert.True(auditSequence < signed.TreeSize);

        // …drops the triggers, makes the withdrawal never have happened, renumbers and re-hashes the
        // later entries, rebuilds subtrees and frontier, and deletes the checkpoints that cover it.
        await LogForgery.DropAppendOnlyTriggersAsync(db);
        await LogForgery.ExecuteAsync(db, "DELETE FROM consent_event_audit WHERE event_sequence = @eventSequence", new { eventSequence });
        await LogForgery.ExecuteAsync(db, "DELETE FROM consent_events WHERE sequence = @eventSequence", new { eventSequence });
        await LogForgery.ExecuteAsync(db,
            "UPDATE consents SET state = 'ConsentGiven', ended_at = NULL, last_sequence = (SELECT MAX(sequence) FROM consent_events WHERE consent_id = @consentId) WHERE consent_id = @consentId",
            new { consentId });
        await LogForgery.ExecuteAsync(db, "UPDATE consent_event_audit SET audit_sequence = audit_sequence - 1 WHERE audit_sequence > @auditSequence", new { auditSequence });
        await LogForgery.DeleteAndRenumberAsync(db, auditSequence);
        var consents = JsonDocument.Parse(await http.GetStringAsync("/api/v1/me/consents")).RootElement.GetRawText();
        Assert.Contains("ConsentGiven", consents, StringComparison.Ordinal);
        Assert.DoesNotContain("ConsentWithdrawn", consents, StringComparison.Ordinal);

        // The log goes on growing (the forger waits until it passes the signed size); the job refuses, and keeps refusing.
        await AppendAsync(5);
        Assert.True((await store.CurrentFrontierAsync()).Size > signed.TreeSize);
        Assert.Null(await job.RunAsync(CancellationToken.None));
        Assert.Null(await job.RunAsync(CancellationToken.None));
        Assert.Empty(await store.CheckpointsAsync(auditSequence + 1, long.MaxValue, 10));

        // 1. A Critical log line with a constant template, naming what differs and no personal data.
        var critical = Assert.Single(_logs.Lines, l => l.Level == LogLevel.Critical);
        Assert.Contains("Audit checkpoint signer halted", critical.Message, StringComparison.Ordinal);
        Assert.Contains($"signed at size {signed.TreeSize}", critical.Message, StringComparison.Ordinal);
        Assert.Contains(SignerFindingCodes.HistoryChanged, critical.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(resident.ToString(), critical.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("resident:", critical.Message, StringComparison.Ordinal);

        // 2. Readiness fails and says why.
        var ready = await anonymous.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var body = await ready.Content.ReadAsStringAsync();
        Assert.StartsWith("Unhealthy", body, StringComparison.Ordinal);
        Assert.Contains($"{AuditSignerHealthCheck.Name}: Unhealthy: the audit checkpoint signer is halted", body, StringComparison.Ordinal);
        Assert.Contains(SignerFindingCodes.HistoryChanged, body, StringComparison.Ordinal);

        // 3. Auditors see the signer's own record and the halt.
        var status = await SignerStatusAsync(auditor);
        Assert.True(status.GetProperty("halted").GetBoolean());
        Assert.Equal(signed.TreeSize, status.GetProperty("signedSize").GetInt64());
        Assert.Equal(signed.Note, status.GetProperty("checkpoint").GetString());
        var halt = status.GetProperty("halt");
        Assert.Equal(SignerFindingCodes.HistoryChanged, halt.GetProperty("code").GetString());
        var subtree = TreeExtension.FrontierSubtrees(signed.TreeSize).First(s => s.Start <= auditSequence && auditSequence < s.End);
        Assert.Equal(subtree.Start, halt.GetProperty("sequence").GetInt64());
        Assert.Contains(halt.GetProperty("findings").EnumerateArray(), f => f.GetString()!.Contains($"checkpoint this signer signed at size {signed.TreeSize}", StringComparison.Ordinal));

        // The CLI signs through the same signer and obeys the same rule; its status shows where the log differs.
        var cli = await RunCliAsync("audit", "checkpoint");
        Assert.Equal(1, cli.ExitCode);
        Assert.Contains("REFUSED", cli.Error, StringComparison.Ordinal);
        var check = await RunCliAsync("audit", "checkpoint", "status", "--check");
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("HALTED", check.Output, StringComparison.Ordinal);
        Assert.Contains("the log first differs from what was signed within entries", check.Output, StringComparison.Ordinal);
        Assert.Empty(await store.CheckpointsAsync(auditSequence + 1, long.MaxValue, 10));
    }

    private async Task<(int ExitCode, string Output, string Error)> RunCliAsync(params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = Path.GetTempPath(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "infobank.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["Database__Provider"] = _database.Provider.ToString();
        info.Environment["Database__ConnectionString"] = _database.ConnectionString;
        info.Environment["Signing__KeyDirectory"] = Factory.KeyDirectory;
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output, await error);
    }

    /// <summary>The real server on this test's database, with its log lines captured.</summary>
    private sealed class SignerHostFactory(DatabaseFixture database, CapturingLoggerProvider logs) : InfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Database:Provider", database.Provider.ToString());
            builder.UseSetting("Database:ConnectionString", database.ConnectionString);
            builder.ConfigureTestServices(services => services.AddSingleton<ILoggerProvider>(logs));
        }
    }
}

public sealed class SqliteCheckpointSignerHttpTests : CheckpointSignerHttpTests<SqliteFixture>;

public sealed class PostgresCheckpointSignerHttpTests : CheckpointSignerHttpTests<PostgresFixture>;

public sealed class SqlServerCheckpointSignerHttpTests : CheckpointSignerHttpTests<SqlServerFixture>;
