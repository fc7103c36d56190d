using System.Text;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Tests.Infrastructure;
using InfoBank.TestSupport;

namespace InfoBank.Server.Tests.Custody;

public sealed class SqliteKeyRotationTests(SqliteFixture database) : KeyRotationTests<SqliteFixture>(database);

public sealed class PostgresKeyRotationTests(PostgresFixture database) : KeyRotationTests<PostgresFixture>(database);

public sealed class SqlServerKeyRotationTests(SqlServerFixture database) : KeyRotationTests<SqlServerFixture>(database);

/// <summary>Key-encryption-key and data-key rotation against a real DataProtection key ring in the database.</summary>
public abstract class KeyRotationTests<TFixture> : StoreTestBase<TFixture>, IDisposable
    where TFixture : DatabaseFixture
{
    private readonly CustodyHarness _harness;

    protected KeyRotationTests(TFixture database)
        : base(database)
    {
        _harness = new CustodyHarness(database);
    }

    public void Dispose() => _harness.Dispose();

    private static NewRecord Steps(Guid resident, int steps) =>
        new(resident, "steps.daily", DateTimeOffset.UtcNow.AddHours(-steps % 500), $"s{Guid.NewGuid():N}", Encoding.UTF8.GetBytes($"{{\"steps\":{steps}}}"));

    [SkippableFact]
    public async Task Rotating_the_kek_rewraps_every_data_key_and_records_stay_readable()
    {
        var residents = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var resident = await _harness.EnrolledResidentAsync();
            await _harness.Vault.InsertAsync(_harness.Db, "src", [Steps(resident, 100 + i)], default);
            residents.Add(resident);
        }
        var before = _harness.Keys.CurrentKekId();

        var newKek = await _harness.Rotation.RotateKekAsync("operator:test", default);
        Assert.NotEqual(before, newKek);
        Assert.True(await _harness.Rotation.WaitUntilCurrentAsync(newKek, TimeSpan.FromSeconds(30), default));
        Assert.True(await _harness.Rotation.RewrapAsync(default) >= 3);
        Assert.Equal(0, await _harness.Rotation.RewrapAsync(default));

        await using (var connection = await _harness.Db.OpenAsync())
        {
            var keks = (await connection.QueryAsync<Guid>("SELECT kek_id FROM resident_keys")).Distinct().ToList();
            Assert.Equal([newKek], keks);
        }
        var status = await _harness.Rotation.StatusAsync(default);
        Assert.Equal(newKek, status.CurrentKekId);
        Assert.Equal(0, status.DeksUnderOtherKeks);
        Assert.Contains(status.Keks, k => k.KeyId == before && k.WrappedDeks == 0);

        foreach (var resident in residents)
        {
            _harness.Keys.Forget(resident);
            Assert.Single(await _harness.Vault.ListAsync(resident, new RecordQuery(null, null, null, null, null, 10), default));
        }
        Assert.Contains(_harness.Audit.Entries, e => e.Kind == AuditKinds.KeyRotated);
    }

    // DataProtection reloads the ring by itself on an unknown key for two minutes after it starts;
    // a running server is long past that window, so the tests close it to see what such a server does.
    private static void CloseAutoRefreshWindow(CustodyHarness harness)
    {
        var provider = harness.Get<Microsoft.AspNetCore.DataProtection.KeyManagement.Internal.IKeyRingProvider>();
        provider.GetType().GetProperty("AutoRefreshWindowEnd", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!
            .SetValue(provider, DateTime.MinValue);
        provider.GetCurrentKeyRing();
    }

    [SkippableFact]
    public async Task A_kek_rotated_by_another_process_is_picked_up_by_a_running_node_without_a_restart()
    {
        Assert.IsType<RefreshableKeyManager>(_harness.Get<Microsoft.AspNetCore.DataProtection.KeyManagement.IKeyManager>());
        var resident = await _harness.EnrolledResidentAsync();
        await _harness.Vault.InsertAsync(_harness.Db, "src", [Steps(resident, 7)], default);
        CloseAutoRefreshWindow(_harness);
        var before = _harness.Keys.CurrentKekId();

        // The CLI (another process: its own DataProtection over the same database) rotates and re-wraps.
        using (var cli = new CustodyHarness(Database))
        {
            var kek = await cli.Rotation.RotateKekAsync("operator:test", default);
            Assert.True(await cli.Rotation.WaitUntilCurrentAsync(kek, TimeSpan.FromSeconds(30), default));
            Assert.True(await cli.Rotation.RewrapAsync(default) >= 1);
            Assert.NotEqual(before, kek);

            // This node still holds the old ring. Its data-key cache lapses; the next read meets a key
            // wrapped under a key-encryption key it has not loaded, reloads the ring and succeeds.
            _harness.Keys.Forget(resident);
            Assert.Single(await _harness.Vault.ListAsync(resident, new RecordQuery(null, null, null, null, null, 10), default));
            Assert.Equal(kek, _harness.Keys.CurrentKekId());
        }
    }

    [SkippableFact]
    public async Task The_key_ring_watcher_reloads_a_ring_changed_elsewhere()
    {
        var resident = await _harness.EnrolledResidentAsync();
        CloseAutoRefreshWindow(_harness);
        var before = _harness.Keys.CurrentKekId();
        using var watcher = new KeyRingWatcher(_harness.Db, _harness.Get<KeyRingRefresh>(),
            Microsoft.Extensions.Options.Options.Create(new KeyRingWatchOptions { KeyRingPollSeconds = 1 }), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<KeyRingWatcher>.Instance);
        await watcher.StartAsync(default);
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        using var cli = new CustodyHarness(Database);
        var kek = await cli.Rotation.RotateKekAsync("operator:test", default);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (_harness.Keys.CurrentKekId() != kek && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.NotEqual(before, kek);
        Assert.Equal(kek, _harness.Keys.CurrentKekId());
        await watcher.StopAsync(default);
        _ = resident;
    }

    [SkippableFact]
    public async Task Rotating_a_residents_key_while_reading_never_fails_a_read()
    {
        var resident = await _harness.EnrolledResidentAsync();
        const int count = 1_200;
        for (var i = 0; i < count; i += 300)
        {
            await _harness.Vault.InsertAsync(_harness.Db, "src", Enumerable.Range(i, 300).Select(n => Steps(resident, n)).ToList(), default);
        }

        using var stop = new CancellationTokenSource();
        var reads = 0;
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var seen = 0;
                await foreach (var record in _harness.Vault.ReadAllAsync(resident, default))
                {
                    Assert.StartsWith("{\"steps\":", Encoding.UTF8.GetString(record.Payload));
                    seen++;
                }
                Assert.InRange(seen, count, count + 1);
                reads++;
            }
        });

        var version = await _harness.Rotation.RotateResidentKeyAsync(resident, "operator:test", default);
        Assert.Equal(2, version);
        // New deposits use the new version at once.
        await _harness.Vault.InsertAsync(_harness.Db, "src", [Steps(resident, 1)], default);
        var resealed = await _harness.Rotation.ResealResidentAsync(resident, default);
        await Task.Delay(200);
        stop.Cancel();
        await reader;

        Assert.Equal(count, resealed);
        Assert.True(reads > 0);
        await using var connection = await _harness.Db.OpenAsync();
        Assert.Equal([2], (await connection.QueryAsync<int>("SELECT version FROM resident_keys WHERE resident_id = @resident", new { resident })).ToList());
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM custody_records WHERE resident_id = @resident AND key_version <> 2", new { resident }));
        var readable = 0;
        await foreach (var record in _harness.Vault.ReadAllAsync(resident, default))
        {
            readable++;
        }
        Assert.Equal(count + 1, readable);
        Assert.Contains(_harness.Audit.Entries, e => e.Kind == AuditKinds.KeyDestroyed);
    }

    [SkippableFact]
    public async Task The_key_ring_in_the_database_is_useless_without_the_master_key_file()
    {
        var resident = await _harness.EnrolledResidentAsync();
        await _harness.Vault.InsertAsync(_harness.Db, "src", [Steps(resident, 42)], default);
        await using (var connection = await _harness.Db.OpenAsync())
        {
            var xml = (await connection.QueryAsync<string>("SELECT xml FROM dataprotection_keys")).ToList();
            Assert.NotEmpty(xml);
            Assert.All(xml, x => Assert.Contains("encryptedKey", x));
            Assert.All(xml, x => Assert.DoesNotContain("requiresEncryption", x));
        }

        // Same database, another master key file: the KEK cannot be decrypted, so neither can the DEKs.
        var database = (DatabaseFixture)Database;
        using var thief = new CustodyHarness(database, Path.Combine(Path.GetTempPath(), "infobank-tests", $"thief-{Guid.NewGuid():N}.key"));
        await Assert.ThrowsAnyAsync<System.Security.Cryptography.CryptographicException>(() => thief.Keys.GetActiveAsync(resident));
    }
}
