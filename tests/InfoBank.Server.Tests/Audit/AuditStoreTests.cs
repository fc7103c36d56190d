using System.Data.Common;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Audit;

/// <summary>The writer, store and append-only triggers, once per configured database.</summary>
public abstract class AuditStoreTests<TFixture> : StoreTestBase<TFixture>, IAsyncDisposable
    where TFixture : DatabaseFixture
{
    private static readonly Guid R1 = Guid.NewGuid();
    private readonly AuditStore _store;
    private readonly AuditLogWriter _log;

    protected AuditStoreTests(TFixture database) : base(database)
    {
        _store = new AuditStore(database.Connections);
        _log = NewWriter();
    }

    private AuditLogWriter NewWriter() =>
        new(_store, TimeProvider.System, Options.Create(new AuditOptions()), NullLogger<AuditLogWriter>.Instance);

    public ValueTask DisposeAsync() => _log.DisposeAsync();

    private async Task<long> SizeAsync() => (await _store.CurrentFrontierAsync()).Size;

    private async Task AssertFrontierMatchesRowsAsync()
    {
        var frontier = await _store.CurrentFrontierAsync();
        var leaves = new List<byte[]>();
        for (long from = 0; from < frontier.Size;)
        {
            var rows = await _store.EntriesAsync(from, frontier.Size, 1000);
            foreach (var row in rows)
            {
                Assert.Equal(from++, row.Sequence);
                Assert.Equal(row.LeafHash, row.ToEntry().LeafHash());
                leaves.Add(row.LeafHash);
            }
        }
        Assert.Equal(Merkle.RootOf(leaves), frontier.Root());
    }

    [SkippableFact]
    public async Task Appends_round_trip_every_field_and_get_consecutive_sequences()
    {
        var start = await SizeAsync();
        var grant = Guid.NewGuid();
        var resident = Guid.NewGuid();
        var first = await _log.AppendAsync(new AuditEntryDraft(AuditKinds.ConsentGiven, $"resident:{resident}", resident.ToString(), "fitness.stats",
            grant, "sha256:abc", new { items = new[] { "steps.daily" } }, [9, 9, 9]));
        var second = await _log.AppendAsync(new AuditEntryDraft(AuditKinds.SignInFailed, "system"));

        Assert.Equal(start, first.Sequence);
        Assert.Equal(start + 1, second.Sequence);
        Assert.True(second.Time >= first.Time);
        var row = (await _store.EntryAsync(first.Sequence))!;
        Assert.Equal("{\"items\":[\"steps.daily\"]}", row.Payload);
        Assert.Equal(new byte[] { 9, 9, 9 }, row.Sealed);
        Assert.Equal(grant, row.GrantId);
        // The resident is named by their audit pseudonym, as subject and as actor, never by id.
        var pseudonym = await _store.PseudonymOfAsync(resident);
        Assert.StartsWith("ap_", pseudonym);
        Assert.Equal(pseudonym, row.SubjectRef);
        Assert.Equal($"resident:{pseudonym}", row.Actor);
        Assert.Equal(first.Time, row.Time);
        Assert.Equal(first.LeafHash, row.ToEntry().LeafHash());
        await AssertFrontierMatchesRowsAsync();
    }

    // A resident row stands in for "the change": a table with no foreign keys, written only by changes.
    private static Task InsertResidentAsync(AuditScope scope, Guid id) => scope.Db.ExecuteAsync(
        "INSERT INTO residents (account_id, status, terms_version, terms_hash, enrolled_at) VALUES (@id, 'enrolled', 't', 'h', @now)",
        new { id, now = scope.Now });

    private async Task<bool> ResidentExistsAsync(Guid id)
    {
        await using var connection = await Database.Connections.OpenAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM residents WHERE account_id = @id", new { id }) == 1;
    }

    private async Task<long> CountKindAsync(string actor)
    {
        await using var connection = await Database.Connections.OpenAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_log WHERE actor = @actor", new { actor });
    }

    [SkippableFact]
    public async Task A_change_and_its_entries_commit_together_or_not_at_all()
    {
        var kept = Guid.NewGuid();
        var appended = await _log.CommitAsync(async (scope, _) =>
        {
            await InsertResidentAsync(scope, kept);
            return scope.Append(new AuditEntryDraft(AuditKinds.Enrolled, $"resident:{kept}", kept.ToString()));
        });
        Assert.True(await ResidentExistsAsync(kept));
        Assert.Equal(AuditKinds.Enrolled, (await _store.EntryAsync(appended.Sequence))!.Kind);

        // A change that fails after writing and appending leaves neither behind.
        var lost = Guid.NewGuid();
        var size = await SizeAsync();
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => _log.CommitAsync<bool>(async (scope, _) =>
        {
            await InsertResidentAsync(scope, lost);
            scope.Append(new AuditEntryDraft(AuditKinds.Enrolled, $"resident:{lost}", lost.ToString()));
            throw new InvalidDataException("refused after writing");
        }));
        Assert.Equal("refused after writing", error.Message);
        Assert.False(await ResidentExistsAsync(lost));
        Assert.Equal(size, await SizeAsync());

        // Abandoned: the result comes back, nothing stays.
        var abandoned = Guid.NewGuid();
        Assert.Equal(42, await _log.CommitAsync(async (scope, _) =>
        {
            await InsertResidentAsync(scope, abandoned);
            scope.Append(new AuditEntryDraft(AuditKinds.Enrolled, $"resident:{abandoned}", abandoned.ToString()));
            scope.Abandon();
            return 42;
        }));
        Assert.False(await ResidentExistsAsync(abandoned));
        Assert.Equal(size, await SizeAsync());

        // Calling the log again from inside a change would wait for itself: refused, and undone.
        var nested = Guid.NewGuid();
        await Assert.ThrowsAsync<InvalidOperationException>(() => _log.CommitAsync(async (scope, _) =>
        {
            await InsertResidentAsync(scope, nested);
            return await _log.AppendAsync(new AuditEntryDraft(AuditKinds.Enrolled, "system"), CancellationToken.None);
        }));
        Assert.False(await ResidentExistsAsync(nested));
        Assert.Equal(size, await SizeAsync());
        await AssertFrontierMatchesRowsAsync();
    }

    [SkippableFact]
    public async Task Failing_changes_in_a_shared_batch_undo_only_themselves()
    {
        var actor = "batch:" + Guid.NewGuid().ToString("N")[..8];
        var ids = Enumerable.Range(0, 64).Select(_ => Guid.NewGuid()).ToArray();
        var outcomes = await Task.WhenAll(ids.Select(async (id, i) =>
        {
            try
            {
                await _log.CommitAsync(async (scope, _) =>
                {
                    await InsertResidentAsync(scope, id);
                    scope.Append(new AuditEntryDraft(AuditKinds.Enrolled, actor, id.ToString()));
                    scope.Append(new AuditEntryDraft(AuditKinds.SourceLinked, actor, id.ToString()));
                    if (i % 3 == 0)
                    {
                        throw new InvalidOperationException("refused");
                    }
                    return true;
                });
                return true;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }).Concat(Enumerable.Range(0, 32).Select(async _ =>
        {
            // Lone entries interleaved with the changes.
            await _log.AppendAsync(new AuditEntryDraft(AuditKinds.SignInFailed, actor));
            return true;
        })));
        for (var i = 0; i < ids.Length; i++)
        {
            Assert.Equal(i % 3 != 0, outcomes[i]);
            Assert.Equal(i % 3 != 0, await ResidentExistsAsync(ids[i]));
        }
        Assert.Equal((2 * ids.Where((_, i) => i % 3 != 0).Count()) + 32, await CountKindAsync(actor));
        await AssertFrontierMatchesRowsAsync();
    }

    [SkippableFact]
    public async Task Concurrent_appends_are_group_committed_without_gaps()
    {
        var start = await SizeAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(() =>
            _log.AppendAsync(new AuditEntryDraft(AuditKinds.AccessDenied, $"client:c{i % 7}", Payload: new { i })))));

        Assert.Equal(Enumerable.Range(0, 300).Select(i => start + i), results.Select(r => r.Sequence).Order());
        Assert.Equal(start + 300, await SizeAsync());
        var rows = await _store.EntriesAsync(start, long.MaxValue, 1000);
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.True(rows[i].Time >= rows[i - 1].Time);
        }
        await AssertFrontierMatchesRowsAsync();
    }

    [SkippableFact]
    public async Task Stored_subtrees_give_proofs_that_verify()
    {
        for (var i = 0; i < 21; i++)
        {
            await _log.AppendAsync(new AuditEntryDraft(AuditKinds.DepositBatch, "client:steps", Payload: new { count = i }));
        }
        var frontier = await _store.CurrentFrontierAsync();
        var proofs = new AuditProofs(_store);
        var size = frontier.Size;
        foreach (var seq in new[] { 0, size / 2, size - 1 })
        {
            var proof = await proofs.InclusionAsync(seq, size);
            Assert.True(Merkle.VerifyInclusion(seq, size, (await _store.EntryAsync(seq))!.LeafHash, proof, frontier.Root()));
        }
        var consistency = await proofs.ConsistencyAsync(size - 5, size);
        Assert.True(Merkle.VerifyConsistency(size - 5, size, consistency, await proofs.RootAsync(size - 5), frontier.Root()));
    }

    [SkippableFact]
    public async Task The_database_refuses_updates_and_deletes_of_log_rows()
    {
        var appended = await _log.AppendAsync(new AuditEntryDraft(AuditKinds.ConsentWithdrawn, $"resident:{R1}", R1.ToString()));
        await using var connection = await Database.Connections.OpenAsync();
        var update = await Assert.ThrowsAnyAsync<DbException>(() =>
            connection.ExecuteAsync("UPDATE audit_log SET actor = 'x' WHERE seq = @seq", new { seq = appended.Sequence }));
        Assert.Contains("append-only", update.Message);
        var delete = await Assert.ThrowsAnyAsync<DbException>(() => connection.ExecuteAsync("DELETE FROM audit_log"));
        Assert.Contains("append-only", delete.Message);
        await Assert.ThrowsAnyAsync<DbException>(() => connection.ExecuteAsync("DELETE FROM audit_tree_nodes"));
        await Assert.ThrowsAnyAsync<DbException>(() => connection.ExecuteAsync("DELETE FROM audit_checkpoints"));
        Assert.Equal($"resident:{await _store.PseudonymOfAsync(R1)}", (await _store.EntryAsync(appended.Sequence))!.Actor);
        await AssertFrontierMatchesRowsAsync();
    }

    [SkippableFact]
    public async Task A_draft_that_cannot_be_stored_fails_its_caller_only()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _log.AppendAsync(new AuditEntryDraft("", "system")));
        await Assert.ThrowsAsync<ArgumentException>(() => _log.AppendAsync(new AuditEntryDraft(new string('k', 65), "system")));
        var start = await SizeAsync();
        Assert.Equal(start, (await _log.AppendAsync(new AuditEntryDraft(AuditKinds.KeyRotated, "system"))).Sequence);
    }

    [SkippableFact]
    public async Task A_second_writer_on_the_same_database_continues_the_same_tree()
    {
        var start = await SizeAsync();
        await _log.AppendAsync(new AuditEntryDraft(AuditKinds.Enrolled, $"resident:{R1}", R1.ToString()));
        // Another process (the CLI, a second node) appends through its own writer, concurrently.
        await using (var other = NewWriter())
        {
            var both = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? other : _log)
                .AppendAsync(new AuditEntryDraft(AuditKinds.KeyRotated, "system", Payload: new { i }))));
            Assert.Equal(Enumerable.Range(1, 40).Select(i => start + i), both.Select(r => r.Sequence).Order());
        }
        await AssertFrontierMatchesRowsAsync();
    }

    [SkippableFact]
    public async Task Two_nodes_appending_concurrently_build_one_verifiable_tree()
    {
        // Two API nodes: each its own writer, store and connection factory, only the database shared.
        var otherStore = new AuditStore(Database.Connections);
        await using var other = new AuditLogWriter(otherStore, TimeProvider.System, Options.Create(new AuditOptions { MaxBatch = 16 }), NullLogger<AuditLogWriter>.Instance);
        var start = await SizeAsync();
        var told = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => (i % 2 == 0 ? other : _log)
            .AppendAsync(new AuditEntryDraft(AuditKinds.AccessAllowed, $"client:c{i % 5}", i % 3 == 0 ? null : Guid.NewGuid().ToString(),
                Payload: new { i }, SealedPersonalData: i % 4 == 0 ? [(byte)i] : null)))));

        Assert.Equal(Enumerable.Range(0, 400).Select(i => start + i), told.Select(r => r.Sequence).Order());
        foreach (var appended in told)
        {
            var row = (await _store.EntryAsync(appended.Sequence))!;
            Assert.Equal(appended.LeafHash, row.LeafHash);
            Assert.Equal(appended.Time, row.Time);
        }
        var rows = await _store.EntriesAsync(start, long.MaxValue, 1000);
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.True(rows[i].Time >= rows[i - 1].Time);
        }
        await AssertFrontierMatchesRowsAsync();
    }

    [SkippableFact]
    public async Task A_batch_mixing_empty_and_large_fields_stores_each_row_as_given()
    {
        var start = await SizeAsync();
        var large = new string('é', 6_000);
        var grant = Guid.NewGuid();
        var drafts = new[]
        {
            new AuditEntryDraft(AuditKinds.ConsentGiven, $"resident:{R1}", R1.ToString(), "fitness.stats", grant, "sha256:1", large, new byte[5_000]),
            new AuditEntryDraft(AuditKinds.SignInFailed, "system"),
            new AuditEntryDraft(AuditKinds.AccessDenied, "client:c", null, "p", null, null, new { n = 1 }, []),
        };
        var told = await Task.WhenAll(drafts.Select(d => _log.AppendAsync(d)));

        var rows = (await _store.EntriesAsync(start, start + 3, 10)).ToDictionary(r => r.Sequence);
        for (var i = 0; i < drafts.Length; i++)
        {
            var row = rows[told[i].Sequence];
            Assert.Equal(drafts[i].Kind, row.Kind);
            Assert.Equal(drafts[i].SubjectRef is null ? null : await _store.PseudonymOfAsync(R1), row.SubjectRef);
            Assert.Equal(drafts[i].Purpose, row.Purpose);
            Assert.Equal(drafts[i].GrantId, row.GrantId);
            Assert.Equal(drafts[i].PolicyHash, row.PolicyHash);
            Assert.Equal(drafts[i].SealedPersonalData, row.Sealed);
            Assert.Equal(told[i].LeafHash, row.ToEntry().LeafHash());
        }
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(large), rows[told[0].Sequence].Payload);
        Assert.Null(rows[told[1].Sequence].Payload);
        await AssertFrontierMatchesRowsAsync();
    }

    [SkippableFact]
    public async Task Checkpoints_are_stored_once_per_size()
    {
        await _log.AppendAsync(new AuditEntryDraft(AuditKinds.KeyRotated, "system"));
        var size = await SizeAsync();
        var row = new CheckpointRow { TreeSize = size, RootHash = new byte[32], CreatedAt = DateTimeOffset.UtcNow, KeyName = "k", Note = "n\n" };
        Assert.True(await _store.AddCheckpointAsync(row));
        Assert.False(await _store.AddCheckpointAsync(row));
        Assert.Equal(size, (await _store.LatestCheckpointAsync())!.TreeSize);
        Assert.Equal(size, (await _store.CheckpointCoveringAsync(size - 1))!.TreeSize);
        Assert.Single(await _store.CheckpointsAsync(size, size, 10));
    }
}

public sealed class SqliteAuditStoreTests(SqliteFixture database) : AuditStoreTests<SqliteFixture>(database);

public sealed class PostgresAuditStoreTests(PostgresFixture database) : AuditStoreTests<PostgresFixture>(database);

public sealed class SqlServerAuditStoreTests(SqlServerFixture database) : AuditStoreTests<SqlServerFixture>(database);
