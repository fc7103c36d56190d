using InfoBank.Core.Access;
using InfoBank.Server.Features.Access;
using InfoBank.Server.Tests.Infrastructure;

using InfoBank.TestSupport;

namespace InfoBank.Server.Tests.Access;

public abstract class AccessStoreTests<TFixture>(TFixture database) : StoreTestBase<TFixture>(database)
    where TFixture : DatabaseFixture
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private AccessStore Store => new(Database.Connections);

    internal static AccessLogEntry Entry(Guid grant, string recipient, DateTimeOffset at, string outcome = AccessOutcomes.Served, bool start = true, int items = 3, Guid? fetch = null) =>
        new(Guid.NewGuid(), at, grant, recipient, AccessKinds.Records, outcome, fetch ?? Guid.NewGuid(), start, items, 2,
            """["steps.daily.steps"]""", "health-research", "committee decision 7", "sha256:abc", """["consent ok"]""", 42);

    [SkippableFact]
    public async Task An_access_becomes_a_passbook_line_for_each_resident_provided_and_no_one_else()
    {
        var (alice, bob, carol) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var grant = Guid.NewGuid();
        var entry = Entry(grant, "fitness-club", Now);
        await Store.RecordAsync(entry, [new Provision(alice, 2, 10), new Provision(bob, 1, 0)], CancellationToken.None);

        var line = Assert.Single(await Store.PassbookAsync(alice, null, null, 10, CancellationToken.None));
        Assert.Equal((entry.Id, grant, "fitness-club", 2, 10), (line.AccessId, line.GrantId, line.Recipient, line.Records, line.Points));
        Assert.Equal(Now, line.At);
        Assert.Equal("health-research", line.Purpose);
        Assert.Equal("committee decision 7", line.Approval);
        Assert.Single(await Store.PassbookAsync(bob, null, null, 10, CancellationToken.None));
        Assert.Empty(await Store.PassbookAsync(carol, null, null, 10, CancellationToken.None));
        Assert.Equal(10, await Store.PointsTotalAsync(alice, CancellationToken.None));
        Assert.Equal(0, await Store.PointsTotalAsync(carol, CancellationToken.None));
        Assert.Equal([alice], await Store.RewardedInFetchAsync(entry.FetchId!.Value, [alice, bob, carol], CancellationToken.None));
        Assert.Empty(await Store.RewardedInFetchAsync(entry.FetchId!.Value, [bob, carol], CancellationToken.None));
        Assert.Empty(await Store.PassbookAsync(alice, Now, null, 10, CancellationToken.None));
    }

    [SkippableFact]
    public async Task The_log_filters_by_grant_recipient_and_time_newest_first()
    {
        var grant = Guid.NewGuid();
        var recipient = $"biz-{Guid.NewGuid():N}";
        var older = Entry(grant, recipient, Now.AddHours(-2));
        var newer = Entry(grant, recipient, Now.AddHours(-1), AccessOutcomes.Throttled);
        var other = Entry(Guid.NewGuid(), recipient, Now.AddHours(-1));
        foreach (var e in new[] { older, newer, other })
        {
            await Store.RecordAsync(e, [], CancellationToken.None);
        }
        var byGrant = await Store.LogAsync(grant, null, null, null, null, 10, CancellationToken.None);
        Assert.Equal([newer.Id, older.Id], byGrant.Select(e => e.Id));
        Assert.Equal(newer, byGrant[0]);
        Assert.Equal(3, (await Store.LogAsync(null, recipient, null, null, null, 10, CancellationToken.None)).Count);
        Assert.Equal([older.Id], (await Store.LogAsync(grant, recipient, Now.AddHours(-3), Now.AddHours(-1), null, 10, CancellationToken.None)).Select(e => e.Id));
        Assert.Single(await Store.LogAsync(null, recipient, null, null, null, 1, CancellationToken.None));
    }

    [SkippableFact]
    public async Task Paging_through_lines_written_at_the_same_moment_skips_none()
    {
        // One weekly release request writes a line per week, all at the same time.
        var (resident, grant) = (Guid.NewGuid(), Guid.NewGuid());
        var recipient = $"biz-{Guid.NewGuid():N}";
        var written = new List<Guid>();
        for (var week = 0; week < 4; week++)
        {
            var entry = Entry(grant, recipient, Now);
            await Store.RecordAsync(entry, [new Provision(resident, 7, 0)], CancellationToken.None);
            written.Add(entry.Id);
        }

        var seen = new List<Guid>();
        (DateTimeOffset? At, Guid? Id) next = (null, null);
        for (var page = 0; page < 10; page++)
        {
            var rows = await Store.PassbookAsync(resident, next.At, next.Id, 1, CancellationToken.None);
            if (rows.Count == 0)
            {
                break;
            }
            seen.Add(rows[0].AccessId);
            next = (rows[0].At, rows[0].AccessId);
        }
        Assert.Equal(written.Order(), seen.Order());

        var logged = new List<Guid>();
        next = (null, null);
        for (var page = 0; page < 10; page++)
        {
            var rows = await Store.LogAsync(grant, null, null, null, next.At is { } at ? new AccessLogPosition(at, next.Id!.Value) : null, 1, CancellationToken.None);
            if (rows.Count == 0)
            {
                break;
            }
            logged.Add(rows[0].Id);
            next = (rows[0].At, rows[0].Id);
        }
        Assert.Equal(written.Order(), logged.Order());
    }

    [SkippableFact]
    public async Task Events_keep_outcomes_and_leave_out_refusals()
    {
        var grant = Guid.NewGuid();
        await Store.RecordAsync(Entry(grant, "mall", Now.AddHours(-5)), [], CancellationToken.None);
        await Store.RecordAsync(Entry(grant, "mall", Now.AddHours(-4), start: false), [], CancellationToken.None);
        await Store.RecordAsync(Entry(grant, "mall", Now.AddHours(-3), AccessOutcomes.Throttled), [], CancellationToken.None);
        await Store.RecordAsync(Entry(grant, "mall", Now.AddHours(-2), AccessOutcomes.Refused), [], CancellationToken.None);
        await Store.RecordAsync(Entry(grant, "mall", Now.AddDays(-3)), [], CancellationToken.None);

        var events = await Store.EventsAsync(grant, Now.AddDays(-1), CancellationToken.None);
        Assert.Equal(3, events.Count);
        Assert.Contains(events, e => e.Outcome == AccessOutcome.Throttled);
        Assert.Contains(grant, await Store.GrantsAccessedSinceAsync(Now.AddDays(-1), CancellationToken.None));
    }

    [SkippableFact]
    public async Task Concurrent_fetch_starts_on_one_grant_let_exactly_the_allowed_number_through()
    {
        foreach (var allowed in new[] { 1, 3 })
        {
            var grant = Guid.NewGuid();
            var policy = new FetchPolicy(allowed, TimeSpan.FromDays(30), null);
            var verdicts = await Concurrently(16, () => Store.TryStartFetchAsync(grant, AccessKinds.Records, Guid.NewGuid(), policy, Now, CancellationToken.None));
            Assert.Equal(allowed, verdicts.Count(v => v.Allowed));
            Assert.All(verdicts.Where(v => !v.Allowed), v => Assert.True(v.Kind == FetchVerdictKind.RetryLater && v.RetryAfter > TimeSpan.FromDays(29)));
            Assert.False((await Store.CanStartFetchAsync(grant, AccessKinds.Records, policy, Now, CancellationToken.None)).Allowed);
            // Another kind and another grant have limits of their own; the period slides.
            Assert.True((await Store.CanStartFetchAsync(grant, AccessKinds.Aggregate, policy, Now, CancellationToken.None)).Allowed);
            Assert.True((await Store.CanStartFetchAsync(Guid.NewGuid(), AccessKinds.Records, policy, Now, CancellationToken.None)).Allowed);
            Assert.True((await Store.CanStartFetchAsync(grant, AccessKinds.Records, policy, Now.AddDays(30), CancellationToken.None)).Allowed);
        }
        // A request that read the clock a moment before another recorded its start still sees that start.
        var raced = Guid.NewGuid();
        var once = new FetchPolicy(1, TimeSpan.FromDays(1), null);
        Assert.True((await Store.TryStartFetchAsync(raced, AccessKinds.Records, Guid.NewGuid(), once, Now, CancellationToken.None)).Allowed);
        Assert.False((await Store.TryStartFetchAsync(raced, AccessKinds.Records, Guid.NewGuid(), once, Now.AddMilliseconds(-5), CancellationToken.None)).Allowed);
    }

    [SkippableFact]
    public async Task Concurrent_pages_of_one_fetch_never_reserve_more_than_its_volume()
    {
        var grant = Guid.NewGuid();
        var fetch = Guid.NewGuid();
        var policy = new FetchPolicy(1, null, 250);
        Assert.True((await Store.TryStartFetchAsync(grant, AccessKinds.Records, fetch, policy, Now, CancellationToken.None)).Allowed);
        Assert.Equal(FetchVerdictKind.Exhausted, (await Store.TryStartFetchAsync(grant, AccessKinds.Records, Guid.NewGuid(), policy, Now, CancellationToken.None)).Kind);

        var pages = await Concurrently(10, () => Store.ReservePageAsync(grant, fetch, policy, 100, CancellationToken.None));
        Assert.Equal(250, pages.Sum(p => p!.Value.Budget));
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 50, 100, 100], pages.Select(p => p!.Value.Budget).Order());

        // What a page did not use goes back; a fetch of another grant, or an unknown one, reserves nothing.
        await Store.ReturnUnusedAsync(fetch, 30, CancellationToken.None);
        Assert.Equal((220, 30), await Store.ReservePageAsync(grant, fetch, policy, 100, CancellationToken.None));
        Assert.Null(await Store.ReservePageAsync(Guid.NewGuid(), fetch, policy, 100, CancellationToken.None));
        Assert.Null(await Store.ReservePageAsync(grant, Guid.NewGuid(), policy, 100, CancellationToken.None));
    }

    private static async Task<T[]> Concurrently<T>(int count, Func<Task<T>> action)
    {
        using var start = new SemaphoreSlim(0);
        var tasks = Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            await start.WaitAsync();
            return await action();
        })).ToList();
        start.Release(count);
        return await Task.WhenAll(tasks);
    }

    [SkippableFact]
    public async Task A_bucket_is_released_once_and_its_cells_come_back_exactly()
    {
        var grant = Guid.NewGuid();
        ReleasedCell[] cells =
        [
            new("2026-W46", ["Chuo", "30-39"], false, 12, 40, [FieldSummary.Of([1, 2, 3.5]), FieldSummary.Of([])]),
            new("2026-W46", ["Kita", "80-89"], true, 0, 0, null),
        ];
        Assert.True(await Store.SaveReleaseAsync(grant, "2026-W46", [.. cells.Select(c => ("steps.daily", c)), ("location.visit", cells[0])], Now, CancellationToken.None));
        Assert.False(await Store.SaveReleaseAsync(grant, "2026-W46", [("steps.daily", cells[0] with { Records = 99 })], Now, CancellationToken.None));
        Assert.True(await Store.SaveReleaseAsync(grant, "2026-W47", [], Now, CancellationToken.None));

        Assert.Equal(["2026-W46", "2026-W47"], (await Store.ReleasedBucketsAsync(grant, CancellationToken.None)).Order());
        var back = (await Store.CellsAsync(grant, "steps.daily", CancellationToken.None)).OrderBy(c => c.Key[0]).ToList();
        Assert.Equal(2, back.Count);
        Assert.Equal(["Chuo", "30-39"], back[0].Key);
        Assert.Equal((false, 12, 40), (back[0].Suppressed, back[0].Residents, back[0].Records));
        Assert.Equal(cells[0].Fields![0].Bins, back[0].Fields![0].Bins);
        Assert.Equal((3, 6.5), (back[0].Fields![0].Count, back[0].Fields![0].Sum));
        Assert.Empty(back[0].Fields![1].Bins);
        Assert.True(back[1].Suppressed);
        Assert.Null(back[1].Fields);
        Assert.Single(await Store.CellsAsync(grant, "location.visit", CancellationToken.None));
        Assert.Empty(await Store.CellsAsync(grant, "purchase.item", CancellationToken.None));
        Assert.Empty(await Store.CellsAsync(Guid.NewGuid(), "steps.daily", CancellationToken.None));
    }

    // Cells released before binning held the residents' values themselves: they are read as bins
    // at once, and the start-up catch-up rewrites them so that the values are gone from the table.
    [SkippableFact]
    public async Task Cells_stored_with_raw_values_are_read_as_bins_and_rewritten_without_them()
    {
        var grant = Guid.NewGuid();
        double[] values = [4321.987, 5432.123, 6543.21];
        var raw = new byte[12 + (8 * values.Length)];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(raw, values.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(raw.AsSpan(4), values.Sum());
        for (var i = 0; i < values.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(raw.AsSpan(12 + (8 * i)), values[i]);
        }
        await using (var connection = await Database.Connections.OpenAsync())
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, """
                INSERT INTO access_aggregate_cells (grant_id, bucket, category, cell_key, suppressed, residents, records, summaries)
                VALUES (@grant, '2026-W40', 'steps.daily', 'Chuo', @suppressed, 10, 3, @raw)
                """, new { grant, suppressed = false, raw });
        }
        var expected = FieldSummary.Of(values);
        var before = Assert.Single(await Store.CellsAsync(grant, "steps.daily", CancellationToken.None)).Fields![0];
        Assert.Equal(expected.Count, before.Count);
        Assert.Equal(expected.Bins, before.Bins);

        Assert.Equal(1, await Store.ReencodeRawCellsAsync(CancellationToken.None));
        Assert.Equal(0, await Store.ReencodeRawCellsAsync(CancellationToken.None));
        await using (var connection = await Database.Connections.OpenAsync())
        {
            var stored = await Dapper.SqlMapper.ExecuteScalarAsync<byte[]>(connection, "SELECT summaries FROM access_aggregate_cells WHERE grant_id = @grant", new { grant });
            foreach (var value in values)
            {
                var bytes = new byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
                Assert.Equal(-1, stored!.AsSpan().IndexOf(bytes));
            }
        }
        var after = Assert.Single(await Store.CellsAsync(grant, "steps.daily", CancellationToken.None)).Fields![0];
        Assert.Equal((expected.Count, expected.Sum), (after.Count, after.Sum));
        Assert.Equal(expected.Bins, after.Bins);
    }

    [SkippableFact]
    public async Task Alerts_are_stored_once_per_key()
    {
        var grant = Guid.NewGuid();
        var alert = new AccessAlert(grant, AlertKind.Spike, Now, $"{grant:N}:Spike:2026-11-22", "spike");
        await Store.SaveAlertsAsync([alert], CancellationToken.None);
        await Store.SaveAlertsAsync([alert with { DetectedAt = Now.AddMinutes(5) }], CancellationToken.None);
        var stored = Assert.Single(await Store.AlertsAsync(grant, null, null, 10, CancellationToken.None));
        Assert.Equal(("Spike", Now), (stored.Kind, stored.DetectedAt));
        Assert.Empty(await Store.AlertsAsync(grant, Now.AddHours(1), null, 10, CancellationToken.None));
    }
}

public sealed class SqliteAccessStoreTests(SqliteFixture database) : AccessStoreTests<SqliteFixture>(database);

public sealed class PostgresAccessStoreTests(PostgresFixture database) : AccessStoreTests<PostgresFixture>(database);

public sealed class SqlServerAccessStoreTests(SqlServerFixture database) : AccessStoreTests<SqlServerFixture>(database);
