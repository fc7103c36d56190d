using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Access;

namespace InfoBank.Core.Tests.Access;

public sealed class RecordPagerTests
{
    private sealed record Row(Guid ResidentId, string Position) : IPagedRow;

    private static readonly DateTimeOffset Start = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);

    private sealed class Scenario
    {
        public required List<Row> Rows { get; init; }

        public required List<ModelConsent> Consents { get; init; }

        public required HashSet<Guid> Erased { get; init; }

        public required bool GrantActive { get; init; }

        public required int PageSize { get; init; }

        public required int MaxExamined { get; init; }

        public static Scenario Random(int seed, bool changingOverTime)
        {
            var random = new Random(seed);
            var residents = Enumerable.Range(0, random.Next(0, 25)).Select(_ => Guid.NewGuid()).Order().ToList();
            var rows = residents
                .SelectMany(r => Enumerable.Range(0, random.Next(0, 6)).Select(i => new Row(r, $"{r:N}/{i:D3}")))
                .OrderBy(r => r.Position, StringComparer.Ordinal)
                .ToList();
            var horizon = changingOverTime ? 40 : 0;
            var consents = new List<ModelConsent>();
            foreach (var resident in residents)
            {
                // None, one, or a withdrawn consent followed by a new one; times in minutes around the fetch.
                for (var c = random.Next(0, 3); c > 0; c--)
                {
                    var given = Start.AddMinutes(random.Next(-30, horizon + 1));
                    if (changingOverTime)
                    {
                        DateTimeOffset? withdrawn = random.Next(3) == 0 ? given.AddMinutes(random.Next(0, horizon + 5)) : null;
                        consents.Add(new ModelConsent(resident, given, withdrawn, given.AddMinutes(random.Next(1, 60))));
                    }
                    else
                    {
                        // Settled before the fetch starts: withdrawn or expired already, or active throughout.
                        DateTimeOffset? withdrawn = random.Next(3) == 0 ? given.AddMinutes(random.Next(0, (int)(Start - given).TotalMinutes + 1)) : null;
                        consents.Add(new ModelConsent(resident, given, withdrawn, random.Next(4) == 0 ? Start : Start.AddDays(30)));
                    }
                }
            }
            var pageSize = random.Next(1, 8);
            return new Scenario
            {
                Rows = rows,
                Consents = consents,
                Erased = residents.Where(_ => random.Next(8) == 0).ToHashSet(),
                GrantActive = random.Next(10) != 0,
                PageSize = pageSize,
                MaxExamined = pageSize * random.Next(1, 4),
            };
        }

        public async Task<List<(int Page, DateTimeOffset At, IReadOnlyList<Row> Rows, IReadOnlyList<Row> Examined)>> FetchAllAsync()
        {
            var pages = new List<(int, DateTimeOffset, IReadOnlyList<Row>, IReadOnlyList<Row>)>();
            string? position = null;
            for (var page = 0; page < 1_000; page++)
            {
                // One page a minute: consent states may change between pages.
                var at = Start.AddMinutes(page);
                var examined = new List<Row>();
                var result = await RecordPager.AssembleAsync<Row>(position, PageSize, MaxExamined,
                    (after, limit, _) =>
                    {
                        var batch = Rows.Where(r => after is null || string.CompareOrdinal(r.Position, after) > 0).Take(limit).ToList();
                        examined.AddRange(batch);
                        return Task.FromResult<IReadOnlyList<Row>>(batch);
                    },
                    (residents, _) =>
                    {
                        var allowed = AccessReferenceModel.Allowed(Consents, GrantActive, Erased, at);
                        return Task.FromResult<IReadOnlySet<Guid>>(residents.Where(allowed.Contains).ToHashSet());
                    },
                    CancellationToken.None);
                pages.Add((page, at, result.Rows, examined));
                Assert.True(result.Rows.Count <= PageSize);
                Assert.True(result.Examined <= MaxExamined);
                if (!result.MoreMayFollow)
                {
                    return pages;
                }
                position = result.LastPosition;
            }
            throw new InvalidOperationException("The pager never finished.");
        }
    }

    // The property: with consent states fixed during the fetch, the residents returned over
    // all pages are exactly those the reference model allows (with all of their rows, each once).
    [Property(MaxTest = 200)]
    public Property Returns_exactly_the_residents_the_model_allows(int seed)
    {
        var scenario = Scenario.Random(seed, changingOverTime: false);
        var pages = scenario.FetchAllAsync().GetAwaiter().GetResult();
        var returned = pages.SelectMany(p => p.Rows).ToList();
        var allowed = AccessReferenceModel.Allowed(scenario.Consents, scenario.GrantActive, scenario.Erased, Start);
        var expected = scenario.Rows.Where(r => allowed.Contains(r.ResidentId)).ToList();
        return (returned.SequenceEqual(expected)
            && returned.Select(r => r.ResidentId).ToHashSet().SetEquals(scenario.Rows.Select(r => r.ResidentId).Where(allowed.Contains))).ToProperty();
    }

    // With consents given and withdrawn while paging: every row is examined exactly once, in order,
    // and a row is returned exactly when its resident was allowed at the moment of that page —
    // so a resident who withdraws is absent from the very next page.
    [Property(MaxTest = 200)]
    public Property Each_page_honours_consent_at_its_own_moment(int seed)
    {
        var scenario = Scenario.Random(seed, changingOverTime: true);
        var pages = scenario.FetchAllAsync().GetAwaiter().GetResult();
        var examinedInOrder = pages.SelectMany(p => p.Examined).ToList();
        var ok = examinedInOrder.SequenceEqual(scenario.Rows);
        foreach (var (_, at, rows, examined) in pages)
        {
            var allowed = AccessReferenceModel.Allowed(scenario.Consents, scenario.GrantActive, scenario.Erased, at);
            ok &= rows.SequenceEqual(examined.Where(r => allowed.Contains(r.ResidentId)));
        }
        return ok.ToProperty();
    }

    [Fact]
    public async Task A_withdrawal_removes_the_resident_from_the_next_page()
    {
        var alice = Guid.Parse("00000000-0000-0000-0000-00000000000a");
        var bob = Guid.Parse("00000000-0000-0000-0000-00000000000b");
        var rows = new[] { alice, bob }.SelectMany(r => Enumerable.Range(0, 4).Select(i => new Row(r, $"{r:N}/{i}"))).ToList();
        var withdrawn = new HashSet<Guid>();
        Task<IReadOnlyList<Row>> Fetch(string? after, int limit, CancellationToken _) =>
            Task.FromResult<IReadOnlyList<Row>>(rows.Where(r => after is null || string.CompareOrdinal(r.Position, after) > 0).Take(limit).ToList());
        Task<IReadOnlySet<Guid>> Allowed(IReadOnlyCollection<Guid> residents, CancellationToken _) =>
            Task.FromResult<IReadOnlySet<Guid>>(residents.Where(r => !withdrawn.Contains(r)).ToHashSet());

        var first = await RecordPager.AssembleAsync<Row>(null, 3, 30, Fetch, Allowed, CancellationToken.None);
        Assert.Equal([alice, alice, alice], first.Rows.Select(r => r.ResidentId));
        withdrawn.Add(alice);
        var second = await RecordPager.AssembleAsync<Row>(first.LastPosition, 3, 30, Fetch, Allowed, CancellationToken.None);
        Assert.Equal([bob, bob, bob], second.Rows.Select(r => r.ResidentId));
        Assert.True(second.MoreMayFollow);
    }

    [Fact]
    public void Projection_keeps_only_approved_fields()
    {
        var payload = Encoding.UTF8.GetBytes("""{"steps":8123,"distanceMeters":5400.5,"activeMinutes":31}""");
        var projected = RecordProjection.Project(payload, new HashSet<string> { "steps", "activeMinutes" });
        Assert.Equal("""{"steps":8123,"activeMinutes":31}""", Encoding.UTF8.GetString(projected));
        Assert.Equal("{}", Encoding.UTF8.GetString(RecordProjection.Project(payload, new HashSet<string>())));
        Assert.Equal("{}", Encoding.UTF8.GetString(RecordProjection.Project("[1,2]"u8, new HashSet<string> { "steps" })));
    }
}
