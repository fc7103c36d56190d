using System.Security.Cryptography;
using System.Text;
using Dapper;
using InfoBank.Core.Custody;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Tests.Infrastructure;

using InfoBank.TestSupport;

namespace InfoBank.Server.Tests.Custody;

public sealed class SqliteCustodyStoreTests(SqliteFixture database) : CustodyStoreTests<SqliteFixture>(database);

public sealed class PostgresCustodyStoreTests(PostgresFixture database) : CustodyStoreTests<PostgresFixture>(database);

public sealed class SqlServerCustodyStoreTests(SqlServerFixture database) : CustodyStoreTests<SqlServerFixture>(database);

/// <summary>The custody stores against a real database of each provider, through the services the CLI composes.</summary>
public abstract class CustodyStoreTests<TFixture> : StoreTestBase<TFixture>, IDisposable
    where TFixture : DatabaseFixture
{
    private readonly CustodyHarness _harness;

    protected CustodyStoreTests(TFixture database)
        : base(database)
    {
        _harness = new CustodyHarness(database);
    }

    public void Dispose() => _harness.Dispose();

    private static readonly DateTimeOffset Day = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(-3);

    private static NewRecord Steps(Guid resident, int steps, string sourceId, int day = 0) =>
        new(resident, "steps.daily", Day.AddDays(day), sourceId, Encoding.UTF8.GetBytes($"{{\"steps\":{steps}}}"));

    private static string Source() => "src-" + Guid.NewGuid().ToString("N")[..8];

    [SkippableFact]
    public async Task Records_round_trip_and_the_table_holds_only_ciphertext()
    {
        var resident = await _harness.EnrolledResidentAsync();
        var source = Source();
        var ids = await _harness.Vault.InsertAsync(_harness.Db, source, [Steps(resident, 8123, "a"), Steps(resident, 9001, "b", 1)], default);
        Assert.All(ids, id => Assert.NotNull(id));

        var records = await _harness.Vault.ListAsync(resident, new RecordQuery(null, null, null, null, null, 10), default);
        Assert.Equal(["{\"steps\":8123}", "{\"steps\":9001}"], records.Select(r => Encoding.UTF8.GetString(r.Payload)));
        Assert.Equal(ids.Select(i => i!.Value), records.Select(r => r.Id));

        await using var connection = await _harness.Db.OpenAsync();
        var raw = (await connection.QueryAsync<byte[]>("SELECT ciphertext FROM custody_records WHERE source_client_id = @source", new { source })).ToList();
        Assert.Equal(2, raw.Count);
        Assert.All(raw, c => Assert.DoesNotContain("8123", Encoding.Latin1.GetString(c)));
        Assert.All(raw, c => Assert.DoesNotContain("9001", Encoding.Latin1.GetString(c)));
    }

    [SkippableFact]
    public async Task Ciphertext_moved_to_another_row_or_resident_fails_to_decrypt()
    {
        var alice = await _harness.EnrolledResidentAsync();
        var bob = await _harness.EnrolledResidentAsync();
        var source = Source();
        var aliceIds = await _harness.Vault.InsertAsync(_harness.Db, source, [Steps(alice, 1111, "a1"), Steps(alice, 2222, "a2", 1)], default);
        var bobIds = await _harness.Vault.InsertAsync(_harness.Db, source, [Steps(bob, 3333, "b1")], default);

        await using (var connection = await _harness.Db.OpenAsync())
        {
            // Within one resident: row a2 gets a1's ciphertext (same key, other record id).
            var a1 = await connection.QuerySingleAsync<byte[]>("SELECT ciphertext FROM custody_records WHERE id = @id", new { id = aliceIds[0] });
            await connection.ExecuteAsync("UPDATE custody_records SET ciphertext = @a1 WHERE id = @id", new { a1, id = aliceIds[1] });
            // Across residents: Bob's row gets Alice's ciphertext.
            await connection.ExecuteAsync("UPDATE custody_records SET ciphertext = @a1 WHERE id = @id", new { a1, id = bobIds[0] });
        }

        // Each moved value fails to authenticate, so it is withheld (no payload); a1 itself still opens.
        var query = new RecordQuery(null, null, null, null, null, 10);
        var alices = await _harness.Vault.ListAsync(alice, query, default);
        Assert.Equal(RecordIntegrity.Intact, alices.Single(r => r.Id == aliceIds[0]).Integrity);
        var moved = alices.Single(r => r.Id == aliceIds[1]);
        Assert.Equal(RecordIntegrity.Failed, moved.Integrity);
        Assert.Empty(moved.Payload);
        var bobs = Assert.Single(await _harness.Vault.ListAsync(bob, query, default));
        Assert.Equal(RecordIntegrity.Failed, bobs.Integrity);
        Assert.Empty(bobs.Payload);
    }

    [SkippableFact]
    public async Task A_tampered_ciphertext_is_an_authentication_failure_not_garbage()
    {
        var resident = await _harness.EnrolledResidentAsync();
        var ids = await _harness.Vault.InsertAsync(_harness.Db, Source(), [Steps(resident, 4242, "t")], default);
        await using (var connection = await _harness.Db.OpenAsync())
        {
            var value = await connection.QuerySingleAsync<byte[]>("SELECT ciphertext FROM custody_records WHERE id = @id", new { id = ids[0] });
            value[^20] ^= 0x01;
            await connection.ExecuteAsync("UPDATE custody_records SET ciphertext = @value WHERE id = @id", new { value, id = ids[0] });
        }
        // Never garbage: the record comes back withheld, with no payload at all.
        var record = Assert.Single(await _harness.Vault.ListAsync(resident, new RecordQuery(null, null, null, null, null, 10), default));
        Assert.Equal(RecordIntegrity.Failed, record.Integrity);
        Assert.Empty(record.Payload);
        Assert.Equal(ids[0], record.Id);
    }

    [SkippableFact]
    public async Task Retried_inserts_store_nothing_twice()
    {
        var resident = await _harness.EnrolledResidentAsync();
        var source = Source();
        var batch = new[] { Steps(resident, 1, "r1"), Steps(resident, 2, "r2") };
        var first = await _harness.Vault.InsertAsync(_harness.Db, source, batch, default);
        var again = await _harness.Vault.InsertAsync(_harness.Db, source, [.. batch, Steps(resident, 3, "r3")], default);

        Assert.All(first, id => Assert.NotNull(id));
        Assert.Null(again[0]);
        Assert.Null(again[1]);
        Assert.NotNull(again[2]);
        Assert.Equal(3, await _harness.Vault.CountAsync(resident, default));
        // Another source may use the same ids: idempotency is per (source, source record id).
        Assert.All(await _harness.Vault.InsertAsync(_harness.Db, Source(), batch, default), id => Assert.NotNull(id));
    }

    [SkippableFact]
    public async Task A_batch_spanning_several_statements_reports_each_duplicate_at_its_own_index()
    {
        // 250 records: several multi-row statements on the server databases (the last one partial),
        // one statement per row on SQLite; every 7th was stored by an earlier request.
        var resident = await _harness.EnrolledResidentAsync();
        var other = await _harness.EnrolledResidentAsync();
        var source = Source();
        var batch = Enumerable.Range(0, 250).Select(i => Steps(i % 2 == 0 ? resident : other, i, $"m{i}", i % 30)).ToList();
        var earlier = await _harness.Vault.InsertAsync(_harness.Db, source, batch.Where((_, i) => i % 7 == 0).ToList(), default);
        Assert.All(earlier, id => Assert.NotNull(id));

        var ids = await _harness.Vault.InsertAsync(_harness.Db, source, batch, default);

        for (var i = 0; i < batch.Count; i++)
        {
            if (i % 7 == 0)
            {
                Assert.Null(ids[i]);
            }
            else
            {
                Assert.NotNull(ids[i]);
            }
        }
        Assert.Equal(250 - 36, ids.Distinct().Count(id => id is not null));
        Assert.Equal(125, await _harness.Vault.CountAsync(resident, default));
        Assert.Equal(125, await _harness.Vault.CountAsync(other, default));
        // Each stored id opens the record deposited at that index.
        var opened = new List<OpenedRecord>();
        await foreach (var record in _harness.Vault.ReadAllAsync(resident, default))
        {
            opened.Add(record);
        }
        for (var i = 2; i < batch.Count; i += 2)
        {
            if (ids[i] is { } id)
            {
                Assert.Equal(batch[i].SourceRecordId, Assert.Single(opened, r => r.Id == id).SourceRecordId);
            }
        }
    }

    [SkippableFact]
    public async Task Erasure_shreds_the_keys_so_the_raw_rows_cannot_be_decrypted_then_the_sweep_removes_them()
    {
        var resident = await _harness.EnrolledResidentAsync();
        var other = await _harness.EnrolledResidentAsync();
        var source = Source();
        await _harness.Vault.InsertAsync(_harness.Db, source, Enumerable.Range(0, 50).Select(i => Steps(resident, i, $"e{i}", i % 3)).ToList(), default);
        await _harness.Vault.InsertAsync(_harness.Db, source, [Steps(other, 77, "keep")], default);
        await _harness.Store.UpsertLinkAsync(_harness.Db, resident, source, ["steps.daily"], default);

        var erasure = await _harness.Store.EraseAsync(_harness.Db, _harness.Keys, resident, default);
        Assert.NotNull(erasure);
        Assert.Null(await _harness.Store.EraseAsync(_harness.Db, _harness.Keys, resident, default));

        await using (var connection = await _harness.Db.OpenAsync())
        {
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM resident_keys WHERE resident_id = @resident", new { resident }));
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM source_links WHERE resident_id = @resident", new { resident }));
            var rows = (await connection.QueryAsync<RawRecord>(
                "SELECT id AS Id, key_version AS KeyVersion, ciphertext AS Ciphertext FROM custody_records WHERE resident_id = @resident", new { resident })).ToList();
            Assert.Equal(50, rows.Count);
            // The key ring no longer has any key for them, and no other key opens the rows.
            Assert.Null(await _harness.Keys.GetAsync(resident, rows[0].KeyVersion));
            var otherKey = (await _harness.Keys.GetActiveAsync(other))!;
            Assert.Throws<SealAuthenticationException>(() =>
                RecordSeal.Open(otherKey.Key, new RecordBinding(resident, rows[0].Id, "steps.daily", rows[0].KeyVersion), rows[0].Ciphertext));
        }
        Assert.Empty(await _harness.Vault.ListAsync(resident, new RecordQuery(null, null, null, null, null, 100), default));
        Assert.Equal("erased", (await _harness.Store.FindResidentAsync(resident))!.Status);
        Assert.Empty(await _harness.Store.FindLinkedResidentsAsync(source, ["anything"], default));

        // Re-enrolling gives a fresh key version; the shredded rows stay unreadable and invisible.
        await _harness.Store.EnrolAsync(_harness.Db, _harness.Keys, resident, CustodyTerms.Current.Version, CustodyTerms.Current.Hash, default);
        var fresh = (await _harness.Keys.GetActiveAsync(resident))!;
        Assert.True(fresh.Version > erasure.UpToKeyVersion);
        Assert.Empty(await _harness.Vault.ListAsync(resident, new RecordQuery(null, null, null, null, null, 100), default));
        await _harness.Vault.InsertAsync(_harness.Db, source, [Steps(resident, 5, "after")], default);

        var swept = await _harness.Get<ErasureSweeper>().SweepAsync(erasure.Id, default);
        Assert.Equal(50, swept);
        Assert.Equal(1, await _harness.Vault.CountAsync(resident, default));
        Assert.Single(await _harness.Vault.ListAsync(resident, new RecordQuery(null, null, null, null, null, 100), default));
        Assert.Equal(1, await _harness.Vault.CountAsync(other, default));
        Assert.Equal(0, await _harness.Get<ErasureSweeper>().SweepAsync(erasure.Id, default));
    }

    private sealed class RawRecord
    {
        public Guid Id { get; init; }

        public int KeyVersion { get; init; }

        public byte[] Ciphertext { get; init; } = [];
    }
}
