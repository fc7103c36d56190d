using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Audit;

/// <summary>
/// The checkpoint signer against a real database of each provider, each test on a fresh one (they
/// drop triggers and rewrite the log): it signs a growing log, and refuses — halting for good — a
/// rewritten, truncated or re-hashed one, with two signers at once and across restarts.
/// </summary>
public abstract class CheckpointSignerTests<TFixture> : IDisposable
    where TFixture : DatabaseFixture, new()
{
    private static readonly string[] Subjects = [.. Enumerable.Range(0, 5).Select(_ => Guid.NewGuid().ToString())];
    private readonly TFixture _database = new();
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "infobank-signer", Guid.NewGuid().ToString("N"));
    private readonly AuditStore _store;
    private readonly AuditLogWriter _log;
    private readonly CapturingLoggerProvider _logs = new();

    protected CheckpointSignerTests()
    {
        _database.InitializeAsync().GetAwaiter().GetResult();
        Skip.If(_database.SkipReason is not null, _database.SkipReason);
        _store = new AuditStore(_database.Connections);
        _log = new AuditLogWriter(_store, TimeProvider.System, Options.Create(new AuditOptions()), NullLogger<AuditLogWriter>.Instance);
    }

    public void Dispose()
    {
        if (_database.SkipReason is null)
        {
            _log.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        _database.DisposeAsync().GetAwaiter().GetResult();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        GC.SuppressFinalize(this);
    }

    private DbConnectionFactory Db => _database.Connections;

    private string KeyDirectory => Path.Combine(_directory, "keys");

    private SignerStateFile StateFile => new(Options.Create(new SigningOptions { KeyDirectory = KeyDirectory }));

    /// <summary>A signer as a node or the CLI builds it: its own key store, store and state file objects; only the folder and database are shared.</summary>
    private CheckpointSigner NewSigner() => new(
        new SigningKeyStore(Options.Create(new SigningOptions { KeyDirectory = KeyDirectory }), TimeProvider.System, NullLogger<SigningKeyStore>.Instance),
        new AuditStore(Db), StateFile, TimeProvider.System, Options.Create(new AuditOptions()), _logs.For<CheckpointSigner>());

    private async Task<List<AuditAppended>> AppendAsync(int count, string kind = AuditKinds.AccessDenied)
    {
        var appended = new List<AuditAppended>();
        for (var i = 0; i < count; i++)
        {
            appended.Add(await _log.AppendAsync(new AuditEntryDraft(kind, $"client:c{i % 3}", Subjects[i % 5], "fitness.stats", Payload: new { i })));
        }
        return appended;
    }

    private static async Task<CheckpointRow> SignedAsync(CheckpointSigner signer)
    {
        var outcome = await signer.SignAsync();
        Assert.True(outcome.Kind == CheckpointOutcomeKind.Signed, $"expected a signature, got {outcome.Kind}: {outcome.Halt?.Reason}");
        return outcome.Checkpoint!;
    }

    private static SignerHalt Refused(CheckpointOutcome outcome)
    {
        Assert.Equal(CheckpointOutcomeKind.Refused, outcome.Kind);
        return outcome.Halt!;
    }

    private static void AssertSameHalt(SignerHalt expected, SignerHalt actual)
    {
        Assert.Equal(expected.At, actual.At);
        Assert.Equal(expected.Code, actual.Code);
        Assert.Equal(expected.Sequence, actual.Sequence);
        Assert.Equal(expected.Reason, actual.Reason);
        Assert.Equal(expected.Findings, actual.Findings);
    }

    private async Task<long> CheckpointCountAsync() => (await _store.CheckpointsAsync(0, long.MaxValue, 10_000)).Count;

    /// <summary>Every stored checkpoint verifies, matches the rows recomputed to its size and is consistent with the one before it.</summary>
    private async Task AssertCheckpointChainAsync(NoteVerifier key)
    {
        var rows = await LogForgery.AllAsync(_store, 0);
        var leaves = rows.Select(r => r.ToEntry().LeafHash()).ToList();
        var proofs = new AuditProofs(_store);
        CheckpointRow? previous = null;
        foreach (var checkpoint in await _store.CheckpointsAsync(0, long.MaxValue, 10_000))
        {
            var note = SignedNote.TryParse(checkpoint.Note, out _)!;
            Assert.Single(note.VerifiedBy([key]));
            Assert.Equal(Merkle.RootOf(leaves.Take((int)checkpoint.TreeSize)), checkpoint.RootHash);
            if (previous is not null)
            {
                var proof = await proofs.ConsistencyAsync(previous.TreeSize, checkpoint.TreeSize);
                Assert.True(Merkle.VerifyConsistency(previous.TreeSize, checkpoint.TreeSize, proof, previous.RootHash, checkpoint.RootHash));
            }
            previous = checkpoint;
        }
    }

    [SkippableFact]
    public async Task A_growing_log_keeps_being_signed_and_each_checkpoint_extends_the_last()
    {
        var signer = NewSigner();
        Assert.Equal(CheckpointOutcomeKind.UpToDate, (await signer.SignAsync()).Kind);
        Assert.Contains(_logs.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("bootstrapped", StringComparison.Ordinal));

        var sizes = new List<long>();
        foreach (var batch in new[] { 1, 2, 5, 13, 64, 3 })
        {
            await AppendAsync(batch);
            sizes.Add((await SignedAsync(signer)).TreeSize);
            Assert.Equal(CheckpointOutcomeKind.UpToDate, (await signer.SignAsync()).Kind);
        }
        Assert.Equal([1L, 3, 8, 21, 85, 88], sizes);
        await AssertCheckpointChainAsync(await signer.CurrentAsync());

        var status = await signer.StatusAsync();
        Assert.False(status.Halted);
        Assert.Equal(88, status.SignedSize);
        Assert.Equal((await _store.LatestCheckpointAsync())!.Note, status.Checkpoint);
        Assert.Equal(0, status.Bootstrap!.Size);
        Assert.Single(_logs.Lines, l => l.Message.Contains("bootstrapped", StringComparison.Ordinal));
        Assert.DoesNotContain(_logs.Lines, l => l.Level >= LogLevel.Error);

        // The state lives beside the key, outside the database, owner-only.
        Assert.StartsWith(Path.GetFullPath(KeyDirectory), StateFile.StatePath, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(StateFile.StatePath));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(StateFile.Directory));
            // The signer ran before any key existed here, so it created the key folder: owner-only too.
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(KeyDirectory));
        }
        Assert.False(File.Exists(StateFile.StatePath + ".tmp"));
    }

    [SkippableFact]
    public async Task A_rewritten_history_that_the_database_finds_consistent_is_refused()
    {
        var signer = NewSigner();
        await AppendAsync(6);
        var withdrawal = (await AppendAsync(1, AuditKinds.ConsentWithdrawn))[0].Sequence;
        await AppendAsync(5);
        await SignedAsync(signer);
        await AppendAsync(3);
        var signed = (await SignedAsync(signer)).TreeSize;

        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.DeleteAndRenumberAsync(Db, withdrawal);

        // Self-consistent: the database's tree is the root of its rows and an export verifies on its own keys.
        var frontier = await _store.CurrentFrontierAsync();
        Assert.Equal(signed - 1, frontier.Size);
        Assert.Equal(Merkle.RootOf((await LogForgery.AllAsync(_store, 0)).Select(r => r.ToEntry().LeafHash())), frontier.Root());
        var exporter = new AuditExporter(_store, signer, Options.Create(new AuditOptions()));
        using (var bundle = new MemoryStream())
        {
            await exporter.WriteAsync(bundle, frontier.Size);
            bundle.Position = 0;
            var verified = AuditVerifier.Verify(bundle, new AuditVerifierOptions { PinnedKeys = [await signer.CurrentAsync()] });
            Assert.True(verified.Ok, verified.Failure);
        }

        var checkpoints = await CheckpointCountAsync();
        var halt = Refused(await signer.SignAsync());
        Assert.Equal(SignerFindingCodes.Truncated, halt.Code);
        Assert.Contains(halt.Findings, f => f.Contains($"this signer signed a checkpoint at size {signed}", StringComparison.Ordinal));
        // The subtree of the signed tree that holds the deleted entry is named.
        var subtree = TreeExtension.FrontierSubtrees(signed).First(s => s.Start <= withdrawal && withdrawal < s.End);
        Assert.Contains(halt.Findings, f => f.Contains($"entries {subtree.Start}…{subtree.End - 1}", StringComparison.Ordinal));

        // The forger waits for the log to grow past the signed size: still refused, and it stays halted.
        await AppendAsync(10);
        AssertSameHalt(halt, Refused(await signer.SignAsync()));
        AssertSameHalt(halt, Refused(await NewSigner().SignAsync()));
        var resumed = Refused(await NewSigner().ResumeAsync());
        Assert.Equal(SignerFindingCodes.HistoryChanged, resumed.Code);
        Assert.Equal(subtree.Start, resumed.Sequence);
        Assert.Contains(resumed.Findings, f => f.Contains($"checkpoint this signer signed at size {signed}", StringComparison.Ordinal));
        Assert.Equal(checkpoints, await CheckpointCountAsync());
        Assert.Contains(_logs.Lines, l => l.Level == LogLevel.Critical && l.Message.Contains("signer halted: the log in the database no longer extends", StringComparison.Ordinal)
            && l.Message.Contains(SignerFindingCodes.Truncated, StringComparison.Ordinal));
        Assert.True((await signer.StatusAsync()).Halted);

        // The operator's full check narrows the change to a range that holds the deleted entry.
        var report = await new SignerDiagnosis(_store, signer, StateFile, Options.Create(new AuditOptions())).RunAsync();
        Assert.False(report.Consistent);
        Assert.NotNull(report.FirstChangeFrom);
        Assert.InRange(withdrawal, report.FirstChangeFrom!.Value, report.FirstChangeTo!.Value - 1);
    }

    [SkippableFact]
    public async Task A_rewrite_that_keeps_the_size_is_refused_with_the_subtree_it_touched()
    {
        var signer = NewSigner();
        await AppendAsync(20);
        var signed = (await SignedAsync(signer)).TreeSize;

        // Replace entry 3 by a different one and re-hash everything after it: same size, consistent database.
        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.ExecuteAsync(Db, "UPDATE audit_log SET actor = 'client:nobody' WHERE seq = 3");
        var row = (await _store.EntryAsync(3))!;
        await LogForgery.ExecuteAsync(Db, "UPDATE audit_log SET leaf_hash = @leaf WHERE seq = 3", new { leaf = row.ToEntry().LeafHash() });
        await LogForgery.ExecuteAsync(Db, "DELETE FROM audit_checkpoints");
        await LogForgery.RebuildTreeAsync(Db);
        Assert.Equal(signed, (await _store.CurrentFrontierAsync()).Size);

        var halt = Refused(await signer.SignAsync());
        Assert.Equal(SignerFindingCodes.HistoryChanged, halt.Code);
        Assert.Equal(0, halt.Sequence);
        Assert.Contains("entries 0…15", halt.Reason, StringComparison.Ordinal);
        Assert.Contains(halt.Findings, f => f.Contains($"checkpoint this signer signed at size {signed}", StringComparison.Ordinal));
        Assert.DoesNotContain("client:", halt.Reason, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_stored_leaf_hash_that_is_not_the_rows_content_is_caught()
    {
        var signer = NewSigner();
        await AppendAsync(4);
        await SignedAsync(signer);
        var appended = await AppendAsync(4);
        var target = appended[2].Sequence;

        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.ExecuteAsync(Db, "UPDATE audit_log SET leaf_hash = @leaf WHERE seq = @target", new { leaf = new byte[32], target });

        var halt = Refused(await signer.SignAsync());
        Assert.Equal(SignerFindingCodes.LeafMismatch, halt.Code);
        Assert.Equal(target, halt.Sequence);
        Assert.Contains($"entry {target} ({AuditKinds.AccessDenied})", halt.Reason, StringComparison.Ordinal);

        // Putting the right hash back is not enough on its own: the operator resumes, and the
        // signer checks again from its own state before it signs.
        await LogForgery.ExecuteAsync(Db, "UPDATE audit_log SET leaf_hash = @leaf WHERE seq = @target", new { leaf = appended[2].LeafHash, target });
        Refused(await signer.SignAsync());
        var resumed = await signer.ResumeAsync();
        Assert.Equal(CheckpointOutcomeKind.Signed, resumed.Kind);
        Assert.Equal(8, resumed.Checkpoint!.TreeSize);
        Assert.False((await signer.StatusAsync()).Halted);
        Assert.Contains(_logs.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("resumed by an operator", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Row_content_changed_without_its_hash_is_caught()
    {
        var signer = NewSigner();
        await AppendAsync(2);
        await SignedAsync(signer);
        await AppendAsync(6);
        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.ExecuteAsync(Db, "UPDATE audit_log SET payload = '{\"i\":99}' WHERE seq = 5");
        var halt = Refused(await signer.SignAsync());
        Assert.Equal(SignerFindingCodes.LeafMismatch, halt.Code);
        Assert.Equal(5, halt.Sequence);
        var report = await new SignerDiagnosis(_store, signer, StateFile, Options.Create(new AuditOptions())).RunAsync();
        Assert.Contains(report.RowFindings, f => f.Contains("entry 5", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Missing_subtrees_over_new_entries_are_caught()
    {
        var signer = NewSigner();
        await AppendAsync(3);
        await SignedAsync(signer);
        await AppendAsync(9);
        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.ExecuteAsync(Db, "DELETE FROM audit_tree_nodes WHERE level = 3");

        var halt = Refused(await signer.SignAsync());
        Assert.Equal(SignerFindingCodes.NodeMismatch, halt.Code);
        Assert.Contains("entries 0…7 (level 3, index 0) is missing", halt.Reason, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Truncation_below_the_signed_size_is_caught()
    {
        var signer = NewSigner();
        await AppendAsync(12);
        await SignedAsync(signer);

        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.TruncateAsync(Db, 9);

        var halt = Refused(await signer.SignAsync());
        Assert.Equal(SignerFindingCodes.Truncated, halt.Code);
        Assert.Equal(9, halt.Sequence);
        Assert.Contains("holds 9 entries but this signer signed a checkpoint at size 12: entries 9…11", halt.Reason, StringComparison.Ordinal);
        Assert.Contains(halt.Findings, f => f.Contains("checkpoint this signer signed at size 12", StringComparison.Ordinal));

        // Growing back to the same size with other entries does not help.
        await AppendAsync(3);
        Refused(await signer.ResumeAsync());
        Assert.Equal(0, await CheckpointCountAsync());
    }

    [SkippableFact]
    public async Task A_checkpoint_row_that_is_not_signed_by_the_key_is_refused()
    {
        var signer = NewSigner();
        await AppendAsync(5);
        await SignedAsync(signer);
        await AppendAsync(5);
        var forged = new Checkpoint("infobank.local/audit", 10, (await _store.CurrentFrontierAsync()).Root())
            .Sign("infobank.local/audit", Core.Crypto.Ed25519Key.Generate()).ToString();
        Assert.True(await _store.AddCheckpointAsync(new CheckpointRow
        {
            TreeSize = 10,
            RootHash = (await _store.CurrentFrontierAsync()).Root(),
            CreatedAt = DateTimeOffset.UtcNow,
            KeyName = "infobank.local/audit",
            Note = forged,
        }));

        var halt = Refused(await signer.SignAsync());
        Assert.Equal(SignerFindingCodes.CheckpointUnsigned, halt.Code);
        Assert.Equal(10, halt.Sequence);
    }

    [SkippableFact]
    public async Task Two_signers_at_once_never_sign_two_trees_for_one_size_nor_one_that_does_not_extend_the_other()
    {
        var first = NewSigner();
        var second = NewSigner();
        var key = await first.CurrentAsync();
        await AppendAsync(3);

        var outcomes = new System.Collections.Concurrent.ConcurrentBag<CheckpointOutcome>();
        using var stop = new CancellationTokenSource();
        async Task SignLoopAsync(CheckpointSigner signer)
        {
            while (!stop.IsCancellationRequested)
            {
                outcomes.Add(await signer.SignAsync());
            }
        }
        var loops = new[] { Task.Run(() => SignLoopAsync(first)), Task.Run(() => SignLoopAsync(second)), Task.Run(() => SignLoopAsync(NewSigner())) };
        await Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                await _log.AppendAsync(new AuditEntryDraft(AuditKinds.AccessDenied, $"client:w{w}", Payload: new { i }));
            }
        })));
        stop.CancelAfter(TimeSpan.FromMilliseconds(300));
        await Task.WhenAll(loops);
        await SignedOrUpToDateAsync(first);

        Assert.All(outcomes, o => Assert.True(o.Kind is CheckpointOutcomeKind.Signed or CheckpointOutcomeKind.UpToDate, $"{o.Kind}: {o.Halt?.Reason}"));
        var signed = outcomes.Where(o => o.Checkpoint is not null).Select(o => o.Checkpoint!).ToList();
        Assert.True(signed.Count >= 2, "the signers signed while the log grew");
        foreach (var group in signed.GroupBy(c => c.TreeSize))
        {
            Assert.Single(group.Select(c => c.Note).Distinct());
            Assert.Equal((await _store.CheckpointAsync(group.Key))!.Note, group.First().Note);
        }
        await AssertCheckpointChainAsync(key);
        var latest = (await _store.LatestCheckpointAsync())!;
        Assert.Equal(163, latest.TreeSize);
        Assert.Equal(latest.Note, (await second.StatusAsync()).Checkpoint);
    }

    private static async Task SignedOrUpToDateAsync(CheckpointSigner signer) =>
        Assert.Contains((await signer.SignAsync()).Kind, new[] { CheckpointOutcomeKind.Signed, CheckpointOutcomeKind.UpToDate });

    [SkippableFact]
    public async Task The_state_survives_a_restart_and_so_does_a_halt()
    {
        await AppendAsync(7);
        await SignedAsync(NewSigner());
        var state = File.ReadAllText(StateFile.StatePath);

        // A restarted node (a new signer object, nothing in memory) continues from the file, without bootstrapping again.
        _logs.Lines.Clear();
        var restarted = NewSigner();
        await AppendAsync(2);
        Assert.Equal(9, (await SignedAsync(restarted)).TreeSize);
        Assert.DoesNotContain(_logs.Lines, l => l.Message.Contains("bootstrapped", StringComparison.Ordinal));
        Assert.NotEqual(state, File.ReadAllText(StateFile.StatePath));

        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.TruncateAsync(Db, 8);
        var halt = Refused(await restarted.SignAsync());
        var again = NewSigner();
        AssertSameHalt(halt, (await again.StatusAsync()).Halt!);
        AssertSameHalt(halt, Refused(await again.SignAsync()));
        // A fresh process alerts again at its first refusal.
        Assert.Contains(_logs.Lines, l => l.Level == LogLevel.Critical && l.Message.Contains("is halted since", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task A_crash_after_storing_a_checkpoint_and_before_saving_the_state_is_picked_up()
    {
        var signer = NewSigner();
        await AppendAsync(4);
        await SignedAsync(signer);
        var before = File.ReadAllBytes(StateFile.StatePath);
        await AppendAsync(4);
        var lost = await SignedAsync(signer);
        File.WriteAllBytes(StateFile.StatePath, before);

        var outcome = await NewSigner().SignAsync();
        Assert.Equal(CheckpointOutcomeKind.UpToDate, outcome.Kind);
        Assert.Equal(lost.Note, outcome.Checkpoint!.Note);
        Assert.Equal(8, (await signer.StatusAsync()).SignedSize);
        await AppendAsync(1);
        Assert.Equal(9, (await SignedAsync(signer)).TreeSize);
    }

    [SkippableFact]
    public async Task A_first_start_bootstraps_from_the_rows_against_the_latest_verified_checkpoint()
    {
        await AppendAsync(10);
        await SignedAsync(NewSigner());
        await AppendAsync(5);
        Directory.Delete(StateFile.Directory, recursive: true);
        // The checkpoint to check against was signed by a key that has since been retired.
        await new SigningKeyStore(Options.Create(new SigningOptions { KeyDirectory = KeyDirectory }), TimeProvider.System, NullLogger<SigningKeyStore>.Instance)
            .RotateAsync(SigningKeyPurposes.Checkpoint);

        _logs.Lines.Clear();
        var signer = NewSigner();
        Assert.Equal(15, (await SignedAsync(signer)).TreeSize);
        var status = await signer.StatusAsync();
        Assert.Equal(new SignerBootstrap(status.Bootstrap!.At, 15, 10), status.Bootstrap);
        Assert.Single(_logs.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("bootstrapped", StringComparison.Ordinal)
            && l.Message.Contains("stored checkpoint at size 10", StringComparison.Ordinal));

        // A bootstrap over a log rewritten below its latest verified checkpoint refuses.
        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.ExecuteAsync(Db, "UPDATE audit_log SET actor = 'client:nobody' WHERE seq = 2");
        var row = (await _store.EntryAsync(2))!;
        await LogForgery.ExecuteAsync(Db, "UPDATE audit_log SET leaf_hash = @leaf WHERE seq = 2", new { leaf = row.ToEntry().LeafHash() });
        await LogForgery.RebuildTreeAsync(Db);
        Directory.Delete(StateFile.Directory, recursive: true);
        var halt = Refused(await NewSigner().SignAsync());
        Assert.Equal(SignerFindingCodes.CheckpointMismatch, halt.Code);
        Assert.Equal(10, halt.Sequence);
    }

    [SkippableFact]
    public async Task A_state_file_that_cannot_be_read_is_refused_and_never_replaced_by_a_bootstrap()
    {
        var signer = NewSigner();
        await AppendAsync(3);
        await SignedAsync(signer);
        File.WriteAllText(StateFile.StatePath, "{ not json");
        await AppendAsync(1);

        var halt = Refused(await signer.SignAsync());
        Assert.Equal(SignerFindingCodes.StateUnreadable, halt.Code);
        Assert.True((await signer.StatusAsync()).Halted);
        Assert.Equal("{ not json", File.ReadAllText(StateFile.StatePath));
        Assert.Equal(1, await CheckpointCountAsync());
        Assert.Contains(_logs.Lines, l => l.Level == LogLevel.Critical && l.Message.Contains("cannot use its state file", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task A_signer_run_on_an_idle_log_reads_only_the_edges()
    {
        var signer = NewSigner();
        await AppendAsync(50);
        await SignedAsync(signer);
        // Rows below the signed size are not read again: a row the signer would fail if it read it stays unnoticed.
        await LogForgery.DropAppendOnlyTriggersAsync(Db);
        await LogForgery.ExecuteAsync(Db, "UPDATE audit_log SET leaf_hash = @leaf WHERE seq = 17", new { leaf = new byte[32] });
        await AppendAsync(2);
        Assert.Equal(52, (await SignedAsync(signer)).TreeSize);
        // …yet the full check an operator runs reports it.
        var report = await new SignerDiagnosis(_store, signer, StateFile, Options.Create(new AuditOptions())).RunAsync();
        Assert.Contains(report.RowFindings, f => f.StartsWith("entry 17", StringComparison.Ordinal));
    }
}

public sealed class SqliteCheckpointSignerTests : CheckpointSignerTests<SqliteFixture>;

public sealed class PostgresCheckpointSignerTests : CheckpointSignerTests<PostgresFixture>;

public sealed class SqlServerCheckpointSignerTests : CheckpointSignerTests<SqlServerFixture>;
