using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Audit;

public sealed class AuditLogTests : IDisposable
{
    private readonly InfoBankFactory _factory = new();

    public AuditLogTests()
    {
        // Starting the host runs the migrations.
        _factory.CreateClient().Dispose();
    }

    public void Dispose() => _factory.Dispose();

    private IAuditLog Log => _factory.Services.GetRequiredService<IAuditLog>();

    private AuditStore Store => _factory.Services.GetRequiredService<AuditStore>();

    [Fact]
    public async Task Appends_get_consecutive_sequences_and_stored_leaves_recompute()
    {
        var first = await Log.AppendAsync(new AuditEntryDraft(AuditKinds.ConsentGiven, "resident:r1", "r1", "fitness.stats",
            Guid.NewGuid(), "sha256:abc", new { items = new[] { "steps.daily" } }, [9, 9, 9]));
        var second = await Log.AppendAsync(new AuditEntryDraft(AuditKinds.SignInFailed, "system"));

        Assert.Equal(0, first.Sequence);
        Assert.Equal(1, second.Sequence);
        Assert.True(second.Time >= first.Time);

        var rows = await Store.EntriesAsync(0, long.MaxValue, 10);
        Assert.Equal(2, rows.Count);
        Assert.Equal("{\"items\":[\"steps.daily\"]}", rows[0].Payload);
        Assert.Equal(new byte[] { 9, 9, 9 }, rows[0].Sealed);
        Assert.Equal(first.LeafHash, rows[0].LeafHash);
        Assert.Equal(first.LeafHash, rows[0].ToEntry().LeafHash());
        Assert.Equal(second.LeafHash, rows[1].ToEntry().LeafHash());
        Assert.Equal(first.Time, rows[0].Time);
    }

    [Fact]
    public async Task Concurrent_appends_are_group_committed_without_gaps_and_the_frontier_matches()
    {
        var tasks = Enumerable.Range(0, 400).Select(i => Task.Run(() =>
            Log.AppendAsync(new AuditEntryDraft(AuditKinds.AccessDenied, $"client:c{i % 7}", Payload: new { i })))).ToArray();
        var results = await Task.WhenAll(tasks);

        Assert.Equal(Enumerable.Range(0, 400).Select(i => (long)i), results.Select(r => r.Sequence).Order());
        var rows = await Store.EntriesAsync(0, long.MaxValue, 1000);
        Assert.Equal(400, rows.Count);
        var frontier = await Store.CurrentFrontierAsync();
        Assert.Equal(400, frontier.Size);
        Assert.Equal(Merkle.RootOf(rows.Select(r => r.ToEntry().LeafHash())), frontier.Root());
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.True(rows[i].Time >= rows[i - 1].Time);
        }
    }

    [Fact]
    public async Task Stored_subtree_nodes_give_proofs_that_verify()
    {
        var appended = new List<AuditAppended>();
        for (var i = 0; i < 21; i++)
        {
            appended.Add(await Log.AppendAsync(new AuditEntryDraft(AuditKinds.DepositBatch, "client:steps", Payload: new { count = i })));
        }
        var frontier = await Store.CurrentFrontierAsync();
        var wanted = new List<(int, long)>();
        Merkle.InclusionProof(13, 21, (level, index) => { wanted.Add((level, index)); return new byte[32]; });
        var nodes = await Store.NodesAsync(wanted);
        var proof = Merkle.InclusionProof(13, 21, (level, index) => nodes[(level, index)]);
        Assert.True(Merkle.VerifyInclusion(13, 21, appended[13].LeafHash, proof, frontier.Root()));
    }

    [Fact]
    public async Task The_database_refuses_updates_and_deletes_of_log_rows()
    {
        await Log.AppendAsync(new AuditEntryDraft(AuditKinds.ConsentWithdrawn, "resident:r1", "r1"));
        for (var i = 0; i < 3; i++)
        {
            await Log.AppendAsync(new AuditEntryDraft(AuditKinds.ConsentWithdrawn, "resident:r1", "r1"));
        }
        await using var connection = new SqliteConnection(_factory.ConnectionString);
        await connection.OpenAsync();
        var update = await Assert.ThrowsAsync<SqliteException>(() => connection.ExecuteAsync("UPDATE audit_log SET actor = 'x' WHERE seq = 0"));
        Assert.Contains("append-only", update.Message);
        var delete = await Assert.ThrowsAsync<SqliteException>(() => connection.ExecuteAsync("DELETE FROM audit_log"));
        Assert.Contains("append-only", delete.Message);
        await Assert.ThrowsAsync<SqliteException>(() => connection.ExecuteAsync("DELETE FROM audit_tree_nodes"));
        Assert.Equal(4, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_log"));
    }

    [Fact]
    public async Task A_draft_that_cannot_be_stored_fails_its_caller_only()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Log.AppendAsync(new AuditEntryDraft("", "system")));
        await Assert.ThrowsAsync<ArgumentException>(() => Log.AppendAsync(new AuditEntryDraft(new string('k', 65), "system")));
        var ok = await Log.AppendAsync(new AuditEntryDraft(AuditKinds.KeyRotated, "system"));
        Assert.Equal(0, ok.Sequence);
    }

    [Fact]
    public async Task A_second_writer_on_the_same_database_continues_the_same_tree()
    {
        await Log.AppendAsync(new AuditEntryDraft(AuditKinds.Enrolled, "resident:r1", "r1"));
        // Another process (the CLI, a second node) appends through its own writer.
        var db = _factory.Services.GetRequiredService<DbConnectionFactory>();
        await using (var other = new AuditLogWriter(new AuditStore(db), TimeProvider.System,
            Microsoft.Extensions.Options.Options.Create(new AuditOptions()), Microsoft.Extensions.Logging.Abstractions.NullLogger<AuditLogWriter>.Instance))
        {
            Assert.Equal(1, (await other.AppendAsync(new AuditEntryDraft(AuditKinds.KeyRotated, "system"))).Sequence);
        }
        Assert.Equal(2, (await Log.AppendAsync(new AuditEntryDraft(AuditKinds.SourceLinked, "resident:r1", "r1"))).Sequence);
        var rows = await Store.EntriesAsync(0, long.MaxValue, 10);
        Assert.Equal(Merkle.RootOf(rows.Select(r => r.ToEntry().LeafHash())), (await Store.CurrentFrontierAsync()).Root());
    }
}
